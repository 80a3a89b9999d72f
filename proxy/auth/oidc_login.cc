#include "proxy/auth/oidc_login.h"

#include <algorithm>

#include "proxy/auth/base64url.h"
#include "proxy/auth/jwt_claims.h"
#include "proxy/auth/jwt_verifier.h"
#include "proxy/auth/strict_json.h"
#include "proxy/auth/url_codec.h"

namespace gatehouse::auth {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxTokenResponseBytes = 64 * 1024;

std::string Join(const std::vector<std::string>& items, char sep) {
  std::string out;
  for (const std::string& s : items) {
    if (!out.empty()) out.push_back(sep);
    out += s;
  }
  return out;
}

// Appends k=v pairs (percent-encoded) to a URL that may already have a query.
std::string WithQuery(std::string_view base,
                      const std::vector<std::pair<std::string_view, std::string_view>>& params) {
  std::string url(base);
  char sep = url.find('?') == std::string::npos ? '?' : '&';
  for (const auto& [k, v] : params) {
    url.push_back(sep);
    url += PercentEncode(k);
    url.push_back('=');
    url += PercentEncode(v);
    sep = '&';
  }
  return url;
}

std::string Form(const std::vector<std::pair<std::string_view, std::string_view>>& params) {
  std::string body = WithQuery("", params);
  return body.substr(1);  // drop the '?'
}

// RFC 6749 2.3.1: client id and secret are form-encoded before Basic encoding.
HttpHeaders BasicAuth(const LoginClient& client) {
  const std::string pair =
      PercentEncode(client.client_id) + ":" + PercentEncode(client.client_secret);
  std::string b64 = Base64UrlEncode(pair);
  // Base64UrlEncode has the URL alphabet and no padding; Basic wants the standard one.
  for (char& c : b64) c = c == '-' ? '+' : (c == '_' ? '/' : c);
  while (b64.size() % 4 != 0) b64.push_back('=');
  return {{"Authorization", "Basic " + b64}};
}

std::vector<std::string> GroupsOf(const Json& claims, const std::string& name) {
  auto it = claims.find(name);
  if (it == claims.end()) return {};
  if (it->is_string()) return {it->get<std::string>()};
  std::vector<std::string> out;
  if (it->is_array()) {
    for (const Json& g : *it) {
      if (g.is_string()) out.push_back(g.get<std::string>());
    }
  }
  return out;
}

Status CheckIdTokenExtras(const Identity& id, std::string_view client_id,
                          std::string_view expected_nonce, int64_t now) {
  const Json& c = id.claims;
  auto iat = c.find("iat");
  // OIDC Core 2: iat is required; a token from the future is refused.
  if (iat == c.end() || !iat->is_number()) return UnauthenticatedError("id token has no iat");
  if (iat->get<double>() > static_cast<double>(now + kClockSkewSeconds)) {
    return UnauthenticatedError("id token issued in the future");
  }
  auto aud = c.find("aud");
  const bool several = aud != c.end() && aud->is_array() && aud->size() > 1;
  auto azp = c.find("azp");
  if (azp != c.end()) {
    if (!azp->is_string() || azp->get_ref<const std::string&>() != client_id) {
      return UnauthenticatedError("id token azp is not this client");
    }
  } else if (several) {
    // Core 3.1.3.7 (4): with several audiences, azp says who the token is for.
    return UnauthenticatedError("id token has several audiences and no azp");
  }
  if (!expected_nonce.empty()) {
    auto nonce = c.find("nonce");
    // Security: the nonce ties the token to this browser's login (replay, injection).
    if (nonce == c.end() || !nonce->is_string() ||
        !StateMatches(expected_nonce, nonce->get_ref<const std::string&>())) {
      return UnauthenticatedError("id token nonce does not match");
    }
  }
  return Status::Ok();
}

}  // namespace

std::string BuildAuthorizationUrl(const ProviderMetadata& metadata, const LoginClient& client,
                                  std::string_view redirect_uri, const LoginState& state) {
  const std::string scope = Join(client.scopes, ' ');
  const std::string challenge = PkceChallengeS256(state.code_verifier);
  return WithQuery(metadata.authorization_endpoint, {{"response_type", "code"},
                                                     {"client_id", client.client_id},
                                                     {"redirect_uri", redirect_uri},
                                                     {"scope", scope},
                                                     {"state", state.state},
                                                     {"nonce", state.nonce},
                                                     {"code_challenge", challenge},
                                                     {"code_challenge_method", "S256"}});
}

FormRequest BuildCodeExchange(const LoginClient& client, std::string_view code,
                              std::string_view redirect_uri, std::string_view code_verifier) {
  return {Form({{"grant_type", "authorization_code"},
                {"code", code},
                {"redirect_uri", redirect_uri},
                {"code_verifier", code_verifier}}),
          BasicAuth(client)};
}

FormRequest BuildRefreshExchange(const LoginClient& client, std::string_view refresh_token) {
  return {Form({{"grant_type", "refresh_token"}, {"refresh_token", refresh_token}}),
          BasicAuth(client)};
}

