#include "proxy/server/response_head.h"

#include <cstring>

#include "proxy/server/head_scan.h"
#include "proxy/server/request_framing.h"

namespace gatehouse::server {
namespace {

using head_scan::FindValueStop;
using head_scan::IEquals;
using head_scan::TokenEquals;

// Which of the names the relay acts on `name` is: by length first, so most
// names cost one switch and at most one comparison.
RelayField Recognize(std::string_view name) {
  switch (name.size()) {
    case 2:
      return TokenEquals(name, "te") ? RelayField::kHopByHop : RelayField::kOther;
    case 7:
      return TokenEquals(name, "trailer") || TokenEquals(name, "upgrade") ? RelayField::kHopByHop
                                                                          : RelayField::kOther;
    case 10:
      if (TokenEquals(name, "connection")) return RelayField::kConnection;
      return TokenEquals(name, "keep-alive") ? RelayField::kHopByHop : RelayField::kOther;
    case 12:
      return TokenEquals(name, "x-request-id") ? RelayField::kRequestId : RelayField::kOther;
    case 14:
      return TokenEquals(name, "content-length") ? RelayField::kContentLength : RelayField::kOther;
    case 16:
      return TokenEquals(name, "proxy-connection") ? RelayField::kProxyConnection
                                                   : RelayField::kOther;
    case 17:
      return TokenEquals(name, "transfer-encoding") ? RelayField::kTransferEncoding
                                                    : RelayField::kOther;
    case 19:
      return TokenEquals(name, "proxy-authorization") ? RelayField::kHopByHop : RelayField::kOther;
    default:
      return RelayField::kOther;
  }
}

struct FieldFacts {
  int transfer_encodings = 0;
  bool chunked_last = false;  // the last coding named so far is chunked
  bool connection_close = false;
  bool connection_keep_alive = false;
};

// A field the upstream may not name in Connection: dropping it would change
// how the message is framed or routed.
bool ProtectedFromConnection(std::string_view name) {
  return TokenEquals(name, "host") || TokenEquals(name, "content-length") ||
         TokenEquals(name, "transfer-encoding") || TokenEquals(name, "connection") ||
         TokenEquals(name, "upgrade");
}

bool NoteConnection(std::string_view value, FieldFacts& facts, ResponseHead& head) {
  return head_scan::ForEachListElement(value, [&](std::string_view token) {
    if (token.empty()) return true;
    if (!IsHttpToken(token)) return false;
    // close and keep-alive are options, not names (the Keep-Alive field goes anyway).
    if (TokenEquals(token, "close")) {
      facts.connection_close = true;
      return true;
    }
    if (TokenEquals(token, "keep-alive")) {
      facts.connection_keep_alive = true;
      return true;
    }
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
    facts.chunked_last = TokenEquals(coding, "chunked");
    return true;
  });
}

bool NoteField(RelayField kind, std::string_view value, FieldFacts& facts, ResponseHead& head) {
  switch (kind) {
    case RelayField::kContentLength:
      return NoteContentLength(value, head);
    case RelayField::kTransferEncoding:
      return NoteTransferEncoding(value, facts);
    case RelayField::kConnection:
    case RelayField::kProxyConnection:
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
  switch (field.kind) {
    case RelayField::kOther:
    case RelayField::kContentLength:
      break;
    case RelayField::kRequestId:
      if (have_request_id) return true;
      break;
    default:  // Connection, Proxy-Connection, Transfer-Encoding, the other hop-by-hop fields
      return true;
  }
  for (std::size_t i = 0; i < head.connection_name_count; ++i) {
    if (IEquals(head.connection_names[i], field.name)) return true;
  }
  return false;
}

char* Put(char* out, std::string_view text) {
  std::memcpy(out, text.data(), text.size());
  return out + text.size();
}

}  // namespace

HeadStatus ParseResponseHead(std::string_view bytes, std::size_t max_bytes,
                             std::vector<ResponseField>& fields, ResponseHead& head) {
  fields.clear();
  head.head_bytes = 0;
  head.content_length.reset();
  head.chunked = head.close_delimited = head.keep_alive = false;
  head.connection_name_count = 0;  // the names array is not cleared: only this many count
  head.status = 0;
  head.reason = {};
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
    // obs-fold and a leading space are no token: refused as bad names.
    head_scan::FieldLine line;
    const head_scan::LineStatus read = head_scan::ReadFieldLine(p, end, line);
    if (read == head_scan::LineStatus::kIncomplete) return need_more;
    if (read == head_scan::LineStatus::kBad) return HeadStatus::kRefused;
    if (fields.size() == kMaxResponseFields) return HeadStatus::kRefused;
    ResponseField field;
    field.name = line.name;
    field.value = line.value;
    field.kind = Recognize(line.name);
    if (!NoteField(field.kind, field.value, facts, head)) return HeadStatus::kRefused;
    fields.push_back(field);
    p = line.next;
  }
  if (!DecideFraming(facts, head)) return HeadStatus::kRefused;
  head.head_bytes = static_cast<std::size_t>(p - begin);
  return HeadStatus::kComplete;
}

bool AppendRelayedResponseHead(std::string& out, const ResponseHead& head,
                               const std::vector<ResponseField>& fields,
                               const RelayedHeadOptions& options) {
  if (!options.request_id.empty() && !IsCleanFieldValue(options.request_id)) return false;
  static constexpr std::string_view kWebSocket = "Connection: Upgrade\r\nUpgrade: websocket\r\n";
  static constexpr std::string_view kClose = "Connection: close\r\n";
  static constexpr std::string_view kChunked = "Transfer-Encoding: chunked\r\n";
  static constexpr std::string_view kRequestId = "X-Request-Id: ";
  // Room for the most this can write, filled through a cursor: no append
  // call per piece. The status line takes at most its original bytes plus
  // one; each field line at most its original bytes plus one (": ").
  const std::size_t start = out.size();
  const std::size_t most = 16 + head.reason.size() + head.head_bytes + fields.size() +
                           kWebSocket.size() + kChunked.size() + kRequestId.size() +
                           options.request_id.size() + 4;
  out.resize(start + most);
  char* cursor = out.data() + start;
  cursor = Put(cursor, "HTTP/1.1 ");
  *cursor++ = static_cast<char>('0' + head.status / 100);
  *cursor++ = static_cast<char>('0' + head.status / 10 % 10);
  *cursor++ = static_cast<char>('0' + head.status % 10);
  *cursor++ = ' ';
  cursor = Put(cursor, head.reason);
  cursor = Put(cursor, "\r\n");
  const bool have_request_id = !options.request_id.empty();
  for (const ResponseField& field : fields) {
    if (Dropped(field, head, have_request_id)) continue;
    cursor = Put(cursor, field.name);
    cursor = Put(cursor, ": ");
    cursor = Put(cursor, field.value);
    cursor = Put(cursor, "\r\n");
  }
  if (options.websocket) {
    cursor = Put(cursor, kWebSocket);
  } else if (options.close) {
    cursor = Put(cursor, kClose);
  }
  if (options.chunked) cursor = Put(cursor, kChunked);
  if (have_request_id) {
    cursor = Put(cursor, kRequestId);
    cursor = Put(cursor, options.request_id);
    cursor = Put(cursor, "\r\n");
  }
  cursor = Put(cursor, "\r\n");
  out.resize(static_cast<std::size_t>(cursor - out.data()));
  return true;
}

}  // namespace gatehouse::server
