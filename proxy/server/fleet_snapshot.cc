#include "proxy/server/fleet_snapshot.h"

#include <algorithm>
#include <string>
#include <unordered_map>
#include <vector>

#include "proxy/policy/policy_validator_syntax.h"

namespace gatehouse::server {
namespace {

std::string JoinErrors(const std::vector<policy::PolicyError>& errors) {
  std::string out;
  for (const policy::PolicyError& e : errors) {
    if (!out.empty()) out += "; ";
    out += e.ToString();
  }
  return out;
}

std::shared_ptr<RateLimiter> LimiterFor(const policy::CompiledPolicy& p, const SnapshotDeps& deps,
                                        const FleetSnapshot* previous) {
  const auto& spec = p.source.spec.rate_limit;
  if (!spec || spec->requests_per_minute <= 0) return nullptr;
  if (previous != nullptr && previous->policies != nullptr) {
    // Keep the buckets across reloads so a config push does not reset budgets.
    const policy::CompiledPolicy* old = previous->policies->FindByKey(p.key);
    const PolicyRuntime* old_runtime = previous->RuntimeFor(old);
    if (old_runtime != nullptr && old_runtime->rate_limiter != nullptr &&
        old_runtime->rate_limiter->spec() == *spec) {
      return old_runtime->rate_limiter;
    }
  }
  return std::make_shared<RateLimiter>(*spec, deps.rate_limit_max_keys);
}

// spec.authentication.login -> PolicyLogin; null when absent or its issuer is unlisted.
std::unique_ptr<const PolicyLogin> LoginFor(const policy::CompiledPolicy& p) {
  const auto& auth = p.source.spec.authentication;
  if (!auth.login) return nullptr;
  auto it =
      std::find_if(auth.issuers.begin(), auth.issuers.end(),
                   [&](const auth::IssuerConfig& c) { return c.issuer == auth.login->issuer; });
  if (it == auth.issuers.end()) return nullptr;
  auto login = std::make_unique<PolicyLogin>();
  login->client = auth::LoginClient{auth.login->issuer, auth.login->client_id,
                                    auth.login->client_secret, auth.login->scopes};
  login->issuer = *it;
  return login;
}

// One TokenAuthenticator per distinct issuer list within a snapshot: 10,000
// policies trusting the same IdP hold one copy of its configs, not 10,000.
//
// Security: sharing is safe because a verification result depends only on
// the token, the IssuerConfig (compared whole, every field), the keys and
// `now`; a cache entry made for one policy is exactly what verifying again
// for another policy with an equal config would produce. Sharing never
// crosses snapshots (a new snapshot makes new authenticators with new cache
// ids), so entries from an older config still never answer for a newer one.
class AuthenticatorPool {
 public:
  explicit AuthenticatorPool(auth::KeyProvider& keys) : keys_(keys) {}

  std::shared_ptr<const auth::TokenAuthenticator> For(
      const std::vector<auth::IssuerConfig>& issuers) {
    std::string bucket;
    for (const auth::IssuerConfig& c : issuers) {
      bucket += c.issuer;
      bucket += '\n';
    }
    std::vector<std::shared_ptr<const auth::TokenAuthenticator>>& same = by_issuers_[bucket];
    for (const auto& existing : same) {
      if (existing->issuers() == issuers) return existing;
    }
    same.push_back(std::make_shared<const auth::TokenAuthenticator>(issuers, keys_));
    return same.back();
  }

