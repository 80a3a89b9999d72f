// strict_json: parse untrusted JSON (JOSE headers, JWT claims, JWKS and OIDC
// discovery documents) into nlohmann::json, refusing what a lenient parser
// would silently accept.
//
//   StatusOr<nlohmann::json> header = ParseStrictJson(header_bytes, kMaxJoseJsonBytes);
//   if (!header.ok()) return header.status();
//
// Rejected (kInvalidArgument, message names the rule, never the input):
//   - duplicate object keys at any depth. nlohmann keeps the last duplicate, so
//     `{"alg":"RS256","alg":"none"}` could be read one way by a peer and another
//     way by us; a single accepted reading is the only safe one.
//   - nesting deeper than kMaxJsonDepth (16), bounding recursion and memory;
//   - input over `max_bytes`;
//   - anything that is not exactly one JSON value (trailing bytes, comments,
//     invalid UTF-8, empty input).
// No exception escapes.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string_view>

#include "proxy/core/status.h"

namespace gatehouse::auth {

inline constexpr int kMaxJsonDepth = 16;
inline constexpr size_t kDefaultMaxJsonBytes = 64 * 1024;

StatusOr<nlohmann::json> ParseStrictJson(std::string_view text,
                                         size_t max_bytes = kDefaultMaxJsonBytes);

}  // namespace gatehouse::auth
