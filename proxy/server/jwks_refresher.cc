#include "proxy/server/jwks_refresher.h"

#include <algorithm>

namespace gatehouse::server {

JwksRefresher::JwksRefresher(auth::JwksCache& cache, const TimeSource& time, ProxyMetrics* metrics)
    : cache_(cache), time_(time) {
  if (metrics != nullptr) {
    cache_.SetFetchResultHook([metrics](std::string_view issuer, std::string_view result) {
      metrics->JwksFetched(issuer, result);
    });
  }
}

JwksRefresher::~JwksRefresher() { Stop(); }

void JwksRefresher::Track(const FleetSnapshot& snapshot) {
  for (const auto& [policy, runtime] : snapshot.runtimes) {
    if (runtime->authenticator == nullptr) continue;
    for (const auth::IssuerConfig& config : runtime->authenticator->issuers()) {
      cache_.Track(config);
    }
  }
}

void JwksRefresher::Start() {
  if (running_.exchange(true)) return;
  thread_ = std::thread([this] {
    while (running_.load()) {
      const auto next = cache_.RunDueFetches();
      const auto wait = std::max<std::chrono::nanoseconds>(
          std::chrono::milliseconds(1),
          std::min<std::chrono::nanoseconds>(next - time_.MonotonicNow(), std::chrono::seconds(1)));
      cache_.WaitForWork(wait);
    }
  });
}

void JwksRefresher::Stop() {
  if (!running_.exchange(false)) return;
  cache_.Shutdown();
  if (thread_.joinable()) thread_.join();
}

}  // namespace gatehouse::server
