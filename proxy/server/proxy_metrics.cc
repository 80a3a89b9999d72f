#include "proxy/server/proxy_metrics.h"

#include <prometheus/text_serializer.h>

#include <limits>
#include <sstream>

namespace gatehouse::server {
namespace {

// Gate overhead: tens of microseconds normally, milliseconds on a first key fetch.
const prometheus::Histogram::BucketBoundaries& GateBuckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
      0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5,   5};
  return kBuckets;
}

// Upstream: milliseconds for APIs up to the 10-minute Metabase export.
const prometheus::Histogram::BucketBoundaries& UpstreamBuckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};
  return kBuckets;
}

}  // namespace

PolicyMetrics::PolicyMetrics(ProxyMetrics& metrics, std::string policy_key,
                             std::vector<std::string> rule_names)
    : metrics_(metrics), policy_key_(std::move(policy_key)) {
  rule_names_.reserve(rule_names.size() + 1);
  rule_names_.emplace_back();
  for (std::string& name : rule_names) rule_names_.push_back(std::move(name));
}

PolicyMetrics::~PolicyMetrics() { delete[] cells_.load(std::memory_order_acquire); }

namespace {

// Loads a lazily resolved child, resolving it with `add` on first use.
// Family::Add is locked and returns the existing child for equal labels, so
// threads racing on first use store the same pointer.
template <typename Child, typename Add>
Child& Resolve(std::atomic<Child*>& slot, Add add) {
  Child* child = slot.load(std::memory_order_acquire);
  if (child == nullptr) {
    child = &add();
    slot.store(child, std::memory_order_release);
  }
  return *child;
}

}  // namespace

AtomicHistogram& PolicyMetrics::gate_duration() {
  return Resolve(gate_duration_,
                 [&]() -> AtomicHistogram& { return metrics_.request_duration_.For(policy_key_); });
}

AtomicHistogram& PolicyMetrics::upstream_duration() {
  return Resolve(upstream_duration_, [&]() -> AtomicHistogram& {
    return metrics_.upstream_duration_.For(policy_key_);
  });
}

AtomicHistogram::AtomicHistogram(const std::vector<double>& upper_bounds)
    : bounds_(upper_bounds), counts_(new std::atomic<uint64_t>[upper_bounds.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void AtomicHistogram::Observe(double value) {
  // The first bucket whose upper bound holds the value (le is inclusive);
  // the last, +Inf, otherwise (NaN too, as prometheus-cpp does). Sixteen
  // bounds: a short scan.
  size_t bucket = 0;
  while (bucket < bounds_.size() && !(bounds_[bucket] >= value)) ++bucket;
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  double sum = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(sum, sum + value, std::memory_order_relaxed)) {
  }
}

prometheus::ClientMetric::Histogram AtomicHistogram::Read() const {
  prometheus::ClientMetric::Histogram out;
  uint64_t cumulative = 0;
  out.bucket.reserve(bounds_.size() + 1);
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    prometheus::ClientMetric::Bucket b;
    b.cumulative_count = cumulative;
    b.upper_bound = i < bounds_.size() ? bounds_[i] : std::numeric_limits<double>::infinity();
    out.bucket.push_back(b);
  }
  out.sample_count = cumulative;
  out.sample_sum = sum_.load(std::memory_order_relaxed);
  return out;
}

AtomicHistogram& ProxyMetrics::HistogramFamily::For(const std::string& policy) {
  std::lock_guard lock(mu);
  std::unique_ptr<AtomicHistogram>& slot = by_policy[policy];
  if (slot == nullptr) slot = std::make_unique<AtomicHistogram>(*bounds);
  return *slot;
}

void ProxyMetrics::HistogramFamily::CollectInto(std::vector<prometheus::MetricFamily>& out) const {
  std::lock_guard lock(mu);
  if (by_policy.empty()) return;
  prometheus::MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = prometheus::MetricType::Histogram;
  for (const auto& [policy, histogram] : by_policy) {
    prometheus::ClientMetric metric;
    metric.label.push_back({"policy", policy});
    metric.histogram = histogram->Read();
    family.metric.push_back(std::move(metric));
  }
  out.push_back(std::move(family));
}

prometheus::Counter& PolicyMetrics::rate_limited() {
  return Resolve(rate_limited_, [&]() -> prometheus::Counter& {
    return metrics_.rate_limited_->Add({{"policy", policy_key_}});
  });
}

