// HeadWriter: HTTP/1.1 message heads and chunk framing written by hand into a
// reused string, so the data path sends a head (and the body bytes already
// at hand) in one gather write instead of running Beast's serializer, whose
// buffer-sequence machinery cost ~28k instructions per proxied request.
// Pure: no I/O.
//
//   std::string& out = scratch;  out.clear();
//   if (!AppendRequestHead(out, head)) ... refuse: a field would break framing
//   AppendChunkSize(out, n);  ... n body bytes ... kChunkEnd ... kLastChunk
//
// Every name and value is checked before it is written: a CR, LF, NUL or
// other control byte (HTAB excepted) in a field would let a value smuggle a
// header or a second message to the next hop. The request's own fields were
// checked on arrival (request_framing.h); fields the relay added are checked
// here, so the check holds whoever set the field. The gate's own fields
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

// "METHOD target HTTP/1.x" CRLF, the fields in order, the added lines, CRLF.
// False (and `out` unspecified) when the method, target or a field is unsafe
// to write.
bool AppendRequestHead(std::string& out, const RequestHead& head, const AddedFields& added);
bool AppendRequestHead(std::string& out, const RequestHead& head);  // nothing added

// "HTTP/1.1 code reason" CRLF, the fields in order, CRLF. Always HTTP/1.1:
// the proxy speaks 1.1 to its clients. False when a field is unsafe to write.
bool AppendResponseHead(std::string& out, const http::response_header<>& head);
bool AppendResponseHead(std::string& out, const http::response_header<HeadFields>& head);

// The chunk-size line for `size` body bytes ("1a2b" CRLF). size > 0.
void AppendChunkSize(std::string& out, std::size_t size);

}  // namespace gatehouse::server
