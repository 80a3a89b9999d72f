// PolicyEngine: the per-request decision. Pure and allocation-free: it reads
// one immutable CompiledPolicySet snapshot and the facts the server gathered.
//
//   StatusOr<NormalizedPath> path = NormalizePath(target);
//   if (!path.ok()) return BadRequestDecision();           // reason bad_request
//   RequestFacts facts{.method = "GET", .host = host_header, .path = path->path,
//                      .client_ip = &ip, .identity = identity.get(),
//                      .bad_credentials = token_was_rejected,
//                      .browser_navigation = is_html_get};
//   Decision d = Evaluate(*snapshot, facts);
//
// Order (deny by default): route -> any matching Deny rule (denied_by_rule)
// -> first matching Allow rule (allowed) -> without identity:
// invalid_token if a credential was offered and failed, login_required for a
// browser navigation when the policy configures login, else no_credentials
// -> with identity: no_matching_rule. In Audit mode every deny of the policy
// becomes an allow with reason audit_would_deny and audit_reason set.
#pragma once

#include <string_view>

#include "proxy/auth/identity.h"
#include "proxy/policy/decision.h"
#include "proxy/policy/ip_block.h"
#include "proxy/policy/policy_compiler.h"

namespace gatehouse::policy {

struct RequestFacts {
  std::string_view method;                   // as received; case-sensitive
  std::string_view host;                     // the Host / :authority header as received
  std::string_view path;                     // NormalizePath(...).path
  const IpAddress* client_ip = nullptr;      // null: unknown (matches no ipBlocks)
  const auth::Identity* identity = nullptr;  // null: anonymous
  bool bad_credentials = false;              // a credential was offered and did not verify
  bool browser_navigation = false;           // GET with Accept: text/html
};

// The policy owning host + normalized path, or null (no_route).
const CompiledPolicy* Route(const CompiledPolicySet& set, std::string_view host,
                            std::string_view normalized_path);

// The decision of one policy for a request already routed to it.
Decision Decide(const CompiledPolicy& policy, const RequestFacts& facts);

// Route + Decide; no_route when no policy owns the request.
Decision Evaluate(const CompiledPolicySet& set, const RequestFacts& facts);

// Whether one rule's method, path and `from` all match (exposed for `explain`).
bool RuleMatches(const CompiledRule& rule, const RequestFacts& facts);

}  // namespace gatehouse::policy
