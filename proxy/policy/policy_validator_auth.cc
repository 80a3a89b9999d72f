// spec.authentication: issuers and login, and secret reference resolution.
#include <algorithm>

#include "proxy/policy/policy_validator_sections.h"
#include "proxy/policy/policy_validator_syntax.h"

namespace gatehouse::policy::validation {
namespace {

using nlohmann::json;

// RFC 6749 scope-token: printable ASCII except space, '"' and '\'.
std::string CheckScopeToken(std::string_view value) {
  for (char c : value) {
    if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') {
      return "must be an OAuth scope (printable ASCII, no spaces, quotes or backslashes)";
    }
  }
  return "";
}

const StringRule kClaimNameRule{.max_bytes = 128};

std::vector<auth::JwsAlgorithm> ReadAlgorithms(const ObjectReader& issuer) {
  std::vector<auth::JwsAlgorithm> out;
  auto names = issuer.StringList("algorithms", {.min_items = 1,
                                                .max_items = auth::AllJwsAlgorithms().size(),
                                                .unique = true,
                                                .item = {.max_bytes = 16}});
  if (!names) return auth::AllJwsAlgorithms();  // absent (or reported): the full allowlist
  for (size_t i = 0; i < names->size(); ++i) {
    auth::JwsAlgorithm alg;
    // HS* and "none" are not in the enum: a symmetric or unsigned token must never verify.
    if (!auth::ParseJwsAlgorithm((*names)[i], &alg)) {
      issuer.issues()->Add(Index(issuer.FieldPath("algorithms"), i),
                           "must be one of RS256, RS384, RS512, PS256, ES256, ES384, EdDSA");
      continue;
    }
    out.push_back(alg);
  }
  return out;
}

auth::IssuerConfig ReadIssuer(const json& value, const std::string& path, Issues* issues) {
  ObjectReader r(
      &value, path, issues,
      {"issuer", "audiences", "jwksUri", "groupsClaim", "emailClaim", "userClaim", "algorithms"},
      true);
  auth::IssuerConfig out;
  if (!r.present()) return out;
  if (auto issuer =
          r.String("issuer", {.max_bytes = kMaxUrlBytes, .check = CheckIssuerUrl}, true)) {
    out.issuer = *issuer;
  }
  if (auto audiences = r.StringList(
          "audiences",
          {.min_items = 1, .max_items = kMaxAudiences, .item = {.max_bytes = kMaxValueBytes}},
          true)) {
    out.audiences = std::move(*audiences);
  }
  // "" means "take jwks_uri from discovery", as in the documented example.
  if (auto jwks = r.String(
          "jwksUri", {.max_bytes = kMaxUrlBytes, .allow_empty = true, .check = CheckIssuerUrl})) {
    out.jwks_uri = *jwks;
  }
  if (auto claim = r.String("groupsClaim", kClaimNameRule)) out.groups_claim = *claim;
  if (auto claim = r.String("emailClaim", kClaimNameRule)) out.email_claim = *claim;
  if (auto claim = r.String("userClaim", kClaimNameRule)) out.user_claim = *claim;
  out.algorithms = ReadAlgorithms(r);
  return out;
}

void ReadLogin(const ObjectReader& auth, const std::string& namespace_name,
               const SecretStore& secrets, AuthenticationSpec* out) {
  ObjectReader login = auth.Object("login", {"issuer", "clientID", "clientSecretRef", "scopes"});
  if (!login.present()) return;
  LoginSpec result;
  if (auto issuer = login.String("issuer", {.max_bytes = kMaxUrlBytes}, true)) {
    result.issuer = *issuer;
    bool listed = std::any_of(out->issuers.begin(), out->issuers.end(),
                              [&](const auth::IssuerConfig& c) { return c.issuer == *issuer; });
    // Sessions minted by login are checked against a listed issuer's keys and
    // audiences; an unlisted one would have no verification settings at all.
    if (!listed) {
      login.issues()->Add(login.FieldPath("issuer"),
                          "must equal the issuer of one of spec.authentication.issuers");
    }
  }
  if (auto id = login.String("clientID", {.max_bytes = kMaxValueBytes}, true)) {
    result.client_id = *id;
  }
  if (auto secret = ReadSecretRef(login, "clientSecretRef", namespace_name, secrets,
                                  &result.client_secret_ref)) {
    result.client_secret = std::move(*secret);
  }
  if (auto scopes =
          login.StringList("scopes", {.min_items = 1,
                                      .max_items = kMaxScopes,
                                      .unique = true,
                                      .item = {.max_bytes = 128, .check = CheckScopeToken}})) {
    if (std::find(scopes->begin(), scopes->end(), "openid") == scopes->end()) {
      login.issues()->Add(login.FieldPath("scopes"), "must contain openid");
    }
    result.scopes = std::move(*scopes);
  }
  out->login = std::move(result);
}

}  // namespace

std::optional<std::string> ReadSecretRef(const ObjectReader& parent, std::string_view field,
                                         const std::string& namespace_name,
                                         const SecretStore& secrets, SecretRef* out) {
  ObjectReader ref = parent.Object(field, {"name", "key"}, true);
  if (!ref.present()) return std::nullopt;
  auto name = ref.String("name", {.max_bytes = 253, .check = CheckDns1123Subdomain}, true);
  auto key = ref.String("key", {.max_bytes = 253, .check = CheckSecretKey}, true);
  if (!name || !key || namespace_name.empty()) return std::nullopt;  // already reported
  out->name = *name;
  out->key = *key;
  // The lookup is confined to the policy's namespace: a policy must not be able
  // to read another team's Secret by naming it.
  StatusOr<std::string> value = secrets.Lookup(namespace_name, *out);
  if (!value.ok()) {
    ref.issues()->Add(ref.path(), value.status().message());  // names the Secret, never a value
    return std::nullopt;
  }
  return std::move(*value);
}

void ReadAuthentication(const ObjectReader& spec, const std::string& namespace_name,
                        const SecretStore& secrets, AuthenticationSpec* out) {
  ObjectReader auth = spec.Object("authentication", {"issuers", "login"});
  if (const json* list = auth.List("issuers", 0, kMaxIssuers)) {
    std::string list_path = auth.FieldPath("issuers");
    for (size_t i = 0; i < list->size(); ++i) {
      auth::IssuerConfig issuer = ReadIssuer((*list)[i], Index(list_path, i), auth.issues());
      bool duplicate = !issuer.issuer.empty() &&
                       std::any_of(out->issuers.begin(), out->issuers.end(),
                                   [&](const auto& c) { return c.issuer == issuer.issuer; });
      if (duplicate) {
        auth.issues()->Add(Child(Index(list_path, i), "issuer"), "duplicate issuer");
      }
      out->issuers.push_back(std::move(issuer));
    }
  }
  ReadLogin(auth, namespace_name, secrets, out);
}

}  // namespace gatehouse::policy::validation
