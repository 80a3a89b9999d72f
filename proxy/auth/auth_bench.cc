// auth_bench: token verification cost per algorithm (uncached) and the
// cached path through TokenAuthenticator (target: under 300 ns).
//   ninja auth_bench && ./proxy/auth/auth_bench
#include <benchmark/benchmark.h>

#include <map>
#include <string>

#include "proxy/auth/jwt_verifier.h"
#include "proxy/auth/test_signer.h"
#include "proxy/auth/token_authenticator.h"

namespace gatehouse::auth {
namespace {

using Json = nlohmann::json;

constexpr int64_t kNow = 1700000000;

IssuerConfig Config() {
  IssuerConfig c;
  c.issuer = "https://idp.example.com";
  c.audiences = {"gatehouse"};
  c.algorithms = AllJwsAlgorithms();
  return c;
}

// A typical access token: ~800 bytes with RS256.
Json Claims() {
  return {{"iss", "https://idp.example.com"},
          {"aud", "gatehouse"},
          {"sub", "00u1a2b3c4d5e6f7g8h9"},
          {"email", "analyst@example.com"},
          {"email_verified", true},
          {"groups", {"analysts", "finance", "metabase-users"}},
          {"scope", "openid email profile groups"},
          {"iat", kNow - 60},
          {"exp", kNow + 3600},
          {"jti", "AT.abcdefghijklmnopqrstuvwxyz0123456789"}};
}

struct Fixture {
  std::map<JwsAlgorithm, std::unique_ptr<TestSigner>> signers;
  std::shared_ptr<const JsonWebKeySet> keys;
  Fixture() {
    std::vector<Json> jwks;
    for (JwsAlgorithm alg : AllJwsAlgorithms()) {
      signers[alg] = std::make_unique<TestSigner>(alg, std::string(JwsAlgorithmName(alg)));
      jwks.push_back(signers[alg]->PublicJwk());
    }
    keys = *JsonWebKeySet::Parse(JwksOf(jwks));
  }
};

Fixture& Shared() {
  static Fixture fixture;
  return fixture;
}

void BM_VerifyUncached(benchmark::State& state, JwsAlgorithm alg) {
  Fixture& f = Shared();
  const std::string token = f.signers[alg]->Mint(Claims());
  const IssuerConfig config = Config();
  for (auto _ : state) {
    auto id = VerifyJwt(token, config, *f.keys, kNow);
    if (!id.ok()) state.SkipWithError("verification failed");
    benchmark::DoNotOptimize(id);
  }
  state.counters["token_bytes"] = static_cast<double>(token.size());
}
BENCHMARK_CAPTURE(BM_VerifyUncached, RS256, JwsAlgorithm::kRS256);
BENCHMARK_CAPTURE(BM_VerifyUncached, PS256, JwsAlgorithm::kPS256);
BENCHMARK_CAPTURE(BM_VerifyUncached, ES256, JwsAlgorithm::kES256);
BENCHMARK_CAPTURE(BM_VerifyUncached, ES384, JwsAlgorithm::kES384);
BENCHMARK_CAPTURE(BM_VerifyUncached, EdDSA, JwsAlgorithm::kEdDSA);

class StaticKeys final : public KeyProvider {
 public:
  explicit StaticKeys(std::shared_ptr<const JsonWebKeySet> keys) : keys_(std::move(keys)) {}
  std::shared_ptr<const JsonWebKeySet> Keys(const IssuerConfig&) override { return keys_; }
  void KeyIdNotFound(const IssuerConfig&) override {}

 private:
  std::shared_ptr<const JsonWebKeySet> keys_;
};

void BM_AuthenticateCached(benchmark::State& state) {
  Fixture& f = Shared();
  StaticKeys provider(f.keys);
  TokenAuthenticator auth({Config()}, provider);
  TokenCache cache(4096);
  // Other tokens in the cache, as on a busy worker.
  for (int i = 0; i < 1000; ++i) {
    Json c = Claims();
    c["jti"] = "other-" + std::to_string(i);
    (void)auth.Authenticate(f.signers[JwsAlgorithm::kES256]->Mint(c), kNow, cache);
  }
  const std::string token = f.signers[JwsAlgorithm::kRS256]->Mint(Claims());
  if (!auth.Authenticate(token, kNow, cache).ok()) state.SkipWithError("verification failed");
  for (auto _ : state) {
    auto id = auth.Authenticate(token, kNow, cache);
    benchmark::DoNotOptimize(id);
  }
  state.counters["token_bytes"] = static_cast<double>(token.size());
}
BENCHMARK(BM_AuthenticateCached);

}  // namespace
}  // namespace gatehouse::auth

