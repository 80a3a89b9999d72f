#include "proxy/policy/decision.h"

#include "proxy/policy/policy_compiler.h"

namespace gatehouse::policy {

std::string_view ReasonLabel(DecisionReason reason) {
  switch (reason) {
    case DecisionReason::kAllowed:
      return "allowed";
    case DecisionReason::kAuditWouldDeny:
      return "audit_would_deny";
    case DecisionReason::kNoRoute:
      return "no_route";
    case DecisionReason::kNoCredentials:
      return "no_credentials";
    case DecisionReason::kInvalidToken:
      return "invalid_token";
    case DecisionReason::kLoginRequired:
      return "login_required";
    case DecisionReason::kNoMatchingRule:
      return "no_matching_rule";
    case DecisionReason::kDeniedByRule:
      return "denied_by_rule";
    case DecisionReason::kRateLimited:
      return "rate_limited";
    case DecisionReason::kBadRequest:
      return "bad_request";
    case DecisionReason::kLoginCallback:
      return "login_callback";
    case DecisionReason::kLoginFailed:
      return "login_failed";
    case DecisionReason::kLogout:
      return "logout";
    case DecisionReason::kMetabaseSso:
      return "metabase_sso";
  }
  return "unknown";
}

int HttpStatusFor(DecisionReason reason) {
  switch (reason) {
    case DecisionReason::kAllowed:
    case DecisionReason::kAuditWouldDeny:
      return 200;
    case DecisionReason::kNoRoute:
      return 404;
    case DecisionReason::kNoCredentials:
    case DecisionReason::kInvalidToken:
      return 401;
    case DecisionReason::kLoginRequired:
      return 302;
    case DecisionReason::kNoMatchingRule:
    case DecisionReason::kDeniedByRule:
      return 403;
    case DecisionReason::kRateLimited:
      return 429;
    case DecisionReason::kBadRequest:
      return 400;
    case DecisionReason::kLoginCallback:
    case DecisionReason::kLogout:
    case DecisionReason::kMetabaseSso:
      return 302;
    case DecisionReason::kLoginFailed:
      return 400;  // 502 when the IdP or its token failed (set by the login flow)
  }
  return 500;
}

std::string_view Decision::PolicyKey() const {
  return policy == nullptr ? std::string_view() : std::string_view(policy->key);
}

Decision MakeDecision(DecisionReason reason, const CompiledPolicy* policy, std::string_view rule) {
  Decision decision;
  decision.allow = reason == DecisionReason::kAllowed ||
                   reason == DecisionReason::kAuditWouldDeny ||
                   reason == DecisionReason::kLoginCallback || reason == DecisionReason::kLogout ||
                   reason == DecisionReason::kMetabaseSso;
  decision.reason = reason;
  decision.http_status = HttpStatusFor(reason);
  decision.policy = policy;
  decision.rule = rule;
  return decision;
}

}  // namespace gatehouse::policy
