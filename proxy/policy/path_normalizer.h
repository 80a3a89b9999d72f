// NormalizePath: turns a request target into the one canonical path that both
// the policy rules and the upstream see, or rejects it (400 bad_request).
//
//   StatusOr<NormalizedPath> n = NormalizePath("/a/%7Euser/../b?x=1");
//   if (!n.ok()) return BadRequest();   // never routed, never matched
//   n->path;    // "/a/b"  (matched against rules, sent upstream)
//   n->query;   // "?x=1"  (passed through unchanged, '?' included; "" when absent)
//
// Canonical form (an RFC 3986 section 6.2.2 normalization, made total):
//   - every character a path segment may carry raw (unreserved, sub-delims
//     except ';', ':' and '@') appears raw, decoded from any escape of it;
//     every other byte appears as an escape with uppercase hex. Two targets
//     an upstream decodes to the same bytes therefore normalize to the same
//     string, so a rule cannot be dodged by spelling a character differently.
//   - '.' and '..' segments are resolved after decoding (%2e%2e is '..');
//     a '..' above the root is rejected; duplicate slashes are merged; a
//     trailing slash is kept ("/a/" stays "/a/").
//   - rejected: a target not starting with '/', encoded '/' or '\' (%2F %5C),
//     a raw '\', ';' raw or encoded (Jetty/Tomcat path parameters), NUL and
//     other control characters raw or encoded, '#', space, invalid or
//     truncated escapes, bytes that do not decode to valid UTF-8 (overlong
//     forms such as %C0%AE, surrogates), paths over kMaxPathBytes.
// Matching on the result is case-sensitive: /ADMIN is not /admin.
// NormalizePath(n->path) == n->path for every accepted input.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "proxy/core/status.h"

namespace gatehouse::policy {

// Longest path accepted, before and after normalization (8 KiB).
inline constexpr size_t kMaxPathBytes = 8192;

struct NormalizedPath {
  std::string path;   // canonical, '/'-rooted
  std::string query;  // "?..." exactly as received, or "" when the target has no '?'

  // path + query: the request target to send upstream.
  std::string Target() const { return path + query; }
  friend bool operator==(const NormalizedPath&, const NormalizedPath&) = default;
};

StatusOr<NormalizedPath> NormalizePath(std::string_view request_target);

// The same for the request path: the canonical path into `path` (its
// capacity reused, so a long path costs no allocation per request), and
// `query` viewing the target's "?..." (or empty). On an error `path` holds
// nothing to rely on and `query` may be set.
Status NormalizePathInto(std::string_view request_target, std::string& path,
                         std::string_view& query);

}  // namespace gatehouse::policy
