#include "proxy/server/proxy_metrics.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "proxy/policy/decision.h"

namespace gatehouse::server {
namespace {

using policy::DecisionReason;
using policy::MakeDecision;

TEST(ProxyMetricsTest, ExpositionHasTheContractNamesAndLabels) {
  ProxyMetrics metrics;
  auto pm = metrics.ForPolicy("analytics/metabase", {"health", "analysts-read"});
  policy::Decision allowed = MakeDecision(DecisionReason::kAllowed, nullptr, "analysts-read");
  allowed.allow = true;
  pm->Decision(allowed).Increment();
  pm->Decision(allowed).Increment();
  pm->Decision(MakeDecision(DecisionReason::kNoCredentials, nullptr, "")).Increment();
  pm->gate_duration().Observe(0.00004);
  pm->upstream_duration().Observe(0.2);
  pm->rate_limited().Increment();
  metrics.Unrouted().Decision(MakeDecision(DecisionReason::kNoRoute, nullptr, "")).Increment();
  metrics.ConfigApplied(true, 42);
  metrics.ConfigApplied(false, 0);
  metrics.JwksFetched("https://idp.example.com", "success");
  const std::string text = metrics.Exposition();
  const std::vector<std::string> want = {
      R"(gatehouse_decisions_total{decision="allow",policy="analytics/metabase",reason="allowed",rule="analysts-read"} 2)",
      R"(gatehouse_decisions_total{decision="deny",policy="analytics/metabase",reason="no_credentials",rule=""} 1)",
      R"(gatehouse_decisions_total{decision="deny",policy="",reason="no_route",rule=""} 1)",
      R"(gatehouse_request_duration_seconds_bucket{policy="analytics/metabase",le="5e-05"} 1)",
      R"(gatehouse_upstream_duration_seconds_count{policy="analytics/metabase"} 1)",
      R"(gatehouse_config_version 42)",
      R"(gatehouse_config_applies_total{result="success"} 1)",
      R"(gatehouse_config_applies_total{result="error"} 1)",
      R"(gatehouse_jwks_fetches_total{issuer="https://idp.example.com",result="success"} 1)",
      R"(gatehouse_rate_limited_total{policy="analytics/metabase"} 1)",
  };
  for (const std::string& line : want) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n---\n" << text;
  }
  // Series that never happened are not exported.
  EXPECT_EQ(text.find("reason=\"denied_by_rule\""), std::string::npos);
}

TEST(ProxyMetricsTest, ChildrenAreResolvedOncePerLabelSet) {
  ProxyMetrics metrics;
  auto a = metrics.ForPolicy("ns/a", {"r"});
  auto again = metrics.ForPolicy("ns/a", {"r"});  // a later snapshot of the same policy
  policy::Decision d = MakeDecision(DecisionReason::kDeniedByRule, nullptr, "r");
  EXPECT_EQ(&a->Decision(d), &a->Decision(d));
  EXPECT_EQ(&a->Decision(d), &again->Decision(d));  // counts continue across reloads
  policy::Decision unknown_rule = MakeDecision(DecisionReason::kDeniedByRule, nullptr, "zzz");
  EXPECT_NE(&a->Decision(d), &a->Decision(unknown_rule));
}

#ifdef GATEHOUSE_PROMTOOL
TEST(ProxyMetricsTest, PromtoolCheckMetricsIsClean) {
  ProxyMetrics metrics;
  auto pm = metrics.ForPolicy("ns/p", {"rule-1"});
  policy::Decision allowed = MakeDecision(DecisionReason::kAllowed, nullptr, "rule-1");
  allowed.allow = true;
  pm->Decision(allowed).Increment();
  pm->gate_duration().Observe(0.001);
  pm->upstream_duration().Observe(0.01);
  pm->rate_limited().Increment();
  metrics.ConfigApplied(true, 3);
  metrics.JwksFetched("https://idp", "error");
  const std::string path = ::testing::TempDir() + "/gatehouse_metrics.txt";
  std::ofstream(path) << metrics.Exposition();
  const std::string command =
      std::string(GATEHOUSE_PROMTOOL) + " check metrics < " + path + " > " + path + ".out 2>&1";
  const int rc = std::system(command.c_str());
  std::ifstream out(path + ".out");
  std::string report((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>());
  EXPECT_EQ(rc, 0) << report;
}
#endif

}  // namespace
}  // namespace gatehouse::server
