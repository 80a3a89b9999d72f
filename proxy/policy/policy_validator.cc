#include "proxy/policy/policy_validator.h"

#include <limits>

#include "proxy/policy/path_pattern.h"
#include "proxy/policy/policy_validator_sections.h"
#include "proxy/policy/policy_validator_syntax.h"

namespace gatehouse::policy {

using nlohmann::json;
using validation::Child;
using validation::ObjectReader;
using validation::Quote;

namespace {

std::string CheckPathPrefix(std::string_view value) {
  Status status = ValidatePathPrefix(value);
  return status.ok() ? "" : status.message();
}

std::string CheckTimestamp(std::string_view value) {
  // RFC 3339 as the API server writes it ("2024-05-01T12:00:00Z"); only the
  // character set is checked: the value is compared, never interpreted.
  for (char c : value) {
    bool ok = (c >= '0' && c <= '9') || c == '-' || c == ':' || c == 'T' || c == 'Z' || c == '.' ||
              c == '+';
    if (!ok) return "must be an RFC 3339 timestamp";
  }
  return "";
}

void ReadUpstream(const ObjectReader& spec, UpstreamSpec* out) {
  ObjectReader up = spec.Object("upstream", {"service", "url", "timeoutSeconds"}, true);
  if (!up.present()) return;
  bool has_service = up.Get("service") != nullptr;
  bool has_url = up.Get("url") != nullptr;
  if (has_service == has_url) up.issues()->Add(up.path(), "must set exactly one of service or url");
  if (has_service) {
    ObjectReader service = up.Object("service", {"name", "port"});
    auto name =
        service.String("name", {.max_bytes = 63, .check = validation::CheckDns1123Label}, true);
    auto port = service.Int("port", {.min = 1, .max = 65535}, true);
    if (name && port) out->service = ServiceRef{*name, static_cast<int>(*port)};
  }
  if (has_url) {
    auto url = up.String(
        "url", {.max_bytes = validation::kMaxUrlBytes, .check = validation::CheckUpstreamUrl});
    if (url) out->url = *url;
  }
  if (auto timeout = up.Int("timeoutSeconds", {.min = 1, .max = 86400})) {
    out->timeout_seconds = static_cast<int>(*timeout);
  }
}

void ReadIdentityHeaders(const ObjectReader& spec, IdentityHeadersSpec* out) {
  ObjectReader headers =
      spec.Object("identityHeaders", {"user", "email", "groups", "assertion", "forwardToken"});
  const validation::StringRule rule{.max_bytes = 128, .check = validation::CheckIdentityHeaderName};
  struct Slot {
    std::string_view field;
    std::string* value;
  };
  const Slot slots[] = {{"user", &out->user},
                        {"email", &out->email},
                        {"groups", &out->groups},
                        {"assertion", &out->assertion}};
  for (size_t i = 0; i < std::size(slots); ++i) {
    if (auto value = headers.String(slots[i].field, rule)) *slots[i].value = *value;
    // Two identity values in one header would let one overwrite the other
    // (e.g. the user id replaced by a caller-influenced email).
    for (size_t j = 0; j < i; ++j) {
      if (validation::EqualsIgnoreCase(*slots[i].value, *slots[j].value)) {
        headers.issues()->Add(headers.FieldPath(slots[i].field),
                              "must differ from " + std::string(slots[j].field) +
                                  " (header names are case-insensitive)");
      }
    }
  }
  if (auto forward = headers.Bool("forwardToken")) out->forward_token = *forward;
}

void ReadMetabase(const ObjectReader& spec, const std::string& namespace_name,
                  const SecretStore& secrets, std::optional<MetabaseSpec>* out) {
  ObjectReader metabase = spec.Object("metabase", {"sharedSecretRef"});
  if (!metabase.present()) return;
  MetabaseSpec result;
  auto secret = validation::ReadSecretRef(metabase, "sharedSecretRef", namespace_name, secrets,
                                          &result.shared_secret_ref);
  if (!secret) return;
  // A short HMAC key can be brute-forced offline from one signed SSO token.
  if (secret->size() < validation::kMinMetabaseSecretBytes) {
    metabase.issues()->Add(metabase.FieldPath("sharedSecretRef"),
                           "Secret " + namespace_name + "/" + result.shared_secret_ref.name +
                               " key " + Quote(result.shared_secret_ref.key) +
                               " must hold at least 16 bytes (Metabase generates 64 hex "
                               "characters)");
    return;
  }
  result.shared_secret = std::move(*secret);
  *out = std::move(result);
}

void ReadRateLimit(const ObjectReader& spec, std::optional<RateLimitSpec>* out) {
  ObjectReader limit = spec.Object("rateLimit", {"requestsPerMinute", "burst", "key"});
  if (!limit.present()) return;
  auto rpm = limit.Int("requestsPerMinute", {.min = 1, .max = 1000000}, true);
  auto burst = limit.Int("burst", {.min = 1, .max = 1000000}, true);
  auto key = limit.OneOf("key", {"identity", "ip"});
  if (!rpm || !burst) return;
  RateLimitSpec result;
  result.requests_per_minute = static_cast<int>(*rpm);
  result.burst = static_cast<int>(*burst);
  result.key = key.value_or(0) == 1 ? RateLimitKey::kIp : RateLimitKey::kIdentity;
  *out = result;
}

// Tokens are only verified when some rule needs an identity or login is on; a
// policy that needs one but trusts no issuer could never allow anyone, which
// is almost certainly a mistake worth rejecting loudly.
void CheckIssuersNeeded(const ObjectReader& spec, const AccessPolicySpec& out) {
  if (!out.authentication.issuers.empty()) return;
  // A list that was given but rejected (e.g. too long) is already reported.
  const json* auth = spec.Get("authentication");
  if (auth != nullptr && auth->is_object() && auth->contains("issuers") &&
      !(*auth)["issuers"].is_null() && !(*auth)["issuers"].empty()) {
    return;
  }
  bool needs_identity = out.authentication.login.has_value();
  for (const RuleSpec& rule : out.rules) needs_identity |= !rule.from.is_public;
  if (needs_identity) {
    spec.issues()->Add(Child(spec.path(), "authentication.issuers"),
                       "at least one issuer is required unless every rule is public and "
                       "login is not set");
  }
}

void ReadSpec(const ObjectReader& spec, const std::string& namespace_name,
              const SecretStore& secrets, AccessPolicySpec* out) {
  if (auto hosts =
          spec.StringList("hosts",
                          {.min_items = 1,
                           .max_items = validation::kMaxHosts,
                           .unique = true,
                           .item = {.max_bytes = 253, .check = validation::CheckHostPattern}},
                          true)) {
    out->hosts = std::move(*hosts);
  }
  if (auto prefix = spec.String("pathPrefix", {.max_bytes = 1024, .check = CheckPathPrefix})) {
    out->path_prefix = *prefix;
  }
  ReadUpstream(spec, &out->upstream);
  validation::ReadAuthentication(spec, namespace_name, secrets, &out->authentication);
  validation::ReadRules(spec, &out->rules);
  ReadIdentityHeaders(spec, &out->identity_headers);
  ReadMetabase(spec, namespace_name, secrets, &out->metabase);
  ReadRateLimit(spec, &out->rate_limit);
  if (auto mode = spec.OneOf("mode", {"Enforce", "Audit"})) {
    out->mode = *mode == 1 ? PolicyMode::kAudit : PolicyMode::kEnforce;
  }
  CheckIssuersNeeded(spec, *out);
}

}  // namespace

ObjectMeta ReadObjectMeta(const ObjectReader& root) {
  ObjectMeta meta;
  ObjectReader metadata = root.Object(
      "metadata",
      {"name", "namespace", "creationTimestamp", "generation", "uid", "labels", "annotations",
       "resourceVersion", "managedFields", "ownerReferences", "finalizers", "generateName",
       "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"},
      true);
  if (auto name = metadata.String(
          "name", {.max_bytes = 253, .check = validation::CheckDns1123Subdomain}, true)) {
    meta.name = *name;
  }
  if (metadata.Get("namespace") != nullptr) {
    // An invalid namespace resolves nothing (""), rather than falling back to
    // "default" and reporting misleading missing Secrets there.
    meta.namespace_name =
        metadata.String("namespace", {.max_bytes = 63, .check = validation::CheckDns1123Label})
            .value_or("");
  }
  if (auto ts = metadata.String("creationTimestamp", {.max_bytes = 64, .check = CheckTimestamp})) {
    meta.creation_timestamp = *ts;
  }
  if (auto generation =
          metadata.Int("generation", {.min = 0, .max = std::numeric_limits<int64_t>::max()})) {
    meta.generation = *generation;
  }
  if (auto uid = metadata.String("uid", {.max_bytes = 128})) meta.uid = *uid;
  return meta;
}

PolicyValidation ValidateAccessPolicy(const json& object, const SecretStore& secrets) {
  PolicyValidation result;
  validation::Issues* issues = &result.issues;
  ObjectReader root(&object, "", issues, {"apiVersion", "kind", "metadata", "spec", "status"},
                    true);
  if (!root.present()) return result;
  if (auto api = root.String("apiVersion", {.max_bytes = 128}, true);
      api && *api != kAccessPolicyApiVersion) {
    issues->Add("apiVersion", "must be gatehouse.dev/v1alpha1 (got " + Quote(*api) + ")");
  }
  if (auto kind = root.String("kind", {.max_bytes = 128}, true);
      kind && *kind != kAccessPolicyKind) {
    issues->Add("kind", "must be AccessPolicy (got " + Quote(*kind) + ")");
  }
  ObjectMeta meta = ReadObjectMeta(root);
  AccessPolicy& policy = result.policy;
  policy.namespace_name = meta.namespace_name;
  policy.name = meta.name;
  policy.creation_timestamp = meta.creation_timestamp;
  policy.generation = meta.generation;
  policy.uid = meta.uid;
  ObjectReader spec = root.Object("spec",
                                  {"hosts", "pathPrefix", "upstream", "authentication", "rules",
                                   "identityHeaders", "metabase", "rateLimit", "mode"},
                                  true);
  if (spec.present()) ReadSpec(spec, meta.namespace_name, secrets, &policy.spec);
  return result;
}

}  // namespace gatehouse::policy
