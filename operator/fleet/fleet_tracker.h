// FleetTracker: what the operator knows about each proxy (the pure state
// machine behind FleetPusher). No I/O; the caller passes monotonic `now`.
//
//   tracker.SetMembers(ProxiesFromEndpointSlices(slices, "https"));
//   for (const std::string& url : tracker.Due(config, now)) results.push_back(PushOne(url));
//   tracker.RecordReport(url, version, sha, config, now);   // or RecordFailure(url, now, r)
//   ComputePolicyStatus(outcome, tracker.View(), ...);
//
// States: in_sync (runs exactly the current config), stale (answers but runs
// another one), unreachable (no answer; retried with exponential backoff).
// New members are due at once; in-sync ones are re-checked every
// `recheck` interval so drifted pods (restarted, edited) are found.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "operator/kube/backoff.h"
#include "operator/reconcile/policy_status.h"
#include "proxy/policy/fleet_config.h"

namespace gatehouse::fleet {

enum class ProxyState { kStale, kInSync, kUnreachable };
const char* ProxyStateName(ProxyState state);  // "stale", "in_sync", "unreachable"

struct ProxyRecord {
  int64_t version = 0;  // last reported
  std::string sha256;
  ProxyState state = ProxyState::kStale;
  bool reachable = false;
  int failures = 0;
  std::chrono::steady_clock::time_point next_check{};  // due when <= now
};

class FleetTracker {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  explicit FleetTracker(std::chrono::milliseconds recheck = std::chrono::seconds(5),
                        kube::Backoff backoff = {})
      : recheck_(recheck), backoff_(backoff) {}

  // Replaces the membership: new URLs are due at once, gone ones are forgotten.
  void SetMembers(const std::vector<std::string>& urls);
  // URLs to check/push now: not in sync with `config`, or due for a recheck.
  std::vector<std::string> Due(const policy::FleetConfig& config, TimePoint now) const;
  // A proxy answered and runs (version, sha).
  void RecordReport(const std::string& url, int64_t version, const std::string& sha,
                    const policy::FleetConfig& config, TimePoint now);
  // No answer (or a refused push): back off; `r` in [0,1) is the jitter.
  void RecordFailure(const std::string& url, TimePoint now, double r);
  // Whether a check of `url` asks the proxy which config it runs before
  // pushing: yes when nothing reliable is known (new, unreachable last time,
  // not a member) and for the recheck of a proxy that reported `config`. A
  // proxy that answered and runs another config is pushed at once: its answer
  // (200, or 409 naming a newer version) is the report, so a change costs one
  // round trip instead of two.
  bool NeedsQuery(const std::string& url, const policy::FleetConfig& config) const;

  // The lowest version the next config may carry so that no proxy refuses it
  // as older: a proxy on our sha keeps its version, any other needs one above.
  int64_t VersionFloor(const std::string& sha) const;
  std::vector<reconcile::ProxyView> View() const;
  std::map<ProxyState, int> Counts() const;
  const std::map<std::string, ProxyRecord>& records() const { return records_; }

 private:
  std::chrono::milliseconds recheck_;
  kube::Backoff backoff_;
  std::map<std::string, ProxyRecord> records_;
};

}  // namespace gatehouse::fleet
