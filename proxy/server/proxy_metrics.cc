#include "proxy/server/proxy_metrics.h"

#include <prometheus/text_serializer.h>

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
  const size_t cells = rule_names_.size() * kReasons * 2;
  cells_ = std::make_unique<std::atomic<prometheus::Counter*>[]>(cells);
  for (size_t i = 0; i < cells; ++i) cells_[i].store(nullptr, std::memory_order_relaxed);
  gate_duration_ = &metrics.request_duration_->Add({{"policy", policy_key_}}, GateBuckets());
  upstream_duration_ =
      &metrics.upstream_duration_->Add({{"policy", policy_key_}}, UpstreamBuckets());
  rate_limited_ = &metrics.rate_limited_->Add({{"policy", policy_key_}});
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
  prometheus::Counter* counter = cells_[index].load(std::memory_order_acquire);
  if (counter == nullptr) {
    // First use of this label set in this snapshot: Family::Add is locked and
    // returns the existing child for equal labels, so racing threads agree.
    counter = &metrics_.decisions_->Add({{"policy", policy_key_},
                                         {"rule", rule_names_[slot]},
                                         {"decision", std::string(decision.DecisionLabel())},
                                         {"reason", std::string(decision.ReasonLabel())}});
    cells_[index].store(counter, std::memory_order_release);
  }
  return *counter;
}

ProxyMetrics::ProxyMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  namespace n = metric_names;
  decisions_ = &prometheus::BuildCounter()
                    .Name(n::kDecisions)
                    .Help("Requests decided by the gate, by policy, rule, decision and reason.")
                    .Register(*registry_);
  request_duration_ = &prometheus::BuildHistogram()
                           .Name(n::kRequestDuration)
                           .Help("Time the gate spent deciding a request (excluding upstream).")
                           .Register(*registry_);
  upstream_duration_ =
      &prometheus::BuildHistogram()
           .Name(n::kUpstreamDuration)
           .Help("Time from sending a request upstream to the end of its response.")
           .Register(*registry_);
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
  unrouted_ = std::make_unique<PolicyMetrics>(*this, "", std::vector<std::string>{});
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
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry_->Collect());
  return out.str();
}

}  // namespace gatehouse::server
