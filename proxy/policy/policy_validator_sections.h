// Internal to the policy validator: one function per spec section, shared by
// policy_validator.cc, policy_validator_auth.cc and policy_validator_rules.cc.
// Each reads its section from `spec`, writes the model, and reports problems
// through spec.issues() with full field paths. Not for use outside the validator.
#pragma once

#include <string>

#include "proxy/policy/access_policy.h"
#include "proxy/policy/policy_validator_fields.h"
#include "proxy/policy/secret_store.h"

namespace gatehouse::policy::validation {

// Limits stated in errors; shared so the CRD and docs can quote one number.
inline constexpr size_t kMaxHosts = 64;
inline constexpr size_t kMaxIssuers = 8;
inline constexpr size_t kMaxAudiences = 16;
inline constexpr size_t kMaxRules = 256;
inline constexpr size_t kMaxPathsPerRule = 64;
inline constexpr size_t kMaxIdentityValues = 256;  // per groups/emails/... list
inline constexpr size_t kMaxClaims = 32;
inline constexpr size_t kMaxIpBlocks = 256;
inline constexpr size_t kMaxScopes = 32;
inline constexpr size_t kMaxUrlBytes = 2048;
inline constexpr size_t kMaxValueBytes = 256;  // group names, claim values, audiences
inline constexpr size_t kMinMetabaseSecretBytes = 16;

void ReadAuthentication(const ObjectReader& spec, const std::string& namespace_name,
                        const SecretStore& secrets, AuthenticationSpec* out);
void ReadRules(const ObjectReader& spec, std::vector<RuleSpec>* out);

// Resolves {name, key} at `ref_path` against the policy's namespace.
// Returns the value; on failure reports at ref_path and returns nullopt.
std::optional<std::string> ReadSecretRef(const ObjectReader& parent, std::string_view field,
                                         const std::string& namespace_name,
                                         const SecretStore& secrets, SecretRef* out);

}  // namespace gatehouse::policy::validation
