#include "proxy/auth/token_authenticator.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "proxy/auth/test_signer.h"

namespace gatehouse::auth {
namespace {

using Json = nlohmann::json;

constexpr int64_t kNow = 1700000000;

class FakeKeyProvider final : public KeyProvider {
 public:
  std::shared_ptr<const JsonWebKeySet> Keys(const IssuerConfig& config) override {
    ++keys_calls;
    auto it = keys.find(config.issuer);
    return it == keys.end() ? nullptr : it->second;
  }
  void KeyIdNotFound(const IssuerConfig& config) override { ++kid_misses[config.issuer]; }

  std::map<std::string, std::shared_ptr<const JsonWebKeySet>> keys;
  std::map<std::string, int> kid_misses;
  int keys_calls = 0;
};

IssuerConfig Config(const std::string& issuer, const std::string& audience) {
  IssuerConfig c;
  c.issuer = issuer;
  c.audiences = {audience};
  c.algorithms = AllJwsAlgorithms();
  return c;
}

Json Claims(const std::string& issuer, const std::string& audience, int64_t exp = kNow + 300) {
  return {{"iss", issuer}, {"aud", audience}, {"sub", "u"}, {"exp", exp}};
}

class TokenAuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    provider_.keys["https://a"] = *JsonWebKeySet::Parse(JwksOf({signer_a_.PublicJwk()}));
    provider_.keys["https://b"] = *JsonWebKeySet::Parse(JwksOf({signer_b_.PublicJwk()}));
  }
  static inline TestSigner signer_a_{JwsAlgorithm::kES256, "ka"};
  static inline TestSigner signer_b_{JwsAlgorithm::kEdDSA, "kb"};
  FakeKeyProvider provider_;
  TokenCache cache_{64};
  TokenAuthenticator auth_{{Config("https://a", "app"), Config("https://b", "app"),
                            Config("https://b", "other"), Config("https://nokeys", "app")},
                           provider_};
};

std::string SegmentOf(const std::string& token, int index) {
  size_t start = 0;
  for (int i = 0; i < index; ++i) start = token.find('.', start) + 1;
  return token.substr(start, token.find('.', start) - start);
}

Json IssuerNumber() {
  Json claims = Claims("https://a", "app");
  claims["iss"] = 5;
  return claims;
}

Json WithoutIssuer() {
  Json claims = Claims("https://a", "app");
  claims.erase("iss");
  return claims;
}

struct Case {
  const char* name;
  std::string token;
  StatusCode code;
  const char* reason;
};

void Check(const TokenAuthenticator& auth, TokenCache& cache, const Case& c) {
  SCOPED_TRACE(c.name);
  StatusOr<std::shared_ptr<const Identity>> got = auth.Authenticate(c.token, kNow, cache);
  if (c.code == StatusCode::kOk) {
    ASSERT_TRUE(got.ok()) << got.status().message();
    return;
  }
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), c.code);
  EXPECT_NE(got.status().message().find(c.reason), std::string::npos) << got.status().message();
}

TEST_F(TokenAuthenticatorTest, Table) {
  TestSigner stranger(JwsAlgorithm::kES256, "ka");
  const Case cases[] = {
      {"issuer a", signer_a_.Mint(Claims("https://a", "app")), StatusCode::kOk, ""},
      {"issuer b, second config's audience", signer_b_.Mint(Claims("https://b", "other")),
       StatusCode::kOk, ""},
      {"issuer b signed with a's key", signer_a_.Mint(Claims("https://b", "app")),
       StatusCode::kUnauthenticated, "no signing key"},
      {"untrusted issuer", signer_a_.Mint(Claims("https://evil", "app")),
       StatusCode::kUnauthenticated, "not trusted"},
      {"no keys yet", signer_a_.Mint(Claims("https://nokeys", "app")), StatusCode::kUnavailable,
       "not yet available"},
      {"forged with same kid", stranger.Mint(Claims("https://a", "app")),
       StatusCode::kUnauthenticated, "signature"},
      {"empty", "", StatusCode::kUnauthenticated, "no token"},
      {"garbage", "not-a-token", StatusCode::kUnauthenticated, "malformed"},
      {"too large", std::string(20000, 'a'), StatusCode::kUnauthenticated, "too large"},
      // The token is decoded once, header included, before `iss` picks a config.
      {"header not base64url",
       "e30!." + SegmentOf(signer_a_.Mint(Claims("https://a", "app")), 1) + ".c2ln",
       StatusCode::kUnauthenticated, "header"},
      {"iss not a string", signer_a_.Mint(IssuerNumber()), StatusCode::kUnauthenticated, "no iss"},
      {"no iss", signer_a_.Mint(WithoutIssuer()), StatusCode::kUnauthenticated, "no iss"},
  };
  for (const Case& c : cases) Check(auth_, cache_, c);
}

TEST_F(TokenAuthenticatorTest, CachesVerifiedTokensUntilExp) {
  const std::string token = signer_a_.Mint(Claims("https://a", "app", kNow + 100));
  ASSERT_TRUE(auth_.Authenticate(token, kNow, cache_).ok());
  const int calls = provider_.keys_calls;
  // Cached: no key lookup, no verification, even after the keys disappear.
  provider_.keys.erase("https://a");
  auto hit = auth_.Authenticate(token, kNow + 50, cache_);
  ASSERT_TRUE(hit.ok());
  EXPECT_EQ(provider_.keys_calls, calls);
  // At exp the cache no longer answers, and the token is re-verified (here: no keys).
  EXPECT_EQ(auth_.Authenticate(token, kNow + 100, cache_).status().code(),
            StatusCode::kUnavailable);
}

TEST_F(TokenAuthenticatorTest, FailuresAreNotCached) {
  const std::string token = signer_a_.Mint(Claims("https://a", "wrong-audience"));
  EXPECT_FALSE(auth_.Authenticate(token, kNow, cache_).ok());
  EXPECT_EQ(cache_.size(), 0u);
  EXPECT_FALSE(auth_.Authenticate(token, kNow, cache_).ok());
}

TEST_F(TokenAuthenticatorTest, CacheEntriesDoNotCrossAuthenticators) {
  // The same cache used with a newer policy snapshot that no longer trusts
  // issuer a must not answer from the old entry.
  const std::string token = signer_a_.Mint(Claims("https://a", "app"));
  ASSERT_TRUE(auth_.Authenticate(token, kNow, cache_).ok());
  TokenAuthenticator newer({Config("https://b", "app")}, provider_);
  EXPECT_EQ(newer.Authenticate(token, kNow, cache_).status().code(), StatusCode::kUnauthenticated);
  // Same issuer list, other audience: still re-verified (and rejected).
  TokenAuthenticator other_aud({Config("https://a", "not-app")}, provider_);
  EXPECT_FALSE(other_aud.Authenticate(token, kNow, cache_).ok());
}

TEST_F(TokenAuthenticatorTest, UnknownKidAsksForRefresh) {
  TestSigner rotated(JwsAlgorithm::kES256, "new-key");
  EXPECT_FALSE(auth_.Authenticate(rotated.Mint(Claims("https://a", "app")), kNow, cache_).ok());
  EXPECT_EQ(provider_.kid_misses["https://a"], 1);
  // A known kid with a bad signature does not trigger a refresh.
  TestSigner forger(JwsAlgorithm::kES256, "ka");
  EXPECT_FALSE(auth_.Authenticate(forger.Mint(Claims("https://a", "app")), kNow, cache_).ok());
  EXPECT_EQ(provider_.kid_misses["https://a"], 1);
}

}  // namespace
}  // namespace gatehouse::auth
