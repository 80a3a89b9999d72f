#include "proxy/server/assertion_signer.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "proxy/auth/base64url.h"
#include "proxy/auth/json_web_key.h"
#include "proxy/auth/jwt_verifier.h"

namespace gatehouse::server {
namespace {

constexpr int64_t kNow = 1700000000;

std::vector<std::string> Split(const std::string& jwt) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t dot; (dot = jwt.find('.', start)) != std::string::npos; start = dot + 1) {
    parts.push_back(jwt.substr(start, dot - start));
  }
  parts.push_back(jwt.substr(start));
  return parts;
}

// Independent check: raw OpenSSL ECDSA verification of r||s over the JWS input.
bool OpenSslVerifies(const std::string& jwt, EVP_PKEY* key) {
  std::vector<std::string> parts = Split(jwt);
  if (parts.size() != 3) return false;
  StatusOr<std::string> sig = auth::Base64UrlDecode(parts[2]);
  if (!sig.ok() || sig->size() != 64) return false;
  const auto* raw = reinterpret_cast<const unsigned char*>(sig->data());
  ECDSA_SIG* ecdsa = ECDSA_SIG_new();
  ECDSA_SIG_set0(ecdsa, BN_bin2bn(raw, 32, nullptr), BN_bin2bn(raw + 32, 32, nullptr));
  unsigned char* der = nullptr;
  const int der_length = i2d_ECDSA_SIG(ecdsa, &der);
  ECDSA_SIG_free(ecdsa);
  const std::string input = parts[0] + "." + parts[1];
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok =
      EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestVerify(ctx, der, der_length, reinterpret_cast<const unsigned char*>(input.data()),
                       input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  OPENSSL_free(der);
  return ok;
}

nlohmann::json Part(const std::string& jwt, int index) {
  return nlohmann::json::parse(*auth::Base64UrlDecode(Split(jwt)[index]));
}

std::unique_ptr<AssertionSigner> NewSigner() {
  StatusOr<std::unique_ptr<AssertionSigner>> s = AssertionSigner::Generate();
  EXPECT_TRUE(s.ok());
  return std::move(*s);
}

TEST(AssertionSignerTest, SignsAVerifiableAssertion) {
  auto signer = NewSigner();
  const std::vector<std::string> groups = {"analysts", "admins"};
  AssertionClaims claims{.audience = "Metabase.Example.COM:8443",
                         .subject = "user-1",
                         .email = "a@example.com",
                         .groups = &groups,
                         .policy = "analytics/metabase"};
  StatusOr<std::string> jwt = signer->Sign(claims, kNow);
  ASSERT_TRUE(jwt.ok()) << jwt.status().ToString();

  StatusOr<std::shared_ptr<const auth::JsonWebKeySet>> keys =
      auth::JsonWebKeySet::Parse(signer->jwks());
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  ASSERT_EQ((*keys)->keys().size(), 1u);
  EXPECT_EQ((*keys)->keys()[0].kid(), signer->kid());
  EXPECT_TRUE(OpenSslVerifies(*jwt, (*keys)->keys()[0].pkey()));

  const nlohmann::json header = Part(*jwt, 0);
  EXPECT_EQ(header["alg"], "ES256");
  EXPECT_EQ(header["kid"], signer->kid());
  const nlohmann::json payload = Part(*jwt, 1);
  EXPECT_EQ(payload["iss"], "gatehouse");
  EXPECT_EQ(payload["aud"], "metabase.example.com");
  EXPECT_EQ(payload["sub"], "user-1");
  EXPECT_EQ(payload["email"], "a@example.com");
  EXPECT_EQ(payload["groups"], nlohmann::json(groups));
  EXPECT_EQ(payload["iat"], kNow);
  EXPECT_EQ(payload["exp"], kNow + 60);
  EXPECT_EQ(payload["policy"], "analytics/metabase");
  EXPECT_EQ(payload["jti"].get<std::string>().size(), 22u);  // 128 bits, base64url

  // The project's own verifier agrees, with iss/aud/exp checks.
  auth::IssuerConfig config;
  config.issuer = "gatehouse";
  config.audiences = {"metabase.example.com"};
  config.algorithms = {auth::JwsAlgorithm::kES256};
  EXPECT_TRUE(auth::VerifyJwt(*jwt, config, **keys, kNow + 30).ok());
  EXPECT_FALSE(auth::VerifyJwt(*jwt, config, **keys, kNow + 120).ok());  // expired
}

TEST(AssertionSignerTest, TamperedAssertionsFail) {
  auto signer = NewSigner();
  auto keys = auth::JsonWebKeySet::Parse(signer->jwks());
  ASSERT_TRUE(keys.ok());
  EVP_PKEY* key = (*keys)->keys()[0].pkey();
  StatusOr<std::string> jwt = signer->Sign({.audience = "h", .subject = "alice"}, kNow);
  ASSERT_TRUE(jwt.ok());
  std::vector<std::string> parts = Split(*jwt);
  nlohmann::json payload = Part(*jwt, 1);
  payload["sub"] = "admin";
  const std::string forged =
      parts[0] + "." + auth::Base64UrlEncode(payload.dump()) + "." + parts[2];
  EXPECT_FALSE(OpenSslVerifies(forged, key));
  // Another key's JWKS does not verify this signer's assertions.
  auto other = NewSigner();
  auto other_keys = auth::JsonWebKeySet::Parse(other->jwks());
  EXPECT_FALSE(OpenSslVerifies(*jwt, (*other_keys)->keys()[0].pkey()));
  EXPECT_NE(other->kid(), signer->kid());
}

TEST(AssertionSignerTest, KidIsTheRfc7638Thumbprint) {
  auto signer = NewSigner();
  const nlohmann::json jwk = nlohmann::json::parse(signer->jwks())["keys"][0];
  const std::string canonical = nlohmann::json{
      {"crv", jwk["crv"]},
      {"kty", jwk["kty"]},
      {"x", jwk["x"]},
      {"y", jwk["y"]}}.dump();
  unsigned char digest[32];
  unsigned int length = 0;
  EVP_Digest(canonical.data(), canonical.size(), digest, &length, EVP_sha256(), nullptr);
  EXPECT_EQ(signer->kid(),
            auth::Base64UrlEncode(std::string(reinterpret_cast<char*>(digest), length)));
  EXPECT_FALSE(jwk.contains("d"));  // never the private part
}

TEST(AssertionSignerTest, LoadsPemAndRejectsOtherKeys) {
  EVP_PKEY* p256 = EVP_EC_gen("P-256");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, p256, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  const std::string pem(data, static_cast<size_t>(size));
  BIO_free(bio);
  EVP_PKEY_free(p256);
  StatusOr<std::unique_ptr<AssertionSigner>> loaded = AssertionSigner::FromPem(pem);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  StatusOr<std::unique_ptr<AssertionSigner>> again = AssertionSigner::FromPem(pem);
  EXPECT_EQ((*loaded)->kid(), (*again)->kid());  // deterministic kid for one key

  EVP_PKEY* p384 = EVP_EC_gen("P-384");
  bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, p384, nullptr, nullptr, 0, nullptr, nullptr);
  const long size384 = BIO_get_mem_data(bio, &data);
  const std::string pem384(data, static_cast<size_t>(size384));
  BIO_free(bio);
  EVP_PKEY_free(p384);
  EXPECT_FALSE(AssertionSigner::FromPem(pem384).ok());
  EXPECT_FALSE(AssertionSigner::FromPem("not a key").ok());
}

