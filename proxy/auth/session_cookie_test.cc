#include "proxy/auth/session_cookie.h"

#include <gtest/gtest.h>

#include "proxy/auth/base64url.h"

namespace gatehouse::auth {
namespace {

constexpr int64_t kNow = 1700000000;
const std::string kKeyA = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const std::string kKeyB = Base64UrlEncode(std::string(32, 'b'));

Session Ann() {
  Session s;
  s.issuer = "https://idp.example.com";
  s.user = "ann";
  s.subject = "ann";
  s.email = "ann@example.com";
  s.groups = {"analysts"};
  s.token_id = "jti-1";
  s.claims = {{"department", "finance"}, {"given_name", "Ann"}};
  s.issued_at = kNow;
  s.expires_at = kNow + 3600;
  s.access_expires_at = kNow + 300;
  s.refresh_token = "refresh-secret";
  return s;
}

TEST(SessionKeySet, ParseTable) {
  struct Row {
    std::string scenario;
    std::string text;
    bool ok;
    size_t keys;
  };
  const std::vector<Row> rows = {
      {"hex", kKeyA + "\n", true, 1},
      {"base64url", kKeyB, true, 1},
      {"two keys, comments, blanks, CRLF", "# current\r\n" + kKeyB + "\r\n\n" + kKeyA + "\n", true,
       2},
      {"empty", "", false, 0},
      {"only comments", "# nothing\n", false, 0},
      {"short", "abcd\n", false, 0},
      {"hex with a bad digit", kKeyA.substr(0, 63) + "g", false, 0},
      {"base64 with padding", Base64UrlEncode(std::string(32, 'b')) + "=", false, 0},
      {"base64 of 31 bytes", Base64UrlEncode(std::string(31, 'b')), false, 0},
      {"same key twice", kKeyA + "\n" + kKeyA + "\n", false, 0},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.scenario);
    StatusOr<SessionKeySet> set = SessionKeySet::Parse(r.text);
    ASSERT_EQ(set.ok(), r.ok);
    if (r.ok) {
      EXPECT_EQ(set->size(), r.keys);
      EXPECT_EQ(set->current().id.size(), kSessionKeyIdBytes);
    } else {
      // The message names the line, never the key material.
      EXPECT_EQ(set.status().message().find(kKeyA), std::string::npos);
    }
  }
}

class SessionCookieTest : public ::testing::Test {
 protected:
  SessionCodec Codec(const std::string& file) {
    return SessionCodec(*SessionKeySet::Parse(file), random_);
  }
  FakeRandomSource random_{5};
};

TEST_F(SessionCookieTest, RoundTripKeepsEverything) {
  SessionCodec codec = Codec(kKeyA);
  StatusOr<std::string> value = SealSession(codec, Ann(), "app.example.com", 4000);
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(value->find("refresh-secret"), std::string::npos);  // encrypted, not encoded
  StatusOr<Session> s = OpenSession(codec, *value, "app.example.com", kNow);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(SerializeSession(*s), SerializeSession(Ann()));
  std::shared_ptr<const Identity> id = SessionIdentity(*s);
  EXPECT_EQ(id->user, "ann");
  EXPECT_EQ(id->groups, std::vector<std::string>{"analysts"});
  EXPECT_EQ(id->claims["department"], "finance");
}

TEST_F(SessionCookieTest, EveryTamperedByteFails) {
  SessionCodec codec = Codec(kKeyA);
  const std::string value = *SealSession(codec, Ann(), "app.example.com", 4000);
  const std::string raw = *Base64UrlDecode(value);
  // Version (0), key id (1-4), nonce (5-16), ciphertext, tag (last 16).
  for (size_t i = 0; i < raw.size(); ++i) {
    std::string bad = raw;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    EXPECT_FALSE(OpenSession(codec, Base64UrlEncode(bad), "app.example.com", kNow).ok())
        << "byte " << i;
  }
  EXPECT_FALSE(OpenSession(codec, raw.substr(0, raw.size() - 1), "app.example.com", kNow).ok());
  EXPECT_FALSE(OpenSession(codec, value + "A", "app.example.com", kNow).ok());
  EXPECT_FALSE(OpenSession(codec, "", "app.example.com", kNow).ok());
  EXPECT_FALSE(OpenSession(codec, "not base64!", "app.example.com", kNow).ok());
  EXPECT_FALSE(OpenSession(codec, std::string(5000, 'A'), "app.example.com", kNow).ok());
}

TEST_F(SessionCookieTest, ForeignHostExpiryAndForeignKey) {
  SessionCodec codec = Codec(kKeyA);
  const std::string value = *SealSession(codec, Ann(), "app.example.com", 4000);
  EXPECT_FALSE(OpenSession(codec, value, "other.example.com", kNow).ok());
  EXPECT_FALSE(OpenSession(codec, value, "APP.example.com", kNow).ok());  // callers lowercase
  EXPECT_TRUE(OpenSession(codec, value, "app.example.com", kNow + 3599).ok());
  EXPECT_FALSE(OpenSession(codec, value, "app.example.com", kNow + 3600).ok());
  SessionCodec other = Codec(kKeyB);
  EXPECT_FALSE(OpenSession(other, value, "app.example.com", kNow).ok());
}

TEST_F(SessionCookieTest, RotationLogsNobodyOut) {
  SessionCodec old_codec = Codec(kKeyA);
  const std::string old_value = *SealSession(old_codec, Ann(), "app.example.com", 4000);
  // New key first, old key second: old cookies open, new ones use the new key.
  SessionCodec rotated = Codec(kKeyB + "\n" + kKeyA + "\n");
  EXPECT_TRUE(OpenSession(rotated, old_value, "app.example.com", kNow).ok());
  const std::string new_value = *SealSession(rotated, Ann(), "app.example.com", 4000);
  EXPECT_FALSE(OpenSession(old_codec, new_value, "app.example.com", kNow).ok());
  SessionCodec new_only = Codec(kKeyB);
  EXPECT_TRUE(OpenSession(new_only, new_value, "app.example.com", kNow).ok());
  EXPECT_FALSE(OpenSession(new_only, old_value, "app.example.com", kNow).ok());
}

TEST_F(SessionCookieTest, SizeLimitDropsClaimsThenFails) {
  SessionCodec codec = Codec(kKeyA);
  Session s = Ann();
  s.claims["big"] = std::string(3000, 'x');
  StatusOr<std::string> value = SealSession(codec, s, "app.example.com", 3000);
  ASSERT_TRUE(value.ok());
  EXPECT_LE(value->size(), 3000u);
  StatusOr<Session> back = OpenSession(codec, *value, "app.example.com", kNow);
  ASSERT_TRUE(back.ok());
  EXPECT_FALSE(back->claims.contains("big"));
  EXPECT_FALSE(back->claims.contains("department"));
  EXPECT_EQ(back->claims["given_name"], "Ann");  // kept for Metabase SSO
  EXPECT_EQ(back->groups, s.groups);
  for (int i = 0; i < 400; ++i) s.groups.push_back("group-number-" + std::to_string(i));
  StatusOr<std::string> too_big = SealSession(codec, s, "app.example.com", 3000);
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.status().code(), StatusCode::kResourceExhausted);
}

