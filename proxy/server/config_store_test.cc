#include "proxy/server/config_store.h"

#include <gtest/gtest.h>

#include "proxy/policy/fleet_config.h"
#include "proxy/policy/policy_engine.h"
#include "proxy/server/request_gate_test_util.h"

namespace gatehouse::server {
namespace {

using testing::FakeKeys;
using testing::ParseOrDie;
using testing::PolicyYaml;

std::string AppPolicy(const std::string& host, const std::string& extra = "") {
  return PolicyYaml("app", host, extra,
                    "    - {name: health, action: Allow, paths: [\"/health\"], from: {public: "
                    "true}}\n");
}

std::string Fleet(int64_t version, const std::string& yaml) {
  return policy::SerializeFleetConfig(policy::MakeFleetConfig(version, ParseOrDie(yaml)));
}

struct PushStep {
  std::string scenario;
  std::string body;
  StatusCode code;         // expected result code
  int64_t version_after;   // the version in force afterwards
  std::string host_after;  // a host the config in force routes
};

TEST(ConfigStoreTest, PushesSwapRejectOlderAndKeepTheOldOnErrors) {
  FakeKeys keys;
  ProxyMetrics metrics;
  ConfigStore store(keys, &metrics);
  EXPECT_EQ(store.Current(), nullptr);
  std::string v5 = Fleet(5, AppPolicy("a.example.com"));
  std::string tampered = v5;
  tampered.replace(tampered.find("a.example.com"), 13,
                   "b.example.com");  // sha256 no longer matches
  const std::vector<PushStep> steps = {
      {"first push", v5, StatusCode::kOk, 5, "a.example.com"},
      {"same push again is a no-op", v5, StatusCode::kOk, 5, "a.example.com"},
      {"newer version swaps", Fleet(7, AppPolicy("b.example.com")), StatusCode::kOk, 7,
       "b.example.com"},
      {"older version refused", Fleet(6, AppPolicy("c.example.com")),
       StatusCode::kFailedPrecondition, 7, "b.example.com"},
      {"same version, other content refused", Fleet(7, AppPolicy("c.example.com")),
       StatusCode::kFailedPrecondition, 7, "b.example.com"},
      {"sha256 mismatch", tampered, StatusCode::kInvalidArgument, 7, "b.example.com"},
      {"not JSON", "{{{", StatusCode::kInvalidArgument, 7, "b.example.com"},
      {"newer version, invalid policy inside",
       [] {
         policy::FleetConfig c = policy::MakeFleetConfig(9, ParseOrDie(AppPolicy("d.example.com")));
         c.content.replace(c.content.find("d.example.com"), 13, "D..bad host");
         c.sha256 = policy::Sha256Hex(c.content);
         return policy::SerializeFleetConfig(c);
       }(),
       StatusCode::kInvalidArgument, 7, "b.example.com"},
  };
  for (const PushStep& step : steps) {
    SCOPED_TRACE(step.scenario);
    StatusOr<ConfigVersion> result = store.ApplyFleetConfig(step.body);
    EXPECT_EQ(result.ok() ? StatusCode::kOk : result.status().code(), step.code)
        << (result.ok() ? "" : result.status().message());
    std::shared_ptr<const FleetSnapshot> current = store.Current();
    ASSERT_NE(current, nullptr);
    EXPECT_EQ(current->version, step.version_after);
    EXPECT_NE(policy::Route(*current->policies, step.host_after, "/health"), nullptr);
  }
  const std::string text = metrics.Exposition();
  EXPECT_NE(text.find("gatehouse_config_version 7"), std::string::npos);
  EXPECT_NE(text.find(R"(gatehouse_config_applies_total{result="success"} 2)"), std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(gatehouse_config_applies_total{result="error"} 5)"), std::string::npos)
      << text;
}

TEST(ConfigStoreTest, ReadersKeepTheirSnapshotAcrossASwap) {
  FakeKeys keys;
  ConfigStore store(keys, nullptr);
  ASSERT_TRUE(store.ApplyPolicies(ParseOrDie(AppPolicy("a.example.com"))).ok());
  std::shared_ptr<const FleetSnapshot> held = store.Current();
  ASSERT_TRUE(store.ApplyPolicies(ParseOrDie(AppPolicy("b.example.com"))).ok());
  EXPECT_NE(policy::Route(*held->policies, "a.example.com", "/health"), nullptr);
  EXPECT_EQ(held->version, 1);
  EXPECT_EQ(store.Current()->version, 2);
  // The same content again changes nothing (no version bump).
  StatusOr<ConfigVersion> again = store.ApplyPolicies(ParseOrDie(AppPolicy("b.example.com")));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->changed);
  EXPECT_EQ(store.Current()->version, 2);
}

TEST(ConfigStoreTest, ConflictingLocalPoliciesAreRejectedWhole) {
  FakeKeys keys;
  ConfigStore store(keys, nullptr);
  ASSERT_TRUE(store.ApplyPolicies(ParseOrDie(AppPolicy("a.example.com"))).ok());
  std::string two =
      AppPolicy("x.example.com") +
      PolicyYaml("other", "x.example.com", "", "    - {name: r, action: Allow, from: {}}\n");
  StatusOr<ConfigVersion> result = store.ApplyPolicies(ParseOrDie(two));
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(store.Current()->version, 1);
}

TEST(ConfigStoreTest, SnapshotCompilesUpstreamsAndKeepsRateBuckets) {
  FakeKeys keys;
  ConfigStore store(keys, nullptr);
  const std::string limited = "  rateLimit: {requestsPerMinute: 60, burst: 5}\n";
  ASSERT_TRUE(store.ApplyPolicies(ParseOrDie(AppPolicy("a.example.com", limited))).ok());
  std::shared_ptr<const FleetSnapshot> first = store.Current();
  const PolicyRuntime* rt1 = first->RuntimeFor(first->policies->FindByKey("team/app"));
  ASSERT_NE(rt1, nullptr);
  EXPECT_EQ(rt1->upstream->host, "127.0.0.1");
  EXPECT_EQ(rt1->upstream->port, 9000);
  EXPECT_EQ(rt1->upstream->base_path, "/base");
  EXPECT_EQ(rt1->upstream->pool_key, "http://127.0.0.1:9000");
  ASSERT_NE(rt1->rate_limiter, nullptr);
  ASSERT_TRUE(store
                  .ApplyPolicies(ParseOrDie(
                      AppPolicy("a.example.com", limited) +
                      PolicyYaml("p2", "z.example.com", "", "    - {name: r, action: Allow}\n")))
                  .ok());
  std::shared_ptr<const FleetSnapshot> second = store.Current();
  const PolicyRuntime* rt2 = second->RuntimeFor(second->policies->FindByKey("team/app"));
  EXPECT_EQ(rt2->rate_limiter, rt1->rate_limiter);  // same spec: buckets carry over
}

// A policy on `host` trusting the issuer config given as YAML flow mapping.
std::string IssuerPolicy(const std::string& name, const std::string& issuer_flow) {
  return "apiVersion: gatehouse.dev/v1alpha1\nkind: AccessPolicy\n"
         "metadata: {name: " +
         name + ", namespace: team}\nspec:\n  hosts: [" + name +
         ".example.com]\n  upstream: {url: \"http://127.0.0.1:9000\"}\n"
         "  authentication: {issuers: [" +
         issuer_flow + "]}\n  rules:\n    - {name: r, action: Allow, from: {groups: [a]}}\n---\n";
}

// Policies share a TokenAuthenticator (and so token cache entries) only when
// every field of every trusted issuer config is equal, and never across
// snapshots: a token verified for one audience or claim mapping must not be
// answered from the cache for a policy with another.
TEST(ConfigStoreTest, AuthenticatorsAreSharedOnlyForEqualIssuerConfigs) {
  const std::string idp = "issuer: https://idp.example.com, audiences: [gatehouse]";
  const std::string fleet =
      IssuerPolicy("a", "{" + idp + "}") + IssuerPolicy("b", "{" + idp + "}") +
      IssuerPolicy("other-aud", "{issuer: https://idp.example.com, audiences: [other]}") +
      IssuerPolicy("other-claim", "{" + idp + ", groupsClaim: roles}") +
      IssuerPolicy("two", "{" + idp + "}, {issuer: https://idp2.example.com, audiences: [x]}") +
      IssuerPolicy("two-again",
                   "{" + idp + "}, {issuer: https://idp2.example.com, audiences: [x]}") +
      IssuerPolicy("two-swapped",
                   "{issuer: https://idp2.example.com, audiences: [x]}, {" + idp + "}");
  FakeKeys keys;
  ConfigStore store(keys, nullptr);
  ASSERT_TRUE(store.ApplyPolicies(ParseOrDie(fleet)).ok());
  std::shared_ptr<const FleetSnapshot> s = store.Current();
  auto auth_of = [&](const std::string& name) -> const auth::TokenAuthenticator* {
    const PolicyRuntime* rt = s->RuntimeFor(s->policies->FindByKey("team/" + name));
    return rt == nullptr ? nullptr : rt->authenticator.get();
  };
  struct Pair {
    std::string scenario, x, y;
    bool shared;
  };
  const std::vector<Pair> pairs = {
      {"equal configs share", "a", "b", true},
      {"other audience does not", "a", "other-aud", false},
      {"other claim mapping does not", "a", "other-claim", false},
      {"equal two-issuer lists share", "two", "two-again", true},
      {"a subset does not", "a", "two", false},
      {"another order does not", "two", "two-swapped", false},
  };
  for (const Pair& p : pairs) {
    SCOPED_TRACE(p.scenario);
    ASSERT_NE(auth_of(p.x), nullptr);
    ASSERT_NE(auth_of(p.y), nullptr);
    EXPECT_EQ(auth_of(p.x) == auth_of(p.y), p.shared);
  }
  ASSERT_EQ(auth_of("a")->issuers().size(), 1u);
  EXPECT_EQ(auth_of("a")->issuers()[0].audiences, std::vector<std::string>{"gatehouse"});
  EXPECT_EQ(auth_of("other-aud")->issuers()[0].audiences, std::vector<std::string>{"other"});

  // A new snapshot builds new authenticators (new cache ids) even for equal configs.
  const auth::TokenAuthenticator* before = auth_of("a");
  const std::shared_ptr<const FleetSnapshot> old = s;  // keeps `before` alive
  ASSERT_TRUE(store.ApplyPolicies(ParseOrDie(fleet + IssuerPolicy("c", "{" + idp + "}"))).ok());
  s = store.Current();
  EXPECT_NE(auth_of("a"), before);
  EXPECT_EQ(auth_of("a"), auth_of("c"));
}

TEST(ConfigStoreTest, CompileUpstreamForAService) {
  policy::AccessPolicy p;
  p.namespace_name = "analytics";
  p.name = "metabase";
  p.spec.upstream.service = policy::ServiceRef{"metabase", 3000};
  StatusOr<UpstreamTarget> t = CompileUpstream(p);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->host, "metabase.analytics.svc.cluster.local");
  EXPECT_EQ(t->port, 3000);
  EXPECT_EQ(t->scheme, "http");
  EXPECT_EQ(t->host_header, "metabase.analytics.svc:3000");
  p.spec.upstream.service.reset();
  p.spec.upstream.url = "https://[::1]:8443/base/";
  t = CompileUpstream(p);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->host, "::1");
  EXPECT_EQ(t->host_header, "[::1]:8443");
  EXPECT_EQ(t->base_path, "/base");
  EXPECT_EQ(t->pool_key, "https://[::1]:8443");
}

}  // namespace
}  // namespace gatehouse::server
