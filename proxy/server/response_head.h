// ParseResponseHead and AppendRelayedResponseHead: an upstream's response
// head read in one pass, as views into the bytes it came in, and written
// straight back out for the client without the fields that must not cross
// the proxy. No header container in between: the relay needs each field
// once, to copy it or drop it. Pure: no I/O.
//
//   std::vector<ResponseField> fields;   // reused: the loop's scratch
//   ResponseHead head;
//   switch (ParseResponseHead(upstream_bytes, 64 * 1024, fields, head)) {
//     case HeadStatus::kIncomplete: ... read more, parse again from the start
//     case HeadStatus::kRefused:    ... 502: the upstream's framing cannot be trusted
//     case HeadStatus::kComplete:
//       AppendRelayedResponseHead(out, head, fields, {.chunked = ..., .close = ...});
//       ... then drop head.head_bytes from the buffer (the views die with them)
//   }
//
// Refused (the response is not relayed, and its connection not reused):
// a status line other than `HTTP/1.[01] SP 3DIGIT [SP reason] CRLF`; CR
// without LF, LF without CR, NUL or another control byte (HTAB excepted) in a
// field or the reason; a field name that is not a token; obsolete line
// folding; a Content-Length that is not digits or disagrees with another;
// Transfer-Encoding with Content-Length, in HTTP/1.0, or with chunked
// anywhere but last; more than kMaxResponseFields fields or a Connection
// naming more than kMaxConnectionNames; a head longer than `max_bytes`.
// A response that could be read two ways is how response splitting and
// desynchronised keep-alive connections start.
//
// What is dropped on the way out (RFC 9110 7.6.1): Connection and every
// field it names (Host, Content-Length, Transfer-Encoding, Connection and
// Upgrade cannot be named away), Keep-Alive, TE, Trailer,
// Transfer-Encoding (the relay frames the body itself), Upgrade,
// Proxy-Connection, Proxy-Authorization, and the upstream's own
// X-Request-Id (the client gets the gate's).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/server/gate.h"
#include "proxy/server/request_head_parser.h"

namespace gatehouse::server {

inline constexpr std::size_t kMaxResponseFields = 256;
inline constexpr std::size_t kMaxConnectionNames = 16;

// The fields the relay acts on; every other name is kOther.
enum class RelayField {
  kOther,
  kContentLength,
  kTransferEncoding,
  kConnection,
  kProxyConnection,
  kHopByHop,  // Keep-Alive, TE, Trailer, Upgrade, Proxy-Authorization
  kRequestId,
};

struct ResponseField {
  RelayField kind = RelayField::kOther;
  std::string_view name;
  std::string_view value;  // optional whitespace trimmed
};

struct ResponseHead {
  std::size_t head_bytes = 0;  // up to and including the blank line
  unsigned version = 11;       // 10 or 11
  unsigned status = 0;         // 100-999
  std::string_view reason;
  std::optional<uint64_t> content_length;
  bool chunked = false;  // the body is chunked (Transfer-Encoding ends in chunked)
  // The body runs until the upstream closes (no length, not chunked): the
  // connection cannot be reused.
  bool close_delimited = false;
  bool keep_alive = false;  // the upstream keeps the connection open
  // Names listed in Connection, dropped on the way out.
  std::string_view connection_names[kMaxConnectionNames];
  std::size_t connection_name_count = 0;
};

// Parses the head at the start of `bytes` into `head`, with its fields, in
// order, in `fields` (cleared first). Views point into `bytes`.
HeadStatus ParseResponseHead(std::string_view bytes, std::size_t max_bytes,
                             std::vector<ResponseField>& fields, ResponseHead& head);

// How the relayed head differs from the upstream's.
struct RelayedHeadOptions {
  bool chunked = false;  // the client gets the body chunked: "Transfer-Encoding: chunked"
  bool close = false;    // "Connection: close"
  bool websocket =
      false;  // a 101 to a WebSocket upgrade: "Connection: Upgrade", "Upgrade: websocket"
  std::string_view request_id;  // "X-Request-Id", in place of the upstream's; "" for none
};

// "HTTP/1.1 status reason" CRLF, the upstream's fields less the dropped
// ones, the options' fields, CRLF. Every byte written was checked by
// ParseResponseHead, or is the relay's own (`request_id` is checked here:
// false, and `out` unspecified, if it is no clean field value).
bool AppendRelayedResponseHead(std::string& out, const ResponseHead& head,
                               const std::vector<ResponseField>& fields,
                               const RelayedHeadOptions& options);

}  // namespace gatehouse::server
