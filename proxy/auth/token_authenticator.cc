#include "proxy/auth/token_authenticator.h"

#include <atomic>
#include <optional>
#include <utility>

#include "proxy/auth/jwt_verifier.h"

namespace gatehouse::auth {
namespace {

uint64_t NextConfigId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

TokenAuthenticator::TokenAuthenticator(std::vector<IssuerConfig> issuers, KeyProvider& keys)
    : issuers_(std::move(issuers)), keys_(keys) {
  config_ids_.reserve(issuers_.size());
  for (size_t i = 0; i < issuers_.size(); ++i) config_ids_.push_back(NextConfigId());
}

StatusOr<std::shared_ptr<const Identity>> TokenAuthenticator::VerifyWith(size_t index,
                                                                         std::string_view token,
                                                                         const DecodedJwt& jwt,
                                                                         int64_t now, uint64_t hash,
                                                                         TokenCache& cache) const {
  const IssuerConfig& config = issuers_[index];
  std::shared_ptr<const JsonWebKeySet> keys = keys_.Keys(config);
  if (!keys) return UnavailableError("signing keys not yet available for issuer");
  StatusOr<std::shared_ptr<const Identity>> identity = VerifyDecodedJwt(jwt, config, *keys, now);
  if (identity.ok()) {
    cache.Insert(hash, token, config_ids_[index], *identity, now);
    return identity;
  }
  // A kid we do not know may mean the issuer rotated keys: ask for a refresh
  // (the provider rate-limits it, so a flood of junk kids costs nothing).
  auto kid = jwt.header.find("kid");
  if (kid != jwt.header.end() && kid->is_string()) {
    const std::string& id = kid->get_ref<const std::string&>();
    if (!id.empty() && !keys->HasKeyId(id)) keys_.KeyIdNotFound(config);
  }
  return identity;
}

StatusOr<std::shared_ptr<const Identity>> TokenAuthenticator::Authenticate(
    std::string_view token, int64_t now, TokenCache& cache) const {
  if (token.empty()) return UnauthenticatedError("no token");
  if (token.size() > kMaxTokenBytes) return UnauthenticatedError("token too large");
  const uint64_t hash = TokenCache::HashToken(token);
  for (size_t i = 0; i < issuers_.size(); ++i) {
    if (auto hit = cache.Lookup(hash, token, config_ids_[i], now)) return hit;
  }
  // Decoded once: the unverified `iss` picks the configs, each of which then
  // verifies the same decoded token (nothing is trusted before that).
  StatusOr<DecodedJwt> jwt = DecodeJwt(token);
  if (!jwt.ok()) return jwt.status();
  const std::string_view iss = jwt->issuer();
  if (iss.empty()) return UnauthenticatedError("token has no iss");
  // Several configs may trust the same issuer (different audiences): the
  // token is accepted when it verifies for any one of them.
  std::optional<StatusOr<std::shared_ptr<const Identity>>> last;
  for (size_t i = 0; i < issuers_.size(); ++i) {
    if (issuers_[i].issuer != iss) continue;
    StatusOr<std::shared_ptr<const Identity>> result = VerifyWith(i, token, *jwt, now, hash, cache);
    if (result.ok()) return result;
    // Prefer reporting an invalid token over "keys unavailable" when both occur.
    if (!last || result.status().code() == StatusCode::kUnauthenticated) last = std::move(result);
  }
  // Security: an issuer no policy trusts is refused before any key lookup.
  if (!last) return UnauthenticatedError("token issuer not trusted");
  return std::move(*last);
}

}  // namespace gatehouse::auth
