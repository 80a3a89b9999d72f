// Gate-level tests of browser sign-in (login_flow.h wired into RequestGate):
// a FakeHttpFetcher plays the identity provider; the real gate, login flow,
// session codec and policies run.
#include <gtest/gtest.h>

#include <future>
#include <map>

#include "proxy/auth/fake_http_fetcher.h"
#include "proxy/auth/login_state.h"
#include "proxy/auth/url_codec.h"
#include "proxy/server/login_flow.h"
#include "proxy/server/request_gate.h"
#include "proxy/server/request_gate_test_util.h"

namespace gatehouse::server {
namespace {

using auth::FakeHttpFetcher;
using testing::Added;
using testing::FakeKeys;

constexpr char kIdp[] = "https://idp.example.com";
constexpr char kTokenUrl[] = "https://idp.example.com/token";
constexpr char kUserinfoUrl[] = "https://idp.example.com/userinfo";

std::string Policies() {
  const std::string login =
      "    login: {issuer: \"https://idp.example.com\", clientID: gatehouse, clientSecretRef: "
      "{name: oidc, key: secret}}\n";
  const std::string metabase = "  metabase: {sharedSecretRef: {name: mb, key: secret}}\n";
  const std::string rules = "    - {name: readers, action: Allow, from: {groups: [readers]}}\n";
  return testing::PolicyYaml("app", "app.example.com", login + metabase, rules) +
         testing::PolicyYaml("other", "other.example.com", login, rules) +
         "apiVersion: v1\nkind: Secret\nmetadata: {name: oidc, namespace: team}\n"
         "stringData: {secret: s3cret}\n---\n"
         "apiVersion: v1\nkind: Secret\nmetadata: {name: mb, namespace: team}\n"
         "stringData: {secret: metabase-shared-secret}\n";
}

std::map<std::string, std::string> Params(std::string_view url) {
  std::map<std::string, std::string> out;
  const size_t q = url.find('?');
  if (q == std::string_view::npos) return out;
  for (const char* name :
       {"state", "nonce", "code_challenge", "redirect_uri", "client_id", "jwt", "return_to",
        "post_logout_redirect_uri", "code", "code_verifier", "grant_type", "refresh_token", "scope",
        "response_type", "code_challenge_method"}) {
    auto v = auth::QueryParam(url.substr(q + 1), name);
    if (v.ok() && v->has_value()) out[name] = **v;
  }
  return out;
}

std::map<std::string, std::string> SetCookies(const LocalResponse& r) {
  std::map<std::string, std::string> out;
  for (const auto& f : r) {
    if (f.name() != http::field::set_cookie) continue;
    const std::string line(f.value());
    out[line.substr(0, line.find('='))] = line;
  }
  return out;
}

std::string CookieValue(const std::string& set_cookie_line) {
  const size_t eq = set_cookie_line.find('=');
  return set_cookie_line.substr(eq + 1, set_cookie_line.find(';') - eq - 1);
}

struct Result {
  GateVerdict verdict;
  nlohmann::json audit;
  int status() const {
    return verdict.local_response ? static_cast<int>(verdict.local_response->result_int()) : 0;
  }
  std::string header(http::field f) const {
    return std::string(verdict.local_response->operator[](f));
  }
};

class LoginGateTest : public ::testing::Test {
 protected:
  LoginGateTest()
      : idp_(auth::JwsAlgorithm::kRS256, "idp-key"),
        store_(keys_, &metrics_),
        codec_(auth::SessionKeySet::Generate(random_), random_),
        login_(LoginFlowDeps{.codec = codec_,
                             .fetcher = fetcher_,
                             .keys = keys_,
                             .time = time_,
                             .random = random_,
                             .wait = std::chrono::milliseconds(500)}) {
    signer_ = std::move(*AssertionSigner::Generate());
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(audit_out_);
    auto logger = std::make_shared<spdlog::logger>("login-test", sink);
    logger->set_pattern("%v");
    audit_ = std::make_unique<AuditLog>(logger, nullptr);
    gate_ = std::make_unique<RequestGate>(RequestGateDeps{.store = store_,
                                                          .signer = *signer_,
                                                          .audit = audit_.get(),
                                                          .metrics = metrics_,
                                                          .time = time_,
                                                          .login = &login_});
    keys_.Publish(auth::JwksOf({idp_.PublicJwk()}));
    fetcher_.Serve(std::string(kIdp) + "/.well-known/openid-configuration", 200,
                   nlohmann::json{{"issuer", kIdp},
                                  {"authorization_endpoint", std::string(kIdp) + "/authorize"},
                                  {"token_endpoint", kTokenUrl},
                                  {"jwks_uri", std::string(kIdp) + "/jwks"},
                                  {"userinfo_endpoint", kUserinfoUrl},
                                  {"end_session_endpoint", std::string(kIdp) + "/session/end"}}
                       .dump());
    EXPECT_TRUE(store_.ApplyPolicies(testing::ParseOrDie(Policies())).ok());
    ServeTokens();
  }