TEST(AssertionSignerTest, AudienceFromHost) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"Example.COM", "example.com"},
      {"example.com:8080", "example.com"},
      {"[::1]:8080", "[::1]"},
      {"example.com.", "example.com"},
  };
  for (const auto& [host, want] : cases) EXPECT_EQ(AudienceFromHost(host), want) << host;
}

// A copy of an answer (its text is valid only until the cache's next Get()).
std::string Text(const StatusOr<std::string_view>& assertion) {
  EXPECT_TRUE(assertion.ok());
  return assertion.ok() ? std::string(*assertion) : std::string();
}

TEST(AssertionCacheTest, ReusesForThirtySecondsPerIdentityPolicyAndHost) {
  auto signer = NewSigner();
  AssertionCache cache;
  auto alice = std::make_shared<const auth::Identity>(
      auth::Identity{.user = "alice", .subject = "alice", .email = "a@example.com"});
  auto bob =
      std::make_shared<const auth::Identity>(auth::Identity{.user = "bob", .subject = "bob"});
  const std::string first = Text(cache.Get(*signer, alice, "ns/p", "h.example.com", kNow));
  EXPECT_EQ(Text(cache.Get(*signer, alice, "ns/p", "H.example.com:443", kNow + 29)), first);
  EXPECT_NE(Text(cache.Get(*signer, alice, "ns/p", "h.example.com", kNow + 30)), first);
  EXPECT_NE(Text(cache.Get(*signer, bob, "ns/p", "h.example.com", kNow)), first);
  EXPECT_NE(Text(cache.Get(*signer, alice, "ns/q", "h.example.com", kNow)), first);
  EXPECT_NE(Text(cache.Get(*signer, alice, "ns/p", "other.example.com", kNow)), first);
  // Whatever is reused, it is never older than 30 s, so it has >= 30 s to live.
  const std::string reused = Text(cache.Get(*signer, alice, "ns/p", "h.example.com", kNow + 45));
  EXPECT_GE(Part(reused, 1)["exp"].get<int64_t>(), kNow + 45 + 30);
}

