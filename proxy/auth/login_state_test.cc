#include "proxy/auth/login_state.h"

#include <gtest/gtest.h>

#include "proxy/auth/base64url.h"

namespace gatehouse::auth {
namespace {

constexpr int64_t kNow = 1700000000;

TEST(PkceChallengeS256, Rfc7636AppendixB) {
  EXPECT_EQ(PkceChallengeS256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

TEST(NewLoginState, EnoughRandomnessAndDistinct) {
  FakeRandomSource random(3);
  LoginState a = NewLoginState(random, "/x", "team/app", kNow);
  LoginState b = NewLoginState(random, "/x", "team/app", kNow);
  EXPECT_EQ(Base64UrlDecode(a.state)->size(), 16u);  // 128 bits
  EXPECT_EQ(Base64UrlDecode(a.nonce)->size(), 16u);
  EXPECT_EQ(a.code_verifier.size(), 43u);  // 256 bits; RFC 7636 minimum length
  EXPECT_NE(a.state, a.nonce);
  EXPECT_NE(a.state, b.state);
  EXPECT_NE(a.code_verifier, b.code_verifier);
  EXPECT_EQ(a.expires_at, kNow + kLoginTtlSeconds);
}

class LoginCookieTest : public ::testing::Test {
 protected:
  FakeRandomSource random_{9};
  SessionCodec codec_{SessionKeySet::Generate(random_), random_};
};

TEST_F(LoginCookieTest, RoundTrip) {
  LoginState s = NewLoginState(random_, "/dash?q=1", "team/app", kNow);
  StatusOr<LoginState> back =
      OpenLoginState(codec_, SealLoginState(codec_, s, "app.example.com"), "app.example.com", kNow);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->state, s.state);
  EXPECT_EQ(back->nonce, s.nonce);
  EXPECT_EQ(back->code_verifier, s.code_verifier);
  EXPECT_EQ(back->return_path, "/dash?q=1");
  EXPECT_EQ(back->policy, "team/app");
}

TEST_F(LoginCookieTest, RefusedCases) {
  LoginState s = NewLoginState(random_, "/", "team/app", kNow);
  const std::string sealed = SealLoginState(codec_, s, "app.example.com");
  // Expired: at and after its expiry.
  EXPECT_FALSE(OpenLoginState(codec_, sealed, "app.example.com", s.expires_at).ok());
  // Another host.
  EXPECT_FALSE(OpenLoginState(codec_, sealed, "other.example.com", kNow).ok());
  // A session cookie is not a login cookie, and a login cookie is not a session.
  Session session;
  session.issuer = "https://idp";
  session.user = "ann";
  session.expires_at = kNow + 100;
  StatusOr<std::string> sealed_session = SealSession(codec_, session, "app.example.com", 4000);
  ASSERT_TRUE(sealed_session.ok());
  EXPECT_FALSE(OpenLoginState(codec_, *sealed_session, "app.example.com", kNow).ok());
  EXPECT_FALSE(OpenSession(codec_, sealed, "app.example.com", kNow).ok());
  // Another key set.
  FakeRandomSource other_random(10);
  SessionCodec other(SessionKeySet::Generate(other_random), other_random);
  EXPECT_FALSE(OpenLoginState(other, sealed, "app.example.com", kNow).ok());
}

TEST(StateMatches, Table) {
  EXPECT_TRUE(StateMatches("abc", "abc"));
  EXPECT_FALSE(StateMatches("abc", "abd"));
  EXPECT_FALSE(StateMatches("abc", "ab"));
  EXPECT_FALSE(StateMatches("abc", "abcd"));
  EXPECT_FALSE(StateMatches("", ""));  // no expected state: nothing matches
}

}  // namespace
}  // namespace gatehouse::auth
