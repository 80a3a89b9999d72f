#include "proxy/policy/policy_engine.h"

#include <algorithm>
#include <charconv>

namespace gatehouse::policy {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view lowercase) {
  if (a.size() != lowercase.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lowercase[i]) return false;
  }
  return true;
}

bool Contains(const std::vector<std::string>& values, std::string_view value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

// `bit`: MethodBitFor(method), computed once per request by the caller.
bool MethodMatches(const CompiledRule& rule, std::string_view method, uint32_t bit) {
  if (rule.any_method) return true;
  return bit != 0 ? (rule.method_bits & bit) != 0 : Contains(rule.extra_methods, method);
}

bool PathMatches(const CompiledRule& rule, std::string_view path) {
  if (rule.paths.empty()) return true;
  return std::any_of(rule.paths.begin(), rule.paths.end(),
                     [path](const PathPattern& p) { return p.Matches(path); });
}

bool IpMatches(const CompiledRule& rule, const IpAddress* ip) {
  if (rule.ip_blocks.empty()) return true;
  // Security: an unknown client address is outside every block.
  if (ip == nullptr) return false;
  return std::any_of(rule.ip_blocks.begin(), rule.ip_blocks.end(),
                     [ip](const IpBlock& b) { return b.Contains(*ip); });
}

bool GroupsMatch(const CompiledRule& rule, const auth::Identity& identity) {
  if (rule.groups.empty()) return true;
  return std::any_of(identity.groups.begin(), identity.groups.end(),
                     [&rule](const std::string& g) { return Contains(rule.groups, g); });
}

bool EmailMatches(const CompiledRule& rule, const auth::Identity& identity) {
  if (rule.emails.empty()) return true;
  return std::any_of(rule.emails.begin(), rule.emails.end(), [&identity](const std::string& e) {
    return EqualsIgnoreCase(identity.email, e);
  });
}

bool EmailDomainMatches(const CompiledRule& rule, const auth::Identity& identity) {
  if (rule.email_domains.empty()) return true;
  // Security: the domain is everything after the LAST '@' and must equal a
  // listed domain exactly, so "evil-example.com", "example.com.evil.io",
  // "sub.example.com" and "a@example.com@evil.io" never pass for example.com.
  // Identity.email is empty unless the token's email is verified.
  size_t at = identity.email.rfind('@');
  if (at == std::string::npos || at == 0) return false;
  std::string_view domain = std::string_view(identity.email).substr(at + 1);
  return std::any_of(rule.email_domains.begin(), rule.email_domains.end(),
                     [domain](const std::string& d) { return EqualsIgnoreCase(domain, d); });
}

bool SubjectMatches(const CompiledRule& rule, const auth::Identity& identity) {
  return rule.subjects.empty() || Contains(rule.subjects, identity.subject);
}

// A scalar claim value against the allowed strings: strings compare exactly,
// numbers and booleans by their JSON text. Objects, arrays and null never match.
bool ScalarMatches(const nlohmann::json& value, const std::vector<std::string>& allowed) {
  char buffer[64];
  std::string_view text;
  if (value.is_string()) {
    text = value.get_ref<const std::string&>();
  } else if (value.is_boolean()) {
    text = value.get<bool>() ? "true" : "false";
  } else if (value.is_number_integer() || value.is_number_unsigned() || value.is_number_float()) {
    std::to_chars_result r{};
    if (value.is_number_unsigned()) {
      r = std::to_chars(buffer, buffer + sizeof(buffer), value.get<uint64_t>());
    } else if (value.is_number_integer()) {
      r = std::to_chars(buffer, buffer + sizeof(buffer), value.get<int64_t>());
    } else {
      r = std::to_chars(buffer, buffer + sizeof(buffer), value.get<double>());
    }
    if (r.ec != std::errc()) return false;
    text = std::string_view(buffer, static_cast<size_t>(r.ptr - buffer));
  } else {
    return false;
  }
  return Contains(allowed, text);
}

bool ClaimsMatch(const CompiledRule& rule, const auth::Identity& identity) {
  for (const ClaimRequirement& requirement : rule.claims) {
    if (!identity.claims.is_object()) return false;
    auto it = identity.claims.find(requirement.claim);
    if (it == identity.claims.end()) return false;  // an absent claim never matches
    bool ok = it->is_array() ? std::any_of(it->begin(), it->end(),
                                           [&requirement](const nlohmann::json& element) {
                                             return ScalarMatches(element, requirement.values);
                                           })
                             : ScalarMatches(*it, requirement.values);
    if (!ok) return false;
  }
  return true;
}

bool FromMatches(const CompiledRule& rule, const RequestFacts& facts) {
  // `public: true`: anyone, credentials or not, limited only by ipBlocks.
  if (rule.is_public) return IpMatches(rule, facts.client_ip);
  // Security: every non-public rule needs a verified identity, including an
  // empty `from` ("any authenticated identity").
  if (facts.identity == nullptr) return false;
  const auth::Identity& identity = *facts.identity;
  // Every given field must match (AND); within a field, any value (OR).
  return GroupsMatch(rule, identity) && EmailMatches(rule, identity) &&
         EmailDomainMatches(rule, identity) && SubjectMatches(rule, identity) &&
         ClaimsMatch(rule, identity) && IpMatches(rule, facts.client_ip);
}

// The deny an Enforce policy gives when no rule decided.
DecisionReason DefaultDenyReason(const CompiledPolicy& policy, const RequestFacts& facts) {
  if (facts.identity != nullptr) return DecisionReason::kNoMatchingRule;
  if (facts.bad_credentials) return DecisionReason::kInvalidToken;
  if (policy.has_login && facts.browser_navigation) return DecisionReason::kLoginRequired;
  return DecisionReason::kNoCredentials;
}

bool RuleMatchesMethodBit(const CompiledRule& rule, const RequestFacts& facts,
                          uint32_t method_bit) {
  return MethodMatches(rule, facts.method, method_bit) && PathMatches(rule, facts.path) &&
         FromMatches(rule, facts);
}

}  // namespace

