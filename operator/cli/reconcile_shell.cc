#include "operator/cli/reconcile_shell.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <csignal>

namespace gatehouse::operator_cli {
namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop = true; }

}  // namespace

void InstallStopHandlers() {
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
}

bool StopRequested() { return g_stop.load(); }

ReconcileShell::ReconcileShell(OperatorMetrics& metrics, fleet::FleetPusher& pusher)
    : metrics_(metrics), pusher_(pusher) {
  pusher_.SetPushObserver([this](double seconds) { metrics_.push_duration.Observe(seconds); });
}

void ReconcileShell::SetCandidates(std::vector<reconcile::PolicyCandidate> candidates) {
  // Status writes come back as watch events that change nothing the render
  // reads (same keys, generations, shared models, errors): no render for those.
  if (result_ && !dirty_ && reconcile::SameCandidates(candidates_, candidates)) return;
  candidates_ = std::move(candidates);
  dirty_ = true;
}

void ReconcileShell::SetState(reconcile::RenderState state) {
  state_ = std::move(state);
  dirty_ = true;
}

const reconcile::RenderResult* ReconcileShell::Render() {
  // A proxy that holds a newer version than ours would refuse the push: go above it.
  bool floor_raised =
      result_ && tracker_.VersionFloor(result_->config.sha256) > result_->config.version;
  if (!dirty_ && !floor_raised) return result_ ? &*result_ : nullptr;
  auto start = std::chrono::steady_clock::now();
  // The last result goes first: its config (MBs at thousands of policies) is
  // never held next to the new one. Nothing reads it past this point; state_
  // carries what the next render needs.
  result_.reset();
  reconcile::RenderResult result = reconcile::RenderFleet(candidates_, state_);
  int64_t floor = tracker_.VersionFloor(result.config.sha256);
  if (floor > result.config.version) {
    result = {};  // as above: one config at a time
    result = reconcile::RenderFleet(candidates_, state_, floor);
  }
  state_ = std::move(result.state);  // held once: result_->state is left empty
  dirty_ = false;
  metrics_.reconcile_duration.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  metrics_.reconciles_ok.Increment();
  metrics_.config_version.Set(static_cast<double>(result.config.version));
  int accepted = 0;
  for (const auto& o : result.outcomes) accepted += o.accepted ? 1 : 0;
  metrics_.policies_accepted.Set(accepted);
  metrics_.policies_rejected.Set(static_cast<double>(result.outcomes.size() - accepted));
  if (result.changed) {
    spdlog::info("fleet config version {} sha256 {} ({} policies accepted, {} rejected)",
                 result.config.version, result.config.sha256.substr(0, 12), accepted,
                 result.outcomes.size() - accepted);
  }
  LogOutcomes(result);
  result_ = std::move(result);
  return &*result_;
}

void ReconcileShell::LogOutcomes(const reconcile::RenderResult& result) {
  std::map<std::string, std::string> now;
  for (const reconcile::PolicyOutcome& o : result.outcomes) {
    // Messages name fields and Secrets, never their values.
    std::string line = o.accepted ? "accepted (generation " + std::to_string(o.generation) + ")"
                                  : "rejected: " + o.reason + ": " + o.message;
    if (logged_[o.key] != line) {
      if (o.accepted) {
        spdlog::info("policy {} {}", o.key, line);
      } else {
        spdlog::warn("policy {} {}", o.key, line);
      }
    }
    now[o.key] = line;
  }
  for (const auto& [key, line] : logged_) {
    if (!now.count(key) && !line.empty()) spdlog::info("policy {} removed", key);
  }
  logged_ = std::move(now);
}

bool ReconcileShell::Push() {
  if (!result_) return false;
  fleet::PushRound round = pusher_.Sync(result_->config, &tracker_);
  for (const std::string& e : round.errors) spdlog::warn("push: {}", e);
  if (round.pushed > 0) {
    spdlog::info("pushed version {} to {} proxies", result_->config.version, round.pushed);
  }
  UpdateFleetMetrics();
  return round.checked > 0;
}

void ReconcileShell::UpdateFleetMetrics() {
  auto counts = tracker_.Counts();
  metrics_.proxies_in_sync.Set(counts[fleet::ProxyState::kInSync]);
  metrics_.proxies_stale.Set(counts[fleet::ProxyState::kStale]);
  metrics_.proxies_unreachable.Set(counts[fleet::ProxyState::kUnreachable]);
}

}  // namespace gatehouse::operator_cli