  // The IdP's token endpoint: checks client auth, code and PKCE, and answers
  // with an ID token for `sub_` carrying the nonce of the last authorize URL.
  void ServeTokens(nlohmann::json extra_claims = nlohmann::json::object()) {
    fetcher_.Handle(kTokenUrl, [this, extra_claims](const FakeHttpFetcher::Request& r) {
      auto form = Params("?" + r.body);
      const bool basic = !r.headers.empty() && r.headers[0].second.rfind("Basic ", 0) == 0;
      if (form["grant_type"] == "refresh_token") return refresh_answer_;
      if (!basic || form["code"] != "code-1" ||
          auth::PkceChallengeS256(form["code_verifier"]) != challenge_) {
        return HttpResponse{400, R"({"error":"invalid_grant"})"};
      }
      nlohmann::json claims = {{"iss", kIdp},        {"aud", "gatehouse"},
                               {"sub", sub_},        {"email", sub_ + "@example.com"},
                               {"nonce", nonce_},    {"iat", time_.NowSeconds()},
                               {"groups", groups_},  {"exp", time_.NowSeconds() + 300},
                               {"given_name", "Ann"}};
      claims.update(extra_claims);
      for (auto it = extra_claims.begin(); it != extra_claims.end(); ++it) {
        if (it->is_null()) claims.erase(it.key());
      }
      nlohmann::json body = {{"access_token", "access-1"},
                             {"token_type", "Bearer"},
                             {"expires_in", 300},
                             {"id_token", idp_.Mint(claims)}};
      if (with_refresh_) body["refresh_token"] = "refresh-1";
      return HttpResponse{200, body.dump()};
    });
  }

  Result Run(RequestHead& head, bool tls = false) {
    ClientInfo client = testing::GateHarness::Client();
    client.tls = tls;
    std::promise<GateVerdict> promise;
    gate_->Check(head, client, [&](GateVerdict v) { promise.set_value(std::move(v)); });
    std::future<GateVerdict> future = promise.get_future();
    EXPECT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    Result r{future.get(), {}};
    ExchangeOutcome outcome;
    outcome.status = r.verdict.local_response ? r.status() : 200;
    const size_t before = audit_out_.str().size();
    gate_->Finish(r.verdict, outcome);
    audit_->Flush();
    r.audit = nlohmann::json::parse(audit_out_.str().substr(before), nullptr, false);
    return r;
  }

  RequestHead Browser(const std::string& target, const std::string& cookie = "",
                      const std::string& host = "app.example.com") {
    RequestHead head = testing::GateHarness::Head("GET", host, target);
    head.set(http::field::accept, "text/html,application/xhtml+xml");
    if (!cookie.empty()) head.set(http::field::cookie, cookie);
    return head;
  }

