#include "proxy/server/request_framing.h"

#include <algorithm>
#include <boost/beast/core/string.hpp>
#include <cstdint>
#include <cstring>

namespace gatehouse::server {
namespace {

bool IsDigits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool IsControl(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

// RFC 9110 5.5: field values are VCHAR, obs-text, SP and HTAB. CR, LF and NUL
// inside a value are how header injection and smuggling start. Eight bytes at
// a time (a bearer token alone is ~1 KB per request): a word with no byte
// below 0x20 and none equal to 0x7f is clean; any other word is checked byte
// by byte (HTAB is allowed).
bool IsCleanValue(std::string_view value) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHighBits = 0x8080808080808080ULL;
  const char* p = value.data();
  std::size_t n = value.size();
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t word;
    std::memcpy(&word, p, sizeof(word));
    const uint64_t below_space = (word - kOnes * 0x20) & ~word & kHighBits;
    const uint64_t del_xor = word ^ (kOnes * 0x7f);
    const uint64_t has_del = (del_xor - kOnes) & ~del_xor & kHighBits;
    if ((below_space | has_del) == 0) continue;
    for (std::size_t k = 0; k < 8; ++k) {
      if (IsControl(static_cast<unsigned char>(p[k]))) return false;
    }
  }
  for (; n > 0; ++p, --n) {
    if (IsControl(static_cast<unsigned char>(*p))) return false;
  }
  return true;
}

// Position of the first `c` in bytes[from..), or npos.
std::size_t FindByte(std::string_view bytes, std::size_t from, char c) {
  if (from >= bytes.size()) return std::string_view::npos;
  const void* hit = std::memchr(bytes.data() + from, c, bytes.size() - from);
  return hit ? static_cast<std::size_t>(static_cast<const char*>(hit) - bytes.data())
             : std::string_view::npos;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One chunk-size line without its CRLF: 1*HEXDIG [ ";" extensions ]. The size
// must fit in 60 bits (no overflow games) and extensions hold no control bytes.
bool ParseChunkSizeLine(std::string_view line, uint64_t& size) {
  std::size_t i = 0;
  size = 0;
  for (; i < line.size(); ++i) {
    const int digit = HexDigit(line[i]);
    if (digit < 0) break;
    if (size >> 56) return false;
    size = (size << 4) | static_cast<uint64_t>(digit);
  }
  if (i == 0) return false;
  std::string_view rest = line.substr(i);
  if (rest.empty()) return true;
  if (Trim(rest).front() != ';') return false;
  return IsCleanValue(rest);
}

}  // namespace

bool IsCleanFieldValue(std::string_view value) { return IsCleanValue(value); }

std::optional<FramingRefusal> CheckRawRequestHead(std::string_view bytes, std::size_t from) {
  if (from == 0 && !bytes.empty() && (bytes.front() == '\r' || bytes.front() == '\n')) {
    return FramingRefusal{http::status::bad_request, "leading empty line"};
  }
  // Only CR, LF and NUL can make a head unsafe; memchr finds them (vectorised)
  // and the bytes between are accepted as they are. Problems are reported in
  // the order they occur, exactly as a byte-by-byte scan would.
  const std::size_t nul = FindByte(bytes, from, '\0');
  std::size_t cr = FindByte(bytes, from, '\r');
  std::size_t lf = FindByte(bytes, from, '\n');
  for (;;) {
    const std::size_t i = std::min(cr, lf);
    if (i == std::string_view::npos || (nul != std::string_view::npos && nul < i)) break;
    if (i == cr) {
      if (i + 1 < bytes.size() && bytes[i + 1] != '\n') {
        return FramingRefusal{http::status::bad_request, "bare CR"};
      }
      cr = FindByte(bytes, i + 1, '\r');
      continue;
    }
    if (i == 0 || bytes[i - 1] != '\r') {
      return FramingRefusal{http::status::bad_request, "bare LF"};
    }
    // RFC 9112 5.2: a server must reject obs-fold (or replace it); rejecting
    // keeps every hop's view of the header list identical.
    if (i + 1 < bytes.size() && (bytes[i + 1] == ' ' || bytes[i + 1] == '\t')) {
      return FramingRefusal{http::status::bad_request, "obsolete line folding"};
    }
    lf = FindByte(bytes, i + 1, '\n');
  }
  if (nul != std::string_view::npos) {
    return FramingRefusal{http::status::bad_request, "NUL in head"};
  }
  return std::nullopt;
}

std::optional<FramingRefusal> CheckRequestHead(const RequestHead& head,
                                               std::size_t max_header_count) {
  std::size_t count = 0, content_lengths = 0, transfer_encodings = 0, hosts = 0;
  std::string_view transfer_encoding;
  for (const auto& field : head) {
    if (++count > max_header_count) {
      return FramingRefusal{http::status::request_header_fields_too_large, "too many headers"};
    }
    const auto value = field.value();
    if (!IsCleanValue({value.data(), value.size()})) {
      return FramingRefusal{http::status::bad_request, "control character in header value"};
    }
    if (field.name() == http::field::content_length) {
      ++content_lengths;
      if (!IsDigits(Trim({value.data(), value.size()}))) {
        return FramingRefusal{http::status::bad_request, "invalid Content-Length"};
      }
    } else if (field.name() == http::field::transfer_encoding) {
      ++transfer_encodings;
      transfer_encoding = Trim({value.data(), value.size()});
    } else if (field.name() == http::field::host) {
      ++hosts;
    }
  }
  // One framing header, stated once: any other combination lets two parsers
  // disagree about where this request ends and the next begins.
  if (content_lengths > 1)
    return FramingRefusal{http::status::bad_request, "duplicate Content-Length"};
  if (transfer_encodings > 1) {
    return FramingRefusal{http::status::bad_request, "duplicate Transfer-Encoding"};
  }
  if (transfer_encodings == 1) {
    if (content_lengths) {
      return FramingRefusal{http::status::bad_request, "Content-Length with Transfer-Encoding"};
    }
    if (!boost::beast::iequals({transfer_encoding.data(), transfer_encoding.size()}, "chunked")) {
      return FramingRefusal{http::status::bad_request, "Transfer-Encoding other than chunked"};
    }
    if (head.version() < 11) {
      return FramingRefusal{http::status::bad_request, "Transfer-Encoding in HTTP/1.0"};
    }
  }
  if (hosts > 1 || (hosts == 0 && head.version() >= 11)) {
    return FramingRefusal{http::status::bad_request, "missing or duplicate Host"};
  }
  const auto target = head.target();
  if (target.empty() || target.front() != '/') {
    return FramingRefusal{http::status::bad_request, "request target is not origin-form"};
  }
  return std::nullopt;
}

bool ValidateChunkedPrefix(std::string_view bytes) {
  while (!bytes.empty()) {
    const std::size_t end = bytes.find("\r\n");
    if (end == std::string_view::npos) return bytes.size() <= kMaxChunkLine;  // incomplete line
    if (end > kMaxChunkLine) return false;
    uint64_t size = 0;
    if (!ParseChunkSizeLine(bytes.substr(0, end), size)) return false;
    bytes.remove_prefix(end + 2);
    if (size == 0) return true;             // last-chunk: trailers are the parser's business
    if (bytes.size() <= size) return true;  // data still arriving
    bytes.remove_prefix(size);
    if (bytes.size() >= 2 && bytes.substr(0, 2) != "\r\n") return false;
    if (bytes.size() < 2) return bytes.empty() || bytes.front() == '\r';
    bytes.remove_prefix(2);
  }
  return true;
}

}  // namespace gatehouse::server