StatusOr<TokenResponse> ParseTokenResponse(int http_status, std::string_view body,
                                           bool need_id_token) {
  if (http_status == 400 || http_status == 401) {
    return PermissionDeniedError("token endpoint refused the grant");
  }
  if (http_status != 200) {
    return UnavailableError("token endpoint answered HTTP " + std::to_string(http_status));
  }
  StatusOr<Json> j = ParseStrictJson(body, kMaxTokenResponseBytes);
  if (!j.ok()) return UnavailableError("token response: " + j.status().message());
  if (!j->is_object()) return UnavailableError("token response is not a JSON object");
  TokenResponse out;
  auto str = [&](const char* name, std::string* field) {
    auto it = j->find(name);
    if (it != j->end() && it->is_string()) *field = it->get<std::string>();
  };
  str("access_token", &out.access_token);
  str("id_token", &out.id_token);
  str("refresh_token", &out.refresh_token);
  std::string token_type;
  str("token_type", &token_type);
  std::transform(token_type.begin(), token_type.end(), token_type.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (out.access_token.empty() || token_type != "bearer") {
    return UnavailableError("token response has no bearer access_token");
  }
  if (need_id_token && out.id_token.empty()) {
    return UnavailableError("token response has no id_token");
  }
  if (auto it = j->find("expires_in"); it != j->end() && it->is_number() && it->get<double>() > 0) {
    out.expires_in = static_cast<int64_t>(std::min(it->get<double>(), 1e9));
  }
  return out;
}

StatusOr<std::shared_ptr<const Identity>> VerifyIdToken(
    std::string_view id_token, const IssuerConfig& issuer, std::string_view client_id,
    const JsonWebKeySet& keys, std::string_view expected_nonce, int64_t now) {
  // The ID token is for this client: its audience is the client id, whatever
  // audiences the policy accepts for API bearer tokens.
  IssuerConfig config = issuer;
  config.audiences = {std::string(client_id)};
  StatusOr<std::shared_ptr<const Identity>> id = VerifyJwt(id_token, config, keys, now);
  if (!id.ok()) return id.status();
  try {
    if (Status s = CheckIdTokenExtras(**id, client_id, expected_nonce, now); !s.ok()) return s;
  } catch (const std::exception&) {
    return UnauthenticatedError("id token unreadable");
  }
  return id;
}

StatusOr<Json> ParseUserinfo(int http_status, std::string_view body,
                             std::string_view expected_sub) {
  if (http_status != 200)
    return UnavailableError("userinfo answered HTTP " + std::to_string(http_status));
  StatusOr<Json> j = ParseStrictJson(body, kMaxTokenResponseBytes);
  if (!j.ok() || !j->is_object()) return UnavailableError("userinfo is not a JSON object");
  auto sub = j->find("sub");
  // Core 5.3.2: the UserInfo sub MUST equal the ID token's, else it is not this user.
  if (sub == j->end() || !sub->is_string() || sub->get_ref<const std::string&>() != expected_sub) {
    return UnauthenticatedError("userinfo sub does not match the id token");
  }
  return std::move(*j);
}

bool HasGroupsClaim(const Identity& identity, const IssuerConfig& config) {
  return identity.claims.is_object() && identity.claims.contains(config.groups_claim);
}

Session BuildSession(const Identity& identity, const IssuerConfig& config,
                     const TokenResponse& tokens, const Json* userinfo, int64_t now,
                     int64_t hard_ttl_seconds) {
  Session s;
  s.issuer = identity.issuer;
  s.user = identity.user;
  s.subject = identity.subject;
  s.email = identity.email;
  s.groups = identity.groups;
  s.token_id = identity.token_id;
  s.claims = SimpleClaims(identity.claims);
  if (userinfo != nullptr && userinfo->is_object()) {
    if (!HasGroupsClaim(identity, config)) s.groups = GroupsOf(*userinfo, config.groups_claim);
    auto email = userinfo->find(config.email_claim);
    auto verified = userinfo->find("email_verified");
    const bool unverified =
        verified != userinfo->end() && verified->is_boolean() && !verified->get<bool>();
    if (s.email.empty() && email != userinfo->end() && email->is_string() && !unverified) {
      s.email = email->get<std::string>();
    }
  }
  s.issued_at = now;
  s.expires_at = now + hard_ttl_seconds;
  s.access_expires_at =
      tokens.expires_in > 0 ? std::min(now + tokens.expires_in, s.expires_at) : s.expires_at;
  s.refresh_token = tokens.refresh_token;
  return s;
}

StatusOr<Session> ApplyRefresh(const Session& old, const TokenResponse& tokens,
                               const Identity* refreshed, const IssuerConfig& config, int64_t now) {
  Session s = old;
  if (refreshed != nullptr) {
    // Core 12.2: a refreshed ID token must be about the same user.
    if (refreshed->subject != old.subject || refreshed->issuer != old.issuer) {
      return UnauthenticatedError("refreshed id token is about another user");
    }
    s.user = refreshed->user;
    s.email = refreshed->email;
    if (HasGroupsClaim(*refreshed, config)) s.groups = refreshed->groups;
    s.claims = SimpleClaims(refreshed->claims);
  }
  s.access_expires_at =
      tokens.expires_in > 0 ? std::min(now + tokens.expires_in, s.expires_at) : s.expires_at;
  if (!tokens.refresh_token.empty()) s.refresh_token = tokens.refresh_token;
  return s;
}

std::string BuildEndSessionUrl(std::string_view end_session_endpoint, std::string_view client_id,
                               std::string_view post_logout_redirect_uri) {
  return WithQuery(end_session_endpoint, {{"client_id", client_id},
                                          {"post_logout_redirect_uri", post_logout_redirect_uri}});
}

}  // namespace gatehouse::auth
