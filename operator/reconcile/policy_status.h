// PolicyStatus: the `status` an AccessPolicy should carry (PRODUCT.md section
// 2), computed from its render outcome and what the fleet reports. Pure: the
// caller passes `now` (used only when a condition flips) and the stored status.
//
//   nlohmann::json desired = PolicyStatusToJson(
//       ComputePolicyStatus(outcome, fleet_view, object["status"], time.Now()));
//   if (StatusNeedsWrite(object["status"], desired)) PutStatus(object, desired);
//
// Conditions: Accepted (True/Valid, or False/Invalid|Conflict with the
// field-level message) and Ready (True/Enforced when every proxy reports a
// config version >= the first version that carried this generation; else
// False/Pending "k/n proxies", False/Unreachable when an unsynced proxy cannot
// be reached, False/NoProxies with no fleet, False/NotAccepted when invalid).
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "operator/reconcile/fleet_renderer.h"

namespace gatehouse::reconcile {

// One proxy of the fleet as the pusher last saw it.
struct ProxyView {
  int64_t version = 0;     // reported config version; 0 = none / unknown
  bool reachable = false;  // the last probe or push got an answer
};

struct Condition {
  std::string type;
  std::string status;  // "True" | "False"
  std::string reason;
  std::string message;
  int64_t observed_generation = 0;
  std::string last_transition_time;  // RFC 3339, seconds, UTC
  friend bool operator==(const Condition&, const Condition&) = default;
};

struct PolicyStatus {
  int64_t observed_generation = 0;
  int64_t config_version = 0;  // 0: not carried by any config (left out of the JSON)
  int in_sync = 0;
  int total = 0;
  std::vector<Condition> conditions;  // Accepted, Ready
  friend bool operator==(const PolicyStatus&, const PolicyStatus&) = default;
};

inline constexpr size_t kMaxConditionMessageBytes = 1024;

PolicyStatus ComputePolicyStatus(const PolicyOutcome& outcome, const std::vector<ProxyView>& fleet,
                                 const nlohmann::json& stored_status,
                                 std::chrono::system_clock::time_point now);

nlohmann::json PolicyStatusToJson(const PolicyStatus& status);

// False when `stored` already says what `desired` says (skip the no-op write).
bool StatusNeedsWrite(const nlohmann::json& stored, const nlohmann::json& desired);

// "2024-05-01T12:00:00Z".
std::string FormatRfc3339(std::chrono::system_clock::time_point t);

}  // namespace gatehouse::reconcile
