// Decision: the outcome of one request against the compiled policies, with
// the reason label and HTTP status the server maps it to.
//
//   Decision d = Evaluate(*snapshot, facts);        // see policy_engine.h
//   if (!d.allow) return Respond(d.http_status);     // 401 / 403 / 302 / 404 / 400
//   metrics.Count(d.PolicyKey(), d.rule, d.DecisionLabel(), d.ReasonLabel());
//
// A Decision points into the CompiledPolicySet it came from (policy, rule):
// keep that snapshot's shared_ptr alive while the Decision is used. Producing
// one allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace gatehouse::policy {

struct CompiledPolicy;

// The `reason` label of gatehouse_decisions_total and the audit line.
enum class DecisionReason : uint8_t {
  kAllowed,         // 200: proxied
  kAuditWouldDeny,  // 200: proxied; Audit mode turned a deny into an allow
  kNoRoute,         // 404: no policy for the host / path
  kNoCredentials,   // 401: no identity and none offered
  kInvalidToken,    // 401: a credential was offered and did not verify
  kLoginRequired,   // 302: browser navigation to a policy with login configured
  kNoMatchingRule,  // 403: authenticated, no Allow rule matched
  kDeniedByRule,    // 403: a Deny rule matched
  kRateLimited,     // 429: decided by the server's rate limiter
  kBadRequest,      // 400: the path could not be normalized safely
  // Browser sign-in (proxy/server/login_flow.h):
  kLoginCallback,  // 302: sign-in completed at /.gatehouse/callback (allow)
  kLoginFailed,    // 400 / 502: the callback failed (bad state, IdP or ID token error)
  kLogout,         // 302: /.gatehouse/logout cleared the session (allow)
  kMetabaseSso,    // 302: Gatehouse minted a Metabase SSO token (allow)
};
inline constexpr size_t kDecisionReasonCount =
    static_cast<size_t>(DecisionReason::kMetabaseSso) + 1;

// "allowed", "audit_would_deny", "no_route", ... exactly as in PRODUCT.md.
std::string_view ReasonLabel(DecisionReason reason);
// The HTTP status of a response carrying this reason (200 for the proxied ones).
int HttpStatusFor(DecisionReason reason);

struct Decision {
  bool allow = false;
  DecisionReason reason = DecisionReason::kNoRoute;
  int http_status = 404;
  const CompiledPolicy* policy = nullptr;  // null for no_route / bad_request
  std::string_view rule;                   // the rule that decided; "" when none
  // For kAuditWouldDeny: the reason an Enforce policy would have denied with
  // (rule above names the Deny rule when there was one). kAllowed otherwise.
  DecisionReason audit_reason = DecisionReason::kAllowed;

  std::string_view ReasonLabel() const { return policy::ReasonLabel(reason); }
  std::string_view DecisionLabel() const { return allow ? "allow" : "deny"; }
  // "namespace/name" of the policy, "" when none.
  std::string_view PolicyKey() const;
};

// A Decision for `reason` with its status filled in.
Decision MakeDecision(DecisionReason reason, const CompiledPolicy* policy, std::string_view rule);

}  // namespace gatehouse::policy
