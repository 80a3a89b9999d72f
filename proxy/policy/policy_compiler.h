// CompilePolicies: validated AccessPolicy documents -> one immutable
// CompiledPolicySet snapshot that the engine evaluates requests against.
//
//   CompileResult result = CompilePolicies(std::move(policies));
//   for (const PolicyError& e : result.errors) Report(e);   // those were left out
//   snapshot.store(result.set);    // shared_ptr<const CompiledPolicySet>; swap atomically
//   Decision d = Evaluate(*result.set, facts);               // policy_engine.h
//
// Each policy is compiled whole or left out whole: a bad path pattern, CIDR,
// method, host or prefix gives a kInvalid PolicyError naming the field.
// Two policies claiming the same host + pathPrefix conflict: the older
// creationTimestamp wins ("" counts as newest; ties go to the smaller
// "namespace/name"); the loser is left out with kConflict and a message
// naming the winner. The result does not depend on the input order.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/policy/access_policy.h"
#include "proxy/policy/ip_block.h"
#include "proxy/policy/path_pattern.h"
#include "proxy/policy/policy_error.h"
#include "proxy/policy/route_table.h"

namespace gatehouse::policy {

// Standard methods as bits; extension methods are kept as strings.
enum MethodBit : uint32_t {
  kMethodGet = 1u << 0,
  kMethodHead = 1u << 1,
  kMethodPost = 1u << 2,
  kMethodPut = 1u << 3,
  kMethodDelete = 1u << 4,
  kMethodPatch = 1u << 5,
  kMethodOptions = 1u << 6,
  kMethodConnect = 1u << 7,
  kMethodTrace = 1u << 8,
};
// The bit of a standard method (case-sensitive, as HTTP methods are); 0 otherwise.
uint32_t MethodBitFor(std::string_view method);

struct ClaimRequirement {
  std::string claim;
  std::vector<std::string> values;  // any of
};

struct CompiledRule {
  std::string name;
  RuleAction action = RuleAction::kAllow;
  bool any_method = true;  // `methods` omitted
  uint32_t method_bits = 0;
  std::vector<std::string> extra_methods;  // non-standard methods, exact
  std::vector<PathPattern> paths;          // empty: any path
  bool is_public = false;
  std::vector<std::string> groups;         // exact
  std::vector<std::string> emails;         // lowercase
  std::vector<std::string> email_domains;  // lowercase
  std::vector<std::string> subjects;       // exact
  std::vector<ClaimRequirement> claims;    // every claim listed must match
  std::vector<IpBlock> ip_blocks;
};

struct CompiledPolicy {
  std::string key;                 // "namespace/name"
  std::vector<std::string> hosts;  // canonical: lowercase, no trailing dot
  std::string path_prefix;
  std::vector<CompiledRule> rules;
  bool audit = false;      // spec.mode == Audit
  bool has_login = false;  // spec.authentication.login present
  AccessPolicy source;     // the document: upstream, issuers, identity headers, rate limit...
};

class CompiledPolicySet;

struct CompileResult {
  std::shared_ptr<const CompiledPolicySet> set;  // never null
  std::vector<PolicyError> errors;               // sorted by policy key, then field
};

CompileResult CompilePolicies(std::vector<AccessPolicy> policies);

// One policy alone, without conflict checks: fills `out`, or returns the
// first problem found (kInvalid, field named). Used by CompilePolicies and
// by `validate`.
std::optional<PolicyError> CompilePolicy(AccessPolicy policy, CompiledPolicy* out);

// Immutable once built; share it as shared_ptr<const CompiledPolicySet>.
// Decisions point into it.
class CompiledPolicySet {
 public:
  CompiledPolicySet(const CompiledPolicySet&) = delete;
  CompiledPolicySet& operator=(const CompiledPolicySet&) = delete;

  // Sorted by key.
  const std::vector<std::unique_ptr<const CompiledPolicy>>& policies() const { return policies_; }
  const CompiledPolicy* FindByKey(std::string_view key) const;
  const RouteTable& routes() const { return routes_; }

 private:
  friend CompileResult CompilePolicies(std::vector<AccessPolicy> policies);
  CompiledPolicySet() = default;
  std::vector<std::unique_ptr<const CompiledPolicy>> policies_;
  RouteTable routes_;
};

}  // namespace gatehouse::policy
