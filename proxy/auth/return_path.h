// SanitizeReturnPath: where a browser may be sent back to after sign-in,
// logout or Metabase SSO. Only ever a path on the same host: anything that a
// browser could read as another origin, or that we cannot be sure it will
// not, becomes "/".
//
//   std::string where = SanitizeReturnPath(raw_return_to);  // "/" when unsafe
//   response.set(http::field::location, where);             // safe as a header value
//
// Accepted: starts with exactly one '/', followed by anything but '/' or '\';
// raw text only visible ASCII (no controls, space or non-ASCII); no '\'
// anywhere; at most kMaxReturnPathBytes. The same checks run on the percent-decoded
// text (decoded repeatedly until it stops changing, so %252f%252f is caught),
// because some browsers and upstreams decode before resolving: "/%2F/evil",
// "/%5Cevil", "/%09/evil" all become "/" (decoded spaces and UTF-8 are fine). A raw value that is
// not validly percent-encoded becomes "/". The value returned is the raw input (never the decoded
// text) or "/".
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace gatehouse::auth {

inline constexpr size_t kMaxReturnPathBytes = 2048;

std::string SanitizeReturnPath(std::string_view raw);

}  // namespace gatehouse::auth
