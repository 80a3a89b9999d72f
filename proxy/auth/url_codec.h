// url_codec: percent-encoding for the URLs and forms of browser sign-in
// (RFC 3986 section 2.1, application/x-www-form-urlencoded).
//
//   std::string q = "state=" + PercentEncode(state);        // unreserved kept, rest %XX
//   StatusOr<std::string> raw = PercentDecode("a%2Fb");      // "a/b"; bad escapes fail
//   StatusOr<std::optional<std::string>> code = QueryParam("code=x&state=y", "code");
//
// QueryParam reads '+' as a space (form encoding) and refuses a parameter
// given twice: two values for `state` or `code` are ambiguous, so neither is used.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "proxy/core/status.h"

namespace gatehouse::auth {

// Every byte outside ALPHA / DIGIT / "-._~" becomes %XX (uppercase hex).
std::string PercentEncode(std::string_view bytes);

// %XX -> byte; kInvalidArgument for a '%' not followed by two hex digits.
// `plus_is_space`: form decoding.
StatusOr<std::string> PercentDecode(std::string_view text, bool plus_is_space = false);

// `query` without the leading '?'. nullopt when absent; kInvalidArgument when
// given more than once or badly encoded.
StatusOr<std::optional<std::string>> QueryParam(std::string_view query, std::string_view name);

}  // namespace gatehouse::auth
