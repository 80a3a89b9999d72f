// Request framing checks: the pure half of the data path's defence against
// request smuggling and malformed heads. No I/O.
//
//   if (auto refusal = CheckRawRequestHead(new_bytes, from)) Refuse(*refusal);  // a trickling head
//   if (chunked && !ValidateChunkedPrefix(buffered_body_bytes)) Refuse(400);
//
// The data path reads a head with ParseRequestHead (request_head_parser.h),
// which applies every rule below in its one pass; the session runs
// CheckRawRequestHead only on a head that arrives in pieces, to refuse a bad
// byte before the rest comes. CheckRequestHead states the rules on a head
// parsed by someone else (Beast): it is the reference the single-pass
// parser's differential test holds it to.
//
// Every refusal is answered with the status and the connection is closed:
// once framing is in doubt, no later byte on that connection can be trusted.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "proxy/server/gate.h"

namespace gatehouse::server {

struct FramingRefusal {
  http::status status;      // 400 Bad Request or 431 Request Header Fields Too Large
  std::string_view reason;  // static text for debugging; never echoes request bytes
};

// Raw head bytes up to and including the blank line (or what has arrived so
// far): refuses obsolete line folding, bare CR or LF, NUL and leading empty
// lines. Checks positions from `from` on (the byte before it gives context),
// so a caller reading a trickling head re-checks only the new bytes plus the
// last old one: call again with `from` = previous size - 1.
std::optional<FramingRefusal> CheckRawRequestHead(std::string_view bytes, std::size_t from = 0);

// The parsed head: header count, field values free of control characters,
// at most one Content-Length (digits only), Transfer-Encoding exactly
// "chunked" and never with Content-Length or in HTTP/1.0, exactly one Host
// in HTTP/1.1 (at most one in 1.0), and an origin-form target ("/...").
// Absolute-form, authority-form (CONNECT) and asterisk-form are refused: the
// gate routes by Host and must never see a second, conflicting authority.
std::optional<FramingRefusal> CheckRequestHead(const RequestHead& head,
                                               std::size_t max_header_count);

// The chunked body bytes that arrived together with the head: true when they
// are a valid prefix of a chunked body (hex sizes without overflow, chunk
// extensions bounded to kMaxChunkLine bytes per line, CRLF after each chunk).
// Lets a malformed chunked body be refused before the gate or upstream is
// involved; the parser still checks every later byte while streaming.
inline constexpr std::size_t kMaxChunkLine = 4096;
bool ValidateChunkedPrefix(std::string_view bytes);

// RFC 9110 5.5: a field value (or reason phrase) of VCHAR, obs-text, SP and
// HTAB only. No CR, LF, NUL or other control byte: those start header
// injection and smuggling. Fast on long values (eight bytes per step).
bool IsCleanFieldValue(std::string_view value);

}  // namespace gatehouse::server
