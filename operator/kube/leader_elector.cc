#include "operator/kube/leader_elector.h"

#include <ctime>
#include <thread>

#include "operator/kube/kube_writer.h"

namespace gatehouse::kube {
namespace {

using nlohmann::json;

std::string Text(const json& spec, const char* key) {
  auto it = spec.find(key);
  return it != spec.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

std::string FormatMicroTime(std::chrono::system_clock::time_point t) {
  auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count() % 1000000;
  std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char head[32];
  std::strftime(head, sizeof(head), "%Y-%m-%dT%H:%M:%S", &utc);
  char out[48];
  std::snprintf(out, sizeof(out), "%s.%06lldZ", head, static_cast<long long>(micros));
  return out;
}

LeaderElector::LeaderElector(KubeTransport& transport, LeaseOptions options, const TimeSource& time)
    : transport_(transport), options_(std::move(options)), time_(time) {}

std::string LeaderElector::LeasePath(bool collection) const {
  return ResourcePath("/apis/coordination.k8s.io/v1", options_.ns, "leases",
                      collection ? "" : options_.name);
}

json LeaderElector::NewLease(const json* current, bool renew) const {
  std::string now = FormatMicroTime(time_.Now());
  json lease = current != nullptr
                   ? *current
                   : json{{"apiVersion", "coordination.k8s.io/v1"},
                          {"kind", "Lease"},
                          {"metadata", {{"name", options_.name}, {"namespace", options_.ns}}},
                          {"spec", json::object()}};
  json& spec = lease["spec"];
  int transitions = spec.value("leaseTransitions", 0);
  if (!renew) {
    spec["acquireTime"] = now;
    if (current != nullptr) ++transitions;
  }
  spec["holderIdentity"] = options_.identity;
  spec["leaseDurationSeconds"] = static_cast<int>(options_.lease_duration.count());
  spec["renewTime"] = now;
  spec["leaseTransitions"] = transitions;
  return lease;
}

bool LeaderElector::Write(const json& lease, bool create) {
  StatusOr<KubeResponse> r = create ? transport_.Send("POST", LeasePath(true), lease.dump())
                                    : transport_.Send("PUT", LeasePath(false), lease.dump());
  // 409: someone else wrote first (optimistic concurrency); they win this round.
  return r.ok() && (r->status == 200 || r->status == 201);
}

bool LeaderElector::TryAcquireOrRenew() {
  auto mono = time_.MonotonicNow();
  StatusOr<KubeResponse> r = transport_.Send("GET", LeasePath(false), "");
  bool ok = false;
  if (r.ok() && r->status == 404) {
    ok = Write(NewLease(nullptr, false), /*create=*/true);
  } else if (r.ok() && r->status == 200) {
    json lease = json::parse(r->body, nullptr, false);
    if (lease.is_object()) {
      json spec = lease.value("spec", json::object());
      std::string holder = Text(spec, "holderIdentity");
      std::string record = holder + "|" + Text(spec, "renewTime");
      if (record != observed_record_) {
        observed_record_ = record;
        observed_at_ = mono;
      }
      bool mine = holder == options_.identity;
      bool expired = holder.empty() || mono - observed_at_ > options_.lease_duration;
      // Deny by default: someone else's live lease is never taken.
      if (mine || expired) ok = Write(NewLease(&lease, mine), /*create=*/false);
    }
  }
  if (ok) {
    last_renew_ = mono;
    observed_at_ = mono;
    leading_ = true;
  } else if (leading_ && mono - last_renew_ > options_.renew_deadline) {
    // Could not renew in time: stop acting before the lease runs out for others.
    leading_ = false;
  } else if (leading_ && r.ok() && r->status == 200 && !ok) {
    // The lease was read and is held by someone else: we lost it.
    json lease = json::parse(r->body, nullptr, false);
    if (lease.is_object() &&
        Text(lease.value("spec", json::object()), "holderIdentity") != options_.identity) {
      leading_ = false;
    }
  }
  return leading_;
}

void LeaderElector::Run(const std::function<void(bool)>& on_change) {
  bool was = leading_;
  while (!stop_) {
    bool now = TryAcquireOrRenew();
    if (now != was && on_change) on_change(now);
    was = now;
    std::this_thread::sleep_for(options_.retry_period);
  }
}

void LeaderElector::Release() {
  if (!leading_) return;
  leading_ = false;
  StatusOr<KubeResponse> r = transport_.Send("GET", LeasePath(false), "");
  if (!r.ok() || r->status != 200) return;
  json lease = json::parse(r->body, nullptr, false);
  if (!lease.is_object() || Text(lease["spec"], "holderIdentity") != options_.identity) return;
  lease["spec"]["holderIdentity"] = "";
  (void)transport_.Send("PUT", LeasePath(false), lease.dump());  // best effort
}

}  // namespace gatehouse::kube
