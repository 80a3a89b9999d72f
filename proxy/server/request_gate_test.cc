#include "proxy/server/request_gate.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>

#include "proxy/auth/base64url.h"
#include "proxy/auth/jwt_verifier.h"
#include "proxy/server/request_gate_test_util.h"

namespace gatehouse::server {
namespace {

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
    head.insert(AsBeast(name), AsBeast(Expand(h, value)));
  GateResult r = h.Run(head);
  ASSERT_TRUE(r.called);
  if (row.status == 0) {
    ASSERT_FALSE(r.verdict.local_response.has_value())
        << r.verdict.local_response->result_int() << " " << r.verdict.local_response->body();
    ASSERT_NE(r.verdict.upstream, nullptr);
    EXPECT_EQ(r.verdict.upstream_target, row.upstream_target);
    EXPECT_EQ(r.verdict.upstream->pool_key, "http://127.0.0.1:9000");
    EXPECT_EQ(AsStd(head["X-Forwarded-For"]), "10.1.2.3");
    EXPECT_EQ(AsStd(head["X-Request-Id"]).size(), 32u);
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
      head.insert(AsBeast(name), "spoofed");
      head.insert(AsBeast(name), "spoofed-again");
    }
    GateResult r = h.Run(head);
    ASSERT_FALSE(r.verdict.local_response);
    for (const auto& field : head) {
      EXPECT_EQ(AsStd(field.value()).find("spoofed"), std::string_view::npos)
          << AsStd(field.name_string());
    }
    EXPECT_EQ(head.count(http::field::authorization), 0u);  // forwardToken: false
    EXPECT_EQ(AsStd(head["X-Forwarded-User"]), "alice");
    EXPECT_EQ(AsStd(head["X-Forwarded-Email"]), "alice@example.com");
    EXPECT_EQ(AsStd(head["X-Forwarded-Groups"]), "readers,ops");
    EXPECT_EQ(AsStd(head["X-Forwarded-Host"]), "app.example.com");
    EXPECT_EQ(head.count("X-Gatehouse-Assertion"), 1u);
    // The assertion names this request's audience and policy and verifies.
    const std::string assertion(AsStd(head["X-Gatehouse-Assertion"]));
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

TEST(RequestGateTest, WithoutWaiterMissingKeysAnswer503) {
  GateHarness h(/*load_config=*/false);
  ASSERT_TRUE(h.store().ApplyPolicies(testing::ParseOrDie(testing::StandardPolicies())).ok());
  RequestHead head = GateHarness::Head("GET", "app.example.com", "/api/x");
  head.set(http::field::authorization, "Bearer " + h.Token({"readers"}));
  GateResult r = h.Run(head);
  ASSERT_TRUE(r.verdict.local_response);
  EXPECT_EQ(r.verdict.local_response->result_int(), 503u);
}

// A gate with a KeyWaiter and no keys yet: a bearer request is parked. Check()
// returns at once; `release` then makes the keys appear or time run out, and
// the verdict arrives later from the waiter's thread.
struct ParkedCheck {
  bool answered_at_once = false;
  bool answered = false;
  GateResult result;
};

template <typename Release>
ParkedCheck CheckWhileKeysMissing(GateHarness& h, RequestHead& head, Release release) {
  ParkedCheck out;
  std::atomic<bool> called{false};
  h.gate().Check(head, GateHarness::Client(), [&](GateVerdict v) {
    out.result.verdict = std::move(v);
    called = true;
  });
  out.answered_at_once = called.load();
  release();
  for (int i = 0; i < 500 && !called.load(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  out.answered = called.load();
  return out;
}

RequestHead ReadersRequest(GateHarness& h) {
  EXPECT_TRUE(h.store().ApplyPolicies(testing::ParseOrDie(testing::StandardPolicies())).ok());
  RequestHead head = GateHarness::Head("GET", "app.example.com", "/api/x");
  head.set(http::field::authorization, "Bearer " + h.Token({"readers"}));
  return head;
}

TEST(RequestGateTest, FirstKeysAreAwaitedOffTheCallingThread) {
  GateHarness h(/*load_config=*/false, /*with_waiter=*/true);
  RequestHead head = ReadersRequest(h);
  ParkedCheck c = CheckWhileKeysMissing(
      h, head, [&] { h.keys().Publish(auth::JwksOf({h.idp().PublicJwk()})); });
  EXPECT_FALSE(c.answered_at_once);  // parked, the event loop is free
  ASSERT_TRUE(c.answered);
  EXPECT_FALSE(c.result.verdict.local_response);
  EXPECT_EQ(AsStd(head["X-Forwarded-User"]), "alice");
}

TEST(RequestGateTest, FirstKeysWaitIsBounded) {
  GateHarness h(/*load_config=*/false, /*with_waiter=*/true);
  RequestHead head = ReadersRequest(h);
  ParkedCheck c = CheckWhileKeysMissing(h, head, [&] {
    h.time().Advance(std::chrono::seconds(6));  // past the 5 s bound (fake clock)
  });
  EXPECT_FALSE(c.answered_at_once);
  ASSERT_TRUE(c.answered);
  ASSERT_TRUE(c.result.verdict.local_response);
  EXPECT_EQ(c.result.verdict.local_response->result_int(), 503u);
}

TEST(RequestGateTest, ExtractBearer) {
  struct Case {
    std::string scenario;
    std::vector<std::string> values;
    CredentialKind kind;
    std::string token;
  };
  const std::vector<Case> cases = {
      {"none", {}, CredentialKind::kNone, ""},
      {"bearer", {"Bearer abc.def-_~+/="}, CredentialKind::kBearer, "abc.def-_~+/="},
      {"BEARER, extra spaces", {"BEARER   abc  "}, CredentialKind::kBearer, "abc"},
      {"empty token", {"Bearer "}, CredentialKind::kInvalid, ""},
      {"no space", {"Bearerabc"}, CredentialKind::kInvalid, ""},
      {"two tokens in one header", {"Bearer a b"}, CredentialKind::kInvalid, ""},
      {"comma-joined", {"Bearer a, Bearer b"}, CredentialKind::kInvalid, ""},
      {"two headers", {"Bearer a", "Bearer a"}, CredentialKind::kInvalid, ""},
      {"basic", {"Basic YQ=="}, CredentialKind::kInvalid, ""},
      {"bearer in lowercase", {"bearer abc"}, CredentialKind::kBearer, "abc"},
      {"scheme with a non-ASCII byte", {"Be\xc3\xa4rer abc"}, CredentialKind::kInvalid, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.scenario);
    RequestHead head = GateHarness::Head("GET", "h", "/");
    for (const std::string& v : c.values) head.insert(http::field::authorization, AsBeast(v));
    BearerCredential got = ExtractBearer(head);
    EXPECT_EQ(got.kind, c.kind);
    EXPECT_EQ(got.token, c.token);
  }
}

TEST(RequestGateTest, ExtractBearerFindsABadByteAnywhereInALongToken) {
  // The scan takes 16 bytes per step: a byte outside token68 must be caught
  // at every offset of a block and in the tail, and '=' only at the end.
  const std::string good =
      "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXN0dWZm-_~+/0123456789";
  const std::vector<std::string> bad_bytes = {" ",
                                              "\t",
                                              std::string(1, '\0'),
                                              "\x7f",
                                              "\x80",
                                              "\xff",
                                              ",",
                                              "\"",
                                              "=",
                                              ";",
                                              "\r\n",
                                              "@",
                                              "[",
                                              "`",
                                              "{",
                                              ":",
                                              std::string("/\0", 2)};
  for (size_t at = 0; at < good.size(); ++at) {
    for (const std::string& bad : bad_bytes) {
      std::string token = good;
      token.replace(at, 1, bad);
      SCOPED_TRACE("offset " + std::to_string(at) + ", byte " + std::to_string(bad[0] & 0xff));
      RequestHead head = GateHarness::Head("GET", "h", "/");
      head.insert(http::field::authorization, AsBeast("Bearer " + token));
      const BearerCredential got = ExtractBearer(head);
      // Beast trims the value's trailing whitespace; a space at the very end
      // is therefore gone before the scan, as for any header value.
      // A last '=' is token68 padding; spaces after the scheme are skipped.
      const bool last = at + 1 == good.size();
      const bool still_valid =
          (last && (bad == " " || bad == "\t" || bad == "=")) || (at == 0 && bad == " ");
      EXPECT_EQ(got.kind, still_valid ? CredentialKind::kBearer : CredentialKind::kInvalid);
    }
  }
  RequestHead head = GateHarness::Head("GET", "h", "/");
  head.insert(http::field::authorization, AsBeast("Bearer " + good + "=="));
  EXPECT_EQ(ExtractBearer(head).kind, CredentialKind::kBearer);
  EXPECT_EQ(ExtractBearer(head).token, good + "==");
}

TEST(RequestGateTest, RequestIdsAre32HexDigitsAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    const std::string id = NewRequestId();
    ASSERT_EQ(id.size(), 32u);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
    EXPECT_TRUE(seen.insert(id).second) << "repeated id " << id;
  }
  // Every hex digit shows up in every position over 10,000 ids (a stuck
  // nibble would be a broken formatter, not bad luck).
  for (size_t pos = 0; pos < 32; ++pos) {
    std::set<char> digits;
    for (const std::string& id : seen) digits.insert(id[pos]);
    EXPECT_EQ(digits.size(), 16u) << pos;
  }
}

}  // namespace
}  // namespace gatehouse::server
