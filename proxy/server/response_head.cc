#include "proxy/server/response_head.h"

#include <boost/beast/http/field.hpp>

#include "proxy/server/head_scan.h"
#include "proxy/server/request_framing.h"

namespace gatehouse::server {
namespace {

using head_scan::FindValueStop;
using head_scan::IEquals;
using head_scan::SkipToken;
using head_scan::TrimOws;

struct FieldFacts {
  int transfer_encodings = 0;
  bool chunked_last = false;  // the last coding named so far is chunked
  bool connection_close = false;
  bool connection_keep_alive = false;
};

// A field the upstream may not name in Connection: dropping it would change
// how the message is framed or routed.
bool ProtectedFromConnection(std::string_view name) {
  return IEquals(name, "host") || IEquals(name, "content-length") ||
         IEquals(name, "transfer-encoding") || IEquals(name, "connection") ||
         IEquals(name, "upgrade");
}

bool NoteConnection(std::string_view value, FieldFacts& facts, ResponseHead& head) {
  return head_scan::ForEachListElement(value, [&](std::string_view token) {
    if (token.empty()) return true;
    if (!IsHttpToken(token)) return false;
    if (IEquals(token, "close")) facts.connection_close = true;
    if (IEquals(token, "keep-alive")) facts.connection_keep_alive = true;
    if (ProtectedFromConnection(token)) return true;
    if (head.connection_name_count == kMaxConnectionNames) return false;
    head.connection_names[head.connection_name_count++] = token;
    return true;
  });
}

// Content-Length: one value, repeated identically at most (RFC 9112 6.3
// lets a recipient accept "3, 3" or two equal fields); anything else is two
// readings of where the body ends.
bool NoteContentLength(std::string_view value, ResponseHead& head) {
  return head_scan::ForEachListElement(value, [&](std::string_view element) {
    const std::optional<uint64_t> length = head_scan::ParseLength(element);
    if (!length || (head.content_length && *head.content_length != *length)) return false;
    head.content_length = length;
    return true;
  });
}

// Transfer-Encoding: chunked, when present, must be the last coding and
// appear once; the codings before it stay on the body as they are.
bool NoteTransferEncoding(std::string_view value, FieldFacts& facts) {
  ++facts.transfer_encodings;
  return head_scan::ForEachListElement(value, [&](std::string_view coding) {
    if (coding.empty()) return true;
    if (!IsHttpToken(coding) || facts.chunked_last) return false;  // nothing may follow chunked
    facts.chunked_last = IEquals(coding, "chunked");
    return true;
  });
}

bool NoteField(http::field field, std::string_view value, FieldFacts& facts, ResponseHead& head) {
  switch (field) {
    case http::field::content_length:
      return NoteContentLength(value, head);
    case http::field::transfer_encoding:
      return NoteTransferEncoding(value, facts);
    case http::field::connection:
    case http::field::proxy_connection:
      return NoteConnection(value, facts, head);
    default:
      return true;
  }
}

// Framing once every field is known (RFC 9112 6.3).
bool DecideFraming(const FieldFacts& facts, ResponseHead& head) {
  if (facts.transfer_encodings > 0) {
    // Transfer-Encoding with Content-Length is the classic desync; in
    // HTTP/1.0 it is faulty framing (RFC 9112 6.1). Neither is relayed.
    if (head.content_length || head.version < 11) return false;
    head.chunked = facts.chunked_last;
    head.close_delimited = !facts.chunked_last;
  } else if (!head.content_length) {
    head.close_delimited = true;  // for a status with a body; the caller knows which
  }
  head.keep_alive = !facts.connection_close && (head.version >= 11 || facts.connection_keep_alive);
  return true;
}

bool Dropped(const ResponseField& field, const ResponseHead& head, bool have_request_id) {
  switch (field.field) {
    case http::field::connection:
    case http::field::keep_alive:
    case http::field::te:
    case http::field::trailer:
    case http::field::transfer_encoding:
    case http::field::upgrade:
    case http::field::proxy_connection:
    case http::field::proxy_authorization:
      return true;
    default:
      break;
  }
  if (have_request_id && IEquals(field.name, "X-Request-Id")) return true;
  for (std::size_t i = 0; i < head.connection_name_count; ++i) {
    if (IEquals(head.connection_names[i], field.name)) return true;
  }
  return false;
}

void AppendDecimal(std::string& out, unsigned value) {
  char digits[10];
  std::size_t n = 0;
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (n > 0) out.push_back(digits[--n]);
}

}  // namespace

HeadStatus ParseResponseHead(std::string_view bytes, std::size_t max_bytes,
                             std::vector<ResponseField>& fields, ResponseHead& head) {
  fields.clear();
  head = ResponseHead();
  const bool over_limit = bytes.size() >= max_bytes;
  const char* const begin = bytes.data();
  const char* const end = begin + (over_limit ? max_bytes : bytes.size());
  const HeadStatus need_more = over_limit ? HeadStatus::kRefused : HeadStatus::kIncomplete;

  // Status line: HTTP/1.[01] SP 3DIGIT [SP reason] CRLF.
  static constexpr std::string_view kVersionPrefix = "HTTP/1.";
  if (end - begin < 12) return need_more;
  if (std::string_view(begin, kVersionPrefix.size()) != kVersionPrefix ||
      (begin[7] != '0' && begin[7] != '1') || begin[8] != ' ') {
    return HeadStatus::kRefused;
  }
  head.version = 10 + static_cast<unsigned>(begin[7] - '0');
  for (int i = 9; i < 12; ++i) {
    if (begin[i] < '0' || begin[i] > '9') return HeadStatus::kRefused;
    head.status = head.status * 10 + static_cast<unsigned>(begin[i] - '0');
  }
  if (head.status < 100) return HeadStatus::kRefused;
  const char* p = begin + 12;
  const char* const reason_begin = p == end || *p != ' ' ? p : p + 1;
  const char* const line_end = FindValueStop(reason_begin, end);
  if (line_end == end || line_end + 1 == end) return need_more;
  if (line_end[0] != '\r' || line_end[1] != '\n' || (p != line_end && *p != ' ')) {
    return HeadStatus::kRefused;
  }
  head.reason = {reason_begin, static_cast<std::size_t>(line_end - reason_begin)};
  p = line_end + 2;

  FieldFacts facts;
  for (;;) {
    if (p == end) return need_more;
    if (*p == '\r') {
      if (p + 1 == end) return need_more;
      if (p[1] != '\n') return HeadStatus::kRefused;
      p += 2;
      break;
    }
    const char* const name_end = SkipToken(p, end);  // obs-fold and bare LF stop here too
    if (name_end == end) return need_more;
    if (name_end == p || *name_end != ':') return HeadStatus::kRefused;
    const char* const value_end = FindValueStop(name_end + 1, end);
    if (value_end == end || value_end + 1 == end) return need_more;
    if (value_end[0] != '\r' || value_end[1] != '\n') return HeadStatus::kRefused;
    if (fields.size() == kMaxResponseFields) return HeadStatus::kRefused;
    ResponseField field;
    field.name = {p, static_cast<std::size_t>(name_end - p)};
    field.value = TrimOws(name_end + 1, value_end);
    field.field = http::string_to_field({field.name.data(), field.name.size()});
    if (!NoteField(field.field, field.value, facts, head)) return HeadStatus::kRefused;
    fields.push_back(field);
    p = value_end + 2;
  }
  if (!DecideFraming(facts, head)) return HeadStatus::kRefused;
  head.head_bytes = static_cast<std::size_t>(p - begin);
  return HeadStatus::kComplete;
}

bool AppendRelayedResponseHead(std::string& out, const ResponseHead& head,
                               const std::vector<ResponseField>& fields,
                               const RelayedHeadOptions& options) {
  if (!options.request_id.empty() && !IsCleanFieldValue(options.request_id)) return false;
  out.append("HTTP/1.1 ", 9);
  AppendDecimal(out, head.status);
  out.push_back(' ');
  out.append(head.reason);
  out.append("\r\n", 2);
  const bool have_request_id = !options.request_id.empty();
  for (const ResponseField& field : fields) {
    if (Dropped(field, head, have_request_id)) continue;
    out.append(field.name);
    out.append(": ", 2);
    out.append(field.value);
    out.append("\r\n", 2);
  }
  if (options.websocket) {
    out.append("Connection: Upgrade\r\nUpgrade: websocket\r\n");
  } else if (options.close) {
    out.append("Connection: close\r\n");
  }
  if (options.chunked) out.append("Transfer-Encoding: chunked\r\n");
  if (have_request_id) {
    out.append("X-Request-Id: ");
    out.append(options.request_id);
    out.append("\r\n", 2);
  }
  out.append("\r\n", 2);
  return true;
}

}  // namespace gatehouse::server
