// LoginState: what a browser carries between the redirect to the identity
// provider and the callback, in a short-lived encrypted cookie (the
// "gatehouse_login" cookie): the OAuth state, the OIDC nonce, the PKCE
// verifier (RFC 7636), where to return, which policy started the login, and
// its own expiry.
//
//   LoginState s = NewLoginState(random, "/dashboard/1?tab=2", "team/metabase", now);
//   std::string challenge = PkceChallengeS256(s.code_verifier);   // for the authorize URL
//   std::string cookie = SealLoginState(codec, s, host);
//   ... callback:
//   StatusOr<LoginState> back = OpenLoginState(codec, cookie, host, now);   // expired: fails
//   if (!StateMatches(back->state, state_param)) -> 400
//
// state and nonce carry 128 random bits, the verifier 256 (43 base64url
// characters, the RFC 7636 minimum length); the cookie lives kLoginTtlSeconds.
// The sealed value is bound to the host and to its purpose ("login"), so it
// can never be presented as a session cookie or on another host.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/auth/session_cookie.h"
#include "proxy/core/random_source.h"
#include "proxy/core/status.h"

namespace gatehouse::auth {

inline constexpr int64_t kLoginTtlSeconds = 600;

struct LoginState {
  std::string state;
  std::string nonce;
  std::string code_verifier;
  std::string return_path;  // already sanitized
  std::string policy;       // "namespace/name" of the policy that started the login
  int64_t expires_at = 0;
};

LoginState NewLoginState(RandomSource& random, std::string return_path, std::string policy,
                         int64_t now);

// BASE64URL(SHA256(ASCII(verifier))), RFC 7636 section 4.2.
std::string PkceChallengeS256(std::string_view verifier);

std::string SealLoginState(const SessionCodec& codec, const LoginState& state,
                           std::string_view host);
// kUnauthenticated when it does not open, is malformed or expired.
StatusOr<LoginState> OpenLoginState(const SessionCodec& codec, std::string_view value,
                                    std::string_view host, int64_t now);

// Constant-time comparison (no early exit on the first differing byte); false
// for different lengths or an empty expected value.
bool StateMatches(std::string_view expected, std::string_view presented);

}  // namespace gatehouse::auth
