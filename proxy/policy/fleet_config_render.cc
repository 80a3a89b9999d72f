// RenderFleetConfigContent: the canonical content bytes (see fleet_config.h),
// written directly from the models; fleet_config.cc holds the envelope and
// the way back (parse).
#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "proxy/policy/fleet_config.h"
#include "proxy/policy/policy_validator.h"
#include "proxy/policy/secret_store.h"

namespace gatehouse::policy {
namespace {

using nlohmann::json;

// The JSON library's own canonical dump, for the strings the writer does not
// copy verbatim (invalid UTF-8 is replaced rather than thrown).
std::string Canonical(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}
// The content is written directly, not through a JSON tree (a 10,000-policy
// config as nlohmann objects costs several times its ~15 MB of bytes). The
// bytes are exactly what dumping the equivalent tree gives: keys in sorted
// (std::map) order, written below in that order by hand, no whitespace,
// integers printed exactly; fleet_config_test re-dumps the output through
// nlohmann and compares byte for byte, so a key out of order fails there.
class CanonicalWriter {
 public:
  explicit CanonicalWriter(std::string* out) : out_(*out) {}

  // Strings of printable ASCII (nearly all of them) are copied as they are;
  // anything else (quotes, controls, UTF-8, invalid bytes) goes through
  // nlohmann, so escaping and the replacement of invalid UTF-8 stay its own.
  void String(std::string_view s) {
    bool plain = std::all_of(s.begin(), s.end(), [](char c) {
      auto u = static_cast<unsigned char>(c);
      return u >= 0x20 && u < 0x7f && c != '"' && c != '\\';
    });
    if (plain) {
      out_ += '"';
      out_ += s;
      out_ += '"';
    } else {
      out_ += Canonical(json(std::string(s)));
    }
  }
  void Strings(const std::vector<std::string>& values) {
    out_ += '[';
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out_ += ',';
      String(values[i]);
    }
    out_ += ']';
  }
  void Int(int64_t value) { out_ += std::to_string(value); }
  void Bool(bool value) { out_ += value ? "true" : "false"; }
  // Starts the member `key`; `first` is the first member of its object.
  void Key(std::string_view key, bool first = false) {
    if (!first) out_ += ',';
    String(key);
    out_ += ':';
  }
  void Raw(std::string_view bytes) { out_ += bytes; }

