// IssuerConfig: what one policy trusts from one identity provider.
// Built by the policy compiler from spec.authentication.issuers[i]; read by
// the JWT verifier. Two policies that trust the same issuer with different
// audiences get two IssuerConfigs (verification results are cached per config).
#pragma once

#include <string>
#include <vector>

namespace gatehouse::auth {

// Signature algorithms Gatehouse verifies. HMAC and "none" are deliberately
// absent: a public-key issuer must never be verifiable with a shared secret.
enum class JwsAlgorithm { kRS256, kRS384, kRS512, kPS256, kES256, kES384, kEdDSA };

// "RS256" -> kRS256; false for anything not in the enum (including "none", "HS256").
bool ParseJwsAlgorithm(std::string_view name, JwsAlgorithm* out);
std::string_view JwsAlgorithmName(JwsAlgorithm alg);
// Every algorithm above, in enum order: the default allowlist.
const std::vector<JwsAlgorithm>& AllJwsAlgorithms();

struct IssuerConfig {
  std::string issuer;                   // exact `iss` value; also the discovery base URL
  std::vector<std::string> audiences;   // token `aud` must contain at least one (never empty)
  std::string jwks_uri;                 // empty: take jwks_uri from OIDC discovery
  std::vector<JwsAlgorithm> algorithms; // allowlist; the compiler fills the default
  std::string groups_claim = "groups";
  std::string email_claim = "email";
  std::string user_claim = "sub";

  friend bool operator==(const IssuerConfig&, const IssuerConfig&) = default;
};

}  // namespace gatehouse::auth
