// base64url: the unpadded URL-safe base64 of RFC 7515 section 2 (JWS, JWK).
//
//   StatusOr<std::string> bytes = Base64UrlDecode("eyJhbGciOiJSUzI1NiJ9");
//   std::string text = Base64UrlEncode(bytes);
//
// Decoding is strict because every byte of a token is hostile input: only the
// alphabet A-Z a-z 0-9 '-' '_' is accepted; padding '=', the standard-base64
// '+' and '/', whitespace and line breaks are rejected; so are impossible
// lengths (len % 4 == 1) and non-zero trailing bits. The result is that each
// byte string has exactly one accepted encoding, so a token cannot be altered
// without changing its signed bytes.
#pragma once

#include <string>
#include <string_view>

#include "proxy/core/status.h"

namespace gatehouse::auth {

// kInvalidArgument on any deviation from the canonical unpadded encoding.
// The message never repeats the input.
StatusOr<std::string> Base64UrlDecode(std::string_view encoded);

// Canonical unpadded encoding.
std::string Base64UrlEncode(std::string_view bytes);

}  // namespace gatehouse::auth
