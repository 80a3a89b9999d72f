// PolicyCache: the operator's AccessPolicy objects kept small, and parsed
// once per generation instead of on every change of the cache.
//
//   Informer policies(client, {.path = ..., .transform = CompactPolicyObject});
//   PolicyCache cache;
//   std::vector<PolicyCandidate> candidates =
//       cache.Candidates(policies.SharedSnapshot(), secrets, secrets_epoch);
//   nlohmann::json stored = StoredStatus(*object);  // what a status write compares with
//
// Compact form: the identity metadata (name, namespace, uid, generation,
// resourceVersion) stays a JSON tree; what only the parse reads (apiVersion,
// kind, metadata.creationTimestamp, the spec) is held serialized under
// "compact", and the status, apart, under "compactStatus" (status writes read
// it without touching the spec). A policy's JSON tree costs several KB, its
// text a fraction of that, and thousands of policies sit in the cache.
// ExpandPolicyObject merges the string back under the tree's identity
// fields. Labels, annotations (kubectl's last-applied copy) and managedFields
// are dropped: nothing reads them.
//
// Re-use rule: a candidate is parsed again unless the object's uid and
// generation (the API bumps generation on every spec change; status writes do
// not) and the caller's Secrets epoch (bump it whenever the Secrets may have
// changed) are all unchanged. Objects without a positive generation are
// always parsed. Candidates share their models with the cache (no copies).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "operator/reconcile/fleet_renderer.h"
#include "proxy/policy/secret_store.h"

namespace gatehouse::reconcile {

// API object -> compact form (see above). Non-objects pass unchanged.
nlohmann::json CompactPolicyObject(nlohmann::json policy);
// Compact form -> the object with spec and status restored. Objects that are
// not compact are returned as they are.
nlohmann::json ExpandPolicyObject(const nlohmann::json& object);
// The object's status (compact or full); null when it has none.
nlohmann::json StoredStatus(const nlohmann::json& object);

// metadata.<field> of an object when it is a string, else "".
std::string MetaText(const nlohmann::json& object, const char* field);
// metadata.generation when it is an integer, else 0.
int64_t MetaGeneration(const nlohmann::json& object);

class PolicyCache {
 public:
  // Candidates for `objects` (compact or full), sorted by key, re-using the
  // parse of every object whose uid/generation and the Secrets epoch are unchanged.
  std::vector<PolicyCandidate> Candidates(
      const std::vector<std::shared_ptr<const nlohmann::json>>& objects,
      const policy::SecretStore& secrets, uint64_t secrets_epoch);

  // Objects parsed (not re-used) so far; for tests and logs.
  int64_t parses() const { return parses_; }

 private:
  struct Entry {
    std::string uid;
    int64_t generation = 0;
    PolicyCandidate candidate;
  };
  std::map<std::string, Entry> by_key_;  // "namespace/name"
  uint64_t secrets_epoch_ = 0;
  int64_t parses_ = 0;
};

// The Secrets epoch for PolicyCache, from snapshots of the Secrets cache:
// moves only when a Secret was added, removed or got a new resourceVersion,
// and never for the one Secret named in `ignored` ("namespace/name": the
// operator's own bootstrap Secret, which it rewrites after every change and
// whose write would otherwise re-parse every policy).
//
//   SecretsEpoch epoch("gatehouse-system/gatehouse-fleet-config");
//   cache.Candidates(policies, secrets, epoch.Update(c.secrets.SharedSnapshot()));
class SecretsEpoch {
 public:
  explicit SecretsEpoch(std::string ignored) : ignored_(std::move(ignored)) {}
  uint64_t Update(const std::vector<std::shared_ptr<const nlohmann::json>>& secrets);
  uint64_t epoch() const { return epoch_; }

 private:
  std::string ignored_;
  std::string fingerprint_;  // "ns/name@resourceVersion\n" per Secret, in snapshot order
  uint64_t epoch_ = 0;
};

}  // namespace gatehouse::reconcile
