// TokenAuthenticator: the per-request entry point for bearer tokens. Holds the
// IssuerConfigs one policy trusts and a KeyProvider; immutable and thread-safe
// (build one per compiled policy snapshot). Each worker thread passes its own
// TokenCache.
//
//   TokenAuthenticator auth({config_a, config_b}, jwks_cache);
//   thread_local TokenCache cache;
//   StatusOr<std::shared_ptr<const Identity>> id = auth.Authenticate(token, now, cache);
//   kUnauthenticated -> 401 (invalid token, untrusted issuer)
//   kUnavailable     -> no keys fetched yet for the token's issuer (wait or 503)
//
// Flow: cache lookup for each trusted config (the hash is computed once), then
// the token is decoded once and its unverified `iss` picks the configs to
// verify the decoded token with; an unknown issuer is
// refused without touching any key. A failed verification whose `kid` is not
// in the key set asks the provider for a (rate-limited) refresh. Cached
// identities stay valid until the token's `exp` even if the issuer later drops
// the signing key (as in other gateways); keys rotate, exp bounds the exposure.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "proxy/auth/identity.h"
#include "proxy/auth/issuer_config.h"
#include "proxy/auth/jwt_verifier.h"
#include "proxy/auth/key_provider.h"
#include "proxy/auth/token_cache.h"
#include "proxy/core/status.h"

namespace gatehouse::auth {

class TokenAuthenticator {
 public:
  // `keys` must outlive this object.
  TokenAuthenticator(std::vector<IssuerConfig> issuers, KeyProvider& keys);

  StatusOr<std::shared_ptr<const Identity>> Authenticate(std::string_view token, int64_t now,
                                                         TokenCache& cache) const;

  const std::vector<IssuerConfig>& issuers() const { return issuers_; }

 private:
  StatusOr<std::shared_ptr<const Identity>> VerifyWith(size_t index, std::string_view token,
                                                       const DecodedJwt& jwt, int64_t now,
                                                       uint64_t hash, TokenCache& cache) const;

  std::vector<IssuerConfig> issuers_;
  // Process-unique id per (authenticator, issuer) for cache keys, so entries
  // from an older policy snapshot can never answer for a new one.
  std::vector<uint64_t> config_ids_;
  KeyProvider& keys_;
};

}  // namespace gatehouse::auth
