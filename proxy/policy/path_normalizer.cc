#include "proxy/policy/path_normalizer.h"

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "proxy/core/utf8.h"

namespace gatehouse::policy {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";

constexpr int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr bool IsUnreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// Characters a path segment carries raw in canonical form: RFC 3986 pchar
// without ';' (which we reject: servlet containers strip ";params").
constexpr bool IsRawSegmentChar(unsigned char c) {
  if (IsUnreserved(c)) return true;
  switch (c) {
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case '=':
    case ':':
    case '@':
      return true;
    default:
      return false;
  }
}

constexpr std::array<bool, 256> MakeRawSegmentTable() {
  std::array<bool, 256> table{};
  for (int c = 0; c < 256; ++c) table[c] = IsRawSegmentChar(static_cast<unsigned char>(c));
  return table;
}
constexpr std::array<bool, 256> kRawSegmentChar = MakeRawSegmentTable();

// The common case in one scan: a '/'-rooted path of raw segment characters
// only (so no '%', no byte the slow path would reject or escape, nothing
// outside ASCII), without empty segments except a trailing one, and without
// '.' or '..' segments, is its own canonical form. Anything else (including
// everything the slow path rejects) returns false and takes the full path.
bool IsAlreadyCanonical(std::string_view raw) {
  size_t segment_start = 1;
  for (size_t i = 1; i <= raw.size(); ++i) {
    if (i == raw.size() || raw[i] == '/') {
      const size_t len = i - segment_start;
      const char* seg = raw.data() + segment_start;
      if (len == 0 && i != raw.size()) return false;  // "//": merged by the slow path
      if (len == 1 && seg[0] == '.') return false;
      if (len == 2 && seg[0] == '.' && seg[1] == '.') return false;
      segment_start = i + 1;
    } else if (!kRawSegmentChar[static_cast<unsigned char>(raw[i])]) {
      return false;
    }
  }
  return true;
}

// Bytes that are never acceptable in a path, raw or decoded from an escape.
// Security: '/' and '\' hidden in escapes make the upstream see a different
// segment structure than the rules; ';' starts Jetty/Tomcat path parameters
// that the container strips; NUL and control bytes truncate or confuse
// upstream parsers and log lines.
Status CheckForbiddenByte(unsigned char c, bool from_escape) {
  if (c == '/' && from_escape)
    return InvalidArgumentError("encoded '/' (%2F) is not allowed in a path");
  if (c == '\\') return InvalidArgumentError("'\\' is not allowed in a path");
  if (c == ';') return InvalidArgumentError("';' (path parameters) is not allowed in a path");
  if (c == 0) return InvalidArgumentError("NUL is not allowed in a path");
  if (c < 0x20 || c == 0x7f)
    return InvalidArgumentError("control characters are not allowed in a path");
  if (!from_escape && (c == ' ' || c == '#')) {
    return InvalidArgumentError("raw ' ' or '#' is not allowed in a request target");
  }
  return Status::Ok();
}

// Rewrites the raw path into canonical spelling (see the header), one byte at
// a time. `decoded` collects every byte as the upstream will decode it, for the
// UTF-8 check.
Status CanonicalizeBytes(std::string_view raw, std::string* out, std::string* decoded) {
  for (size_t i = 0; i < raw.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(raw[i]);
    bool from_escape = false;
    if (c == '%') {
      if (raw.size() - i < 3) return InvalidArgumentError("truncated percent-escape in path");
      int high = HexValue(raw[i + 1]);
      int low = HexValue(raw[i + 2]);
      if (high < 0 || low < 0) return InvalidArgumentError("invalid percent-escape in path");
      c = static_cast<unsigned char>(high * 16 + low);
      from_escape = true;
      i += 2;
    }
    if (Status s = CheckForbiddenByte(c, from_escape); !s.ok()) return s;
    decoded->push_back(static_cast<char>(c));
    if (c == '/' || IsRawSegmentChar(c)) {
      out->push_back(static_cast<char>(c));
    } else {
      out->push_back('%');
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 0x0F]);
    }
  }
  return Status::Ok();
}

// RFC 3986 remove_dot_segments over canonical text, with empty segments
// (duplicate slashes) dropped. `canonical` starts with '/'.
StatusOr<std::string> ResolveSegments(std::string_view canonical) {
  std::vector<std::string_view> kept;
  bool trailing_slash = false;
  size_t start = 1;
  while (true) {
    size_t end = canonical.find('/', start);
    bool last = end == std::string_view::npos;
    std::string_view segment = canonical.substr(start, last ? std::string_view::npos : end - start);
    if (segment.empty() || segment == ".") {
      if (last) trailing_slash = true;
    } else if (segment == "..") {
      // Security: climbing above the root would let "/../x" name something
      // outside the tree the rules describe; refuse instead of clamping.
      if (kept.empty()) return InvalidArgumentError("'..' climbs above the root");
      kept.pop_back();
      if (last) trailing_slash = true;
    } else {
      kept.push_back(segment);
      if (last) trailing_slash = false;
    }
    if (last) break;
    start = end + 1;
  }
  std::string path = "/";
  for (size_t k = 0; k < kept.size(); ++k) {
    if (k > 0) path.push_back('/');
    path.append(kept[k]);
  }
  if (trailing_slash && !kept.empty()) path.push_back('/');
  return path;
}

Status CheckQuery(std::string_view query) {
  for (unsigned char c : query) {
    if (c < 0x21 || c == 0x7f || c == '#') {
      return InvalidArgumentError("control characters, space and '#' are not allowed in a query");
    }
  }
  return Status::Ok();
}

}  // namespace

Status NormalizePathInto(std::string_view request_target, std::string& path,
                         std::string_view& query) {
  size_t question = request_target.find('?');
  std::string_view raw_path = request_target.substr(0, question);
  query = question == std::string_view::npos ? std::string_view() : request_target.substr(question);
  if (raw_path.empty() || raw_path.front() != '/') {
    return InvalidArgumentError("the request path must start with '/'");
  }
  if (raw_path.size() > kMaxPathBytes) return InvalidArgumentError("the request path is too long");
  if (Status s = CheckQuery(query); !s.ok()) return s;
  if (IsAlreadyCanonical(raw_path)) {
    path.assign(raw_path);
    return Status::Ok();
  }

  std::string canonical;
  std::string decoded;
  canonical.reserve(raw_path.size());
  decoded.reserve(raw_path.size());
  if (Status s = CanonicalizeBytes(raw_path, &canonical, &decoded); !s.ok()) return s;
  if (!IsValidUtf8(decoded)) return InvalidArgumentError("the request path is not valid UTF-8");

  StatusOr<std::string> resolved = ResolveSegments(canonical);
  if (!resolved.ok()) return resolved.status();
  if (resolved->size() > kMaxPathBytes) {
    return InvalidArgumentError("the request path is too long");
  }
  path = std::move(*resolved);
  return Status::Ok();
}

StatusOr<NormalizedPath> NormalizePath(std::string_view request_target) {
  NormalizedPath out;
  std::string_view query;
  if (Status s = NormalizePathInto(request_target, out.path, query); !s.ok()) return s;
  out.query.assign(query);
  return out;
}

}  // namespace gatehouse::policy
