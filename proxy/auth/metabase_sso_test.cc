#include "proxy/auth/metabase_sso.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <nlohmann/json.hpp>

#include "proxy/auth/base64url.h"

namespace gatehouse::auth {
namespace {

// Independent check: HMAC-SHA256 over header.payload with the secret.
bool VerifyHs256(const std::string& token, const std::string& secret) {
  const size_t last = token.rfind('.');
  const std::string input = token.substr(0, last);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  StatusOr<std::string> sig = Base64UrlDecode(token.substr(last + 1));
  return sig.ok() && *sig == std::string(reinterpret_cast<char*>(mac), len);
}

nlohmann::json Part(const std::string& token, int index) {
  size_t start = 0;
  for (int i = 0; i < index; ++i) start = token.find('.', start) + 1;
  const size_t end = token.find('.', start);
  return nlohmann::json::parse(*Base64UrlDecode(token.substr(start, end - start)));
}

Identity Ann(nlohmann::json claims) {
  Identity id;
  id.issuer = "https://idp";
  id.subject = "ann";
  id.user = "ann";
  id.email = "ann.lee@example.com";
  id.groups = {"analysts", "admins"};
  id.claims = std::move(claims);
  return id;
}

TEST(MintMetabaseToken, SignedHs256WithTheRightClaims) {
  const std::string secret = "0123456789abcdef0123456789abcdef";
  const std::string token = MintMetabaseToken(Ann({{"given_name", "Ann"}, {"family_name", "Lee"}}),
                                              secret, 1700000000, "jti-1");
  EXPECT_TRUE(VerifyHs256(token, secret));
  EXPECT_FALSE(VerifyHs256(token, secret + "x"));
  EXPECT_EQ(Part(token, 0)["alg"], "HS256");
  const nlohmann::json p = Part(token, 1);
  EXPECT_EQ(p["iat"], 1700000000);
  EXPECT_EQ(p["exp"], 1700000000 + kMetabaseTokenSeconds);
  EXPECT_EQ(p["jti"], "jti-1");
  EXPECT_EQ(p["email"], "ann.lee@example.com");
  EXPECT_EQ(p["first_name"], "Ann");
  EXPECT_EQ(p["last_name"], "Lee");
  EXPECT_EQ(p["groups"], nlohmann::json::array({"analysts", "admins"}));
}

TEST(MetabaseNames, Fallbacks) {
  struct Row {
    std::string scenario;
    nlohmann::json claims;
    std::string first, last;
  };
  const std::vector<Row> rows = {
      {"given and family",
       {{"given_name", "Ann"}, {"family_name", "Lee"}, {"name", "X Y"}},
       "Ann",
       "Lee"},
      {"only given", {{"given_name", "Ann"}}, "Ann", ""},
      {"name split once", {{"name", "Ann Marie Lee"}}, "Ann", "Marie Lee"},
      {"single name", {{"name", "Ann"}}, "Ann", ""},
      {"email local part", nlohmann::json::object(), "ann.lee", ""},
      {"non-string claims ignored", {{"given_name", 5}}, "ann.lee", ""},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.scenario);
    const auto [first, last] = MetabaseNames(Ann(r.claims));
    EXPECT_EQ(first, r.first);
    EXPECT_EQ(last, r.last);
  }
}

}  // namespace
}  // namespace gatehouse::auth
