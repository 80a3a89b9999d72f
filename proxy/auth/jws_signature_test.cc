// VerifyJwsSignature, and the per-thread verify contexts it reuses: a reused
// context must never verify with another key or another algorithm than the
// one asked for, however keys come and go.
#include "proxy/auth/jws_signature.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "proxy/auth/test_signer.h"

namespace gatehouse::auth {
namespace {

std::shared_ptr<const JsonWebKeySet> KeysOf(const TestSigner& signer) {
  StatusOr<std::shared_ptr<const JsonWebKeySet>> set =
      JsonWebKeySet::Parse(JwksOf({signer.PublicJwk()}));
  EXPECT_TRUE(set.ok()) << set.status().ToString();
  return set.ok() ? *set : nullptr;
}

const VerificationKey& OnlyKey(const std::shared_ptr<const JsonWebKeySet>& set) {
  return set->keys().at(0);
}

TEST(JwsSignatureTest, EveryAlgorithmVerifiesAndRefusesTampering) {
  const JwsAlgorithm algs[] = {JwsAlgorithm::kRS256, JwsAlgorithm::kPS256, JwsAlgorithm::kES256,
                               JwsAlgorithm::kES384, JwsAlgorithm::kEdDSA};
  for (JwsAlgorithm alg : algs) {
    SCOPED_TRACE(static_cast<int>(alg));
    TestSigner signer(alg, "k");
    auto set = KeysOf(signer);
    const std::string input = "header.payload";
    const std::string sig = signer.Sign(input);
    for (int round = 0; round < 3; ++round) {  // the reused context, again and again
      EXPECT_TRUE(VerifyJwsSignature(alg, OnlyKey(set), input, sig));
      std::string flipped = sig;
      flipped[flipped.size() / 2] ^= 0x01;
      EXPECT_FALSE(VerifyJwsSignature(alg, OnlyKey(set), input, flipped));
      EXPECT_FALSE(VerifyJwsSignature(alg, OnlyKey(set), "header.payloaD", sig));
      EXPECT_FALSE(VerifyJwsSignature(alg, OnlyKey(set), input, ""));
      EXPECT_FALSE(VerifyJwsSignature(alg, OnlyKey(set), input, sig + "x"));
    }
  }
}

// Keys are created and dropped while contexts are cached: a new key may get
// the freed address of an old one, unless the cache keeps the old one alive.
// Either way a signature must verify with its own key only.
TEST(JwsSignatureTest, ReusedContextsNeverConfuseKeys) {
  for (JwsAlgorithm alg : {JwsAlgorithm::kES256, JwsAlgorithm::kEdDSA}) {
    auto previous_signer = std::make_unique<TestSigner>(alg, "k0");
    auto previous_set = KeysOf(*previous_signer);
    for (int i = 1; i <= 40; ++i) {
      SCOPED_TRACE(i);
      auto signer = std::make_unique<TestSigner>(alg, "k" + std::to_string(i));
      auto set = KeysOf(*signer);
      const std::string input = "token-" + std::to_string(i);
      const std::string mine = signer->Sign(input);
      const std::string theirs = previous_signer->Sign(input);
      EXPECT_TRUE(VerifyJwsSignature(alg, OnlyKey(set), input, mine));
      EXPECT_FALSE(VerifyJwsSignature(alg, OnlyKey(set), input, theirs));
      EXPECT_TRUE(VerifyJwsSignature(alg, OnlyKey(previous_set), input, theirs));
      EXPECT_FALSE(VerifyJwsSignature(alg, OnlyKey(previous_set), input, mine));
      previous_signer = std::move(signer);
      previous_set = std::move(set);  // the older key set is freed here
    }
  }
}

// More keys in rotation than a thread keeps contexts for: evicted entries are
// rebuilt, and every key still accepts only its own signatures.
TEST(JwsSignatureTest, MoreKeysThanCachedContexts) {
  std::vector<std::unique_ptr<TestSigner>> signers;
  std::vector<std::shared_ptr<const JsonWebKeySet>> sets;
  for (int i = 0; i < 13; ++i) {
    signers.push_back(std::make_unique<TestSigner>(JwsAlgorithm::kES256, "k" + std::to_string(i)));
    sets.push_back(KeysOf(*signers.back()));
  }
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < signers.size(); ++i) {
      const std::string input = "round" + std::to_string(round);
      const std::string sig = signers[i]->Sign(input);
      EXPECT_TRUE(VerifyJwsSignature(JwsAlgorithm::kES256, OnlyKey(sets[i]), input, sig)) << i;
      const size_t other = (i + 5) % signers.size();
      EXPECT_FALSE(VerifyJwsSignature(JwsAlgorithm::kES256, OnlyKey(sets[other]), input, sig)) << i;
    }
  }
}