TEST(SimpleClaims, KeepsOnlySimpleValues) {
  const nlohmann::json in = {{"sub", "ann"},      {"n", 3},
                             {"b", true},         {"list", {"a", "b"}},
                             {"mixed", {"a", 1}}, {"obj", {{"x", 1}}},
                             {"nonce", "n"},      {"aud", "gatehouse"},
                             {"at_hash", "h"},    {"exp", 5}};
  const nlohmann::json out = SimpleClaims(in);
  EXPECT_EQ(out, (nlohmann::json{{"sub", "ann"}, {"n", 3}, {"b", true}, {"list", {"a", "b"}}}));
}

TEST(ParseSession, RefusesMalformed) {
  const std::string good = SerializeSession(Ann());
  EXPECT_TRUE(ParseSession(good).ok());
  for (
      const std::string& bad :
      {std::string("{}"), std::string("[]"), std::string("not json"),
       std::string(
           R"({"v":2,"iss":"i","usr":"u","sub":"s","eml":"","grp":[],"jti":"","clm":{},"iat":1,"exp":2,"aex":2})"),
       std::string(
           R"({"v":1,"iss":"i","usr":"u","sub":"s","eml":"","grp":[1],"jti":"","clm":{},"iat":1,"exp":2,"aex":2})"),
       std::string(
           R"({"v":1,"iss":"","usr":"u","sub":"s","eml":"","grp":[],"jti":"","clm":{},"iat":1,"exp":2,"aex":2})")}) {
    EXPECT_FALSE(ParseSession(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace gatehouse::auth