  // Login redirect + IdP + callback: returns the callback's answer.
  Result SignIn(const std::string& target = "/dash?x=1", bool tls = false) {
    RequestHead start = Browser(target);
    Result begin = Run(start, tls);
    EXPECT_EQ(begin.status(), 302);
    auto params = Params(begin.header(http::field::location));
    challenge_ = params["code_challenge"];
    nonce_ = params["nonce"];
    login_cookie_ = SetCookies(*begin.verdict.local_response)[std::string(LoginCookieName(tls))];
    RequestHead callback =
        Browser("/.gatehouse/callback?code=code-1&state=" + auth::PercentEncode(params["state"]),
                std::string(LoginCookieName(tls)) + "=" + CookieValue(login_cookie_));
    last_callback_target_ = std::string(callback.target());
    last_login_cookie_header_ = std::string(callback[http::field::cookie]);
    return Run(callback, tls);
  }

  std::string SessionCookie(const Result& callback, bool tls = false) {
    return CookieValue(
        SetCookies(*callback.verdict.local_response)[std::string(SessionCookieName(tls))]);
  }

  std::string Seal(auth::Session s, const std::string& host = "app.example.com") {
    return *auth::SealSession(codec_, s, host, 4000);
  }

  auth::Session Reader(int64_t access_in = 300) {
    auth::Session s;
    s.issuer = kIdp;
    s.user = s.subject = "ann";
    s.email = "ann@example.com";
    s.groups = {"readers"};
    s.issued_at = time_.NowSeconds();
    s.expires_at = time_.NowSeconds() + 3600;
    s.access_expires_at = time_.NowSeconds() + access_in;
    s.refresh_token = "refresh-1";
    return s;
  }

