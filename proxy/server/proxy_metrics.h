// ProxyMetrics: the proxy's Prometheus metrics (PRODUCT.md section 6), names
// and labels declared here once, exposed in the text format for /metrics.
//
//   ProxyMetrics metrics;
//   std::unique_ptr<PolicyMetrics> pm = metrics.ForPolicy("ns/name", {"rule-a", "rule-b"});
//   pm->Decision(decision).Increment();       // label child resolved once, then cached
//   pm->gate_duration().Observe(seconds);
//   metrics.ConfigApplied(/*ok=*/true, /*version=*/42);
//   std::string text = metrics.Exposition();  // promtool check metrics clean
//
// PolicyMetrics belongs to one config snapshot: it resolves the children of
// its policy's label sets on first use and keeps them in atomic slots, so the
// request path does no string building or map lookups. Children (histograms
// included) and the decision slot table are created lazily, so only series
// that happened are exported and an idle policy costs a few dozen bytes, not
// two histograms' worth (~2 KB each; ~22 MB at 10,000 policies).
#pragma once

#include <prometheus/client_metric.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/policy/decision.h"

namespace gatehouse::server {

namespace metric_names {
inline constexpr char kDecisions[] = "gatehouse_decisions_total";
inline constexpr char kRequestDuration[] = "gatehouse_request_duration_seconds";
inline constexpr char kUpstreamDuration[] = "gatehouse_upstream_duration_seconds";
inline constexpr char kConfigVersion[] = "gatehouse_config_version";
inline constexpr char kConfigApplies[] = "gatehouse_config_applies_total";
inline constexpr char kJwksFetches[] = "gatehouse_jwks_fetches_total";
inline constexpr char kRateLimited[] = "gatehouse_rate_limited_total";
}  // namespace metric_names

// The rule label of the one decision the gate makes without a policy: the
// fleet JWKS answered on every fronted host (policy="", reason="allowed").
inline constexpr std::string_view kFleetJwksRule = "gatehouse_jwks";

class ProxyMetrics;

// A histogram observed without a lock: relaxed atomic bucket counters and sum
// (prometheus-cpp's Histogram takes a mutex on every Observe, one mutex per
// policy that every worker thread shares). Read into the exposition by
// ProxyMetrics, in prometheus-cpp's histogram form (cumulative buckets, +Inf,
// count, sum). Under concurrent observations a scrape may see an observation
// in the count and not yet in the sum; each series stays monotonic.
class AtomicHistogram {
 public:
  // `upper_bounds`: ascending, without +Inf; must outlive the histogram.
  explicit AtomicHistogram(const std::vector<double>& upper_bounds);
  AtomicHistogram(const AtomicHistogram&) = delete;
  AtomicHistogram& operator=(const AtomicHistogram&) = delete;

  void Observe(double value);
  prometheus::ClientMetric::Histogram Read() const;

 private:
  const std::vector<double>& bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket, +Inf last; not cumulative
  std::atomic<double> sum_{0};
};

class PolicyMetrics {
 public:
  PolicyMetrics(ProxyMetrics& metrics, std::string policy_key, std::vector<std::string> rule_names);
  ~PolicyMetrics();
  PolicyMetrics(const PolicyMetrics&) = delete;
  PolicyMetrics& operator=(const PolicyMetrics&) = delete;

  // gatehouse_decisions_total{policy, rule, decision, reason} for this decision
  // (its rule must be one of the rule names, or "").
  prometheus::Counter& Decision(const policy::Decision& decision);
  // gatehouse_request_duration_seconds / gatehouse_upstream_duration_seconds /
  // gatehouse_rate_limited_total{policy}: the series appears on first use.
  AtomicHistogram& gate_duration();
  AtomicHistogram& upstream_duration();
  prometheus::Counter& rate_limited();

 private:
  static constexpr size_t kReasons = policy::kDecisionReasonCount;
  size_t RuleSlot(std::string_view rule) const;
  std::atomic<prometheus::Counter*>* Cells();

  ProxyMetrics& metrics_;
  std::string policy_key_;
  std::vector<std::string> rule_names_;  // slot 0 is "" (no rule)
  // [slot][reason][allow]: resolved children, filled on first use. The array
  // itself is allocated by the first Decision() (owned; freed by the destructor).
  std::atomic<std::atomic<prometheus::Counter*>*> cells_{nullptr};
  std::atomic<AtomicHistogram*> gate_duration_{nullptr};
  std::atomic<AtomicHistogram*> upstream_duration_{nullptr};
  std::atomic<prometheus::Counter*> rate_limited_{nullptr};
};

class ProxyMetrics {
 public:
  ProxyMetrics();

  std::unique_ptr<PolicyMetrics> ForPolicy(std::string policy_key,
                                           std::vector<std::string> rule_names);
  // For decisions with no policy (no_route, bad_request).
  // Decisions made before or without a policy (bad_request, no_route, the
  // fleet JWKS): policy="", rule "" or kFleetJwksRule.
  PolicyMetrics& Unrouted() { return *unrouted_; }

  void ConfigApplied(bool ok, int64_t version);
  void JwksFetched(std::string_view issuer, std::string_view result);

  std::string Exposition() const;
  prometheus::Registry& registry() { return *registry_; }

 private:
  friend class PolicyMetrics;

  // The per-policy histograms of one metric name, kept for the life of the
  // ProxyMetrics (a new snapshot's PolicyMetrics finds its policy's again).
  struct HistogramFamily {
    std::string name;
    std::string help;
    const std::vector<double>* bounds = nullptr;
    mutable std::mutex mu;  // creation and reading only; never on Observe
    std::map<std::string, std::unique_ptr<AtomicHistogram>, std::less<>> by_policy;

    AtomicHistogram& For(const std::string& policy);
    // No family when no series happened (as prometheus-cpp's families do).
    void CollectInto(std::vector<prometheus::MetricFamily>& out) const;
  };

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* decisions_;
  HistogramFamily request_duration_;
  HistogramFamily upstream_duration_;
  prometheus::Gauge* config_version_;
  prometheus::Counter* applies_success_;
  prometheus::Counter* applies_error_;
  prometheus::Family<prometheus::Counter>* jwks_fetches_;
  prometheus::Family<prometheus::Counter>* rate_limited_;
  std::unique_ptr<PolicyMetrics> unrouted_;
};

}  // namespace gatehouse::server