std::atomic<prometheus::Counter*>* PolicyMetrics::Cells() {
  std::atomic<prometheus::Counter*>* cells = cells_.load(std::memory_order_acquire);
  if (cells != nullptr) return cells;
  const size_t count = rule_names_.size() * kReasons * 2;
  auto fresh = std::make_unique<std::atomic<prometheus::Counter*>[]>(count);
  for (size_t i = 0; i < count; ++i) fresh[i].store(nullptr, std::memory_order_relaxed);
  // Two threads may race on the first decision: one table wins, the other is freed.
  if (cells_.compare_exchange_strong(cells, fresh.get(), std::memory_order_acq_rel,
                                     std::memory_order_acquire)) {
    return fresh.release();
  }
  return cells;
}

size_t PolicyMetrics::RuleSlot(std::string_view rule) const {
  for (size_t i = 1; i < rule_names_.size(); ++i) {
    if (rule_names_[i] == rule) return i;
  }
  return 0;
}

prometheus::Counter& PolicyMetrics::Decision(const policy::Decision& decision) {
  const size_t slot = RuleSlot(decision.rule);
  const size_t index =
      (slot * kReasons + static_cast<size_t>(decision.reason)) * 2 + (decision.allow ? 1 : 0);
  // First use of this label set in this snapshot: resolved once, then cached.
  return Resolve(Cells()[index], [&]() -> prometheus::Counter& {
    return metrics_.decisions_->Add({{"policy", policy_key_},
                                     {"rule", rule_names_[slot]},
                                     {"decision", std::string(decision.DecisionLabel())},
                                     {"reason", std::string(decision.ReasonLabel())}});
  });
}

ProxyMetrics::ProxyMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  namespace n = metric_names;
  decisions_ = &prometheus::BuildCounter()
                    .Name(n::kDecisions)
                    .Help("Requests decided by the gate, by policy, rule, decision and reason.")
                    .Register(*registry_);
  request_duration_.name = n::kRequestDuration;
  request_duration_.help = "Time the gate spent deciding a request (excluding upstream).";
  request_duration_.bounds = &GateBuckets();
  upstream_duration_.name = n::kUpstreamDuration;
  upstream_duration_.help = "Time from sending a request upstream to the end of its response.";
  upstream_duration_.bounds = &UpstreamBuckets();
  config_version_ = &prometheus::BuildGauge()
                         .Name(n::kConfigVersion)
                         .Help("Version of the fleet config in force (0: none).")
                         .Register(*registry_)
                         .Add({});
  auto& applies = prometheus::BuildCounter()
                      .Name(n::kConfigApplies)
                      .Help("Config loads and pushes, by result.")
                      .Register(*registry_);
  applies_success_ = &applies.Add({{"result", "success"}});
  applies_error_ = &applies.Add({{"result", "error"}});
  jwks_fetches_ = &prometheus::BuildCounter()
                       .Name(n::kJwksFetches)
                       .Help("JWKS fetches, by issuer and result.")
                       .Register(*registry_);
  rate_limited_ = &prometheus::BuildCounter()
                       .Name(n::kRateLimited)
                       .Help("Requests refused by the rate limiter, by policy.")
                       .Register(*registry_);
  unrouted_ = std::make_unique<PolicyMetrics>(
      *this, "", std::vector<std::string>{std::string(kFleetJwksRule)});
}

std::unique_ptr<PolicyMetrics> ProxyMetrics::ForPolicy(std::string policy_key,
                                                       std::vector<std::string> rule_names) {
  return std::make_unique<PolicyMetrics>(*this, std::move(policy_key), std::move(rule_names));
}

void ProxyMetrics::ConfigApplied(bool ok, int64_t version) {
  if (ok) {
    applies_success_->Increment();
    config_version_->Set(static_cast<double>(version));
  } else {
    applies_error_->Increment();
  }
}

void ProxyMetrics::JwksFetched(std::string_view issuer, std::string_view result) {
  jwks_fetches_->Add({{"issuer", std::string(issuer)}, {"result", std::string(result)}})
      .Increment();
}

std::string ProxyMetrics::Exposition() const {
  // The registry's families, then the histograms: the order prometheus-cpp
  // gave when they were its own (counters, gauges, histograms).
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  request_duration_.CollectInto(families);
  upstream_duration_.CollectInto(families);
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace gatehouse::server
