#include "proxy/auth/json_web_key.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "proxy/auth/base64url.h"
#include "proxy/auth/test_signer.h"

namespace gatehouse::auth {
namespace {

using Json = nlohmann::json;

class JsonWebKeyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = new TestSigner(JwsAlgorithm::kRS256, "rsa");
    p256_ = new TestSigner(JwsAlgorithm::kES256, "p256");
    p384_ = new TestSigner(JwsAlgorithm::kES384, "p384");
    ed_ = new TestSigner(JwsAlgorithm::kEdDSA, "ed");
  }
  static void TearDownTestSuite() {
    delete rsa_;
    delete p256_;
    delete p384_;
    delete ed_;
  }
  static TestSigner* rsa_;
  static TestSigner* p256_;
  static TestSigner* p384_;
  static TestSigner* ed_;
};
TestSigner* JsonWebKeyTest::rsa_;
TestSigner* JsonWebKeyTest::p256_;
TestSigner* JsonWebKeyTest::p384_;
TestSigner* JsonWebKeyTest::ed_;

struct KeyCase {
  const char* name;
  Json jwk;
  bool accepted;
  const char* skip_reason;  // substring when !accepted
};

void CheckKey(const KeyCase& c) {
  SCOPED_TRACE(c.name);
  StatusOr<std::shared_ptr<const JsonWebKeySet>> set = JsonWebKeySet::Parse(JwksOf({c.jwk}));
  ASSERT_TRUE(set.ok()) << set.status().message();
  if (c.accepted) {
    ASSERT_EQ((*set)->keys().size(), 1u);
    EXPECT_TRUE((*set)->skipped().empty());
    EXPECT_NE((*set)->keys()[0].pkey(), nullptr);
  } else {
    EXPECT_TRUE((*set)->keys().empty());
    ASSERT_EQ((*set)->skipped().size(), 1u);
    EXPECT_NE((*set)->skipped()[0].reason.find(c.skip_reason), std::string::npos)
        << (*set)->skipped()[0].reason;
  }
}

Json With(Json jwk, const std::string& key, Json value) {
  jwk[key] = std::move(value);
  return jwk;
}

std::string HighBitBytes(size_t n) {
  std::string s(n, '\x5a');
  s[0] = '\xc1';
  s[n - 1] = '\x01';
  return s;
}

TEST_F(JsonWebKeyTest, KeyTable) {
  const Json rsa = rsa_->PublicJwk();
  const Json ec = p256_->PublicJwk();
  std::string y = *Base64UrlDecode(ec["y"].get<std::string>());
  y[31] ^= 1;  // moves the point off the curve
  const std::string short_x = Base64UrlEncode(std::string(31, '\x01'));
  const KeyCase cases[] = {
      {"rsa", rsa, true, ""},
      {"p256", ec, true, ""},
      {"p384", p384_->PublicJwk(), true, ""},
      {"ed25519", ed_->PublicJwk(), true, ""},
      {"rsa with matching alg", With(rsa, "alg", "PS256"), true, ""},
      {"key_ops verify", With(rsa, "key_ops", Json::array({"verify"})), true, ""},
      {"use enc", With(rsa, "use", "enc"), false, "use"},
      {"key_ops without verify", With(rsa, "key_ops", Json::array({"encrypt"})), false, "key_ops"},
      {"alg HS256", With(rsa, "alg", "HS256"), false, "alg"},
      {"alg none", With(rsa, "alg", "none"), false, "alg"},
      {"alg RSA-OAEP (encryption)", With(rsa, "alg", "RSA-OAEP"), false, "alg"},
      {"alg ES256 on RSA key", With(rsa, "alg", "ES256"), false, "fit"},
      {"alg ES384 on P-256 key", With(ec, "alg", "ES384"), false, "fit"},
      {"private d on EC", With(ec, "d", "AAAA"), false, "private"},
      {"private p on RSA", With(rsa, "p", "AAAA"), false, "private"},
      {"oct key", Json{{"kty", "oct"}, {"k", "c2VjcmV0"}}, false, "private"},
      {"oct key without k", Json{{"kty", "oct"}}, false, "kty"},
      {"unknown kty", Json{{"kty", "XYZ"}}, false, "kty"},
      {"missing kty", Json{{"n", "AQAB"}}, false, "kty"},
      {"kid not string", With(rsa, "kid", 7), false, "kid"},
      {"P-521 unsupported", With(ec, "crv", "P-521"), false, "curve"},
      {"X25519 unsupported", With(ed_->PublicJwk(), "crv", "X25519"), false, "curve"},
      {"EC x short", With(ec, "x", short_x), false, "length"},
      {"EC x padded base64", With(ec, "x", ec["x"].get<std::string>() + "="), false, "length"},
      {"EC point off curve", With(ec, "y", Base64UrlEncode(y)), false, "curve"},
      {"Ed25519 x short", With(ed_->PublicJwk(), "x", short_x), false, "32"},
      {"RSA 1024-bit", With(rsa, "n", Base64UrlEncode(HighBitBytes(128))), false, "2048"},
      {"RSA 8200-bit", With(rsa, "n", Base64UrlEncode(HighBitBytes(1025))), false, "8192"},
      {"RSA even e", With(rsa, "e", Base64UrlEncode("\x01\x00\x00")), false, "exponent"},
      {"RSA e = 1", With(rsa, "e", Base64UrlEncode("\x01")), false, "exponent"},
      {"RSA n not base64url", With(rsa, "n", "a+b/"), false, "n and e"},
      {"RSA n number", With(rsa, "n", 5), false, "n and e"},
      {"not an object", Json("RSA"), false, "object"},
  };
  for (const KeyCase& c : cases) CheckKey(c);
}

