// ReconcileShell: the render -> push step both run modes share. Holds the
// current candidates, the render state and the fleet tracker; renders only
// when the inputs changed (or a proxy forces a higher version), logs each
// policy's acceptance when it changes, pushes, and keeps the metrics.
//
//   ReconcileShell shell(metrics, pusher);
//   shell.SetCandidates(ParsePolicyCandidates(objects, secrets));
//   shell.RenderAndPush();
#pragma once

#include <atomic>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "operator/cli/operator_metrics.h"
#include "operator/fleet/fleet_pusher.h"
#include "operator/fleet/fleet_tracker.h"
#include "operator/reconcile/fleet_renderer.h"

namespace gatehouse::operator_cli {

class ReconcileShell {
 public:
  ReconcileShell(OperatorMetrics& metrics, fleet::FleetPusher& pusher);

  void SetCandidates(std::vector<reconcile::PolicyCandidate> candidates);
  void SetState(reconcile::RenderState state);
  // Renders when needed; the result of the last render (null before the first).
  const reconcile::RenderResult* Render();
  // True when any proxy was checked (its state may have moved).
  bool Push();
  void RenderAndPush() {
    if (Render() != nullptr) Push();
  }
  fleet::FleetTracker& tracker() { return tracker_; }

 private:
  void LogOutcomes(const reconcile::RenderResult& result);
  void UpdateFleetMetrics();

  OperatorMetrics& metrics_;
  fleet::FleetPusher& pusher_;
  fleet::FleetTracker tracker_;
  std::vector<reconcile::PolicyCandidate> candidates_;
  bool dirty_ = false;
  reconcile::RenderState state_;
  std::optional<reconcile::RenderResult> result_;
  std::map<std::string, std::string> logged_;  // key -> last logged outcome
};

void InstallStopHandlers();
bool StopRequested();

}  // namespace gatehouse::operator_cli
