#include "operator/reconcile/compile_check.h"

#include <algorithm>
#include <set>

#include "proxy/policy/policy_compiler.h"

namespace gatehouse::reconcile {
namespace {

using policy::AccessPolicy;
using policy::PolicyError;

// The first error per key, in CompilePolicies' order (key, field, message).
void AddFirstErrors(const std::vector<PolicyError>& errors,
                    std::map<std::string, PolicyError>* out) {
  for (const PolicyError& e : errors) out->emplace(e.policy, e);
}

std::map<std::string, PolicyError> CompileTogether(const std::vector<SharedPolicy>& models) {
  std::vector<AccessPolicy> copies;
  copies.reserve(models.size());
  for (const SharedPolicy& m : models) copies.push_back(*m);
  std::map<std::string, PolicyError> out;
  AddFirstErrors(policy::CompilePolicies(std::move(copies)).errors, &out);
  return out;
}

}  // namespace

const CompileCheck::Alone& CompileCheck::CompileAlone(const SharedPolicy& model) {
  auto it = memo_.find(model.get());
  if (it != memo_.end()) return it->second;
  Alone alone;
  alone.model = model;
  policy::CompiledPolicy compiled;  // one at a time: dropped once its claims are read
  alone.error = policy::CompilePolicy(*model, &compiled);
  if (!alone.error) {
    for (std::string& host : compiled.hosts)
      alone.claims.emplace_back(std::move(host), compiled.path_prefix);
    std::sort(alone.claims.begin(), alone.claims.end());
    alone.claims.erase(std::unique(alone.claims.begin(), alone.claims.end()), alone.claims.end());
  }
  return memo_.emplace(model.get(), std::move(alone)).first->second;
}

std::map<std::string, PolicyError> CompileCheck::Refused(const std::vector<SharedPolicy>& models) {
  std::set<std::string> keys;
  for (const SharedPolicy& m : models) {
    if (!keys.insert(m->Key()).second) return CompileTogether(models);  // duplicate key
  }
  std::map<std::string, PolicyError> refused;
  std::map<std::pair<std::string, std::string>, std::vector<size_t>> holders;
  for (size_t i = 0; i < models.size(); ++i) {
    const Alone& alone = CompileAlone(models[i]);
    if (alone.error) {
      refused.emplace(models[i]->Key(), *alone.error);
      continue;  // refused alone: claims nothing in CompilePolicies either
    }
    for (const auto& claim : alone.claims) holders[claim].push_back(i);
  }
  std::set<size_t> contested;
  for (const auto& [claim, indices] : holders) {
    if (indices.size() > 1) contested.insert(indices.begin(), indices.end());
  }
  if (contested.empty()) return refused;
  std::vector<SharedPolicy> together;
  for (size_t i : contested) together.push_back(models[i]);
  for (auto& [key, error] : CompileTogether(together)) refused.emplace(key, std::move(error));
  return refused;
}

}  // namespace gatehouse::reconcile