struct DocCase {
  const char* name;
  std::string text;
  bool ok;
};

TEST_F(JsonWebKeyTest, DocumentTable) {
  const std::string key = rsa_->PublicJwk().dump();
  std::string keys64, keys65;
  for (int i = 0; i < 65; ++i) {
    (i < 64 ? keys64 : keys65) += (i == 0 || i == 64 ? "" : ",") + key;
  }
  keys65 = keys64 + "," + keys65;
  const DocCase cases[] = {
      {"empty keys", R"({"keys":[]})", true},
      {"64 keys", "{\"keys\":[" + keys64 + "]}", true},
      {"65 keys", "{\"keys\":[" + keys65 + "]}", false},
      {"not object", "[]", false},
      {"no keys", R"({"kes":[]})", false},
      {"keys not array", R"({"keys":{}})", false},
      {"duplicate member", R"({"keys":[],"keys":[]})", false},
      {"not json", "keys", false},
  };
  for (const DocCase& c : cases) {
    SCOPED_TRACE(c.name);
    StatusOr<std::shared_ptr<const JsonWebKeySet>> set = JsonWebKeySet::Parse(c.text);
    EXPECT_EQ(set.ok(), c.ok);
    if (!set.ok()) {
      EXPECT_EQ(set.status().code(), StatusCode::kInvalidArgument);
    }
  }
}

TEST_F(JsonWebKeyTest, KeepsDuplicateKidsAndMixedKeys) {
  Json other = p256_->PublicJwk();
  other["kid"] = "rsa";
  StatusOr<std::shared_ptr<const JsonWebKeySet>> set = JsonWebKeySet::Parse(
      JwksOf({rsa_->PublicJwk(), other, Json{{"kty", "oct"}, {"k", "AA"}}, ed_->PublicJwk()}));
  ASSERT_TRUE(set.ok());
  ASSERT_EQ((*set)->keys().size(), 3u);
  EXPECT_EQ((*set)->keys()[0].kid(), "rsa");
  EXPECT_EQ((*set)->keys()[1].kid(), "rsa");
  EXPECT_EQ((*set)->keys()[1].curve(), KeyCurve::kP256);
  ASSERT_EQ((*set)->skipped().size(), 1u);
  EXPECT_EQ((*set)->skipped()[0].index, 2u);
  EXPECT_TRUE((*set)->HasKeyId("ed"));
  EXPECT_FALSE((*set)->HasKeyId("nope"));
}

TEST(KeyTypeFitsTest, Table) {
  EXPECT_TRUE(KeyTypeFits(KeyType::kRsa, KeyCurve::kNone, JwsAlgorithm::kPS256));
  EXPECT_FALSE(KeyTypeFits(KeyType::kRsa, KeyCurve::kNone, JwsAlgorithm::kES256));
  EXPECT_TRUE(KeyTypeFits(KeyType::kEc, KeyCurve::kP384, JwsAlgorithm::kES384));
  EXPECT_FALSE(KeyTypeFits(KeyType::kEc, KeyCurve::kP256, JwsAlgorithm::kES384));
  EXPECT_FALSE(KeyTypeFits(KeyType::kOkp, KeyCurve::kEd25519, JwsAlgorithm::kRS256));
  EXPECT_TRUE(KeyTypeFits(KeyType::kOkp, KeyCurve::kEd25519, JwsAlgorithm::kEdDSA));
}

}  // namespace
}  // namespace gatehouse::auth