// One RSA key (no "alg" in its JWK) used under several algorithms: each
// algorithm has its own context; a signature made for one never passes as
// another, in either order of first use.
TEST(JwsSignatureTest, SameKeyOtherAlgorithmIsRefused) {
  TestSigner rs(JwsAlgorithm::kRS256, "rsa");
  auto set = KeysOf(rs);
  const std::string input = "h.p";
  const std::string sig = rs.Sign(input);
  EXPECT_FALSE(VerifyJwsSignature(JwsAlgorithm::kPS256, OnlyKey(set), input, sig));
  EXPECT_FALSE(VerifyJwsSignature(JwsAlgorithm::kRS384, OnlyKey(set), input, sig));
  EXPECT_TRUE(VerifyJwsSignature(JwsAlgorithm::kRS256, OnlyKey(set), input, sig));
  EXPECT_FALSE(VerifyJwsSignature(JwsAlgorithm::kRS512, OnlyKey(set), input, sig));
  EXPECT_FALSE(VerifyJwsSignature(JwsAlgorithm::kES256, OnlyKey(set), input, sig));
  EXPECT_TRUE(VerifyJwsSignature(JwsAlgorithm::kRS256, OnlyKey(set), input, sig));
}

// The JOSE r||s form is turned into DER by hand: halves with leading zero
// bytes and halves with the top bit set must both encode correctly. Signs
// until both kinds were seen (a leading zero byte comes once in ~128 tries).
TEST(JwsSignatureTest, EcdsaHalvesWithLeadingZerosAndTopBitVerify) {
  for (JwsAlgorithm alg : {JwsAlgorithm::kES256, JwsAlgorithm::kES384}) {
    TestSigner signer(alg, "ec");
    auto set = KeysOf(signer);
    const size_t half = alg == JwsAlgorithm::kES256 ? 32 : 48;
    bool saw_leading_zero = false;
    bool saw_top_bit = false;
    for (int i = 0; i < 5000 && !(saw_leading_zero && saw_top_bit); ++i) {
      const std::string input = "msg" + std::to_string(i);
      const std::string sig = signer.Sign(input);
      ASSERT_EQ(sig.size(), 2 * half);
      const bool zero = sig[0] == 0 || sig[half] == 0;
      const bool top = (static_cast<unsigned char>(sig[0]) & 0x80) != 0 ||
                       (static_cast<unsigned char>(sig[half]) & 0x80) != 0;
      saw_leading_zero |= zero;
      saw_top_bit |= top;
      ASSERT_TRUE(VerifyJwsSignature(alg, OnlyKey(set), input, sig)) << i;
    }
    EXPECT_TRUE(saw_leading_zero);
    EXPECT_TRUE(saw_top_bit);
    const std::string zeros(2 * half, '\0');
    EXPECT_FALSE(VerifyJwsSignature(alg, OnlyKey(set), "msg", zeros));
    const std::string sig = signer.Sign("msg");
    EXPECT_FALSE(VerifyJwsSignature(alg, OnlyKey(set), "msg", sig.substr(1)));
    EXPECT_FALSE(VerifyJwsSignature(alg, OnlyKey(set), "msg", std::string(1, '\0') + sig));
  }
}

}  // namespace
}  // namespace gatehouse::auth
