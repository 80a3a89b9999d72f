#include "proxy/auth/oidc_login.h"

#include <gtest/gtest.h>

#include <map>

#include "proxy/auth/test_signer.h"
#include "proxy/auth/url_codec.h"

namespace gatehouse::auth {
namespace {

constexpr int64_t kNow = 1700000000;
constexpr char kIssuer[] = "https://idp.example.com";

LoginClient Client() {
  return LoginClient{kIssuer, "gatehouse", "s3cr:et", {"openid", "email", "groups"}};
}

IssuerConfig Config() {
  IssuerConfig c;
  c.issuer = kIssuer;
  c.audiences = {"api-audience"};  // the ID token check uses the client id instead
  c.algorithms = AllJwsAlgorithms();
  return c;
}

std::map<std::string, std::string> QueryOf(const std::string& url) {
  std::map<std::string, std::string> out;
  std::string q = url.substr(url.find('?') + 1);
  size_t start = 0;
  while (start <= q.size()) {
    const size_t amp = q.find('&', start);
    const std::string pair = q.substr(start, amp - start);
    const size_t eq = pair.find('=');
    out[pair.substr(0, eq)] = *PercentDecode(pair.substr(eq + 1));
    if (amp == std::string::npos) break;
    start = amp + 1;
  }
  return out;
}

TEST(BuildAuthorizationUrl, CarriesEveryParameter) {
  ProviderMetadata m;
  m.authorization_endpoint = "https://idp.example.com/authorize?tenant=a";
  LoginState s{"st", "nc", "verifier-verifier-verifier-verifier-verifi", "/", "team/app", 0};
  const std::string url =
      BuildAuthorizationUrl(m, Client(), "https://app.example.com/.gatehouse/callback", s);
  EXPECT_EQ(url.rfind("https://idp.example.com/authorize?tenant=a&", 0), 0u) << url;
  auto q = QueryOf(url);
  EXPECT_EQ(q["response_type"], "code");
  EXPECT_EQ(q["client_id"], "gatehouse");
  EXPECT_EQ(q["redirect_uri"], "https://app.example.com/.gatehouse/callback");
  EXPECT_EQ(q["scope"], "openid email groups");
  EXPECT_EQ(q["state"], "st");
  EXPECT_EQ(q["nonce"], "nc");
  EXPECT_EQ(q["code_challenge"], PkceChallengeS256(s.code_verifier));
  EXPECT_EQ(q["code_challenge_method"], "S256");
  EXPECT_EQ(q.count("code_verifier"), 0u);  // the verifier never leaves the cookie
}

TEST(BuildCodeExchange, FormAndClientSecretBasic) {
  FormRequest r = BuildCodeExchange(Client(), "c o+de", "https://app/.gatehouse/callback", "ver");
  auto q = QueryOf("?" + r.body);
  EXPECT_EQ(q["grant_type"], "authorization_code");
  EXPECT_EQ(q["code"], "c o+de");
  EXPECT_EQ(q["redirect_uri"], "https://app/.gatehouse/callback");
  EXPECT_EQ(q["code_verifier"], "ver");
  ASSERT_EQ(r.headers.size(), 1u);
  // base64("gatehouse:s3cr%3Aet"): RFC 6749 2.3.1 form-encodes both parts.
  EXPECT_EQ(r.headers[0].second, "Basic Z2F0ZWhvdXNlOnMzY3IlM0FldA==");
  FormRequest refresh = BuildRefreshExchange(Client(), "rt/1");
  EXPECT_EQ(refresh.body, "grant_type=refresh_token&refresh_token=rt%2F1");
}

TEST(ParseTokenResponse, Table) {
  struct Row {
    std::string scenario;
    int status;
    std::string body;
    bool need_id;
    StatusCode code;
  };
  const std::string ok_body =
      R"({"access_token":"at","token_type":"Bearer","id_token":"a.b.c","expires_in":300,"refresh_token":"rt"})";
  const std::vector<Row> rows = {
      {"ok", 200, ok_body, true, StatusCode::kOk},
      {"no id token, not needed", 200, R"({"access_token":"at","token_type":"bearer"})", false,
       StatusCode::kOk},
      {"no id token, needed", 200, R"({"access_token":"at","token_type":"Bearer"})", true,
       StatusCode::kUnavailable},
      {"not bearer", 200, R"({"access_token":"at","token_type":"DPoP","id_token":"x"})", true,
       StatusCode::kUnavailable},
      {"invalid_grant", 400, R"({"error":"invalid_grant"})", true, StatusCode::kPermissionDenied},
      {"server error", 500, "oops", true, StatusCode::kUnavailable},
      {"not json", 200, "<html>", true, StatusCode::kUnavailable},
      {"duplicate keys", 200, R"({"access_token":"a","access_token":"b","token_type":"Bearer"})",
       false, StatusCode::kUnavailable},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.scenario);
    StatusOr<TokenResponse> t = ParseTokenResponse(r.status, r.body, r.need_id);
    EXPECT_EQ(t.ok() ? StatusCode::kOk : t.status().code(), r.code);
    if (!t.ok()) {
      EXPECT_EQ(t.status().message().find("invalid_grant"), std::string::npos);
    }
  }
  StatusOr<TokenResponse> t = ParseTokenResponse(200, ok_body, true);
  EXPECT_EQ(t->expires_in, 300);
  EXPECT_EQ(t->refresh_token, "rt");
}

class IdTokenTest : public ::testing::Test {
 protected:
  IdTokenTest() : idp_(JwsAlgorithm::kRS256, "k1"), other_(JwsAlgorithm::kRS256, "k1") {
    keys_ = *JsonWebKeySet::Parse(JwksOf({idp_.PublicJwk()}));
  }
  nlohmann::json Claims() const {
    return {{"iss", kIssuer}, {"aud", "gatehouse"}, {"sub", "ann"},     {"nonce", "n-1"},
            {"iat", kNow},    {"exp", kNow + 300},  {"email", "ann@x"}, {"groups", {"analysts"}}};
  }
  StatusOr<std::shared_ptr<const Identity>> Verify(const std::string& token,
                                                   const std::string& nonce = "n-1") {
    return VerifyIdToken(token, Config(), "gatehouse", *keys_, nonce, kNow);
  }
  TestSigner idp_;
  TestSigner other_;
  std::shared_ptr<const JsonWebKeySet> keys_;
};

TEST_F(IdTokenTest, AcceptsAWellFormedToken) {
  auto id = Verify(idp_.Mint(Claims()));
  ASSERT_TRUE(id.ok()) << id.status().message();
  EXPECT_EQ((*id)->subject, "ann");
  EXPECT_TRUE(HasGroupsClaim(**id, Config()));
}

TEST_F(IdTokenTest, RefusesEachDefect) {
  struct Row {
    std::string scenario;
    std::function<void(nlohmann::json&)> edit;
  };
  const std::vector<Row> rows = {
      {"wrong nonce", [](auto& c) { c["nonce"] = "other"; }},
      {"no nonce", [](auto& c) { c.erase("nonce"); }},
      {"wrong audience", [](auto& c) { c["aud"] = "api-audience"; }},
      {"several audiences, no azp",
       [](auto& c) {
         c["aud"] = {"gatehouse", "other"};
       }},
      {"azp of another client", [](auto& c) { c["azp"] = "other"; }},
      {"wrong issuer", [](auto& c) { c["iss"] = "https://evil.example.com"; }},
      {"expired", [](auto& c) { c["exp"] = kNow - 120; }},
      {"issued in the future", [](auto& c) { c["iat"] = kNow + 3600; }},
      {"no iat", [](auto& c) { c.erase("iat"); }},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.scenario);
    nlohmann::json c = Claims();
    r.edit(c);
    auto id = Verify(idp_.Mint(c));
    EXPECT_FALSE(id.ok());
    if (!id.ok()) {
      EXPECT_EQ(id.status().code(), StatusCode::kUnauthenticated);
    }
  }
  EXPECT_FALSE(Verify(other_.Mint(Claims())).ok()) << "signed by another key";
  nlohmann::json c = Claims();
  c["aud"] = {"gatehouse", "other"};
  c["azp"] = "gatehouse";
  EXPECT_TRUE(Verify(idp_.Mint(c)).ok()) << "several audiences with our azp";
  EXPECT_TRUE(Verify(idp_.Mint(Claims()), "").ok()) << "refresh: nonce not checked";
}