// Fresh tokens of one user are distinct Identity objects with the same claims:
// they share the assertion. Anything the assertion carries that differs does not.
TEST(AssertionCacheTest, KeyedByTheSignedClaimsNotTheIdentityObject) {
  auto signer = NewSigner();
  AssertionCache cache;
  auto id = [](std::string sub, std::string email, std::vector<std::string> groups) {
    return std::make_shared<const auth::Identity>(auth::Identity{
        .user = sub, .subject = sub, .email = std::move(email), .groups = std::move(groups)});
  };
  const std::string first =
      Text(cache.Get(*signer, id("ann", "a@x", {"g1", "g2"}), "ns/p", "h", kNow));
  EXPECT_EQ(Text(cache.Get(*signer, id("ann", "a@x", {"g1", "g2"}), "ns/p", "h", kNow + 1)), first);
  EXPECT_NE(Text(cache.Get(*signer, id("ann", "a@x", {"g1"}), "ns/p", "h", kNow)), first);
  EXPECT_NE(Text(cache.Get(*signer, id("ann", "b@x", {"g1", "g2"}), "ns/p", "h", kNow)), first);
  EXPECT_NE(Text(cache.Get(*signer, id("bob", "a@x", {"g1", "g2"}), "ns/p", "h", kNow)), first);
  // Separators inside values cannot make two claim sets collide.
  const std::string joined = Text(cache.Get(*signer, id("c", "e", {"g1,g2"}), "ns/p", "h", kNow));
  EXPECT_NE(Text(cache.Get(*signer, id("c", "e", {"g1", "g2"}), "ns/p", "h", kNow)), joined);
  EXPECT_NE(Text(cache.Get(*signer, id("c:e", "", {}), "ns/p", "h", kNow)),
            Text(cache.Get(*signer, id("c", ":e", {}), "ns/p", "h", kNow)));
  // The reused assertion names the right subject.
  EXPECT_EQ(Part(first, 1)["sub"], "ann");
  EXPECT_EQ(Part(first, 1)["groups"], nlohmann::json({"g1", "g2"}));
}

