// Identity: who made a request, as established by a verified token or session.
// Produced by auth (JwtVerifier, sessions); consumed by the policy engine and by
// the server when it writes identity headers and the audit line.
// Immutable once built; shared as shared_ptr<const Identity> across requests
// that present the same cached token.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace gatehouse::auth {

struct Identity {
  std::string issuer;               // the token's `iss`
  std::string user;                 // value of the issuer's userClaim (default `sub`)
  std::string subject;              // `sub`
  std::string email;                // emailClaim; empty when absent or email_verified == false
  std::vector<std::string> groups;  // groupsClaim (string or array of strings)
  std::string token_id;             // `jti`, for the audit log; never the token itself
  int64_t expires_at = 0;           // `exp`, epoch seconds
  nlohmann::json claims;            // the whole verified payload, for `from.claims`
};

}  // namespace gatehouse::auth