TEST(Userinfo, SubMustMatch) {
  EXPECT_TRUE(ParseUserinfo(200, R"({"sub":"ann","groups":["g"]})", "ann").ok());
  EXPECT_FALSE(ParseUserinfo(200, R"({"sub":"bob","groups":["g"]})", "ann").ok());
  EXPECT_FALSE(ParseUserinfo(200, R"({"groups":["g"]})", "ann").ok());
  EXPECT_FALSE(ParseUserinfo(401, R"({"sub":"ann"})", "ann").ok());
}

TEST(BuildSession, GroupsFromTokenOrUserinfo) {
  Identity id;
  id.issuer = kIssuer;
  id.user = "ann";
  id.subject = "ann";
  id.claims = {{"sub", "ann"}, {"given_name", "Ann"}, {"nonce", "x"}};
  TokenResponse tokens{"idt", "at", "rt", 300};
  const nlohmann::json info = {{"sub", "ann"}, {"groups", {"from-userinfo"}}, {"email", "a@x"}};
  Session s = BuildSession(id, Config(), tokens, &info, kNow, 12 * 3600);
  EXPECT_EQ(s.groups, std::vector<std::string>{"from-userinfo"});
  EXPECT_EQ(s.email, "a@x");
  EXPECT_EQ(s.expires_at, kNow + 12 * 3600);
  EXPECT_EQ(s.access_expires_at, kNow + 300);
  EXPECT_EQ(s.refresh_token, "rt");
  EXPECT_FALSE(s.claims.contains("nonce"));
  // The token's own groups claim wins over userinfo.
  id.claims["groups"] = {"from-token"};
  id.groups = {"from-token"};
  EXPECT_EQ(BuildSession(id, Config(), tokens, &info, kNow, 100).groups,
            std::vector<std::string>{"from-token"});
  // No lifetime from the IdP: the access expiry is the hard expiry.
  tokens.expires_in = 0;
  EXPECT_EQ(BuildSession(id, Config(), tokens, nullptr, kNow, 100).access_expires_at, kNow + 100);
}

