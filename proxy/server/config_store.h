// ConfigStore: holds the config in force as an immutable FleetSnapshot and
// swaps it atomically. Sources: local policy files (ApplyPolicies), the
// bootstrap file and operator pushes (ApplyFleetConfig).
//
//   ConfigStore store(jwks_cache, &metrics);
//   store.SetApplyHook([&](const FleetSnapshot& s) { refresher.Track(s); });
//   StatusOr<ConfigVersion> v = store.ApplyFleetConfig(body);   // PUT /v1/config
//     kInvalidArgument    -> 400, the old config stays in force
//     kFailedPrecondition -> 409, older than (or conflicting with) the version in force
//   std::shared_ptr<const FleetSnapshot> s = store.Current();   // once per request; null: none yet
//
// Every apply counts in gatehouse_config_applies_total{result} and moves
// gatehouse_config_version. Applying the config already in force (same
// version and sha256, or in local mode the same content) changes nothing.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/auth/key_provider.h"
#include "proxy/core/status.h"
#include "proxy/policy/access_policy.h"
#include "proxy/server/fleet_snapshot.h"
#include "proxy/server/proxy_metrics.h"

namespace gatehouse::server {

struct ConfigVersion {
  int64_t version = 0;
  std::string sha256;
  bool changed = false;  // false: the same config was already in force
};

class ConfigStore {
 public:
  using ApplyHook = std::function<void(const FleetSnapshot&)>;

  // `keys` and `metrics` (may be null) must outlive the store.
  ConfigStore(auth::KeyProvider& keys, ProxyMetrics* metrics,
              size_t rate_limit_max_keys = kDefaultRateLimitKeys);

  // Called (under the apply lock) after each successful swap; set it before the first apply.
  void SetApplyHook(ApplyHook hook) { hook_ = std::move(hook); }

  // A serialized fleet config (envelope with version and sha256).
  StatusOr<ConfigVersion> ApplyFleetConfig(std::string_view bytes);
  // Local mode: already parsed policies; the version is the previous one + 1
  // and the sha256 that of their canonical fleet rendering.
  StatusOr<ConfigVersion> ApplyPolicies(std::vector<policy::AccessPolicy> policies);

  std::shared_ptr<const FleetSnapshot> Current() const { return current_.load(); }

 private:
  StatusOr<ConfigVersion> Swap(int64_t version, std::string sha256,
                               std::vector<policy::AccessPolicy> policies);
  StatusOr<ConfigVersion> Count(StatusOr<ConfigVersion> result);

  auth::KeyProvider& keys_;
  ProxyMetrics* metrics_;
  size_t rate_limit_max_keys_;
  ApplyHook hook_;
  std::mutex apply_mu_;  // serializes applies; readers never take it
  std::atomic<std::shared_ptr<const FleetSnapshot>> current_;
};

}  // namespace gatehouse::server