  FakeTimeSource time_;
  FakeKeys keys_;
  auth::TestSigner idp_;
  ProxyMetrics metrics_;
  ConfigStore store_;
  FakeRandomSource random_{11};
  FakeHttpFetcher fetcher_;
  auth::SessionCodec codec_;
  LoginFlow login_;
  std::unique_ptr<AssertionSigner> signer_;
  std::ostringstream audit_out_;
  std::unique_ptr<AuditLog> audit_;
  std::unique_ptr<RequestGate> gate_;
  std::string sub_ = "ann";
  std::vector<std::string> groups_ = {"readers"};
  bool with_refresh_ = false;
  HttpResponse refresh_answer_{0, ""};
  std::string challenge_, nonce_, login_cookie_, last_callback_target_, last_login_cookie_header_;
};

TEST_F(LoginGateTest, BrowserIsSentToTheIdpApiClientGets401) {
  RequestHead head = Browser("/dash?x=1");
  Result r = Run(head);
  ASSERT_EQ(r.status(), 302);
  const std::string location = r.header(http::field::location);
  EXPECT_EQ(location.rfind("https://idp.example.com/authorize?", 0), 0u) << location;
  auto p = Params(location);
  EXPECT_EQ(p["response_type"], "code");
  EXPECT_EQ(p["client_id"], "gatehouse");
  EXPECT_EQ(p["redirect_uri"], "http://app.example.com/.gatehouse/callback");
  EXPECT_EQ(p["scope"], "openid email profile");
  EXPECT_EQ(p["code_challenge_method"], "S256");
  EXPECT_GE(p["state"].size(), 22u);
  EXPECT_GE(p["nonce"].size(), 22u);
  EXPECT_EQ(p["code_challenge"].size(), 43u);
  const std::string cookie = SetCookies(*r.verdict.local_response)["gatehouse_login"];
  EXPECT_NE(cookie.find("; Path=/; HttpOnly; SameSite=Lax; Max-Age=600"), std::string::npos);
  EXPECT_EQ(cookie.find("Domain"), std::string::npos);
  EXPECT_EQ(r.audit["reason"], "login_required");

  RequestHead api = testing::GateHarness::Head("GET", "app.example.com", "/dash");
  EXPECT_EQ(Run(api).status(), 401);
}

TEST_F(LoginGateTest, TlsListenerUsesHostPrefixedSecureCookies) {
  Result callback = SignIn("/x", /*tls=*/true);
  ASSERT_EQ(callback.status(), 302) << callback.verdict.local_response->body();
  EXPECT_NE(login_cookie_.find("__Host-gatehouse_login="), std::string::npos);
  EXPECT_NE(login_cookie_.find("; Secure"), std::string::npos);
  const std::string session =
      SetCookies(*callback.verdict.local_response)["__Host-gatehouse_session"];
  EXPECT_NE(session.find("; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age="), std::string::npos);
}

TEST_F(LoginGateTest, CallbackSignsInAndTheSessionAuthenticates) {
  Result callback = SignIn("/dash?x=1");
  ASSERT_EQ(callback.status(), 302) << callback.verdict.local_response->body();
  EXPECT_EQ(callback.header(http::field::location), "/dash?x=1");
  auto cookies = SetCookies(*callback.verdict.local_response);
  EXPECT_NE(cookies["gatehouse_login"].find("Max-Age=0"), std::string::npos);
  EXPECT_NE(cookies["gatehouse_session"].find("Max-Age=43200"), std::string::npos);
  EXPECT_EQ(callback.audit["reason"], "login_callback");
  EXPECT_EQ(callback.audit["decision"], "allow");
  EXPECT_EQ(callback.audit["sub"], "ann");
  const std::string session = SessionCookie(callback);
  EXPECT_EQ(audit_out_.str().find(session), std::string::npos) << "never in the audit log";
  // The token exchange: client_secret_basic, the verifier, the same redirect_uri.
  auto form = Params("?" + fetcher_.requests().back().body);
  EXPECT_EQ(form["redirect_uri"], "http://app.example.com/.gatehouse/callback");

  RequestHead next = Browser("/api", "a=1; gatehouse_session=" + session + "; b=2");
  Result r = Run(next);
  ASSERT_EQ(r.status(), 0) << r.verdict.local_response->body();
  EXPECT_EQ(Added(r.verdict, "X-Forwarded-User"), "ann");
  EXPECT_EQ(Added(r.verdict, "X-Forwarded-Groups"), "readers");
  EXPECT_EQ(AsStd(next[http::field::cookie]), "a=1; b=2") << "session cookie stripped";
  EXPECT_EQ(r.audit["reason"], "allowed");
}

TEST_F(LoginGateTest, CallbackFailures) {
  Result ok = SignIn();
  ASSERT_EQ(ok.status(), 302);
  // Replaying the same callback with the same login cookie.
  RequestHead replay = Browser(last_callback_target_, last_login_cookie_header_);
  Result r = Run(replay);
  EXPECT_EQ(r.status(), 400);
  EXPECT_EQ(r.audit["reason"], "login_failed");
  EXPECT_EQ(r.audit["decision"], "deny");
  EXPECT_NE(SetCookies(*r.verdict.local_response)["gatehouse_login"].find("Max-Age=0"),
            std::string::npos);

  struct Row {
    std::string scenario;
    std::function<std::string(const std::string& state)> target;
    bool send_cookie;
    int status;
  };
  const std::vector<Row> rows = {
      {"state mismatch",
       [](auto&) { return std::string("/.gatehouse/callback?code=code-1&state=x"); }, true, 400},
      {"no state", [](auto&) { return std::string("/.gatehouse/callback?code=code-1"); }, true,
       400},
      {"state twice",
       [](auto& s) { return "/.gatehouse/callback?code=code-1&state=" + s + "&state=" + s; }, true,
       400},
      {"no login cookie", [](auto& s) { return "/.gatehouse/callback?code=code-1&state=" + s; },
       false, 400},
      {"IdP error", [](auto& s) { return "/.gatehouse/callback?error=access_denied&state=" + s; },
       true, 502},
      {"wrong code (token endpoint refuses)",
       [](auto& s) { return "/.gatehouse/callback?code=other&state=" + s; }, true, 502},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.scenario);
    RequestHead start = Browser("/");
    Result begin = Run(start);
    auto params = Params(begin.header(http::field::location));
    challenge_ = params["code_challenge"];
    nonce_ = params["nonce"];
    const std::string cookie =
        CookieValue(SetCookies(*begin.verdict.local_response)["gatehouse_login"]);
    RequestHead cb = Browser(row.target(auth::PercentEncode(params["state"])),
                             row.send_cookie ? "gatehouse_login=" + cookie : "");
    Result res = Run(cb);
    EXPECT_EQ(res.status(), row.status) << res.verdict.local_response->body();
    EXPECT_EQ(SetCookies(*res.verdict.local_response).count("gatehouse_session"), 0u);
    EXPECT_EQ(res.audit["reason"], "login_failed");
    EXPECT_NE(res.verdict.local_response->body().find(res.audit["request_id"].get<std::string>()),
              std::string::npos);
  }
}

TEST_F(LoginGateTest, LoginCookieExpiresAfterTenMinutes) {
  RequestHead start = Browser("/");
  Result begin = Run(start);
  auto params = Params(begin.header(http::field::location));
  const std::string cookie =
      CookieValue(SetCookies(*begin.verdict.local_response)["gatehouse_login"]);
  time_.Advance(std::chrono::seconds(601));
  RequestHead cb =
      Browser("/.gatehouse/callback?code=code-1&state=" + auth::PercentEncode(params["state"]),
              "gatehouse_login=" + cookie);
  EXPECT_EQ(Run(cb).status(), 400);
}

TEST_F(LoginGateTest, IdTokenDefectsAre502) {
  for (const auto& [scenario, claims] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"wrong nonce", {{"nonce", "forged"}}},
           {"wrong audience", {{"aud", "someone-else"}}},
           {"azp of another client", {{"azp", "someone-else"}}},
           {"wrong issuer", {{"iss", "https://evil.example.com"}}},
           {"expired", {{"exp", 1000}}}}) {
    SCOPED_TRACE(scenario);
    ServeTokens(claims);
    Result r = SignIn();
    EXPECT_EQ(r.status(), 502);
    EXPECT_EQ(SetCookies(*r.verdict.local_response).count("gatehouse_session"), 0u);
  }
}