 private:
  std::string& out_;
};

void WriteSecretRef(CanonicalWriter& w, const SecretRef& ref) {
  w.Raw("{");
  w.Key("key", true);
  w.String(ref.key);
  w.Key("name");
  w.String(ref.name);
  w.Raw("}");
}

void WriteIssuer(CanonicalWriter& w, const auth::IssuerConfig& issuer) {
  w.Raw("{");
  w.Key("algorithms", true);
  w.Raw("[");
  for (size_t i = 0; i < issuer.algorithms.size(); ++i) {
    if (i > 0) w.Raw(",");
    w.String(auth::JwsAlgorithmName(issuer.algorithms[i]));
  }
  w.Raw("]");
  w.Key("audiences");
  w.Strings(issuer.audiences);
  w.Key("emailClaim");
  w.String(issuer.email_claim);
  w.Key("groupsClaim");
  w.String(issuer.groups_claim);
  w.Key("issuer");
  w.String(issuer.issuer);
  w.Key("jwksUri");
  w.String(issuer.jwks_uri);
  w.Key("userClaim");
  w.String(issuer.user_claim);
  w.Raw("}");
}

void WriteAuthentication(CanonicalWriter& w, const AuthenticationSpec& auth) {
  w.Raw("{");
  w.Key("issuers", true);
  w.Raw("[");
  for (size_t i = 0; i < auth.issuers.size(); ++i) {
    if (i > 0) w.Raw(",");
    WriteIssuer(w, auth.issuers[i]);
  }
  w.Raw("]");
  if (auth.login) {
    w.Key("login");
    w.Raw("{");
    w.Key("clientID", true);
    w.String(auth.login->client_id);
    w.Key("clientSecretRef");
    WriteSecretRef(w, auth.login->client_secret_ref);
    w.Key("issuer");
    w.String(auth.login->issuer);
    w.Key("scopes");
    w.Strings(auth.login->scopes);
    w.Raw("}");
  }
  w.Raw("}");
}

void WriteFrom(CanonicalWriter& w, const FromSpec& from) {
  w.Raw("{");
  w.Key("claims", true);
  w.Raw("{");
  bool first = true;
  for (const auto& [claim, values] : from.claims) {  // std::map: sorted, unique
    w.Key(claim, first);
    w.Strings(values);
    first = false;
  }
  w.Raw("}");
  w.Key("emailDomains");
  w.Strings(from.email_domains);
  w.Key("emails");
  w.Strings(from.emails);
  w.Key("groups");
  w.Strings(from.groups);
  w.Key("ipBlocks");
  w.Strings(from.ip_blocks);
  w.Key("public");
  w.Bool(from.is_public);
  w.Key("subjects");
  w.Strings(from.subjects);
  w.Raw("}");
}

void WriteRule(CanonicalWriter& w, const RuleSpec& rule) {
  w.Raw("{");
  w.Key("action", true);
  w.String(rule.action == RuleAction::kDeny ? "Deny" : "Allow");
  w.Key("from");
  WriteFrom(w, rule.from);
  w.Key("methods");
  w.Strings(rule.methods);
  w.Key("name");
  w.String(rule.name);
  w.Key("paths");
  w.Strings(rule.paths);
  w.Raw("}");
}

void WriteUpstream(CanonicalWriter& w, const UpstreamSpec& upstream) {
  w.Raw("{");
  bool first = true;
  if (upstream.service) {
    w.Key("service", true);
    w.Raw("{");
    w.Key("name", true);
    w.String(upstream.service->name);
    w.Key("port");
    w.Int(upstream.service->port);
    w.Raw("}");
    first = false;
  }
  w.Key("timeoutSeconds", first);
  w.Int(upstream.timeout_seconds);
  if (!upstream.service) {
    w.Key("url");
    w.String(upstream.url);
  }
  w.Raw("}");
}

void WriteIdentityHeaders(CanonicalWriter& w, const IdentityHeadersSpec& headers) {
  w.Raw("{");
  w.Key("assertion", true);
  w.String(headers.assertion);
  w.Key("email");
  w.String(headers.email);
  w.Key("forwardToken");
  w.Bool(headers.forward_token);
  w.Key("groups");
  w.String(headers.groups);
  w.Key("user");
  w.String(headers.user);
  w.Raw("}");
}

void WriteSpec(CanonicalWriter& w, const AccessPolicySpec& spec) {
  w.Raw("{");
  w.Key("authentication", true);
  WriteAuthentication(w, spec.authentication);
  w.Key("hosts");
  w.Strings(spec.hosts);
  w.Key("identityHeaders");
  WriteIdentityHeaders(w, spec.identity_headers);
  if (spec.metabase) {
    w.Key("metabase");
    w.Raw("{");
    w.Key("sharedSecretRef", true);
    WriteSecretRef(w, spec.metabase->shared_secret_ref);
    w.Raw("}");
  }
  w.Key("mode");
  w.String(spec.mode == PolicyMode::kAudit ? "Audit" : "Enforce");
  w.Key("pathPrefix");
  w.String(spec.path_prefix);
  if (spec.rate_limit) {
    w.Key("rateLimit");
    w.Raw("{");
    w.Key("burst", true);
    w.Int(spec.rate_limit->burst);
    w.Key("key");
    w.String(spec.rate_limit->key == RateLimitKey::kIp ? "ip" : "identity");
    w.Key("requestsPerMinute");
    w.Int(spec.rate_limit->requests_per_minute);
    w.Raw("}");
  }
  w.Key("rules");
  w.Raw("[");
  for (size_t i = 0; i < spec.rules.size(); ++i) {
    if (i > 0) w.Raw(",");
    WriteRule(w, spec.rules[i]);
  }
  w.Raw("]");
  w.Key("upstream");
  WriteUpstream(w, spec.upstream);
  w.Raw("}");
}

void WritePolicy(CanonicalWriter& w, const AccessPolicy& policy) {
  w.Raw("{");
  w.Key("apiVersion", true);
  w.String(kAccessPolicyApiVersion);
  w.Key("kind");
  w.String(kAccessPolicyKind);
  w.Key("metadata");
  w.Raw("{");
  // Unknown (local mode) timestamps and uids are left out rather than written empty.
  bool first = true;
  if (!policy.creation_timestamp.empty()) {
    w.Key("creationTimestamp", true);
    w.String(policy.creation_timestamp);
    first = false;
  }
  w.Key("generation", first);
  w.Int(policy.generation);
  w.Key("name");
  w.String(policy.name);
  w.Key("namespace");
  w.String(policy.namespace_name);
  if (!policy.uid.empty()) {
    w.Key("uid");
    w.String(policy.uid);
  }
  w.Raw("}");
  w.Key("spec");
  WriteSpec(w, policy.spec);
  w.Raw("}");
}

void CollectSecrets(const AccessPolicy& policy, std::map<std::string, std::string>* out) {
  auto add = [&](const SecretRef& ref, const std::string& value) {
    (*out)[policy.namespace_name + "/" + ref.name + "/" + ref.key] = EncodeBase64(value);
  };
  if (policy.spec.authentication.login) {
    add(policy.spec.authentication.login->client_secret_ref,
        policy.spec.authentication.login->client_secret);
  }
  if (policy.spec.metabase) {
    add(policy.spec.metabase->shared_secret_ref, policy.spec.metabase->shared_secret);
  }
}

// Policies sorted by namespace/name; equal names (only in hand-built,
// invalid input) by their bytes, so the output never depends on input order.
void WritePolicies(const std::vector<const AccessPolicy*>& sorted, std::string* out) {
  CanonicalWriter w(out);
  for (size_t i = 0; i < sorted.size();) {
    size_t end = i + 1;
    while (end < sorted.size() && sorted[end]->namespace_name == sorted[i]->namespace_name &&
           sorted[end]->name == sorted[i]->name) {
      ++end;
    }
    if (i > 0) w.Raw(",");
    if (end == i + 1) {
      size_t before = out->size();
      WritePolicy(w, *sorted[i]);
      // Sized from the first policy: one allocation, no doubling copies.
      if (i == 0) out->reserve(out->size() + (out->size() - before + 1) * sorted.size() * 5 / 4);
    } else {
      std::vector<std::string> same;
      for (size_t j = i; j < end; ++j) {
        std::string one;
        CanonicalWriter single(&one);
        WritePolicy(single, *sorted[j]);
        same.push_back(std::move(one));
      }
      std::sort(same.begin(), same.end());
      for (size_t j = 0; j < same.size(); ++j) {
        if (j > 0) w.Raw(",");
        w.Raw(same[j]);
      }
    }
    i = end;
  }
}

std::string RenderSorted(std::vector<const AccessPolicy*> policies) {
  std::sort(policies.begin(), policies.end(), [](const AccessPolicy* a, const AccessPolicy* b) {
    return std::tie(a->namespace_name, a->name) < std::tie(b->namespace_name, b->name);
  });
  std::map<std::string, std::string> secrets;
  for (const AccessPolicy* policy : policies) CollectSecrets(*policy, &secrets);
  std::string out = "{\"policies\":[";
  WritePolicies(policies, &out);
  out += "],\"secrets\":{";
  CanonicalWriter w(&out);
  bool first = true;
  for (const auto& [id, value] : secrets) {
    w.Key(id, first);
    w.String(value);
    first = false;
  }
  out += "}}";
  return out;
}

}  // namespace

std::string RenderFleetConfigContent(const std::vector<AccessPolicy>& policies) {
  std::vector<const AccessPolicy*> pointers;
  pointers.reserve(policies.size());
  for (const AccessPolicy& policy : policies) pointers.push_back(&policy);
  return RenderSorted(std::move(pointers));
}

std::string RenderFleetConfigContent(
    const std::vector<std::shared_ptr<const AccessPolicy>>& policies) {
  std::vector<const AccessPolicy*> pointers;
  pointers.reserve(policies.size());
  for (const auto& policy : policies) {
    if (policy != nullptr) pointers.push_back(policy.get());
  }
  return RenderSorted(std::move(pointers));
}

}  // namespace gatehouse::policy