TEST(AssertionCacheTest, BoundedSize) {
  auto signer = NewSigner();
  AssertionCache cache(/*max_entries=*/8);
  std::vector<std::shared_ptr<const auth::Identity>> ids;
  for (int i = 0; i < 50; ++i) {
    ids.push_back(
        std::make_shared<const auth::Identity>(auth::Identity{.subject = std::to_string(i)}));
    ASSERT_TRUE(cache.Get(*signer, ids.back(), "ns/p", "h", kNow).ok());
    EXPECT_LE(cache.size(), 8u);
  }
}

// The last answer is remembered per Identity object: asking again for the same
// object must still respect every part of the key and the reuse window.
TEST(AssertionCacheTest, RepeatedAsksForOneIdentityObjectStayCorrect) {
  auto signer = NewSigner();
  auto other_signer = NewSigner();
  AssertionCache cache;
  auto alice = std::make_shared<const auth::Identity>(
      auth::Identity{.user = "alice", .subject = "alice", .email = "a@example.com"});
  EXPECT_EQ(cache.last_serial(), 0u);  // nothing signed yet
  const std::string first = Text(cache.Get(*signer, alice, "ns/p", "h.example.com", kNow));
  const uint64_t first_serial = cache.last_serial();
  EXPECT_NE(first_serial, 0u);
  struct Ask {
    std::string scenario;
    const AssertionSigner* signer;
    std::string policy;
    std::string host;
    int64_t now;
    bool same_as_first;
  };
  const std::vector<Ask> asks = {
      {"same everything", signer.get(), "ns/p", "h.example.com", kNow + 1, true},
      {"other policy", signer.get(), "ns/q", "h.example.com", kNow + 1, false},
      {"back to the first policy", signer.get(), "ns/p", "h.example.com", kNow + 2, true},
      {"other host", signer.get(), "ns/p", "x.example.com", kNow + 2, false},
      {"same audience, other spelling", signer.get(), "ns/p", "H.example.com:8443", kNow + 3, true},
      {"other signer (a rotated fleet key)", other_signer.get(), "ns/p", "h.example.com", kNow + 3,
       false},
      {"clock went backwards", signer.get(), "ns/p", "h.example.com", kNow - 1, false},
      {"reuse window over", signer.get(), "ns/p", "h.example.com", kNow + 30, false},
  };
  for (const Ask& ask : asks) {
    SCOPED_TRACE(ask.scenario);
    const uint64_t serial_before = cache.last_serial();
    const std::string got = Text(cache.Get(*ask.signer, alice, ask.policy, ask.host, ask.now));
    EXPECT_EQ(got == first, ask.same_as_first);
    // A reused assertion keeps its serial; a fresh one gets a new one.
    EXPECT_EQ(cache.last_serial() == first_serial, ask.same_as_first);
    if (!ask.same_as_first) {
      EXPECT_GT(cache.last_serial(), serial_before) << "a fresh one has a new serial";
    }
    EXPECT_EQ(Part(got, 1)["policy"], ask.policy);
    EXPECT_EQ(Part(got, 1)["aud"], AudienceFromHost(ask.host));
    EXPECT_GE(Part(got, 1)["exp"].get<int64_t>(), ask.now + 30);
  }
}

TEST(AssertionCacheTest, ClearingWhenFullForgetsTheLastAnswerToo) {
  auto signer = NewSigner();
  AssertionCache cache(/*max_entries=*/2);
  auto alice = std::make_shared<const auth::Identity>(auth::Identity{.subject = "alice"});
  const std::string first = Text(cache.Get(*signer, alice, "ns/p", "h", kNow));
  for (int i = 0; i < 5; ++i) {
    auto other =
        std::make_shared<const auth::Identity>(auth::Identity{.subject = std::to_string(i)});
    ASSERT_TRUE(cache.Get(*signer, other, "ns/p", "h", kNow).ok());
  }
  const std::string again = Text(cache.Get(*signer, alice, "ns/p", "h", kNow + 1));
  EXPECT_EQ(Part(again, 1)["sub"], "alice");
  EXPECT_NE(again, first);  // signed again: the cleared entry is not served from memory
  EXPECT_LE(cache.size(), 2u);
}

}  // namespace
}  // namespace gatehouse::server
