#include "proxy/policy/policy_compiler.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <tuple>
#include <utility>

namespace gatehouse::policy {
namespace {

std::string Lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string Indexed(const std::string& field, size_t index) {
  return field + "[" + std::to_string(index) + "]";
}

// Collects the first problem found while compiling one policy.
class ErrorSink {
 public:
  explicit ErrorSink(const AccessPolicy& policy) : policy_(policy) {}
  bool Fail(std::string field, std::string message) {
    if (!error_) {
      error_ = PolicyError{policy_.source, policy_.Key(), std::move(field), std::move(message),
                           PolicyErrorReason::kInvalid};
    }
    return false;
  }
  bool failed() const { return error_.has_value(); }
  std::optional<PolicyError> Take() { return std::move(error_); }

 private:
  const AccessPolicy& policy_;
  std::optional<PolicyError> error_;
};

// HTTP methods are case-sensitive tokens; lowercase "get" would silently
// never match, so it is an error rather than a rule that does nothing.
bool CompileMethods(const RuleSpec& spec, const std::string& field, CompiledRule* rule,
                    ErrorSink* sink) {
  rule->any_method = spec.methods.empty();
  for (size_t i = 0; i < spec.methods.size(); ++i) {
    const std::string& method = spec.methods[i];
    bool token = !method.empty() && method.size() <= 32;
    for (char c : method) token = token && c >= 'A' && c <= 'Z';
    if (!token) {
      return sink->Fail(
          Indexed(field + ".methods", i),
          "must be an uppercase HTTP method such as GET (methods are case-sensitive)");
    }
    if (uint32_t bit = MethodBitFor(method); bit != 0) {
      rule->method_bits |= bit;
    } else {
      rule->extra_methods.push_back(method);
    }
  }
  return true;
}

bool CompilePaths(const RuleSpec& spec, const std::string& field, CompiledRule* rule,
                  ErrorSink* sink) {
  for (size_t i = 0; i < spec.paths.size(); ++i) {
    StatusOr<PathPattern> pattern = PathPattern::Compile(spec.paths[i]);
    if (!pattern.ok()) return sink->Fail(Indexed(field + ".paths", i), pattern.status().message());
    rule->paths.push_back(std::move(*pattern));
  }
  return true;
}

// Lists of `from` values: no empty entries (an empty value matches nothing
// useful and usually means a templating mistake).
bool CopyValues(const std::vector<std::string>& values, const std::string& field, bool lowercase,
                std::vector<std::string>* out, ErrorSink* sink) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i].empty()) return sink->Fail(Indexed(field, i), "must not be empty");
    out->push_back(lowercase ? Lowercase(values[i]) : values[i]);
  }
  return true;
}

bool CompileEmailDomains(const FromSpec& from, const std::string& field, CompiledRule* rule,
                         ErrorSink* sink) {
  if (!CopyValues(from.email_domains, field, true, &rule->email_domains, sink)) return false;
  for (size_t i = 0; i < rule->email_domains.size(); ++i) {
    if (rule->email_domains[i].find('@') != std::string::npos) {
      return sink->Fail(Indexed(field, i), "must be a domain such as example.com, without '@'");
    }
  }
  return true;
}

bool CompileClaims(const FromSpec& from, const std::string& field, CompiledRule* rule,
                   ErrorSink* sink) {
  for (const auto& [claim, values] : from.claims) {
    std::string claim_field = field + "." + claim;
    if (claim.empty()) return sink->Fail(field, "claim names must not be empty");
    if (values.empty()) return sink->Fail(claim_field, "needs at least one value");
    ClaimRequirement requirement{claim, {}};
    if (!CopyValues(values, claim_field, false, &requirement.values, sink)) return false;
    rule->claims.push_back(std::move(requirement));
  }
  return true;
}

