// HeadWriter: HTTP/1.1 message heads and chunk framing written by hand into a
// reused string, so the data path sends a head (and the body bytes already
// at hand) in one gather write instead of running Beast's serializer, whose
// buffer-sequence machinery cost ~28k instructions per proxied request.
// Pure: no I/O.
//
//   std::string& out = scratch;  out.clear();
//   if (!AppendRequestHead(out, head, {target, host}, added)) ... refuse: a field would break
//   framing AppendChunkSize(out, n);  ... n body bytes ... kChunkEnd ... kLastChunk
//
// Every name and value is checked before it is written: a CR, LF, NUL or
// other control byte (HTAB excepted) in a field would let a value smuggle a
// header or a second message to the next hop. The request's own fields were
// checked on arrival (request_framing.h); fields the relay added are checked
// here, so the check holds whoever set the field. (The response's head is
// written by response_head.h, straight from the upstream's checked bytes.) The gate's own fields
// (identity claims, X-Request-Id) arrive as AddedFields, whose lines were
// checked when they were added (added_fields.h), and go after the others.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "proxy/server/gate.h"

namespace gatehouse::server {

inline constexpr std::string_view kChunkEnd = "\r\n";
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

// What the relay sends in place of the client's request-target and Host.
struct UpstreamRequestLine {
  std::string_view target;  // origin-form: the verdict's (base path applied, query kept)
  std::string_view host;    // Host for the upstream
  bool chunked = false;     // the body goes re-chunked: "Transfer-Encoding: chunked"
};

// "METHOD target HTTP/1.1" CRLF, "Host: host" CRLF, the head's fields in
// order (its own Host and Transfer-Encoding left out: `line` replaces them),
// "Transfer-Encoding: chunked" when `line.chunked`, the added lines, CRLF.
// False (and `out` unspecified) when the method, target, Host or a field is
// unsafe to write.
bool AppendRequestHead(std::string& out, const RequestHead& head, const UpstreamRequestLine& line,
                       const AddedFields& added);

// The chunk-size line for `size` body bytes ("1a2b" CRLF). size > 0.
void AppendChunkSize(std::string& out, std::size_t size);

}  // namespace gatehouse::server
