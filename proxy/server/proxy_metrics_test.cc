#include "proxy/server/proxy_metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

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

// An idle policy exports nothing of its own (10,000 idle policies must not
// cost 10,000 histograms); each series appears on its first use, once.
TEST(ProxyMetricsTest, PerPolicySeriesAppearOnFirstUse) {
  ProxyMetrics metrics;
  auto pm = metrics.ForPolicy("ns/idle", {"r"});
  EXPECT_EQ(metrics.Exposition().find("ns/idle"), std::string::npos);
  struct Step {
    std::string name;
    std::function<void()> use;
    std::string series;
  };
  const std::vector<Step> steps = {
      {"gate duration", [&] { pm->gate_duration().Observe(0.001); },
       R"(gatehouse_request_duration_seconds_count{policy="ns/idle"} 1)"},
      {"upstream duration", [&] { pm->upstream_duration().Observe(0.01); },
       R"(gatehouse_upstream_duration_seconds_count{policy="ns/idle"} 1)"},
      {"rate limited", [&] { pm->rate_limited().Increment(); },
       R"(gatehouse_rate_limited_total{policy="ns/idle"} 1)"},
  };
  for (const Step& step : steps) {
    const std::string before = metrics.Exposition();
    EXPECT_EQ(before.find(step.series), std::string::npos) << step.name;
    step.use();
    EXPECT_NE(metrics.Exposition().find(step.series), std::string::npos) << step.name;
  }
  EXPECT_EQ(&pm->gate_duration(), &pm->gate_duration());
  EXPECT_EQ(&pm->rate_limited(), &pm->rate_limited());
}

// Threads racing on the first use of every child agree on one child each:
// no count is lost to a second, unexported child.
TEST(ProxyMetricsTest, RacingFirstUseLosesNoCount) {
  ProxyMetrics metrics;
  auto pm = metrics.ForPolicy("ns/race", {"r"});
  const policy::Decision d = MakeDecision(DecisionReason::kDeniedByRule, nullptr, "r");
  constexpr int kThreads = 8;
  constexpr int kEach = 1000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        pm->Decision(d).Increment();
        pm->rate_limited().Increment();
        pm->gate_duration().Observe(0.001);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const std::string total = std::to_string(kThreads * kEach);
  const std::string text = metrics.Exposition();
  EXPECT_NE(text.find(R"(gatehouse_rate_limited_total{policy="ns/race"} )" + total),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(gatehouse_request_duration_seconds_count{policy="ns/race"} )" + total),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(reason="denied_by_rule",rule="r"} )" + total), std::string::npos) << text;
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

TEST(AtomicHistogramTest, BucketsAreInclusiveCumulativeAndEndInInf) {
  const std::vector<double> bounds = {0.1, 1, 10};
  AtomicHistogram h(bounds);
  for (double v : {0.05, 0.1, 0.5, 1.0, 10.0, 11.0, std::nan("")}) h.Observe(v);
  const prometheus::ClientMetric::Histogram got = h.Read();
  ASSERT_EQ(got.bucket.size(), 4u);
  const std::vector<uint64_t> cumulative = {2, 4, 5, 7};  // le=0.1, 1, 10, +Inf
  for (size_t i = 0; i < got.bucket.size(); ++i) {
    EXPECT_EQ(got.bucket[i].cumulative_count, cumulative[i]) << i;
  }
  EXPECT_TRUE(std::isinf(got.bucket.back().upper_bound));
  EXPECT_EQ(got.sample_count, 7u);
  EXPECT_TRUE(std::isnan(got.sample_sum));  // as prometheus-cpp: NaN makes the sum NaN
}

TEST(AtomicHistogramTest, ConcurrentObservationsAreAllCounted) {
  ProxyMetrics metrics;
  auto pm = metrics.ForPolicy("ns/busy", {"r"});
  constexpr int kThreads = 4;
  constexpr int kEach = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) pm->gate_duration().Observe(0.5);  // exact in binary
    });
  }
  for (std::thread& t : threads) t.join();
  const prometheus::ClientMetric::Histogram got = pm->gate_duration().Read();
  EXPECT_EQ(got.sample_count, uint64_t{kThreads} * kEach);
  EXPECT_EQ(got.sample_sum, 0.5 * kThreads * kEach);
  const std::string text = metrics.Exposition();
  EXPECT_NE(text.find(R"(gatehouse_request_duration_seconds_count{policy="ns/busy"} 80000)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(gatehouse_request_duration_seconds_bucket{policy="ns/busy",le="0.25"} 0)"),
            std::string::npos);
  EXPECT_NE(
      text.find(R"(gatehouse_request_duration_seconds_bucket{policy="ns/busy",le="0.5"} 80000)"),
      std::string::npos);
}

TEST(AtomicHistogramTest, ANewSnapshotsPolicyMetricsKeepCounting) {
  // Histograms live as long as ProxyMetrics: a reload's PolicyMetrics for the
  // same policy continues the same series (counters only go up).
  ProxyMetrics metrics;
  auto first = metrics.ForPolicy("ns/p", {"r"});
  first->upstream_duration().Observe(0.01);
  auto second = metrics.ForPolicy("ns/p", {"r"});
  second->upstream_duration().Observe(0.01);
  EXPECT_EQ(&first->upstream_duration(), &second->upstream_duration());
  EXPECT_NE(
      metrics.Exposition().find(R"(gatehouse_upstream_duration_seconds_count{policy="ns/p"} 2)"),
      std::string::npos);
}

}  // namespace
}  // namespace gatehouse::server
