// FleetSnapshot: one immutable, fully compiled config: the CompiledPolicySet
// plus, per policy, what the gate needs at request time (token authenticator,
// upstream target, lowercased identity header names, rate limiter, metric
// handles). Built by ConfigStore on every apply; shared by requests as
// shared_ptr<const FleetSnapshot>; each request reads exactly one.
//
//   SnapshotDeps deps{.keys = jwks_cache, .metrics = &metrics};
//   StatusOr<std::shared_ptr<const FleetSnapshot>> s =
//       BuildFleetSnapshot(version, sha256, std::move(policies), deps, previous.get());
//   const PolicyRuntime* rt = (*s)->RuntimeFor(policy::Route(*(*s)->policies, host, path));
//
// All-or-nothing: any policy that does not compile (or conflicts) rejects the
// whole snapshot, so a broken edit never half-applies. Rate limiter buckets
// carry over from `previous` for a policy whose rateLimit did not change.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "proxy/auth/key_provider.h"
#include "proxy/auth/oidc_login.h"
#include "proxy/auth/token_authenticator.h"
#include "proxy/core/status.h"
#include "proxy/policy/policy_compiler.h"
#include "proxy/server/gate.h"
#include "proxy/server/identity_headers.h"
#include "proxy/server/proxy_metrics.h"
#include "proxy/server/rate_limiter.h"

namespace gatehouse::server {

inline constexpr size_t kDefaultRateLimitKeys = 100000;  // per policy

// Browser sign-in settings of one policy (spec.authentication.login), with
// the client secret resolved and the IssuerConfig of the login issuer (the
// validator guarantees it is one of spec.authentication.issuers).
struct PolicyLogin {
  auth::LoginClient client;
  auth::IssuerConfig issuer;
};

struct PolicyRuntime {
  const policy::CompiledPolicy* policy = nullptr;
  // Null: no issuers configured. Policies of one snapshot with equal issuer
  // lists share one authenticator (and so their token cache entries).
  std::shared_ptr<const auth::TokenAuthenticator> authenticator;
  std::shared_ptr<const UpstreamTarget> upstream;
  IdentityHeaderNames headers;
  std::shared_ptr<RateLimiter> rate_limiter;  // null: no rateLimit
  std::unique_ptr<PolicyMetrics> metrics;     // null when built without metrics
  std::unique_ptr<const PolicyLogin> login;   // null: no browser sign-in (issue 5)
  std::string metabase_secret;                // spec.metabase shared secret; "" when none
};

struct FleetSnapshot {
  int64_t version = 0;
  std::string sha256;
  std::shared_ptr<const policy::CompiledPolicySet> policies;
  std::unordered_map<const policy::CompiledPolicy*, std::unique_ptr<PolicyRuntime>> runtimes;

  // The runtime of a policy of this snapshot; null for null or foreign policies.
  const PolicyRuntime* RuntimeFor(const policy::CompiledPolicy* policy) const;
};

struct SnapshotDeps {
  auth::KeyProvider& keys;
  ProxyMetrics* metrics = nullptr;
  size_t rate_limit_max_keys = kDefaultRateLimitKeys;
};

StatusOr<std::shared_ptr<const FleetSnapshot>> BuildFleetSnapshot(
    int64_t version, std::string sha256, std::vector<policy::AccessPolicy> policies,
    const SnapshotDeps& deps, const FleetSnapshot* previous);

// spec.upstream -> where to connect: a Service becomes
// "<name>.<namespace>.svc.cluster.local:<port>" over http; a URL is split
// into scheme, host, port (default 80/443) and base path (no trailing '/').
StatusOr<UpstreamTarget> CompileUpstream(const policy::AccessPolicy& policy);

}  // namespace gatehouse::server
