#include "proxy/server/request_gate.h"

#include <gtest/gtest.h>

#include <string>

#include "proxy/auth/jwt_verifier.h"
#include "proxy/server/request_gate_test_util.h"

namespace gatehouse::server {
namespace {

using testing::Added;
using testing::GateHarness;
using testing::GateResult;

struct Row {
  std::string scenario;
  std::string method;
  std::string host;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;  // "{{token:g1,g2}}" = minted
  int status;                                                // 0: forwarded
  std::string reason;                                        // audit + metric reason label
  std::string decision;                                      // allow | deny
  std::string policy;                                        // "" for none
  std::string rule;
  std::string upstream_target;   // for forwarded rows
  std::string www_authenticate;  // for 401 rows
};

std::string Expand(const GateHarness& h, const std::string& value) {
  const std::string open = "{{token:";
  const size_t at = value.find(open);
  if (at == std::string::npos) return value;
  const size_t close = value.find("}}", at);
  std::vector<std::string> groups;
  std::string list = value.substr(at + open.size(), close - at - open.size());
  for (size_t start = 0; !list.empty();) {
    const size_t comma = list.find(',', start);
    groups.push_back(list.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return value.substr(0, at) + h.Token(groups) + value.substr(close + 2);
}

void CheckRow(GateHarness& h, const Row& row) {
  SCOPED_TRACE(row.scenario);
  RequestHead head = GateHarness::Head(row.method, row.host, row.target);
  for (const auto& [name, value] : row.headers)
    head.insert(std::string_view(name), std::string_view(Expand(h, value)));
  GateResult r = h.Run(head);
  ASSERT_TRUE(r.called);
  if (row.status == 0) {
    ASSERT_FALSE(r.verdict.local_response.has_value())
        << r.verdict.local_response->result_int() << " " << r.verdict.local_response->body();
    ASSERT_NE(r.verdict.upstream, nullptr);
    EXPECT_EQ(r.verdict.upstream_target, row.upstream_target);
    EXPECT_EQ(r.verdict.upstream->pool_key, "http://127.0.0.1:9000");
    EXPECT_EQ(Added(r.verdict, "X-Forwarded-For"), "10.1.2.3");
    EXPECT_EQ(Added(r.verdict, "X-Request-Id").size(), 32u);
  } else {
    ASSERT_TRUE(r.verdict.local_response.has_value());
    const LocalResponse& resp = *r.verdict.local_response;
    EXPECT_EQ(resp.result_int(), static_cast<unsigned>(row.status));
    EXPECT_EQ(AsStd(resp["X-Request-Id"]).size(), 32u);
    EXPECT_NE(resp.body().find(row.reason), std::string::npos) << resp.body();
    EXPECT_NE(resp.body().find(std::string(AsStd(resp["X-Request-Id"]))), std::string::npos);
    if (row.status == 401) {
      EXPECT_EQ(AsStd(resp[http::field::www_authenticate]), row.www_authenticate);
    }
  }
  ASSERT_TRUE(r.audit.is_object()) << h.AllAudit();
  EXPECT_EQ(r.audit["reason"], row.reason);
  EXPECT_EQ(r.audit["decision"], row.decision);
  EXPECT_EQ(r.audit["policy"], row.policy);
  EXPECT_EQ(r.audit["rule"], row.rule);
  EXPECT_EQ(r.audit["status"], row.status == 0 ? 200 : row.status);
}

const char kNoCredsChallenge[] = R"(Bearer realm="gatehouse")";
const char kInvalidChallenge[] = R"(Bearer realm="gatehouse", error="invalid_token")";

TEST(RequestGateTest, DecisionTable) {
  const std::vector<Row> rows = {
      {"no policy for the host",
       "GET",
       "nowhere.example.com",
       "/",
       {},
       404,
       "no_route",
       "deny",
       "",
       ""},
      {"path that cannot be normalized",
       "GET",
       "app.example.com",
       "/api/%2Fetc",
       {},
       400,
       "bad_request",
       "deny",
       "",
       ""},
      {"dot-dot above the root",
       "GET",
       "app.example.com",
       "/../etc/passwd",
       {},
       400,
       "bad_request",
       "deny",
       "",
       ""},
      {"no credentials, API client",
       "GET",
       "app.example.com",
       "/api/x",
       {},
       401,
       "no_credentials",
       "deny",
       "team/app",
       "",
       "",
       kNoCredsChallenge},
      {"garbage token",
       "GET",
       "app.example.com",
       "/api/x",
       {{"Authorization", "Bearer not.a.jwt"}},
       401,
       "invalid_token",
       "deny",
       "team/app",
       "",
       "",
       kInvalidChallenge},
      {"Basic credentials",
       "GET",
       "app.example.com",
       "/api/x",
       {{"Authorization", "Basic YWxpY2U6cHc="}},
       401,
       "invalid_token",
       "deny",
       "team/app",
       "",
       "",
       kInvalidChallenge},
      {"two Authorization headers, both valid",
       "GET",
       "app.example.com",
       "/api/x",
       {{"Authorization", "Bearer {{token:readers}}"},
        {"authorization", "Bearer {{token:readers}}"}},
       401,
       "invalid_token",
       "deny",
       "team/app",
       "",
       "",
       kInvalidChallenge},
      {"allowed reader",
       "GET",
       "app.example.com",
       "/api/./x//y?q=1&token=abc",
       {{"Authorization", "Bearer {{token:readers}}"}},
       0,
       "allowed",
       "allow",
       "team/app",
       "readers",
       "/base/api/x/y?q=1&token=abc"},
      {"lowercase bearer scheme",
       "GET",
       "app.example.com",
       "/api/x",
       {{"Authorization", "bearer {{token:readers}}"}},
       0,
       "allowed",
       "allow",
       "team/app",
       "readers",
       "/base/api/x"},
      {"authenticated, no rule allows",
       "GET",
       "app.example.com",
       "/api/x",
       {{"Authorization", "Bearer {{token:other}}"}},
       403,
       "no_matching_rule",
       "deny",
       "team/app",
       ""},
      {"method not allowed by the rule",
       "POST",
       "app.example.com",
       "/api/x",
       {{"Authorization", "Bearer {{token:readers}}"}},
       403,
       "no_matching_rule",
       "deny",
       "team/app",
       ""},
      {"deny rule wins over allow",
       "GET",
       "app.example.com",
       "/export/csv",
       {{"Authorization", "Bearer {{token:readers,contractors}}"}},
       403,
       "denied_by_rule",
       "deny",
       "team/app",
       "no-exports"},
      {"public route without credentials",
       "GET",
       "app.example.com",
       "/health",
       {},
       0,
       "allowed",
       "allow",
       "team/app",
       "health",
       "/base/health"},
      {"public route with a bad token",
       "GET",
       "app.example.com",
       "/health",
       {{"Authorization", "Bearer bad"}},
       0,
       "allowed",
       "allow",
       "team/app",
       "health",
       "/base/health"},
      {"browser, login configured: 401 until sign-in exists",
       "GET",
       "login.example.com",
       "/",
       {{"Accept", "text/html,application/xhtml+xml"}},
       401,
       "login_required",
       "deny",
       "team/login",
       "",
       "",
       kNoCredsChallenge},
      {"API client on a login policy",
       "GET",
       "login.example.com",
       "/",
       {},
       401,
       "no_credentials",
       "deny",
       "team/login",
       "",
       "",
       kNoCredsChallenge},
      {"audit mode forwards a would-deny",
       "GET",
       "audit.example.com",
       "/x",
       {},
       0,
       "audit_would_deny",
       "allow",
       "team/audit",
       "",
       "/base/x"},
      {"host with port and upper case routes",
       "GET",
       "APP.example.com:8080",
       "/health",
       {},
       0,
       "allowed",
       "allow",
       "team/app",
       "health",
       "/base/health"},
  };
  GateHarness h;
  for (const Row& row : rows) CheckRow(h, row);
}

TEST(RequestGateTest, ExpiredTokenIsInvalid) {
  GateHarness h;
  const std::string token = h.Token({"readers"}, "alice", /*lifetime=*/60);
  h.time().Advance(std::chrono::seconds(3600));
  RequestHead head = GateHarness::Head("GET", "app.example.com", "/api/x");
  head.set(http::field::authorization, "Bearer " + token);
  GateResult r = h.Run(head);
  ASSERT_TRUE(r.verdict.local_response);
  EXPECT_EQ(r.verdict.local_response->result_int(), 401u);
  EXPECT_EQ(r.audit["reason"], "invalid_token");
}

TEST(RequestGateTest, ForwardedRequestCarriesOnlyGateIdentity) {
  GateHarness h;
  const std::string token = h.Token({"readers", "ops"});
  const std::vector<std::string> spoofs = {"X-Forwarded-User",
                                           "x-forwarded-user",
                                           "X-FORWARDED-EMAIL",
                                           "x-forwarded-groups",
                                           "X-Gatehouse-Assertion",
                                           "x-gatehouse-anything",
                                           "X-Forwarded-For",
                                           "x-real-ip",
                                           "Forwarded",
                                           "X-Request-Id",
                                           "X-Forwarded-Host"};
  for (const char* target : {"/api/x", "/health"}) {  // protected and public
    SCOPED_TRACE(target);
    RequestHead head = GateHarness::Head("GET", "app.example.com", target);
    head.set(http::field::authorization, "Bearer " + token);
    for (const std::string& name : spoofs) {
      head.insert(std::string_view(name), "spoofed");
      head.insert(std::string_view(name), "spoofed-again");
    }
    GateResult r = h.Run(head);
    ASSERT_FALSE(r.verdict.local_response);
    for (const auto& field : head) {
      EXPECT_EQ(AsStd(field.value()).find("spoofed"), std::string_view::npos)
          << AsStd(field.name_string());
    }
    EXPECT_EQ(head.count(http::field::authorization), 0u);  // forwardToken: false
    for (const std::string& name : spoofs) {
      EXPECT_EQ(head.count(std::string_view(name)), 0u) << name << ": only the added line goes upstream";
    }
    EXPECT_EQ(r.verdict.added_fields.text().find("spoofed"), std::string_view::npos);
    EXPECT_EQ(Added(r.verdict, "X-Forwarded-User"), "alice");
    EXPECT_EQ(Added(r.verdict, "X-Forwarded-Email"), "alice@example.com");
    EXPECT_EQ(Added(r.verdict, "X-Forwarded-Groups"), "readers,ops");
    EXPECT_EQ(Added(r.verdict, "X-Forwarded-Host"), "app.example.com");
    // The assertion names this request's audience and policy and verifies.
    const std::string assertion = Added(r.verdict, "X-Gatehouse-Assertion");
    auto keys = auth::JsonWebKeySet::Parse(h.signer().jwks());
    auth::IssuerConfig config{.issuer = "gatehouse",
                              .audiences = {"app.example.com"},
                              .algorithms = {auth::JwsAlgorithm::kES256}};
    auto verified = auth::VerifyJwt(assertion, config, **keys, h.time().NowSeconds());
    ASSERT_TRUE(verified.ok()) << verified.status().ToString();
    EXPECT_EQ((*verified)->subject, "alice");
    EXPECT_EQ((*verified)->claims["policy"], "team/app");
    EXPECT_EQ(r.audit["sub"], "alice");
    EXPECT_EQ(r.audit["token_id"], "jti-alice");
  }
}

TEST(RequestGateTest, AnonymousPublicRouteStillStripsAndSetsNoIdentity) {
  GateHarness h;
  RequestHead head = GateHarness::Head("GET", "app.example.com", "/health");
  head.insert("X-Forwarded-User", "admin");
  head.insert("x-gatehouse-assertion", "forged");
  GateResult r = h.Run(head);
  ASSERT_FALSE(r.verdict.local_response);
  EXPECT_EQ(head.count("X-Forwarded-User"), 0u);
  EXPECT_EQ(head.count("X-Gatehouse-Assertion"), 0u);
  EXPECT_FALSE(r.verdict.added_fields.Find("X-Forwarded-User"));
  EXPECT_FALSE(r.verdict.added_fields.Find("X-Gatehouse-Assertion"));
  EXPECT_EQ(Added(r.verdict, "X-Request-Id").size(), 32u);
}

TEST(RequestGateTest, AuditLineNeverCarriesTokenCookieOrQuery) {
  GateHarness h;
  const std::string token = h.Token({"readers"});
  for (const char* host : {"app.example.com", "nowhere.example.com"}) {
    RequestHead head = GateHarness::Head("GET", host, "/api/x?password=hunter2");
    head.set(http::field::authorization, "Bearer " + token);
    head.set(http::field::cookie, "session=COOKIE-SECRET-123");
    h.Run(head);
  }
  const std::string audit = h.AllAudit();
  EXPECT_NE(audit.find("\"path\":\"/api/x\""), std::string::npos) << audit;
  EXPECT_EQ(audit.find(token), std::string::npos);
  EXPECT_EQ(audit.find(token.substr(token.rfind('.') + 1)), std::string::npos);  // signature
  EXPECT_EQ(audit.find("COOKIE-SECRET"), std::string::npos);
  EXPECT_EQ(audit.find("hunter2"), std::string::npos);
}

TEST(RequestGateTest, RateLimitAnswers429WithRetryAfter) {
  GateHarness h;
  const std::string alice = h.Token({}, "alice");
  const std::string bob = h.Token({}, "bob");
  auto send = [&](const std::string& token) {
    RequestHead head = GateHarness::Head("GET", "limited.example.com", "/x");
    head.set(http::field::authorization, "Bearer " + token);
    return h.Run(head);
  };
  EXPECT_FALSE(send(alice).verdict.local_response);
  EXPECT_FALSE(send(alice).verdict.local_response);
  GateResult limited = send(alice);
  ASSERT_TRUE(limited.verdict.local_response);
  EXPECT_EQ(limited.verdict.local_response->result_int(), 429u);
  EXPECT_EQ(AsStd((*limited.verdict.local_response)[http::field::retry_after]), "1");
  EXPECT_EQ(limited.audit["reason"], "rate_limited");
  EXPECT_EQ(limited.audit["rule"], "anyone");
  EXPECT_EQ(limited.audit["decision"], "deny");
  EXPECT_FALSE(send(bob).verdict.local_response);  // per identity
  h.time().Advance(std::chrono::seconds(1));
  EXPECT_FALSE(send(alice).verdict.local_response);
  const std::string text = h.metrics().Exposition();
  EXPECT_NE(text.find(R"(gatehouse_rate_limited_total{policy="team/limited"} 1)"),
            std::string::npos);
  EXPECT_NE(
      text.find(
          R"(gatehouse_decisions_total{decision="deny",policy="team/limited",reason="rate_limited",rule="anyone"} 1)"),
      std::string::npos)
      << text;
}

TEST(RequestGateTest, AnonymousPublicTrafficIsLimitedPerClientAddress) {
  GateHarness h;
  auto send = [&](const std::string& ip) {
    RequestHead head = GateHarness::Head("GET", "limited.example.com", "/open");
    return h.Run(head, GateHarness::Client(ip));
  };
  EXPECT_FALSE(send("10.0.0.1").verdict.local_response);
  EXPECT_FALSE(send("10.0.0.1").verdict.local_response);
  EXPECT_TRUE(send("10.0.0.1").verdict.local_response);
  EXPECT_FALSE(send("10.0.0.2").verdict.local_response);
}

TEST(RequestGateTest, FleetJwksOnEveryHost) {
  GateHarness h;
  for (const char* host : {"app.example.com", "audit.example.com", "unknown.example"}) {
    RequestHead head = GateHarness::Head("GET", host, std::string(kFleetJwksPath));
    GateResult r = h.Run(head);
    ASSERT_TRUE(r.verdict.local_response);
    EXPECT_EQ(r.verdict.local_response->result_int(), 200u);
    EXPECT_EQ(r.verdict.local_response->body(), h.signer().jwks());
    EXPECT_EQ(r.verdict.local_response->body().find("\"d\""), std::string::npos);
  }
}

TEST(RequestGateTest, FleetJwksAnswersAreCountedAndAudited) {
  // PRODUCT.md section 6: every decision is counted, the fleet JWKS included
  // (under policy "", rule gatehouse_jwks), exactly once per answer.
  GateHarness h;
  for (const char* host : {"app.example.com", "unknown.example"}) {
    RequestHead head = GateHarness::Head("GET", host, std::string(kFleetJwksPath));
    GateResult r = h.Run(head);
    ASSERT_TRUE(r.verdict.local_response);
    EXPECT_EQ(r.audit["decision"], "allow");
    EXPECT_EQ(r.audit["reason"], "allowed");
    EXPECT_EQ(r.audit["rule"], "gatehouse_jwks");
    EXPECT_EQ(r.audit["policy"], "");
  }
  const std::string text = h.metrics().Exposition();
  EXPECT_NE(
      text.find(
          R"(gatehouse_decisions_total{decision="allow",policy="",reason="allowed",rule="gatehouse_jwks"} 2)"),
      std::string::npos)
      << text;
}

TEST(RequestGateTest, NoConfigAnswers503) {
  GateHarness h(/*load_config=*/false);
  RequestHead head = GateHarness::Head("GET", "app.example.com", "/health");
  GateResult r = h.Run(head);
  ASSERT_TRUE(r.verdict.local_response);
  EXPECT_EQ(r.verdict.local_response->result_int(), 503u);
}

TEST(RequestGateTest, ForbiddenBodyNegotiatesAndLeaksNothing) {
  GateHarness h;
  const std::string token = h.Token({"readers", "contractors"});
  const std::vector<std::pair<std::string, std::string>> accepts = {
      {"application/json", "application/json"},
      {"text/html", "text/html; charset=utf-8"},
      {"*/*", "text/plain; charset=utf-8"}};
  for (const auto& [accept, type] : accepts) {
    RequestHead head = GateHarness::Head("GET", "app.example.com", "/export/x");
    head.set(http::field::authorization, "Bearer " + token);
    head.set(http::field::accept, accept);
    GateResult r = h.Run(head);
    ASSERT_TRUE(r.verdict.local_response);
    const LocalResponse& resp = *r.verdict.local_response;
    EXPECT_EQ(resp.result_int(), 403u);
    EXPECT_EQ(AsStd(resp[http::field::content_type]), type);
    EXPECT_NE(resp.body().find("denied_by_rule"), std::string::npos);
    EXPECT_EQ(resp.body().find("no-exports"), std::string::npos);   // no rule name
    EXPECT_EQ(resp.body().find("team/app"), std::string::npos);     // no policy
    EXPECT_EQ(resp.body().find("contractors"), std::string::npos);  // no claims
  }
}

TEST(RequestGateTest, AReusedContextCarriesNothingOfTheRequestBefore) {
  // Contexts are reused per thread after Finish(): each request's audit line
  // and fields must hold its own facts only.
  GateHarness h;
  RequestHead first = GateHarness::Head("GET", "app.example.com", "/api/x");
  first.set(http::field::authorization, "Bearer " + h.Token({"readers"}));
  const GateResult a = h.Run(first);
  ASSERT_FALSE(a.verdict.local_response);
  EXPECT_EQ(a.audit["sub"], "alice");
  EXPECT_EQ(a.audit["policy"], "team/app");

  RequestHead second = GateHarness::Head("GET", "app.example.com", "/health");
  const GateResult b = h.Run(second);
  ASSERT_FALSE(b.verdict.local_response);
  EXPECT_EQ(b.audit["sub"], "");
  EXPECT_EQ(b.audit["email"], "");
  EXPECT_EQ(b.audit["token_id"], "");
  EXPECT_EQ(b.audit["path"], "/health");
  EXPECT_NE(b.audit["request_id"], a.audit["request_id"]);
  EXPECT_EQ(Added(b.verdict, "X-Request-Id"), b.audit["request_id"]);
  EXPECT_FALSE(b.verdict.added_fields.Find("X-Forwarded-User"));
  EXPECT_FALSE(b.verdict.added_fields.Find("X-Gatehouse-Assertion"));

  RequestHead third = GateHarness::Head("POST", "nowhere.example.com", "/x");
  const GateResult c = h.Run(third);
  ASSERT_TRUE(c.verdict.local_response);
  EXPECT_EQ(c.audit["policy"], "");
  EXPECT_EQ(c.audit["rule"], "");
  EXPECT_EQ(c.audit["reason"], "no_route");
  EXPECT_EQ(c.audit["method"], "POST");
  EXPECT_EQ(c.audit["host"], "nowhere.example.com");
}

TEST(RequestGateTest, MethodsAreDecidedAndAuditedAsReceived) {
  // Known verbs are audited from Beast's own text, others from a copy: both
  // exactly as received, in any order on one thread (contexts are reused).
  GateHarness h;
  const std::string token = h.Token({"readers"});
  struct Case {
    std::string method;
    std::string path;
    int status;
  };
  const std::vector<Case> cases = {
      {"GET", "/api/x", 200},       {"get", "/api/x", 403},  {"BREW", "/health", 200},
      {"PROPFIND", "/health", 200}, {"HEAD", "/api/x", 200}, {"Get", "/api/x", 403},
      {"POST", "/api/x", 403},      {"GETX", "/api/x", 403}, {"GET", "/api/x", 200},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.method);
    RequestHead head = GateHarness::Head(c.method, "app.example.com", c.path);
    head.set(http::field::authorization, "Bearer " + token);
    const GateResult r = h.Run(head);
    const int status =
        r.verdict.local_response ? static_cast<int>(r.verdict.local_response->result_int()) : 200;
    EXPECT_EQ(status, c.status);
    EXPECT_EQ(r.audit["method"], c.method);
  }
}

}  // namespace
}  // namespace gatehouse::server
