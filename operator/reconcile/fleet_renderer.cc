#include "operator/reconcile/fleet_renderer.h"

#include <algorithm>
#include <set>
#include <tuple>
#include <utility>

#include "operator/reconcile/compile_check.h"
#include "proxy/policy/policy_parser.h"

namespace gatehouse::reconcile {
namespace {

using policy::AccessPolicy;
using policy::PolicyError;

// Which version of a policy went into a compile.
enum class Source { kCurrent, kPrevious };

struct Entry {
  const PolicyCandidate* candidate = nullptr;  // null: never (deleted policies are dropped)
  const AcceptedPolicy* previous = nullptr;    // last accepted version, if any
  Source source = Source::kCurrent;
  std::optional<PolicyError> current_error;  // why the current generation was refused
  int more_errors = 0;
};

// Equality of what a proxy would enforce; the source location is only for messages.
bool SameModel(const AccessPolicy& a, const AccessPolicy& b) {
  return a.namespace_name == b.namespace_name && a.name == b.name &&
         a.creation_timestamp == b.creation_timestamp && a.generation == b.generation &&
         a.uid == b.uid && a.spec == b.spec;
}

// One candidate per key: the highest generation, a valid one before an invalid one.
// Candidates from the API are unique already; this keeps duplicates deterministic.
std::map<std::string, const PolicyCandidate*> IndexCandidates(
    const std::vector<PolicyCandidate>& candidates) {
  std::map<std::string, const PolicyCandidate*> by_key;
  for (const PolicyCandidate& c : candidates) {
    auto [it, inserted] = by_key.emplace(c.key, &c);
    if (inserted) continue;
    const PolicyCandidate* old = it->second;
    if (std::make_tuple(c.generation, c.policy != nullptr) >
        std::make_tuple(old->generation, old->policy != nullptr)) {
      it->second = &c;
    }
  }
  return by_key;
}

// The models the entries put into the compile, in key order (shared, not copied).
std::vector<SharedPolicy> CompileInput(const std::map<std::string, Entry>& entries) {
  std::vector<SharedPolicy> out;
  for (const auto& [key, entry] : entries) {
    if (entry.source == Source::kCurrent && entry.candidate->policy) {
      out.push_back(entry.candidate->policy);
    } else if (entry.source == Source::kPrevious && entry.previous != nullptr) {
      out.push_back(entry.previous->model);
    }
  }
  return out;
}

// Compiles the entries and returns the keys refused, recording each current
// generation's refusal on its entry.
std::map<std::string, PolicyError> CompileEntries(CompileCheck& check,
                                                  std::map<std::string, Entry>* entries) {
  std::map<std::string, PolicyError> refused = check.Refused(CompileInput(*entries));
  for (auto& [key, entry] : *entries) {
    auto it = refused.find(key);
    if (it != refused.end() && entry.source == Source::kCurrent) entry.current_error = it->second;
  }
  return refused;
}

// Gathers the entries: the current generation when it parsed, else the last
// accepted version (so an invalid edit never unprotects a host).
std::map<std::string, Entry> BuildEntries(const std::vector<PolicyCandidate>& candidates,
                                          const RenderState& previous) {
  std::map<std::string, Entry> entries;
  for (const auto& [key, candidate] : IndexCandidates(candidates)) {
    Entry entry;
    entry.candidate = candidate;
    auto prev = previous.accepted.find(key);
    if (prev != previous.accepted.end()) entry.previous = &prev->second;
    if (!candidate->policy) {
      entry.source = Source::kPrevious;
      entry.current_error = candidate->error;
      entry.more_errors = candidate->more_errors;
    }
    entries.emplace(key, std::move(entry));
  }
  return entries;
}

PolicyOutcome MakeOutcome(const Entry& entry, bool in_config, int64_t enforced_generation,
                          int64_t since) {
  PolicyOutcome out;
  out.key = entry.candidate->key;
  out.generation = entry.candidate->generation;
  out.accepted = entry.source == Source::kCurrent && in_config;
  if (out.accepted) {
    out.reason = "Valid";
  } else if (entry.current_error) {
    out.reason = entry.current_error->ReasonName();
    out.message = entry.current_error->FieldMessage();
    if (entry.more_errors > 0) {
      out.message += " (and " + std::to_string(entry.more_errors) + " more)";
    }
  } else {
    // Only reachable if the compiler refused without naming the policy: still deny.
    out.reason = "Invalid";
    out.message = "policy was not accepted";
  }
  if (in_config) {
    out.enforced_generation = enforced_generation;
    out.enforced_since_version = since;
  }
  return out;
}

int64_t NextVersion(const RenderState& previous, const std::string& sha, int64_t floor) {
  bool changed = previous.version == 0 || sha != previous.sha256;
  if (!changed && previous.version >= floor) return previous.version;
  return std::max(previous.version + 1, floor);
}

}  // namespace

RenderResult RenderFleet(const std::vector<PolicyCandidate>& candidates,
                         const RenderState& previous, int64_t version_floor) {
  std::map<std::string, Entry> entries = BuildEntries(candidates, previous);
  CompileCheck check;  // the second compile below re-uses the first one's per-policy work
  std::map<std::string, PolicyError> refused = CompileEntries(check, &entries);
  // A current generation refused by the compiler (conflict, bad pattern) falls
  // back to its last accepted version; compile once more with those.
  bool substituted = false;
  for (auto& [key, entry] : entries) {
    if (entry.source == Source::kCurrent && refused.count(key) && entry.previous != nullptr &&
        !SameModel(*entry.previous->model, *entry.candidate->policy)) {
      entry.source = Source::kPrevious;
      substituted = true;
    }
  }
  if (substituted) refused = CompileEntries(check, &entries);

  // Shared pointers into the candidates / previous state: no model is copied,
  // here or by the render.
  std::vector<SharedPolicy> final_policies;
  for (const auto& [key, entry] : entries) {
    if (refused.count(key)) continue;
    if (entry.source == Source::kCurrent && entry.candidate->policy) {
      final_policies.push_back(entry.candidate->policy);
    } else if (entry.source == Source::kPrevious && entry.previous != nullptr) {
      final_policies.push_back(entry.previous->model);
    }
  }

  RenderResult result;
  std::string content = policy::RenderFleetConfigContent(final_policies);
  std::string sha = policy::Sha256Hex(content);
  int64_t version = NextVersion(previous, sha, version_floor);
  result.changed = version != previous.version || sha != previous.sha256;
  result.config = {version, sha, std::move(content)};
  result.state.version = version;
  result.state.sha256 = sha;

  size_t next = 0;  // final_policies follows the entries' key order
  for (const auto& [key, entry] : entries) {
    bool in_config = !refused.count(key) &&
                     (entry.source == Source::kCurrent ? entry.candidate->policy != nullptr
                                                       : entry.previous != nullptr);
    int64_t generation = 0;
    int64_t since = 0;
    if (in_config) {
      const SharedPolicy& model = final_policies[next++];
      bool unchanged = entry.previous != nullptr && (entry.previous->model == model ||
                                                     SameModel(*entry.previous->model, *model));
      since = unchanged ? entry.previous->since_version : version;
      generation = model->generation;
      result.state.accepted[key] = AcceptedPolicy{model, since};
    }
    result.outcomes.push_back(MakeOutcome(entry, in_config, generation, since));
  }
  return result;
}

bool SameCandidates(const std::vector<PolicyCandidate>& a, const std::vector<PolicyCandidate>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const PolicyCandidate& x = a[i];
    const PolicyCandidate& y = b[i];
    if (x.key != y.key || x.generation != y.generation || x.policy != y.policy ||
        x.error != y.error || x.more_errors != y.more_errors) {
      return false;
    }
  }
  return true;
}