TEST_F(LoginGateTest, GroupsFromUserinfoWhenTheIdTokenHasNone) {
  ServeTokens({{"groups", nullptr}});
  fetcher_.Handle(kUserinfoUrl, [](const FakeHttpFetcher::Request& r) {
    const bool bearer = !r.headers.empty() && r.headers[0].second == "Bearer access-1";
    return bearer ? HttpResponse{200, R"({"sub":"ann","groups":["readers"]})"}
                  : HttpResponse{401, "{}"};
  });
  Result callback = SignIn();
  ASSERT_EQ(callback.status(), 302) << callback.verdict.local_response->body();
  RequestHead next = Browser("/api", "gatehouse_session=" + SessionCookie(callback));
  EXPECT_EQ(Run(next).status(), 0);
  // A userinfo answer about another subject fails the sign-in.
  fetcher_.Serve(kUserinfoUrl, 200, R"({"sub":"mallory","groups":["readers"]})");
  fetcher_.Handle(kUserinfoUrl, [](const FakeHttpFetcher::Request&) {
    return HttpResponse{200, R"({"sub":"mallory","groups":["readers"]})"};
  });
  EXPECT_EQ(SignIn().status(), 502);
}

TEST_F(LoginGateTest, BadSessionsAreNoCredential) {
  const std::string good = Seal(Reader());
  std::string tampered = good;
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
  auth::Session foreign_issuer = Reader();
  foreign_issuer.issuer = "https://other-idp.example.com";
  auth::Session expired = Reader();
  expired.expires_at = time_.NowSeconds() - 1;
  for (const auto& [scenario, cookie] : std::vector<std::pair<std::string, std::string>>{
           {"tampered", tampered},
           {"another host", Seal(Reader(), "other.example.com")},
           {"another issuer", Seal(foreign_issuer)},
           {"expired", Seal(expired)},
           {"garbage", "x"}}) {
    SCOPED_TRACE(scenario);
    RequestHead browser = Browser("/api", "gatehouse_session=" + cookie);
    EXPECT_EQ(Run(browser).status(), 302);
    RequestHead api = testing::GateHarness::Head("GET", "app.example.com", "/api");
    api.set(http::field::cookie, "gatehouse_session=" + cookie);
    EXPECT_EQ(Run(api).status(), 401);
  }
  RequestHead ok = Browser("/api", "gatehouse_session=" + good);
  EXPECT_EQ(Run(ok).status(), 0);
  // On a TLS listener only the __Host- cookie counts.
  RequestHead plain_name_on_tls = Browser("/api", "gatehouse_session=" + good);
  EXPECT_EQ(Run(plain_name_on_tls, /*tls=*/true).status(), 302);
}

