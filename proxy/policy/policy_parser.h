// PolicyParser: AccessPolicy documents in, validated AccessPolicies and every
// error out. The caller reads the files (the parser never touches the
// filesystem); Secrets given in the same files resolve the policies' refs.
//
//   ParseResult r = ParsePolicyFiles({{"policies/metabase.yaml", text}, ...});
//   for (const PolicyError& e : r.errors) std::cerr << e.ToString() << "\n";
//   UsePolicies(r.policies);            // only the documents without errors
//
// Per file: any number of YAML documents separated by `---`; empty documents
// are skipped. `kind: AccessPolicy` (apiVersion gatehouse.dev/v1alpha1) and
// `kind: Secret` (v1) are understood; any other kind is an error on `kind`.
// All Secrets of all files are read first, so order does not matter for refs.
// Two AccessPolicies with one namespace/name: the later one (in the order of
// `files`, then of documents) is an error. Pass files in a stable order
// (sorted by path) to get stable results.
//
// For objects that are already JSON (the operator's API reads, the fleet
// config), ParsePolicyObject runs the very same validation.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "proxy/core/status.h"
#include "proxy/policy/access_policy.h"
#include "proxy/policy/policy_error.h"
#include "proxy/policy/secret_store.h"

namespace gatehouse::policy {

struct SourceFile {
  std::string path;     // for error messages only
  std::string content;  // the file's bytes
};

struct ParseResult {
  std::vector<AccessPolicy> policies;  // valid ones, in input order, source set
  std::vector<PolicyError> errors;     // every problem: file/Secret/kind ones, then policies'
  bool ok() const { return errors.empty(); }
};

ParseResult ParsePolicyFiles(const std::vector<SourceFile>& files);

struct PolicyObjectResult {
  std::optional<AccessPolicy> policy;  // set only when errors is empty
  std::vector<PolicyError> errors;
};

// One AccessPolicy object (e.g. from the Kubernetes API, with metadata.uid,
// generation, creationTimestamp); refs resolve against `secrets`.
PolicyObjectResult ParsePolicyObject(const nlohmann::json& object, const SecretStore& secrets,
                                     const SourceLocation& source = {});

// The same, with all errors joined into one InvalidArgument message
// ("spec.hosts[0]: must be lowercase; spec.rules: is required").
StatusOr<AccessPolicy> ParsePolicyJson(const nlohmann::json& object, const SecretStore& secrets);

}  // namespace gatehouse::policy
