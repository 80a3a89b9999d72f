// ParseRequestHead: reads an HTTP/1.1 request head in one pass over its
// bytes, refusing anything that cannot be framed safely, and fills a
// RequestHead with what it found. It replaces Beast's request parser plus the
// checks the data path used to run before and after it (four scans of every
// byte, the bearer token included, became one). Pure: no I/O.
//
//   RequestHead head(...);
//   const RequestHeadResult parsed = ParseRequestHead(buffered_bytes, {8192, 100}, head);
//   switch (parsed.status) {
//     case HeadStatus::kIncomplete: ... read more, parse again from the start
//     case HeadStatus::kRefused:    ... answer parsed.refusal.status and close
//     case HeadStatus::kComplete:   ... parsed.framing says how the body is framed
//   }
//
// What is refused (400 unless said otherwise), whatever byte it hides in:
// - a request line other than `token SP origin-form-target SP HTTP/1.[01] CRLF`
//   (absolute-form, authority-form and asterisk-form included: the gate
//   routes by Host and must never see a second authority), a leading empty line;
// - CR without LF, LF without CR, NUL, DEL or any other control byte except
//   HTAB inside a field value; a field name that is not a token (whitespace
//   before the colon included); obsolete line folding;
// - more than `max_fields` fields, or a head longer than `max_bytes` (431);
// - Content-Length that is not 1-19 digits, or given twice (even with equal
//   values); Transfer-Encoding other than exactly one `chunked`, together with
//   Content-Length, or in HTTP/1.0;
// - in HTTP/1.1 a Host count other than one; in HTTP/1.0 more than one.
// Any one of these lets two parsers disagree about where a request ends or
// which host it is for: request smuggling, cache poisoning, routing bypass.
//
// Unless the head is complete, `head` is left empty (it never views into
// `bytes`: a complete head holds a copy of its bytes). Bytes of complete
// lines are checked as they come, so a bad byte is refused before the rest
// of the head arrives.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "proxy/server/gate.h"
#include "proxy/server/request_framing.h"

namespace gatehouse::server {

struct RequestHeadLimits {
  std::size_t max_bytes = 8 * 1024;  // request line, fields and blank line (431 beyond)
  std::size_t max_fields = 100;      // header fields (431 beyond)
};

// What the head says about its body and its connection, read in the same pass.
struct RequestFraming {
  std::size_t head_bytes = 0;              // up to and including the blank line
  std::optional<uint64_t> content_length;  // the body is this many bytes
  bool chunked = false;                    // Transfer-Encoding: chunked
  // HTTP/1.1 without `Connection: close`; HTTP/1.0 with `Connection: keep-alive`.
  bool keep_alive = false;
  bool expect = false;           // an Expect field is present
  bool expect_continue = false;  // ... and says 100-continue
  // A field RFC 9110 7.6.1 removes at a proxy is present (Connection,
  // Keep-Alive, TE, Trailer, Transfer-Encoding, Upgrade, Proxy-Connection,
  // Proxy-Authorization). Without one, there is nothing to strip.
  bool hop_by_hop = false;

  bool has_body() const { return chunked || (content_length && *content_length > 0); }
};

enum class HeadStatus { kComplete, kIncomplete, kRefused };

struct RequestHeadResult {
  HeadStatus status = HeadStatus::kIncomplete;
  RequestFraming framing;    // kComplete
  FramingRefusal refusal{};  // kRefused
};

// Parses the head at the start of `bytes` (what follows the blank line, a
// body or a pipelined request, is left alone) into `head`, whose method,
// target and version are set and whose fields are appended in order.
RequestHeadResult ParseRequestHead(std::string_view bytes, const RequestHeadLimits& limits,
                                   RequestHead& head);

}  // namespace gatehouse::server