bool CompileFrom(const FromSpec& from, const std::string& field, CompiledRule* rule,
                 ErrorSink* sink) {
  rule->is_public = from.is_public;
  if (from.is_public &&
      (!from.groups.empty() || !from.emails.empty() || !from.email_domains.empty() ||
       !from.subjects.empty() || !from.claims.empty())) {
    // Security: "public plus groups" has no sane reading (anyone, or only the
    // group?); refuse rather than pick one.
    return sink->Fail(field, "public: true can only be combined with ipBlocks");
  }
  if (!CopyValues(from.groups, field + ".groups", false, &rule->groups, sink) ||
      !CopyValues(from.emails, field + ".emails", true, &rule->emails, sink) ||
      !CompileEmailDomains(from, field + ".emailDomains", rule, sink) ||
      !CopyValues(from.subjects, field + ".subjects", false, &rule->subjects, sink) ||
      !CompileClaims(from, field + ".claims", rule, sink)) {
    return false;
  }
  for (size_t i = 0; i < from.ip_blocks.size(); ++i) {
    StatusOr<IpBlock> block = ParseIpBlock(from.ip_blocks[i]);
    if (!block.ok()) {
      return sink->Fail(Indexed(field + ".ipBlocks", i), block.status().message());
    }
    rule->ip_blocks.push_back(*block);
  }
  return true;
}

bool CompileRule(const RuleSpec& spec, const std::string& field, CompiledRule* rule,
                 ErrorSink* sink) {
  rule->name = spec.name;
  rule->action = spec.action;
  return CompileMethods(spec, field, rule, sink) && CompilePaths(spec, field, rule, sink) &&
         CompileFrom(spec.from, field + ".from", rule, sink);
}

// Policy hosts: lowercase DNS names, "*.suffix", or a bracketed IPv6 literal.
StatusOr<std::string> CanonicalPolicyHost(std::string_view host) {
  std::string canonical = Lowercase(host);
  if (!canonical.empty() && canonical.back() == '.') canonical.pop_back();
  std::string_view name = canonical;
  if (name.starts_with("*.")) name.remove_prefix(2);
  if (name.empty() || name.size() > 253) return InvalidArgumentError("must be a host name");
  if (name.front() == '[') {
    if (name.back() != ']') return InvalidArgumentError("an IPv6 literal must be bracketed");
    return canonical;
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
    if (c == '*') return InvalidArgumentError("'*' is only allowed as \"*.domain\"");
    if (!ok) return InvalidArgumentError("must be a host name without port or scheme");
  }
  return canonical;
}

bool CompileHosts(const AccessPolicy& policy, CompiledPolicy* out, ErrorSink* sink) {
  if (policy.spec.hosts.empty()) return sink->Fail("spec.hosts", "needs at least one host");
  std::set<std::string> seen;
  for (size_t i = 0; i < policy.spec.hosts.size(); ++i) {
    StatusOr<std::string> host = CanonicalPolicyHost(policy.spec.hosts[i]);
    if (!host.ok()) return sink->Fail(Indexed("spec.hosts", i), host.status().message());
    if (seen.insert(*host).second) out->hosts.push_back(*host);
  }
  return true;
}

// Order in which policies claim routes: oldest first ("" is newest), then by
// key; the rest only makes the order total so the result never depends on
// the input order.
bool ClaimsFirst(const std::unique_ptr<CompiledPolicy>& a,
                 const std::unique_ptr<CompiledPolicy>& b) {
  const AccessPolicy& x = a->source;
  const AccessPolicy& y = b->source;
  return std::forward_as_tuple(x.creation_timestamp.empty(), x.creation_timestamp, a->key, x.uid,
                               x.generation, x.source.file, x.source.document) <
         std::forward_as_tuple(y.creation_timestamp.empty(), y.creation_timestamp, b->key, y.uid,
                               y.generation, y.source.file, y.source.document);
}

// The first (host, prefix) of `policy` that another policy already holds.
std::optional<PolicyError> FindConflict(const CompiledPolicy& policy, const RouteTable& routes) {
  for (const std::string& host : policy.hosts) {
    const CompiledPolicy* owner = routes.Owner(host, policy.path_prefix);
    if (owner == nullptr) continue;
    return PolicyError{policy.source.source, policy.key, "spec.hosts",
                       "host " + host + " with pathPrefix " + policy.path_prefix +
                           " is already claimed by the older policy " + owner->key,
                       PolicyErrorReason::kConflict};
  }
  return std::nullopt;
}

}  // namespace