TEST_F(LoginGateTest, BearerTokenTakesPrecedenceOverTheSession) {
  RequestHead head = Browser("/api", "gatehouse_session=" + Seal(Reader()));
  head.set(http::field::authorization, "Bearer not-a-jwt");
  Result r = Run(head);
  EXPECT_EQ(r.status(), 401);
  EXPECT_EQ(r.audit["reason"], "invalid_token");
}

TEST_F(LoginGateTest, DeniedUserGets403NotAnotherLogin) {
  auth::Session s = Reader();
  s.groups = {"contractors"};
  RequestHead head = Browser("/api", "gatehouse_session=" + Seal(s));
  EXPECT_EQ(Run(head).status(), 403);
}

TEST_F(LoginGateTest, LogoutClearsAndFollowsTheEndSessionEndpoint) {
  RequestHead head = Browser("/.gatehouse/logout?return_to=%2F%2Fevil.example",
                             "gatehouse_session=" + Seal(Reader()));
  Result r = Run(head);
  ASSERT_EQ(r.status(), 302);
  auto p = Params(r.header(http::field::location));
  EXPECT_EQ(r.header(http::field::location).rfind("https://idp.example.com/session/end?", 0), 0u);
  EXPECT_EQ(p["client_id"], "gatehouse");
  EXPECT_EQ(p["post_logout_redirect_uri"], "http://app.example.com/");
  EXPECT_NE(SetCookies(*r.verdict.local_response)["gatehouse_session"].find("Max-Age=0"),
            std::string::npos);
  EXPECT_EQ(r.audit["reason"], "logout");
  EXPECT_EQ(r.audit["sub"], "ann");

  RequestHead keep = Browser("/.gatehouse/logout?return_to=/bye%3Fx");
  EXPECT_EQ(Params(Run(keep).header(http::field::location))["post_logout_redirect_uri"],
            "http://app.example.com/bye?x");
  RequestHead unknown = Browser("/.gatehouse/logout", "", "nobody.example.com");
  EXPECT_EQ(Run(unknown).status(), 404);
  RequestHead unknown_callback =
      Browser("/.gatehouse/callback?code=a&state=b", "", "nobody.example.com");
  Result nf = Run(unknown_callback);
  EXPECT_EQ(nf.status(), 404);
  EXPECT_EQ(nf.audit["reason"], "no_route");
}

TEST_F(LoginGateTest, MetabaseSsoMintsATokenOnlyForAllowedIdentities) {
  RequestHead head =
      Browser("/auth/sso?return_to=/%5Cevil.example", "gatehouse_session=" + Seal(Reader()));
  Result r = Run(head);
  ASSERT_EQ(r.status(), 302);
  const std::string location = r.header(http::field::location);
  EXPECT_EQ(location.rfind("/auth/sso?jwt=", 0), 0u) << location;
  auto p = Params(location);
  EXPECT_EQ(p["return_to"], "/");
  EXPECT_EQ(std::count(p["jwt"].begin(), p["jwt"].end(), '.'), 2);
  EXPECT_EQ(r.audit["reason"], "metabase_sso");
  EXPECT_EQ(r.verdict.local_response->body().find(p["jwt"]), std::string::npos);
  EXPECT_EQ(audit_out_.str().find(p["jwt"]), std::string::npos);

  RequestHead with_jwt =
      Browser("/auth/sso?jwt=abc&return_to=/x", "gatehouse_session=" + Seal(Reader()));
  EXPECT_EQ(Run(with_jwt).status(), 0) << "Metabase verifies its own token";
  auth::Session denied = Reader();
  denied.groups = {"contractors"};
  RequestHead no = Browser("/auth/sso", "gatehouse_session=" + Seal(denied));
  EXPECT_EQ(Run(no).status(), 403);
  RequestHead anonymous = Browser("/auth/sso");
  EXPECT_EQ(Run(anonymous).status(), 302);
  EXPECT_EQ(Params(Run(anonymous).header(http::field::location)).count("jwt"), 0u);
}

