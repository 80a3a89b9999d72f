// jwt_claims: validates the payload of a JWT whose signature has already been
// verified, and builds the Identity from it (RFC 7519 section 4.1).
//
//   StatusOr<std::shared_ptr<const Identity>> id = ValidateJwtClaims(payload, config, now);
//
// `iss` equals config.issuer exactly; `aud` (string or array of strings)
// contains one of config.audiences; `exp` is required; `exp`, `nbf`, `iat` must
// be JSON numbers, checked with kClockSkewSeconds of leeway; the user claim is a
// non-empty string. The email is dropped when `email_verified` is exactly false.
// Failures are kUnauthenticated with a short fixed reason (no claim values).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>

#include "proxy/auth/identity.h"
#include "proxy/auth/issuer_config.h"
#include "proxy/core/status.h"

namespace gatehouse::auth {

inline constexpr int64_t kClockSkewSeconds = 60;

// `payload` is moved into Identity::claims on success.
StatusOr<std::shared_ptr<const Identity>> ValidateJwtClaims(nlohmann::json payload,
                                                            const IssuerConfig& config,
                                                            int64_t now);

// The identity a set of claims describes under `config`'s claim names, with
// none of the token checks (iss, aud, times): for `explain --claims`, which
// explains policy rather than tokens. Never call it on the request path.
StatusOr<std::shared_ptr<const Identity>> IdentityFromClaims(nlohmann::json claims,
                                                             const IssuerConfig& config);

}  // namespace gatehouse::auth
