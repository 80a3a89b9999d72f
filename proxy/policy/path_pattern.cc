#include "proxy/policy/path_pattern.h"

#include <algorithm>
#include <utility>

#include "proxy/policy/path_normalizer.h"

namespace gatehouse::policy {
namespace {

// Checks that `text` is '/'-rooted, has no query, no trailing '/' (except
// "/"), and is exactly what NormalizePath makes of it.
Status CheckCanonical(std::string_view text, std::string_view what) {
  if (text.empty() || text.front() != '/') {
    return InvalidArgumentError(std::string(what) + " must start with '/'");
  }
  if (text.find('?') != std::string_view::npos) {
    return InvalidArgumentError(
        std::string(what) + " must not contain '?': paths are matched without the query string");
  }
  if (text.size() > 1 && text.back() == '/') {
    return InvalidArgumentError(
        std::string(what) + " must not end with '/': paths match with or without a trailing '/'");
  }
  StatusOr<NormalizedPath> normalized = NormalizePath(text);
  if (!normalized.ok()) return InvalidArgumentError(normalized.status().message());
  if (normalized->path != text) {
    // Rules are compared with normalized request paths: a non-canonical
    // spelling would silently never match.
    return InvalidArgumentError(std::string(what) + " is not in normalized form; write \"" +
                                normalized->path + "\"");
  }
  return Status::Ok();
}

std::string_view SegmentAt(std::string_view path, size_t start, size_t* next) {
  size_t end = path.find('/', start);
  *next = end;
  return path.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
}

}  // namespace

Status ValidatePathPattern(std::string_view pattern) {
  if (Status s = CheckCanonical(pattern, "a path"); !s.ok()) return s;
  if (pattern == "/") return Status::Ok();
  size_t start = 1;
  while (true) {
    size_t next;
    std::string_view segment = SegmentAt(pattern, start, &next);
    bool last = next == std::string_view::npos;
    if (segment == "**") {
      if (!last) return InvalidArgumentError("'**' must be the last segment");
    } else if (segment != "*" && segment.find('*') != std::string_view::npos) {
      return InvalidArgumentError("'*' must be a whole segment (\"/a/*\", not \"/a*\")");
    }
    if (last) return Status::Ok();
    start = next + 1;
  }
}

Status ValidatePathPrefix(std::string_view prefix) {
  if (Status s = CheckCanonical(prefix, "pathPrefix"); !s.ok()) return s;
  if (prefix.find('*') != std::string_view::npos) {
    return InvalidArgumentError("pathPrefix must not contain wildcards ('*')");
  }
  return Status::Ok();
}

bool PathHasPrefix(std::string_view path, std::string_view prefix) {
  if (prefix == "/") return !path.empty() && path.front() == '/';
  if (path.substr(0, prefix.size()) != prefix) return false;
  // Segment boundary: "/api" must not cover "/apix".
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

StatusOr<PathPattern> PathPattern::Compile(std::string_view pattern) {
  if (Status s = ValidatePathPattern(pattern); !s.ok()) return s;
  PathPattern compiled;
  compiled.text_ = std::string(pattern);
  if (pattern == "/") return compiled;
  size_t start = 1;
  while (true) {
    size_t next;
    std::string_view segment = SegmentAt(pattern, start, &next);
    if (segment == "**") {
      compiled.segments_.push_back({Kind::kAnyRest, ""});
    } else if (segment == "*") {
      compiled.segments_.push_back({Kind::kOneSegment, ""});
    } else {
      compiled.segments_.push_back({Kind::kLiteral, "/" + std::string(segment)});
    }
    if (next == std::string_view::npos) return compiled;
    start = next + 1;
  }
}

bool PathPattern::Matches(std::string_view normalized_path) const {
  std::string_view rest = normalized_path;
  if (rest.empty() || rest.front() != '/') return false;
  // One trailing slash is not significant (see the header).
  if (rest.size() > 1 && rest.back() == '/') rest.remove_suffix(1);
  if (rest == "/") rest = std::string_view();
  // `rest` is empty or starts with the '/' of its next segment.
  for (const Segment& segment : segments_) {
    if (segment.kind == Kind::kAnyRest) return true;
    if (rest.empty()) return false;  // the pattern needs more segments than the path has
    size_t end;                      // where the path's segment ends (its next '/' or its end)
    if (segment.kind == Kind::kLiteral) {
      // "/lit" must start `rest` and end on a segment boundary: no search
      // for the next '/', one compare (most patterns fail here).
      const std::string_view literal = segment.literal;
      end = literal.size();
      if (rest.size() < end || rest.compare(0, end, literal) != 0 ||
          (rest.size() > end && rest[end] != '/')) {
        return false;
      }
    } else {
      end = std::min(rest.find('/', 1), rest.size());
      if (end == 1) return false;  // an empty segment: not normalized, never match
    }
    rest.remove_prefix(end);
  }
  return rest.empty();
}

}  // namespace gatehouse::policy
