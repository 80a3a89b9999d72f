// SecretStore: the Kubernetes Secrets that AccessPolicies may reference
// (login.clientSecretRef, metabase.sharedSecretRef), keyed by namespace/name.
// Filled from `kind: Secret` documents (local mode), from the API (operator) or
// from a fleet config's "secrets" map (proxy).
//
//   SecretStore store;
//   store.Add("analytics", "metabase-jwt", {{"secret", "..."}});
//   StatusOr<std::string> v = store.Lookup("analytics", {"metabase-jwt", "secret"});
//   // !v.ok(): "Secret analytics/metabase-jwt has no key 'secret'"
//
// Lookups answer in the policy's namespace only: a policy can never read a
// Secret of another namespace. Error messages name Secrets and keys, never values.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>

#include "proxy/core/status.h"
#include "proxy/policy/access_policy.h"
#include "proxy/policy/policy_validator_fields.h"

namespace gatehouse::policy {

using SecretData = std::map<std::string, std::string>;  // key -> raw bytes

class SecretStore {
 public:
  // False (and no change) when namespace/name is already present.
  bool Add(const std::string& namespace_name, const std::string& name, SecretData data);
  bool Contains(const std::string& namespace_name, const std::string& name) const;
  // The value of ref.key in Secret namespace_name/ref.name; NotFound naming what is missing.
  StatusOr<std::string> Lookup(const std::string& namespace_name, const SecretRef& ref) const;
  size_t size() const { return secrets_.size(); }

 private:
  std::map<std::pair<std::string, std::string>, SecretData> secrets_;
};

// One `kind: Secret` document (apiVersion v1), validated: metadata.name and
// namespace (default "default"), `data` values strictly base64-decoded,
// `stringData` winning over `data` for the same key (as the API server merges
// them), keys checked like Kubernetes'. `type`, labels etc. are accepted and ignored.
struct ParsedSecret {
  std::string namespace_name = "default";
  std::string name;
  SecretData data;
};
// Problems go to `issues` with field paths ("data[tls.key]: ..."); returns a
// value only when there were none.
std::optional<ParsedSecret> ParseSecretObject(const nlohmann::json& object,
                                              validation::Issues* issues);

// RFC 4648 standard alphabet, '=' padding required, no whitespace, unused
// bits zero: a value has exactly one accepted spelling.
StatusOr<std::string> DecodeBase64Strict(std::string_view text);
std::string EncodeBase64(std::string_view bytes);

}  // namespace gatehouse::policy