TEST_F(LoginGateTest, RefreshSuccessAnswers307WithTheNewCookie) {
  refresh_answer_ = {200, R"({"access_token":"access-2","token_type":"Bearer","expires_in":600,)"
                          R"("refresh_token":"refresh-2"})"};
  RequestHead head = Browser("/api?x=1", "gatehouse_session=" + Seal(Reader(/*access_in=*/30)));
  Result r = Run(head);
  ASSERT_EQ(r.status(), 307);
  EXPECT_EQ(r.header(http::field::location), "/api?x=1");
  const std::string cookie =
      CookieValue(SetCookies(*r.verdict.local_response)["gatehouse_session"]);
  StatusOr<auth::Session> s =
      auth::OpenSession(codec_, cookie, "app.example.com", time_.NowSeconds());
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->refresh_token, "refresh-2");
  EXPECT_EQ(s->access_expires_at, time_.NowSeconds() + 600);
  auto form = Params("?" + fetcher_.requests().back().body);
  EXPECT_EQ(form["grant_type"], "refresh_token");
  EXPECT_EQ(form["refresh_token"], "refresh-1");
  // A second request with the old cookie gets the same refresh, not a new one.
  const size_t posts = fetcher_.Count(kTokenUrl);
  RequestHead again = Browser("/api", "gatehouse_session=" + Seal(Reader(30)));
  EXPECT_EQ(Run(again).status(), 307);
  EXPECT_EQ(fetcher_.Count(kTokenUrl), static_cast<int>(posts));
}

TEST_F(LoginGateTest, RefreshWithTheIdpDownServesTheExistingSession) {
  refresh_answer_ = {0, ""};  // unreachable
  RequestHead head = Browser("/api", "gatehouse_session=" + Seal(Reader(30)));
  Result r = Run(head);
  EXPECT_EQ(r.status(), 0);
  EXPECT_EQ(Added(r.verdict, "X-Forwarded-User"), "ann");
  // Backoff: the next request does not try again.
  const int posts = fetcher_.Count(kTokenUrl);
  RequestHead next = Browser("/api", "gatehouse_session=" + Seal(Reader(30)));
  EXPECT_EQ(Run(next).status(), 0);
  EXPECT_EQ(fetcher_.Count(kTokenUrl), posts);
}

TEST_F(LoginGateTest, RefreshRefusedEndsTheSession) {
  refresh_answer_ = {400, R"({"error":"invalid_grant"})"};
  RequestHead head = Browser("/api", "gatehouse_session=" + Seal(Reader(30)));
  Result r = Run(head);
  EXPECT_EQ(r.status(), 302);
  EXPECT_EQ(r.header(http::field::location).rfind("https://idp.example.com/authorize?", 0), 0u);
}

TEST_F(LoginGateTest, DiscoveryUnavailableIs503AfterTheWait) {
  fetcher_.Fail(std::string(kIdp) + "/.well-known/openid-configuration");
  LoginFlow cold(LoginFlowDeps{.codec = codec_,
                               .fetcher = fetcher_,
                               .keys = keys_,
                               .time = time_,
                               .random = random_,
                               .wait = std::chrono::milliseconds(50)});
  RequestGate gate(RequestGateDeps{
      .store = store_, .signer = *signer_, .metrics = metrics_, .time = time_, .login = &cold});
  RequestHead head = Browser("/");
  std::promise<GateVerdict> promise;
  gate.Check(head, testing::GateHarness::Client(),
             [&](GateVerdict v) { promise.set_value(std::move(v)); });
  auto future = promise.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(future.get().local_response->result_int(), 503u);
}

}  // namespace
}  // namespace gatehouse::server
