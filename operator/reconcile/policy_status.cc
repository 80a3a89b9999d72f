#include "operator/reconcile/policy_status.h"

#include <ctime>

namespace gatehouse::reconcile {
namespace {

// The stored lastTransitionTime of `type` when its status is unchanged; "" otherwise.
std::string KeptTransitionTime(const nlohmann::json& stored, const std::string& type,
                               const std::string& status) {
  if (!stored.is_object()) return "";
  auto conditions = stored.find("conditions");
  if (conditions == stored.end() || !conditions->is_array()) return "";
  for (const nlohmann::json& c : *conditions) {
    if (!c.is_object() || c.value("type", nlohmann::json()) != type) continue;
    auto s = c.find("status");
    auto t = c.find("lastTransitionTime");
    if (s != c.end() && *s == status && t != c.end() && t->is_string()) {
      return t->get<std::string>();
    }
    return "";
  }
  return "";
}

std::string Truncate(std::string message) {
  if (message.size() <= kMaxConditionMessageBytes) return message;
  size_t cut = kMaxConditionMessageBytes - 3;
  // Never split a UTF-8 sequence: back up to a lead byte.
  while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xC0) == 0x80) --cut;
  return message.substr(0, cut) + "...";
}

Condition ReadyCondition(const PolicyOutcome& outcome, const std::vector<ProxyView>& fleet,
                         int in_sync, bool unsynced_unreachable) {
  std::string counts = std::to_string(in_sync) + "/" + std::to_string(fleet.size()) + " proxies";
  if (!outcome.accepted) {
    std::string message = "generation " + std::to_string(outcome.generation) + " is not accepted";
    if (outcome.enforced_generation > 0) {
      message += "; generation " + std::to_string(outcome.enforced_generation) +
                 " stays in force (" + counts + ")";
    }
    return {"Ready", "False", "NotAccepted", message};
  }
  if (fleet.empty()) return {"Ready", "False", "NoProxies", counts};
  if (in_sync == static_cast<int>(fleet.size())) return {"Ready", "True", "Enforced", counts};
  return {"Ready", "False", unsynced_unreachable ? "Unreachable" : "Pending", counts};
}

}  // namespace

std::string FormatRfc3339(std::chrono::system_clock::time_point t) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

PolicyStatus ComputePolicyStatus(const PolicyOutcome& outcome, const std::vector<ProxyView>& fleet,
                                 const nlohmann::json& stored_status,
                                 std::chrono::system_clock::time_point now) {
  PolicyStatus status;
  status.observed_generation = outcome.generation;
  status.config_version = outcome.enforced_since_version;
  status.total = static_cast<int>(fleet.size());
  bool unsynced_unreachable = false;
  for (const ProxyView& proxy : fleet) {
    // A proxy enforces the policy's model once it runs any config at or after
    // the first version that carried it (versions only move forward).
    if (outcome.enforced_since_version > 0 && proxy.version >= outcome.enforced_since_version) {
      ++status.in_sync;
    } else if (!proxy.reachable) {
      unsynced_unreachable = true;
    }
  }
  Condition accepted{"Accepted", outcome.accepted ? "True" : "False", outcome.reason,
                     Truncate(outcome.message)};
  Condition ready = ReadyCondition(outcome, fleet, status.in_sync, unsynced_unreachable);
  std::string stamp = FormatRfc3339(now);
  for (Condition* c : {&accepted, &ready}) {
    c->observed_generation = outcome.generation;
    std::string kept = KeptTransitionTime(stored_status, c->type, c->status);
    c->last_transition_time = kept.empty() ? stamp : kept;
    status.conditions.push_back(*c);
  }
  return status;
}

nlohmann::json PolicyStatusToJson(const PolicyStatus& status) {
  nlohmann::json conditions = nlohmann::json::array();
  for (const Condition& c : status.conditions) {
    conditions.push_back({{"type", c.type},
                          {"status", c.status},
                          {"reason", c.reason},
                          {"message", c.message},
                          {"observedGeneration", c.observed_generation},
                          {"lastTransitionTime", c.last_transition_time}});
  }
  nlohmann::json out = {{"observedGeneration", status.observed_generation},
                        {"proxies", {{"inSync", status.in_sync}, {"total", status.total}}},
                        {"conditions", std::move(conditions)}};
  if (status.config_version > 0) out["configVersion"] = status.config_version;
  return out;
}

bool StatusNeedsWrite(const nlohmann::json& stored, const nlohmann::json& desired) {
  // The API server keeps exactly what we wrote (the schema knows every field),
  // so structural equality is the no-op test; a missing status always differs.
  return !stored.is_object() || stored != desired;
}

}  // namespace gatehouse::reconcile
