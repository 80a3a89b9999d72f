// PathPattern: one compiled `paths` entry of a rule, and the validators for
// rule paths and spec.pathPrefix.
//
//   StatusOr<PathPattern> p = PathPattern::Compile("/api/card/*");
//   p->Matches("/api/card/12");     // true  ('*' is one whole non-empty segment)
//   p->Matches("/api/card/12/x");   // false
//   PathPattern::Compile("/dashboard/**")->Matches("/dashboard");  // true
//
// Grammar: '/'-rooted segments. '*' matches exactly one non-empty segment;
// '**' (last segment only) matches any rest, including nothing, so "/x/**"
// matches "/x", "/x/" and "/x/a/b", and "/**" matches every path. Other
// segments match literally and case-sensitively. A pattern must already be
// in the canonical form NormalizePath produces (no '.', '..', '//', escapes
// of characters that are written raw, ';'), because it is compared with
// normalized request paths.
//
// Trailing slash: a request path's single trailing slash is ignored when
// matching ("/api/x/" matches "/api/x"), so a Deny rule cannot be dodged by
// appending '/'. Patterns therefore may not end in '/' (except "/").
//
// Matches() and PathHasPrefix() allocate nothing: they run per request.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "proxy/core/status.h"

namespace gatehouse::policy {

// OK, or InvalidArgument with a message fit for a field error, e.g.
// "'**' must be the last segment".
Status ValidatePathPattern(std::string_view pattern);

// spec.pathPrefix: '/'-rooted, normalized, no wildcards, no trailing '/'
// except "/" itself.
Status ValidatePathPrefix(std::string_view prefix);

// True when the normalized `path` lies under `prefix` on a segment boundary:
// "/api" covers "/api", "/api/" and "/api/x", not "/apix"; "/" covers all.
bool PathHasPrefix(std::string_view path, std::string_view prefix);

class PathPattern {
 public:
  static StatusOr<PathPattern> Compile(std::string_view pattern);

  // `normalized_path` must come from NormalizePath (query removed).
  bool Matches(std::string_view normalized_path) const;
  const std::string& text() const { return text_; }

 private:
  enum class Kind { kLiteral, kOneSegment, kAnyRest };
  struct Segment {
    Kind kind;
    std::string literal;  // kLiteral: the segment with its leading '/', e.g. "/api"
  };
  std::string text_;
  std::vector<Segment> segments_;
};

}  // namespace gatehouse::policy
