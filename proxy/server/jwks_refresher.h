// JwksRefresher: the control-plane thread that keeps every trusted issuer's
// keys fresh (JwksCache::RunDueFetches / WaitForWork) and counts fetches in
// gatehouse_jwks_fetches_total{issuer,result}.
//
//   JwksCache cache(fetcher, time, jitter);
//   JwksRefresher refresher(cache, time, &metrics);   // sets the fetch hook
//   store.SetApplyHook([&](const FleetSnapshot& s) { refresher.Track(s); });
//   refresher.Start();
//   ...
//   refresher.Stop();                                 // also done by the destructor
#pragma once

#include <atomic>
#include <thread>

#include "proxy/auth/jwks_cache.h"
#include "proxy/core/time_source.h"
#include "proxy/server/fleet_snapshot.h"
#include "proxy/server/proxy_metrics.h"

namespace gatehouse::server {

class JwksRefresher {
 public:
  // Call before Start(): installs the metrics hook on `cache`.
  JwksRefresher(auth::JwksCache& cache, const TimeSource& time, ProxyMetrics* metrics);
  ~JwksRefresher();

  // Tracks every issuer of every policy of `snapshot` (idempotent per issuer).
  void Track(const FleetSnapshot& snapshot);
  void Start();
  void Stop();

 private:
  auth::JwksCache& cache_;
  const TimeSource& time_;
  std::atomic<bool> running_{false};
  std::thread thread_;
};

}  // namespace gatehouse::server
