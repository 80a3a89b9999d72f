#include "proxy/server/request_head_parser.h"

#include <boost/beast/http/field.hpp>

#include "proxy/server/head_scan.h"

namespace gatehouse::server {
namespace {

using head_scan::FindTargetStop;
using head_scan::IEquals;
using head_scan::SkipToken;

// Beast's enum for a field name: the names most requests carry are
// recognised by length and one case-folding compare (`name` is a token),
// the rest by Beast's table. Same answer either way (tested).
http::field FieldOf(std::string_view name) {
  using head_scan::TokenEquals;
  switch (name.size()) {
    case 4:
      if (TokenEquals(name, "host")) return http::field::host;
      break;
    case 6:
      if (TokenEquals(name, "accept")) return http::field::accept;
      if (TokenEquals(name, "cookie")) return http::field::cookie;
      break;
    case 10:
      if (TokenEquals(name, "user-agent")) return http::field::user_agent;
      if (TokenEquals(name, "connection")) return http::field::connection;
      break;
    case 13:
      if (TokenEquals(name, "authorization")) return http::field::authorization;
      break;
    case 14:
      if (TokenEquals(name, "content-length")) return http::field::content_length;
      break;
    case 15:
      if (TokenEquals(name, "accept-encoding")) return http::field::accept_encoding;
      break;
    default:
      break;
  }
  return http::string_to_field({name.data(), name.size()});
}

// The facts the fields give beyond their list, gathered during the pass.
struct FieldFacts {
  int content_lengths = 0;
  int transfer_encodings = 0;
  int hosts = 0;
  bool transfer_encoding_chunked = false;
  bool connection_close = false;
  bool connection_keep_alive = false;
};

// Connection (and Proxy-Connection): a comma-separated list of tokens, empty
// elements allowed (RFC 9110 5.6.1). Anything else is refused: what a list
// that is not one means differs from parser to parser. Only close and
// keep-alive matter here (hop_by_hop.h removes what the list names).
bool ReadConnectionTokens(std::string_view value, FieldFacts& facts) {
  return head_scan::ForEachListElement(value, [&](std::string_view token) {
    if (!token.empty() && !IsHttpToken(token)) return false;
    if (head_scan::TokenEquals(token, "close")) facts.connection_close = true;
    if (head_scan::TokenEquals(token, "keep-alive")) facts.connection_keep_alive = true;
    return true;
  });
}

std::optional<FramingRefusal> NoteField(http::field field, std::string_view value,
                                        RequestFraming& framing, FieldFacts& facts) {
  switch (field) {
    case http::field::content_length:
      // Two Content-Lengths, equal or not, are refused: some hop may read the
      // other one. So is a list ("3, 3") or anything but plain digits.
      if (++facts.content_lengths > 1) {
        return FramingRefusal{http::status::bad_request, "duplicate Content-Length"};
      }
      framing.content_length = head_scan::ParseLength(value);
      if (!framing.content_length) {
        return FramingRefusal{http::status::bad_request, "invalid Content-Length"};
      }
      break;
    case http::field::transfer_encoding:
      ++facts.transfer_encodings;
      facts.transfer_encoding_chunked = IEquals(value, "chunked");
      framing.hop_by_hop = true;
      break;
    case http::field::host:
      ++facts.hosts;
      break;
    case http::field::connection:
    case http::field::proxy_connection:
      if (!ReadConnectionTokens(value, facts)) {
        return FramingRefusal{http::status::bad_request, "invalid Connection"};
      }
      framing.hop_by_hop = true;
      break;
    case http::field::keep_alive:
    case http::field::te:
    case http::field::trailer:
    case http::field::upgrade:
    case http::field::proxy_authorization:
      framing.hop_by_hop = true;
      break;
    case http::field::expect:
      framing.expect = true;
      if (IEquals(value, "100-continue")) framing.expect_continue = true;
      break;
    default:
      break;
  }
  return std::nullopt;
}

// The rules that need the whole list: one framing, stated once, and one Host.
std::optional<FramingRefusal> CheckFieldFacts(const FieldFacts& facts, unsigned version,
                                              RequestFraming& framing) {
  if (facts.transfer_encodings > 1) {
    return FramingRefusal{http::status::bad_request, "duplicate Transfer-Encoding"};
  }
  if (facts.transfer_encodings == 1) {
    if (facts.content_lengths > 0) {
      return FramingRefusal{http::status::bad_request, "Content-Length with Transfer-Encoding"};
    }
    if (!facts.transfer_encoding_chunked) {
      return FramingRefusal{http::status::bad_request, "Transfer-Encoding other than chunked"};
    }
    if (version < 11) {
      return FramingRefusal{http::status::bad_request, "Transfer-Encoding in HTTP/1.0"};
    }
    framing.chunked = true;
  }
  if (facts.hosts > 1 || (facts.hosts == 0 && version >= 11)) {
    return FramingRefusal{http::status::bad_request, "missing or duplicate Host"};
  }
  framing.keep_alive = !facts.connection_close && (version >= 11 || facts.connection_keep_alive);
  return std::nullopt;
}

RequestHeadResult Refused(http::status status, std::string_view reason) {
  RequestHeadResult result;
  result.status = HeadStatus::kRefused;
  result.refusal = FramingRefusal{status, reason};
  return result;
}

RequestHeadResult Refused(const FramingRefusal& refusal) {
  return Refused(refusal.status, refusal.reason);
}

RequestHeadResult ParseHead(std::string_view bytes, const RequestHeadLimits& limits,
                            RequestHead& head) {
  // Only the first max_bytes can belong to an acceptable head. Running out of
  // them means "read more" while fewer have arrived, "too large" after.
  const bool over_limit = bytes.size() >= limits.max_bytes;
  const char* const begin = bytes.data();
  const char* const end = begin + (over_limit ? limits.max_bytes : bytes.size());
  const auto need_more = [&] {
    return over_limit ? Refused(http::status::request_header_fields_too_large, "head too large")
                      : RequestHeadResult{};
  };
  const char* p = begin;
  if (p == end) return need_more();
  if (*p == '\r' || *p == '\n') return Refused(http::status::bad_request, "leading empty line");

  // Request line: method SP request-target SP HTTP-version CRLF, one SP each.
  const char* const method_end = SkipToken(p, end);
  if (method_end == end) return need_more();
  if (method_end == p || *method_end != ' ') {
    return Refused(http::status::bad_request, "malformed method");
  }
  const char* const target_begin = method_end + 1;
  const char* const target_end = FindTargetStop(target_begin, end);
  if (target_end == end) return need_more();
  if (*target_end != ' ' || target_end == target_begin) {
    return Refused(http::status::bad_request, "malformed request target");
  }
  if (*target_begin != '/') {
    return Refused(http::status::bad_request, "request target is not origin-form");
  }
  // HTTP/1.0 and HTTP/1.1 only: what this proxy can frame and relay.
  static constexpr std::string_view kVersionPrefix = "HTTP/1.";
  const char* const version = target_end + 1;
  if (end - version < static_cast<std::ptrdiff_t>(kVersionPrefix.size() + 3)) return need_more();
  if (std::string_view(version, kVersionPrefix.size()) != kVersionPrefix ||
      (version[7] != '0' && version[7] != '1') || version[8] != '\r' || version[9] != '\n') {
    return Refused(http::status::bad_request, "unsupported HTTP version");
  }
  const unsigned version_number = 10 + static_cast<unsigned>(version[7] - '0');
  head.SetParsedRequestLine({begin, static_cast<std::size_t>(method_end - begin)},
                            {target_begin, static_cast<std::size_t>(target_end - target_begin)},
                            version_number);
  p = version + 10;

  RequestFraming framing;
  FieldFacts facts;
  std::size_t fields = 0;
  for (;;) {
    if (p == end) return need_more();
    if (*p == '\r') {  // the blank line that ends the head
      if (p + 1 == end) return need_more();
      if (p[1] != '\n') return Refused(http::status::bad_request, "bare CR");
      p += 2;
      break;
    }
    // RFC 9112 5.2: obs-fold is refused (a server may not pass it on as is);
    // whitespace before the first field is refused for the same reason.
    if (*p == ' ' || *p == '\t') return Refused(http::status::bad_request, "obsolete line folding");
    head_scan::FieldLine line;
    const head_scan::LineStatus read = head_scan::ReadFieldLine(p, end, line);
    if (read == head_scan::LineStatus::kIncomplete) return need_more();
    if (read == head_scan::LineStatus::kBad) return Refused(http::status::bad_request, line.reason);
    if (++fields > limits.max_fields) {
      return Refused(http::status::request_header_fields_too_large, "too many headers");
    }
    const std::string_view name = line.name;
    const std::string_view value = line.value;
    const http::field field = FieldOf(name);
    if (auto refusal = NoteField(field, value, framing, facts)) return Refused(*refusal);
    head.AppendParsedField(field, name, value);
    p = line.next;
  }
  if (auto refusal = CheckFieldFacts(facts, version_number, framing)) return Refused(*refusal);
  framing.head_bytes = static_cast<std::size_t>(p - begin);
  head.AdoptParsedBytes({begin, framing.head_bytes});
  RequestHeadResult result;
  result.status = HeadStatus::kComplete;
  result.framing = framing;
  return result;
}

}  // namespace

RequestHeadResult ParseRequestHead(std::string_view bytes, const RequestHeadLimits& limits,
                                   RequestHead& head) {
  head.clear();
  RequestHeadResult result = ParseHead(bytes, limits, head);
  // A head left part-parsed would view into the caller's buffer: gone.
  if (result.status != HeadStatus::kComplete) head.clear();
  return result;
}

}  // namespace gatehouse::server
