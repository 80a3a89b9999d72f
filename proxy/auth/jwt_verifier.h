// jwt_verifier: verifies one compact JWS (a JWT) against one IssuerConfig and
// one JsonWebKeySet at an explicit time, and produces the Identity it carries.
//
//   StatusOr<std::shared_ptr<const Identity>> id = VerifyJwt(token, config, *keys, now_seconds);
//   if (!id.ok()) return id.status();  // kUnauthenticated, short reason, never the token
//
//   StatusOr<std::string> iss = PeekIssuer(token);  // UNVERIFIED: only to pick a config
//   StatusOr<std::string> kid = PeekKeyId(token);   // UNVERIFIED: "" when there is none
//
// Decoding once for several steps (the authenticator reads `iss` to pick the
// configs, then verifies with them, without decoding the token again):
//   StatusOr<DecodedJwt> jwt = DecodeJwt(token);      // UNVERIFIED until VerifyDecodedJwt
//   std::string_view iss = jwt->issuer();
//   id = VerifyDecodedJwt(*jwt, config, *keys, now);   // the same checks as VerifyJwt
//
// Order of checks: size (kMaxTokenBytes), exactly three segments, strict
// base64url and strict JSON objects, header (`alg` in the issuer's allowlist,
// no `crit`, `typ` JWT / at+jwt / application/at+jwt), key choice (by `kid`
// when present, else every key; the key must fit `alg`), signature, claims
// (see jwt_claims.h). Keys are only ever taken from `keys`: header `jku`,
// `x5u`, `jwk` and `x5c` are ignored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "proxy/auth/identity.h"
#include "proxy/auth/issuer_config.h"
#include "proxy/auth/json_web_key.h"
#include "proxy/core/status.h"

namespace gatehouse::auth {

inline constexpr size_t kMaxTokenBytes = 16 * 1024;

StatusOr<std::shared_ptr<const Identity>> VerifyJwt(std::string_view token,
                                                    const IssuerConfig& config,
                                                    const JsonWebKeySet& keys, int64_t now);

// A token split into its three segments with header and payload decoded
// (strict base64url, strict JSON objects). NOTHING in it is verified: it
// keeps views into the token, which must outlive it.
struct DecodedJwt {
  std::string_view signing_input;  // header "." payload: the signed bytes
  std::string_view signature;      // base64url, not decoded yet
  nlohmann::json header;
  nlohmann::json payload;
  // The payload's `iss` when it is a string, else "" (UNVERIFIED).
  std::string_view issuer() const;
};

StatusOr<DecodedJwt> DecodeJwt(std::string_view token);
// VerifyJwt's checks after its decoding step. Copies the payload into the
// Identity; `jwt` can be verified again against another config.
StatusOr<std::shared_ptr<const Identity>> VerifyDecodedJwt(const DecodedJwt& jwt,
                                                           const IssuerConfig& config,
                                                           const JsonWebKeySet& keys, int64_t now);

// Unverified `iss` of the payload; kUnauthenticated when unreadable.
StatusOr<std::string> PeekIssuer(std::string_view token);
// Unverified `kid` of the header; "" when absent; kUnauthenticated when unreadable.
StatusOr<std::string> PeekKeyId(std::string_view token);

}  // namespace gatehouse::auth