namespace {

// namespace/name/generation read leniently, for naming an invalid object.
std::tuple<std::string, std::string, int64_t> ObjectIdentity(const nlohmann::json& object) {
  if (!object.is_object()) return {};
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return {};
  auto text = [&](const char* field) -> std::string {
    auto it = meta->find(field);
    return it != meta->end() && it->is_string() ? it->get<std::string>() : "";
  };
  int64_t generation = 0;
  if (auto it = meta->find("generation"); it != meta->end() && it->is_number_integer()) {
    generation = it->get<int64_t>();
  }
  return {text("namespace"), text("name"), generation};
}

}  // namespace

std::optional<PolicyCandidate> ParsePolicyCandidate(const nlohmann::json& object,
                                                    const policy::SecretStore& secrets) {
  auto [ns, name, generation] = ObjectIdentity(object);
  if (ns.empty() || name.empty()) return std::nullopt;
  PolicyCandidate candidate;
  candidate.key = ns + "/" + name;
  candidate.generation = generation;
  policy::PolicyObjectResult parsed = policy::ParsePolicyObject(object, secrets);
  if (parsed.policy && parsed.errors.empty()) {
    candidate.policy = std::make_shared<const AccessPolicy>(std::move(*parsed.policy));
  } else if (!parsed.errors.empty()) {
    candidate.error = parsed.errors.front();
    candidate.more_errors = static_cast<int>(parsed.errors.size()) - 1;
  } else {
    candidate.error.emplace();  // field by field: GCC 12 -O2 misreads the aggregate form
    candidate.error->policy = candidate.key;
    candidate.error->message = "could not be parsed";
  }
  return candidate;
}

