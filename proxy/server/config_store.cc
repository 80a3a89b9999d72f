#include "proxy/server/config_store.h"

#include "proxy/policy/fleet_config.h"

namespace gatehouse::server {

ConfigStore::ConfigStore(auth::KeyProvider& keys, ProxyMetrics* metrics, size_t rate_limit_max_keys)
    : keys_(keys), metrics_(metrics), rate_limit_max_keys_(rate_limit_max_keys) {}

StatusOr<ConfigVersion> ConfigStore::Count(StatusOr<ConfigVersion> result) {
  if (metrics_ != nullptr && (!result.ok() || result->changed)) {
    metrics_->ConfigApplied(result.ok(), result.ok() ? result->version : 0);
  }
  return result;
}

StatusOr<ConfigVersion> ConfigStore::ApplyFleetConfig(std::string_view bytes) {
  std::lock_guard<std::mutex> lock(apply_mu_);
  StatusOr<policy::FleetConfigView> envelope = policy::ParseFleetConfigEnvelopeView(bytes);
  if (!envelope.ok()) return Count(InvalidArgumentError(envelope.status().message()));
  const std::shared_ptr<const FleetSnapshot> current = current_.load();
  if (current != nullptr) {
    if (envelope->version == current->version && envelope->sha256 == current->sha256) {
      return ConfigVersion{current->version, current->sha256, false};  // already in force
    }
    // Security: never roll back. An older (replayed) push, or another config
    // under the version in force, is refused; the operator must bump the version.
    if (envelope->version <= current->version) {
      return Count(FailedPreconditionError("version " + std::to_string(envelope->version) +
                                           " is not newer than version " +
                                           std::to_string(current->version) + " in force"));
    }
  }
  StatusOr<std::vector<policy::AccessPolicy>> policies =
      policy::ParseFleetConfigContent(envelope->content);
  if (!policies.ok()) return Count(InvalidArgumentError(policies.status().message()));
  return Count(Swap(envelope->version, envelope->sha256, std::move(*policies)));
}

StatusOr<ConfigVersion> ConfigStore::ApplyPolicies(std::vector<policy::AccessPolicy> policies) {
  std::lock_guard<std::mutex> lock(apply_mu_);
  const std::shared_ptr<const FleetSnapshot> current = current_.load();
  const std::string sha256 = policy::Sha256Hex(policy::RenderFleetConfigContent(policies));
  if (current != nullptr && current->sha256 == sha256) {
    return ConfigVersion{current->version, current->sha256, false};
  }
  const int64_t version = current == nullptr ? 1 : current->version + 1;
  return Count(Swap(version, sha256, std::move(policies)));
}

StatusOr<ConfigVersion> ConfigStore::Swap(int64_t version, std::string sha256,
                                          std::vector<policy::AccessPolicy> policies) {
  const std::shared_ptr<const FleetSnapshot> previous = current_.load();
  SnapshotDeps deps{keys_, metrics_, rate_limit_max_keys_};
  StatusOr<std::shared_ptr<const FleetSnapshot>> snapshot =
      BuildFleetSnapshot(version, sha256, std::move(policies), deps, previous.get());
  if (!snapshot.ok()) return snapshot.status();
  if (hook_) hook_(**snapshot);  // e.g. track the new issuers before traffic arrives
  current_.store(*snapshot);
  return ConfigVersion{version, std::move(sha256), true};
}

}  // namespace gatehouse::server
