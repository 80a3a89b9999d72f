// CompileCheck: which policies CompilePolicies would leave out, and why,
// without building the compiled set of the whole fleet (the operator only
// needs the refusals; the proxies compile the config themselves).
//
//   CompileCheck check;
//   std::map<std::string, PolicyError> refused = check.Refused(models);  // by key
//   ... substitute some models, then ...
//   refused = check.Refused(other_models);  // models seen before are not compiled again
//
// Same answer as ErrorsByKey(CompilePolicies(copies of models).errors), the
// first error per "namespace/name": each model is compiled alone, one at a
// time (CompilePolicy, the same function CompilePolicies uses), which finds
// its own errors and its canonical (host, pathPrefix) claims. Conflicts need
// two policies with an identical claim (RouteTable::Owner compares exactly),
// so only the policies that share a claim with another are compiled
// together, by CompilePolicies itself: its ordering and messages stay the one
// source of truth. A model with no shared claim can neither refuse nor be
// refused by another. Duplicate keys (never from the API) also go through
// CompilePolicies whole.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "operator/reconcile/fleet_renderer.h"
#include "proxy/policy/policy_error.h"

namespace gatehouse::reconcile {

class CompileCheck {
 public:
  std::map<std::string, policy::PolicyError> Refused(const std::vector<SharedPolicy>& models);

 private:
  struct Alone {
    SharedPolicy model;  // keeps the pointer (the memo key) valid
    std::optional<policy::PolicyError> error;
    std::vector<std::pair<std::string, std::string>> claims;  // (host, pathPrefix), unique
  };
  const Alone& CompileAlone(const SharedPolicy& model);

  std::map<const policy::AccessPolicy*, Alone> memo_;
};

}  // namespace gatehouse::reconcile