bool RuleMatches(const CompiledRule& rule, const RequestFacts& facts) {
  return RuleMatchesMethodBit(rule, facts, MethodBitFor(facts.method));
}

const CompiledPolicy* Route(const CompiledPolicySet& set, std::string_view host,
                            std::string_view normalized_path) {
  return set.routes().Find(host, normalized_path);
}

Decision Decide(const CompiledPolicy& policy, const RequestFacts& facts) {
  Decision decision;
  const uint32_t method_bit = MethodBitFor(facts.method);
  const auto matches = [&facts, method_bit](const CompiledRule& r) {
    return RuleMatchesMethodBit(r, facts, method_bit);
  };
  // Deny wins: any matching Deny rule decides, whatever the Allow rules say.
  auto deny = std::find_if(policy.rules.begin(), policy.rules.end(), [&](const CompiledRule& r) {
    return r.action == RuleAction::kDeny && matches(r);
  });
  if (deny != policy.rules.end()) {
    decision = MakeDecision(DecisionReason::kDeniedByRule, &policy, deny->name);
  } else {
    auto allow = std::find_if(policy.rules.begin(), policy.rules.end(), [&](const CompiledRule& r) {
      return r.action == RuleAction::kAllow && matches(r);
    });
    if (allow != policy.rules.end())
      return MakeDecision(DecisionReason::kAllowed, &policy, allow->name);
    // No rule allows: deny by default.
    decision = MakeDecision(DefaultDenyReason(policy, facts), &policy, "");
  }
  if (policy.audit) {
    // Audit mode lets the request through but keeps what enforcement would
    // have done, so the audit line shows the would-be reason and rule.
    DecisionReason would_be = decision.reason;
    decision = MakeDecision(DecisionReason::kAuditWouldDeny, &policy, decision.rule);
    decision.audit_reason = would_be;
  }
  return decision;
}

Decision Evaluate(const CompiledPolicySet& set, const RequestFacts& facts) {
  const CompiledPolicy* policy = Route(set, facts.host, facts.path);
  if (policy == nullptr) return MakeDecision(DecisionReason::kNoRoute, nullptr, "");
  return Decide(*policy, facts);
}

}  // namespace gatehouse::policy
