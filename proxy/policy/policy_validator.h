// PolicyValidator: one AccessPolicy object (already JSON, from YAML via
// YamlToJson, from the API server, or from a fleet config) -> an AccessPolicy
// with defaults applied and secret references resolved, or every problem found,
// each with its field path. The only place the AccessPolicy rules live: the
// operator, the proxy and `gatehouse-proxy validate` all come through here.
//
//   PolicyValidation v = ValidateAccessPolicy(object, secrets);
//   if (!v.issues.empty()) for (auto& i : v.issues.list()) print(i.field, i.message);
//   else Use(v.policy);
//
// The rules (mirrored by crds/gatehouse.dev_accesspolicies.yaml) are written
// one section per function in policy_validator.cc (metadata, hosts, upstream,
// headers, metabase, rate limit, mode), policy_validator_auth.cc (issuers,
// login) and policy_validator_rules.cc (rules, from).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "proxy/policy/access_policy.h"
#include "proxy/policy/policy_validator_fields.h"
#include "proxy/policy/secret_store.h"

namespace gatehouse::policy {

inline constexpr std::string_view kAccessPolicyApiVersion = "gatehouse.dev/v1alpha1";
inline constexpr std::string_view kAccessPolicyKind = "AccessPolicy";

struct ObjectMeta {
  std::string namespace_name = "default";  // "" when the given namespace is invalid
  std::string name;
  std::string creation_timestamp;
  int64_t generation = 0;
  std::string uid;
};

// `metadata` of any object: name required (DNS-1123 subdomain), namespace a
// DNS-1123 label defaulting to "default"; creationTimestamp, generation, uid
// read when present; the other ObjectMeta fields the API server adds (labels,
// annotations, resourceVersion, managedFields, ...) are accepted and ignored.
ObjectMeta ReadObjectMeta(const validation::ObjectReader& root);

struct PolicyValidation {
  AccessPolicy policy;        // complete only when issues is empty; name/namespace best effort
  validation::Issues issues;  // empty: valid
};

// The whole object: apiVersion (exactly gatehouse.dev/v1alpha1), kind
// (AccessPolicy), metadata, spec; `status` is accepted and ignored. Secret refs
// resolve in the policy's own namespace. policy.source is left default.
PolicyValidation ValidateAccessPolicy(const nlohmann::json& object, const SecretStore& secrets);

}  // namespace gatehouse::policy
