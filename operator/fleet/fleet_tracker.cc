#include "operator/fleet/fleet_tracker.h"

#include <algorithm>
#include <set>

namespace gatehouse::fleet {

const char* ProxyStateName(ProxyState state) {
  switch (state) {
    case ProxyState::kInSync:
      return "in_sync";
    case ProxyState::kUnreachable:
      return "unreachable";
    case ProxyState::kStale:
      break;
  }
  return "stale";
}

void FleetTracker::SetMembers(const std::vector<std::string>& urls) {
  std::set<std::string> wanted(urls.begin(), urls.end());
  for (auto it = records_.begin(); it != records_.end();) {
    it = wanted.count(it->first) ? std::next(it) : records_.erase(it);
  }
  for (const std::string& url : wanted) records_.try_emplace(url);  // next_check = epoch: due
}

std::vector<std::string> FleetTracker::Due(const policy::FleetConfig& config, TimePoint now) const {
  std::vector<std::string> out;
  for (const auto& [url, record] : records_) {
    bool current = record.state == ProxyState::kInSync && record.version == config.version &&
                   record.sha256 == config.sha256;
    // An out-of-sync proxy that answered is pushed at once; an unreachable one
    // waits for its backoff; an in-sync one waits for its recheck.
    bool waiting = record.state == ProxyState::kUnreachable || current;
    if (!waiting || record.next_check <= now) out.push_back(url);
  }
  return out;
}

void FleetTracker::RecordReport(const std::string& url, int64_t version, const std::string& sha,
                                const policy::FleetConfig& config, TimePoint now) {
  auto it = records_.find(url);
  if (it == records_.end()) return;
  ProxyRecord& r = it->second;
  r.version = version;
  r.sha256 = sha;
  r.reachable = true;
  r.failures = 0;
  bool in_sync = version == config.version && sha == config.sha256;
  r.state = in_sync ? ProxyState::kInSync : ProxyState::kStale;
  r.next_check = now + recheck_;
}

void FleetTracker::RecordFailure(const std::string& url, TimePoint now, double r) {
  auto it = records_.find(url);
  if (it == records_.end()) return;
  ProxyRecord& rec = it->second;
  rec.reachable = false;
  rec.state = ProxyState::kUnreachable;
  rec.next_check = now + backoff_.Delay(rec.failures, r);
  ++rec.failures;
}

bool FleetTracker::NeedsQuery(const std::string& url, const policy::FleetConfig& config) const {
  auto it = records_.find(url);
  if (it == records_.end() || !it->second.reachable) return true;
  const ProxyRecord& r = it->second;
  return r.version == config.version && r.sha256 == config.sha256;
}

int64_t FleetTracker::VersionFloor(const std::string& sha) const {
  int64_t floor = 0;
  for (const auto& [url, r] : records_) {
    if (r.version == 0) continue;
    floor = std::max(floor, r.sha256 == sha ? r.version : r.version + 1);
  }
  return floor;
}

std::vector<reconcile::ProxyView> FleetTracker::View() const {
  std::vector<reconcile::ProxyView> out;
  for (const auto& [url, r] : records_) out.push_back({r.version, r.reachable});
  return out;
}

std::map<ProxyState, int> FleetTracker::Counts() const {
  std::map<ProxyState, int> out = {
      {ProxyState::kInSync, 0}, {ProxyState::kStale, 0}, {ProxyState::kUnreachable, 0}};
  for (const auto& [url, r] : records_) ++out[r.state];
  return out;
}

}  // namespace gatehouse::fleet
