// FleetRenderer: the pure heart of the operator. Gathered AccessPolicies (as
// parsed candidates) and the previous render go in; the next fleet config, one
// outcome per policy and the next render state come out. No I/O, no clock.
//
//   std::vector<PolicyCandidate> candidates = ParsePolicyCandidates(objects, secrets);
//   RenderResult r = RenderFleet(candidates, previous_state);
//   Push(policy::SerializeFleetConfig(r.config));      // same inputs -> same bytes
//   for (const PolicyOutcome& o : r.outcomes) WriteStatus(o);
//   previous_state = std::move(r.state);
//
// Rules (PRODUCT.md section 2):
//  - the version increases only when the content bytes change (and never goes
//    below `version_floor`, the highest version any proxy reported);
//  - a policy whose current generation is invalid or conflicting is reported
//    Accepted=False, and its last accepted version (from the previous state)
//    stays in the config, so the host keeps its protection until a valid
//    version arrives; a deleted policy leaves the config;
//  - the output never depends on the order of the candidates.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "proxy/core/status.h"
#include "proxy/policy/access_policy.h"
#include "proxy/policy/fleet_config.h"
#include "proxy/policy/policy_error.h"
#include "proxy/policy/secret_store.h"

namespace gatehouse::reconcile {

// Models are immutable and shared (candidates, render states and the parse
// cache point at the same object: thousands of policies are held once).
using SharedPolicy = std::shared_ptr<const policy::AccessPolicy>;

// One AccessPolicy as observed: its identity and either the validated model
// or the first problem found (plus how many more there were).
struct PolicyCandidate {
  std::string key;  // "namespace/name"
  int64_t generation = 0;
  SharedPolicy policy;                       // set (non-null) when valid
  std::optional<policy::PolicyError> error;  // set when invalid
  int more_errors = 0;                       // errors beyond `error`
};

// What one policy ended up as in a render.
struct PolicyOutcome {
  std::string key;
  int64_t generation = 0;  // the observed generation
  bool accepted = false;
  std::string reason;   // "Valid", "Invalid" or "Conflict"
  std::string message;  // "" when accepted; the first error's "field: message" (+ "(and N more)")
  // The generation of this policy that the config carries (the current one
  // when accepted, the last accepted one when kept, 0 when none), and the
  // first config version that carried exactly that model (0 when none).
  int64_t enforced_generation = 0;
  int64_t enforced_since_version = 0;
  friend bool operator==(const PolicyOutcome&, const PolicyOutcome&) = default;
};

struct AcceptedPolicy {
  SharedPolicy model;         // never null
  int64_t since_version = 0;  // first fleet config version that carried this model
};

// Carried from one render to the next (and rebuilt from the ConfigMap at start).
struct RenderState {
  int64_t version = 0;  // 0: nothing rendered yet
  std::string sha256;
  std::map<std::string, AcceptedPolicy> accepted;  // by key: what the config carries
};

struct RenderResult {
  policy::FleetConfig config;
  std::vector<PolicyOutcome> outcomes;  // sorted by key
  RenderState state;
  bool changed = false;  // config bytes differ from the previous state's
};

RenderResult RenderFleet(const std::vector<PolicyCandidate>& candidates,
                         const RenderState& previous, int64_t version_floor = 0);

// True when rendering `b` would give what rendering `a` gave: same keys in the
// same order, generations, errors, and the very same (shared) models. Models
// are compared by identity, so an equal model parsed afresh counts as a change
// (a needless render, never a missed one).
bool SameCandidates(const std::vector<PolicyCandidate>& a, const std::vector<PolicyCandidate>& b);

// AccessPolicy objects as read from the API -> candidates (sorted by key).
// Objects without a usable namespace/name are dropped (the API never serves those).
std::vector<PolicyCandidate> ParsePolicyCandidates(const std::vector<nlohmann::json>& objects,
                                                   const policy::SecretStore& secrets);
// The same over shared, immutable objects (Informer::SharedSnapshot: no copies).
std::vector<PolicyCandidate> ParsePolicyCandidates(
    const std::vector<std::shared_ptr<const nlohmann::json>>& objects,
    const policy::SecretStore& secrets);
// One API object -> a candidate; nullopt for objects without namespace/name.
std::optional<PolicyCandidate> ParsePolicyCandidate(const nlohmann::json& object,
                                                    const policy::SecretStore& secrets);

// Local mode: the result of ParsePolicyFiles -> candidates. Errors that name
// no policy (a broken file) are returned in `unattributed` for the log.
std::vector<PolicyCandidate> CandidatesFromParse(const std::vector<policy::AccessPolicy>& policies,
                                                 const std::vector<policy::PolicyError>& errors,
                                                 std::vector<policy::PolicyError>* unattributed);

// The state a previously rendered config implies (every policy it carries is
// taken as carried since that version). InvalidArgument when it does not parse.
StatusOr<RenderState> RenderStateFromConfig(const policy::FleetConfig& config);

}  // namespace gatehouse::reconcile
