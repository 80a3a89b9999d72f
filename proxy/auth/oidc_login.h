// oidc_login: the pure steps of OpenID Connect sign-in with the authorization
// code flow and PKCE (OIDC Core 3.1, RFC 6749, RFC 7636). No I/O: the server
// (proxy/server/login_flow.h) sends the requests these build through an
// HttpFetcher and feeds the answers back.
//
//   std::string url = BuildAuthorizationUrl(metadata, login, redirect_uri, state);  // 302 there
//   FormRequest req = BuildCodeExchange(login, code, redirect_uri, state.code_verifier);
//   StatusOr<TokenResponse> tokens = ParseTokenResponse(http_status, body, /*need_id_token=*/true);
//   StatusOr<std::shared_ptr<const Identity>> id =
//       VerifyIdToken(tokens->id_token, issuer_config, login.client_id, keys, state.nonce, now);
//   StatusOr<nlohmann::json> info = ParseUserinfo(body, id->subject);   // when groups are missing
//   Session s = BuildSession(*id, issuer_config, *tokens, info ? &*info : nullptr, now, hard_ttl);
//
// ID token checks on top of VerifyJwt (signature with the issuer's keys,
// iss, exp, nbf): aud must contain the client id; azp, when present, must be
// the client id (and is required when aud names several parties); iat is
// required and not in the future (beyond the clock skew); the nonce must
// equal the one sent (skipped only for refresh responses, where OIDC Core
// 12.2 says it is absent). Errors are short fixed texts: never a token, a
// code or an IdP response body.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/auth/identity.h"
#include "proxy/auth/issuer_config.h"
#include "proxy/auth/json_web_key.h"
#include "proxy/auth/login_state.h"
#include "proxy/auth/oidc_discovery.h"
#include "proxy/auth/session_cookie.h"
#include "proxy/core/http_fetcher.h"
#include "proxy/core/status.h"

namespace gatehouse::auth {

// What one policy's spec.authentication.login says, with the secret resolved.
struct LoginClient {
  std::string issuer;
  std::string client_id;
  std::string client_secret;  // never logged
  std::vector<std::string> scopes;
};

struct FormRequest {
  std::string body;     // application/x-www-form-urlencoded
  HttpHeaders headers;  // Authorization: Basic (client_secret_basic)
};

struct TokenResponse {
  std::string id_token;
  std::string access_token;
  std::string refresh_token;  // "" when none
  int64_t expires_in = 0;     // 0 when the IdP did not say
};

std::string BuildAuthorizationUrl(const ProviderMetadata& metadata, const LoginClient& client,
                                  std::string_view redirect_uri, const LoginState& state);

FormRequest BuildCodeExchange(const LoginClient& client, std::string_view code,
                              std::string_view redirect_uri, std::string_view code_verifier);
FormRequest BuildRefreshExchange(const LoginClient& client, std::string_view refresh_token);

// RFC 6749 5.1 / 5.2: 200 with a JSON object carrying access_token and
// token_type Bearer (and id_token when asked for); anything else fails.
StatusOr<TokenResponse> ParseTokenResponse(int http_status, std::string_view body,
                                           bool need_id_token);

// `expected_nonce` empty: the token must carry no check of it (refresh).
StatusOr<std::shared_ptr<const Identity>> VerifyIdToken(
    std::string_view id_token, const IssuerConfig& issuer, std::string_view client_id,
    const JsonWebKeySet& keys, std::string_view expected_nonce, int64_t now);

// A UserInfo response (OIDC Core 5.3.2): a JSON object whose sub equals `expected_sub`.
StatusOr<nlohmann::json> ParseUserinfo(int http_status, std::string_view body,
                                       std::string_view expected_sub);

// True when the verified ID token claims carry `config.groups_claim`.
bool HasGroupsClaim(const Identity& identity, const IssuerConfig& config);

// The session of a completed sign-in. Groups (and a missing email) come from
// `userinfo` when given. access_expires_at = now + expires_in, or the hard
// expiry when the IdP gave no lifetime.
Session BuildSession(const Identity& identity, const IssuerConfig& config,
                     const TokenResponse& tokens, const nlohmann::json* userinfo, int64_t now,
                     int64_t hard_ttl_seconds);

// A refreshed session: new access expiry, the rotated refresh token when one
// came, and the identity of a refreshed ID token when one came (its sub must
// equal the session's). The hard expiry never moves.
StatusOr<Session> ApplyRefresh(const Session& old, const TokenResponse& tokens,
                               const Identity* refreshed, const IssuerConfig& config, int64_t now);

// RP-initiated logout: end_session_endpoint?client_id=..&post_logout_redirect_uri=..
std::string BuildEndSessionUrl(std::string_view end_session_endpoint, std::string_view client_id,
                               std::string_view post_logout_redirect_uri);

}  // namespace gatehouse::auth