namespace {

// `method` (of N - 1 bytes) equals the literal: a compare of a known size,
// which the compiler turns into a load or two.
template <size_t N>
uint32_t BitIf(std::string_view method, const char (&name)[N], uint32_t bit) {
  return std::memcmp(method.data(), name, N - 1) == 0 ? bit : 0;
}

}  // namespace

uint32_t MethodBitFor(std::string_view method) {
  // By length first: it runs once per request (policy_engine.cc).
  switch (method.size()) {
    case 3:
      return BitIf(method, "GET", kMethodGet) | BitIf(method, "PUT", kMethodPut);
    case 4:
      return BitIf(method, "HEAD", kMethodHead) | BitIf(method, "POST", kMethodPost);
    case 5:
      return BitIf(method, "PATCH", kMethodPatch) | BitIf(method, "TRACE", kMethodTrace);
    case 6:
      return BitIf(method, "DELETE", kMethodDelete);
    case 7:
      return BitIf(method, "OPTIONS", kMethodOptions) | BitIf(method, "CONNECT", kMethodConnect);
    default:
      return 0;
  }
}

std::optional<PolicyError> CompilePolicy(AccessPolicy policy, CompiledPolicy* out) {
  ErrorSink sink(policy);
  out->key = policy.Key();
  if (!CompileHosts(policy, out, &sink)) return sink.Take();
  if (Status s = ValidatePathPrefix(policy.spec.path_prefix); !s.ok()) {
    sink.Fail("spec.pathPrefix", s.message());
    return sink.Take();
  }
  out->path_prefix = policy.spec.path_prefix;
  out->rules.reserve(policy.spec.rules.size());
  for (size_t i = 0; i < policy.spec.rules.size(); ++i) {
    CompiledRule rule;
    if (!CompileRule(policy.spec.rules[i], Indexed("spec.rules", i), &rule, &sink)) {
      return sink.Take();
    }
    out->rules.push_back(std::move(rule));
  }
  out->audit = policy.spec.mode == PolicyMode::kAudit;
  out->has_login = policy.spec.authentication.login.has_value();
  out->source = std::move(policy);
  return std::nullopt;
}

CompileResult CompilePolicies(std::vector<AccessPolicy> policies) {
  CompileResult result;
  std::vector<std::unique_ptr<CompiledPolicy>> compiled;
  for (AccessPolicy& policy : policies) {
    auto one = std::make_unique<CompiledPolicy>();
    if (std::optional<PolicyError> error = CompilePolicy(std::move(policy), one.get())) {
      result.errors.push_back(std::move(*error));
    } else {
      compiled.push_back(std::move(one));
    }
  }
  std::sort(compiled.begin(), compiled.end(), ClaimsFirst);

  std::shared_ptr<CompiledPolicySet> set(new CompiledPolicySet());
  std::set<std::string, std::less<>> keys;
  for (std::unique_ptr<CompiledPolicy>& policy : compiled) {
    if (!keys.insert(policy->key).second) {
      result.errors.push_back(PolicyError{policy->source.source, policy->key, "",
                                          "another document already defines " + policy->key,
                                          PolicyErrorReason::kInvalid});
      continue;
    }
    // A policy is admitted whole or not at all: check every claim first.
    if (std::optional<PolicyError> conflict = FindConflict(*policy, set->routes_)) {
      result.errors.push_back(std::move(*conflict));
      continue;
    }
    for (const std::string& host : policy->hosts) {
      set->routes_.Add(host, policy->path_prefix, policy.get());
    }
    set->policies_.push_back(std::move(policy));
  }
  std::sort(set->policies_.begin(), set->policies_.end(),
            [](const auto& a, const auto& b) { return a->key < b->key; });
  std::sort(
      result.errors.begin(), result.errors.end(), [](const PolicyError& a, const PolicyError& b) {
        return std::tie(a.policy, a.field, a.message) < std::tie(b.policy, b.field, b.message);
      });
  result.set = std::move(set);
  return result;
}

const CompiledPolicy* CompiledPolicySet::FindByKey(std::string_view key) const {
  auto it =
      std::lower_bound(policies_.begin(), policies_.end(), key,
                       [](const auto& policy, std::string_view k) { return policy->key < k; });
  return it != policies_.end() && (*it)->key == key ? it->get() : nullptr;
}

}  // namespace gatehouse::policy