TEST(ApplyRefresh, UpdatesTimesAndRotatesButNeverExtendsTheSession) {
  Session old;
  old.issuer = kIssuer;
  old.subject = "ann";
  old.expires_at = kNow + 1000;
  old.refresh_token = "rt-1";
  TokenResponse tokens{"", "at", "rt-2", 3600};
  StatusOr<Session> s = ApplyRefresh(old, tokens, nullptr, Config(), kNow);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->access_expires_at, kNow + 1000);  // capped by the hard expiry
  EXPECT_EQ(s->expires_at, kNow + 1000);
  EXPECT_EQ(s->refresh_token, "rt-2");
  Identity other;
  other.issuer = kIssuer;
  other.subject = "bob";
  EXPECT_FALSE(ApplyRefresh(old, tokens, &other, Config(), kNow).ok());
}

TEST(BuildEndSessionUrl, EncodesTheRedirect) {
  EXPECT_EQ(BuildEndSessionUrl("https://idp/session/end", "gatehouse", "https://app/x?y=1"),
            "https://idp/session/end?client_id=gatehouse&post_logout_redirect_uri=https%3A%2F%2Fapp"
            "%2Fx%3Fy%3D1");
}

TEST(ProviderMetadata, EndpointsAreCheckedLikeJwksUri) {
  const std::string good =
      R"({"issuer":"https://idp.example.com","authorization_endpoint":"https://idp.example.com/auth",)"
      R"("token_endpoint":"https://idp.example.com/token","jwks_uri":"https://idp.example.com/jwks",)"
      R"("end_session_endpoint":"https://idp.example.com/end"})";
  auto m = ProviderMetadataFromDiscovery(good, kIssuer);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->end_session_endpoint, "https://idp.example.com/end");
  EXPECT_EQ(m->userinfo_endpoint, "");
  std::string plain = good;
  plain.replace(plain.find("https://idp.example.com/token"), 5, "http");
  EXPECT_FALSE(ProviderMetadataFromDiscovery(plain, kIssuer).ok()) << "token endpoint over http";
  EXPECT_FALSE(ProviderMetadataFromDiscovery(good, "https://other.example.com").ok());
  EXPECT_FALSE(
      ProviderMetadataFromDiscovery(R"({"issuer":"https://idp.example.com"})", kIssuer).ok());
  const std::string loopback =
      R"({"issuer":"http://127.0.0.1:9","authorization_endpoint":"http://127.0.0.1:9/auth",)"
      R"("token_endpoint":"http://127.0.0.1:9/token","jwks_uri":"http://127.0.0.1:9/jwks"})";
  EXPECT_TRUE(ProviderMetadataFromDiscovery(loopback, "http://127.0.0.1:9").ok());
}

}  // namespace
}  // namespace gatehouse::auth
