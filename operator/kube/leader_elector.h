// LeaderElector: one active operator per fleet, through a
// coordination.k8s.io/v1 Lease (the client-go protocol).
//
//   LeaderElector elector(client, {.ns = "gatehouse", .name = "gatehouse-operator",
//                                  .identity = PodNameOrHostPid()}, time);
//   std::thread([&] { elector.Run([](bool leading) { ... }); });
//   if (elector.leading()) Push();   // check right before each write
//
// A free or expired lease is taken; the holder renews every retry period; a
// standby takes over once the lease has not been renewed for its duration
// (measured on the standby's own monotonic clock from when it last saw the
// record change, so clock skew does not matter). A leader that cannot renew
// within the renew deadline stops acting at once (leading() turns false
// before the lease can expire for others).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "operator/kube/kube_client.h"
#include "proxy/core/time_source.h"

namespace gatehouse::kube {

struct LeaseOptions {
  std::string ns;
  std::string name = "gatehouse-operator";
  std::string identity;
  std::chrono::seconds lease_duration{15};
  std::chrono::seconds renew_deadline{10};
  std::chrono::seconds retry_period{2};
};

class LeaderElector {
 public:
  LeaderElector(KubeTransport& transport, LeaseOptions options, const TimeSource& time);

  // One round: read the lease, take or renew it when allowed. Returns leading().
  bool TryAcquireOrRenew();
  // Rounds every retry period until Stop(); `on_change` on every flip.
  void Run(const std::function<void(bool)>& on_change);
  void Stop() { stop_ = true; }
  bool leading() const { return leading_.load(); }
  // Gives the lease up (on clean shutdown) so a standby takes over at once.
  void Release();

 private:
  std::string LeasePath(bool collection) const;
  bool Write(const nlohmann::json& lease, bool create);
  nlohmann::json NewLease(const nlohmann::json* current, bool renew) const;

  KubeTransport& transport_;
  LeaseOptions options_;
  const TimeSource& time_;
  std::atomic<bool> leading_{false};
  std::atomic<bool> stop_{false};
  std::string observed_record_;  // holder + renewTime last seen
  std::chrono::steady_clock::time_point observed_at_{};
  std::chrono::steady_clock::time_point last_renew_{};
};

// "2024-05-01T12:00:00.000000Z" (a Kubernetes MicroTime).
std::string FormatMicroTime(std::chrono::system_clock::time_point t);

}  // namespace gatehouse::kube