 private:
  auth::KeyProvider& keys_;
  // Issuer names joined -> the authenticators with those issuers (full configs compared).
  std::unordered_map<std::string, std::vector<std::shared_ptr<const auth::TokenAuthenticator>>>
      by_issuers_;
};

StatusOr<std::unique_ptr<PolicyRuntime>> BuildRuntime(const policy::CompiledPolicy& p,
                                                      const SnapshotDeps& deps,
                                                      const FleetSnapshot* previous,
                                                      AuthenticatorPool& authenticators) {
  auto runtime = std::make_unique<PolicyRuntime>();
  runtime->policy = &p;
  StatusOr<UpstreamTarget> upstream = CompileUpstream(p.source);
  if (!upstream.ok()) {
    return InvalidArgumentError(p.key + ": spec.upstream: " + upstream.status().message());
  }
  runtime->upstream = std::make_shared<const UpstreamTarget>(std::move(*upstream));
  const auto& issuers = p.source.spec.authentication.issuers;
  if (!issuers.empty()) {
    runtime->authenticator = authenticators.For(issuers);
  }
  runtime->headers = IdentityHeaderNames::From(p.source.spec.identity_headers);
  runtime->rate_limiter = LimiterFor(p, deps, previous);
  runtime->login = LoginFor(p);
  if (p.source.spec.metabase) runtime->metabase_secret = p.source.spec.metabase->shared_secret;
  if (deps.metrics != nullptr) {
    std::vector<std::string> rule_names;
    for (const policy::CompiledRule& r : p.rules) rule_names.push_back(r.name);
    runtime->metrics = deps.metrics->ForPolicy(p.key, std::move(rule_names));
  }
  return runtime;
}

}  // namespace

const PolicyRuntime* FleetSnapshot::RuntimeFor(const policy::CompiledPolicy* policy) const {
  if (policy == nullptr) return nullptr;
  auto it = runtimes.find(policy);
  return it == runtimes.end() ? nullptr : it->second.get();
}

StatusOr<UpstreamTarget> CompileUpstream(const policy::AccessPolicy& policy) {
  const policy::UpstreamSpec& spec = policy.spec.upstream;
  UpstreamTarget t;
  t.timeout = std::chrono::seconds(spec.timeout_seconds > 0 ? spec.timeout_seconds : 600);
  if (spec.service) {
    if (spec.service->port <= 0 || spec.service->port > 65535) {
      return InvalidArgumentError("service port out of range");
    }
    t.scheme = "http";
    t.host = spec.service->name + "." + policy.namespace_name + ".svc.cluster.local";
    t.port = static_cast<uint16_t>(spec.service->port);
    t.host_header = spec.service->name + "." + policy.namespace_name +
                    ".svc:" + std::to_string(spec.service->port);
  } else {
    policy::validation::ParsedUrl url;
    const std::string problem = policy::validation::CheckHttpUrl(spec.url, &url);
    if (!problem.empty()) return InvalidArgumentError(problem);
    const bool https = url.scheme == "https";
    const int port = url.port != 0 ? url.port : (https ? 443 : 80);
    if (port <= 0 || port > 65535) return InvalidArgumentError("port out of range");
    t.scheme = url.scheme;
    t.host = url.host;
    t.port = static_cast<uint16_t>(port);
    const bool v6 = url.host.find(':') != std::string::npos;
    t.host_header = (v6 ? "[" + url.host + "]" : url.host);
    if (url.port != 0) t.host_header += ":" + std::to_string(port);
    t.base_path = url.path;
    while (!t.base_path.empty() && t.base_path.back() == '/') t.base_path.pop_back();
  }
  const bool v6 = t.host.find(':') != std::string::npos;
  t.pool_key = t.scheme + "://" + (v6 ? "[" + t.host + "]" : t.host) + ":" + std::to_string(t.port);
  return t;
}

StatusOr<std::shared_ptr<const FleetSnapshot>> BuildFleetSnapshot(
    int64_t version, std::string sha256, std::vector<policy::AccessPolicy> policies,
    const SnapshotDeps& deps, const FleetSnapshot* previous) {
  policy::CompileResult compiled = policy::CompilePolicies(std::move(policies));
  // All-or-nothing: a config with any bad policy keeps the previous one in force.
  if (!compiled.errors.empty()) return InvalidArgumentError(JoinErrors(compiled.errors));
  auto snapshot = std::make_shared<FleetSnapshot>();
  snapshot->version = version;
  snapshot->sha256 = std::move(sha256);
  snapshot->policies = compiled.set;
  AuthenticatorPool authenticators(deps.keys);
  snapshot->runtimes.reserve(compiled.set->policies().size());
  for (const auto& p : compiled.set->policies()) {
    StatusOr<std::unique_ptr<PolicyRuntime>> runtime =
        BuildRuntime(*p, deps, previous, authenticators);
    if (!runtime.ok()) return runtime.status();
    snapshot->runtimes.emplace(p.get(), std::move(*runtime));
  }
  return std::shared_ptr<const FleetSnapshot>(std::move(snapshot));
}

}  // namespace gatehouse::server
