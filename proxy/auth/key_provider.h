// KeyProvider: where TokenAuthenticator gets an issuer's verification keys.
// Implemented by JwksCache (proxy/auth/jwks_cache.h); tests use a fake.
//
//   std::shared_ptr<const JsonWebKeySet> keys = provider.Keys(config);
//   if (!keys) -> no keys fetched yet (kUnavailable to the caller)
//   provider.KeyIdNotFound(config);  // a token named a kid we do not have
//
// Both are called on the data path from many threads: they must not block
// on the network and must be thread-safe.
#pragma once

#include <memory>

#include "proxy/auth/issuer_config.h"
#include "proxy/auth/json_web_key.h"

namespace gatehouse::auth {

class KeyProvider {
 public:
  virtual ~KeyProvider() = default;
  // The current key set, or nullptr when none has been fetched yet.
  virtual std::shared_ptr<const JsonWebKeySet> Keys(const IssuerConfig& config) = 0;
  // Asks for a (rate-limited) refresh: the issuer may have rotated its keys.
  virtual void KeyIdNotFound(const IssuerConfig& config) = 0;
};

}  // namespace gatehouse::auth