namespace {

void SortByKey(std::vector<PolicyCandidate>& out) {
  std::sort(out.begin(), out.end(),
            [](const PolicyCandidate& a, const PolicyCandidate& b) { return a.key < b.key; });
}

}  // namespace

std::vector<PolicyCandidate> ParsePolicyCandidates(const std::vector<nlohmann::json>& objects,
                                                   const policy::SecretStore& secrets) {
  std::vector<PolicyCandidate> out;
  out.reserve(objects.size());
  for (const nlohmann::json& object : objects) {
    if (auto candidate = ParsePolicyCandidate(object, secrets))
      out.push_back(std::move(*candidate));
  }
  SortByKey(out);
  return out;
}

std::vector<PolicyCandidate> ParsePolicyCandidates(
    const std::vector<std::shared_ptr<const nlohmann::json>>& objects,
    const policy::SecretStore& secrets) {
  std::vector<PolicyCandidate> out;
  out.reserve(objects.size());
  for (const auto& object : objects) {
    if (object == nullptr) continue;
    if (auto candidate = ParsePolicyCandidate(*object, secrets))
      out.push_back(std::move(*candidate));
  }
  SortByKey(out);
  return out;
}

std::vector<PolicyCandidate> CandidatesFromParse(const std::vector<AccessPolicy>& policies,
                                                 const std::vector<PolicyError>& errors,
                                                 std::vector<PolicyError>* unattributed) {
  std::map<std::string, PolicyCandidate> by_key;
  for (const PolicyError& error : errors) {
    if (error.policy.empty()) {
      if (unattributed != nullptr) unattributed->push_back(error);
      continue;
    }
    PolicyCandidate& c = by_key[error.policy];
    c.key = error.policy;
    if (!c.error) {
      c.error = error;
    } else {
      ++c.more_errors;
    }
  }
  for (const AccessPolicy& p : policies) {
    PolicyCandidate& c = by_key[p.Key()];
    if (c.error) continue;  // a duplicate of an invalid document: the error stands
    c.key = p.Key();
    c.generation = p.generation;
    c.policy = std::make_shared<const AccessPolicy>(p);
  }
  std::vector<PolicyCandidate> out;
  for (auto& [key, c] : by_key) out.push_back(std::move(c));
  return out;
}

StatusOr<RenderState> RenderStateFromConfig(const policy::FleetConfig& config) {
  StatusOr<std::vector<AccessPolicy>> policies = policy::ParseFleetConfigContent(config.content);
  if (!policies.ok()) return policies.status();
  RenderState state;
  state.version = config.version;
  state.sha256 = policy::Sha256Hex(config.content);
  for (AccessPolicy& p : *policies) {
    std::string key = p.Key();
    state.accepted[key] =
        AcceptedPolicy{std::make_shared<const AccessPolicy>(std::move(p)), config.version};
  }
  return state;
}

}  // namespace gatehouse::reconcile
