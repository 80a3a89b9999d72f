#include "proxy/auth/jwt_verifier.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "proxy/auth/base64url.h"
#include "proxy/auth/jws_signature.h"
#include "proxy/auth/jwt_claims.h"
#include "proxy/auth/strict_json.h"

namespace gatehouse::auth {
namespace {

using Json = nlohmann::json;

struct Segments {
  std::string_view header;
  std::string_view payload;
  std::string_view signature;
  std::string_view signing_input;  // header "." payload: the signed bytes
};

StatusOr<Segments> Split(std::string_view token) {
  if (token.size() > kMaxTokenBytes) return UnauthenticatedError("token too large");
  const size_t first = token.find('.');
  if (first == std::string_view::npos) return UnauthenticatedError("token malformed");
  const size_t second = token.find('.', first + 1);
  // Exactly three segments: a JWE (five) or a JWS with a detached payload is refused.
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return UnauthenticatedError("token malformed");
  }
  Segments s;
  s.header = token.substr(0, first);
  s.payload = token.substr(first + 1, second - first - 1);
  s.signature = token.substr(second + 1);
  s.signing_input = token.substr(0, second);
  if (s.header.empty() || s.payload.empty() || s.signature.empty()) {
    return UnauthenticatedError("token malformed");
  }
  return s;
}

StatusOr<Json> DecodeObject(std::string_view segment, const char* what) {
  StatusOr<std::string> bytes = Base64UrlDecode(segment);
  if (!bytes.ok()) return UnauthenticatedError(std::string("token ") + what + " not base64url");
  StatusOr<Json> json = ParseStrictJson(*bytes, kMaxTokenBytes);
  if (!json.ok() || !json->is_object()) {
    return UnauthenticatedError(std::string("token ") + what + " not a JSON object");
  }
  return std::move(*json);
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Checks the JOSE header and returns the algorithm to verify with.
StatusOr<JwsAlgorithm> CheckHeader(const Json& header, const IssuerConfig& config) {
  auto alg_it = header.find("alg");
  JwsAlgorithm alg;
  // Security: "none", every HS* (a public key used as an HMAC secret) and any
  // unknown name fail here, because ParseJwsAlgorithm knows only asymmetric ones.
  if (alg_it == header.end() || !alg_it->is_string() ||
      !ParseJwsAlgorithm(alg_it->get_ref<const std::string&>(), &alg)) {
    return UnauthenticatedError("token alg not supported");
  }
  if (std::find(config.algorithms.begin(), config.algorithms.end(), alg) ==
      config.algorithms.end()) {
    return UnauthenticatedError("token alg not allowed for issuer");
  }
  // RFC 7515 4.1.11: a recipient that does not understand a critical extension
  // must reject; we understand none (this also refuses unencoded payloads, b64=false).
  if (header.contains("crit")) return UnauthenticatedError("token has crit header");
  if (auto typ = header.find("typ"); typ != header.end()) {
    if (!typ->is_string()) return UnauthenticatedError("token typ not accepted");
    const std::string& t = typ->get_ref<const std::string&>();
    if (!EqualsIgnoreCase(t, "JWT") && !EqualsIgnoreCase(t, "at+jwt") &&
        !EqualsIgnoreCase(t, "application/at+jwt")) {
      return UnauthenticatedError("token typ not accepted");
    }
  }
  if (auto kid = header.find("kid"); kid != header.end() && !kid->is_string()) {
    return UnauthenticatedError("token kid malformed");
  }
  // Deliberately ignored: jku, x5u, jwk, x5c. A token that names or carries its
  // own key would let anyone sign; keys come only from the issuer's JWKS.
  return alg;
}

Status CheckSignature(const DecodedJwt& jwt, JwsAlgorithm alg, const JsonWebKeySet& keys) {
  StatusOr<std::string> signature = Base64UrlDecode(jwt.signature);
  if (!signature.ok()) return UnauthenticatedError("token signature not base64url");
  auto kid = jwt.header.find("kid");
  bool candidate = false;
  for (const VerificationKey& key : keys.keys()) {
    // With a kid only keys carrying that kid are tried (duplicates: each of
    // them); without one every key that fits the algorithm is tried.
    if (kid != jwt.header.end() && key.kid() != kid->get_ref<const std::string&>()) continue;
    if (!key.Fits(alg)) continue;
    candidate = true;
    if (VerifyJwsSignature(alg, key, jwt.signing_input, *signature)) return Status::Ok();
  }
  if (!candidate) return UnauthenticatedError("no signing key for token");
  return UnauthenticatedError("token signature invalid");
}

StatusOr<DecodedJwt> Decode(std::string_view token) {
  StatusOr<Segments> segments = Split(token);
  if (!segments.ok()) return segments.status();
  StatusOr<Json> header = DecodeObject(segments->header, "header");
  if (!header.ok()) return header.status();
  StatusOr<Json> payload = DecodeObject(segments->payload, "payload");
  if (!payload.ok()) return payload.status();
  return DecodedJwt{.signing_input = segments->signing_input,
                    .signature = segments->signature,
                    .header = std::move(*header),
                    .payload = std::move(*payload)};
}

StatusOr<std::shared_ptr<const Identity>> VerifyDecoded(const DecodedJwt& jwt,
                                                        const IssuerConfig& config,
                                                        const JsonWebKeySet& keys, int64_t now) {
  StatusOr<JwsAlgorithm> alg = CheckHeader(jwt.header, config);
  if (!alg.ok()) return alg.status();
  // The signature is checked before any claim is trusted or reported on.
  if (Status s = CheckSignature(jwt, *alg, keys); !s.ok()) return s;
  return ValidateJwtClaims(jwt.payload, config, now);
}

StatusOr<std::shared_ptr<const Identity>> Verify(std::string_view token, const IssuerConfig& config,
                                                 const JsonWebKeySet& keys, int64_t now) {
  StatusOr<DecodedJwt> jwt = Decode(token);
  if (!jwt.ok()) return jwt.status();
  StatusOr<JwsAlgorithm> alg = CheckHeader(jwt->header, config);
  if (!alg.ok()) return alg.status();
  // The signature is checked before any claim is trusted or reported on.
  if (Status s = CheckSignature(*jwt, *alg, keys); !s.ok()) return s;
  return ValidateJwtClaims(std::move(jwt->payload), config, now);
}

StatusOr<std::string> PeekString(std::string_view token, bool in_header, const char* name) {
  StatusOr<Segments> segments = Split(token);
  if (!segments.ok()) return segments.status();
  StatusOr<Json> object = in_header ? DecodeObject(segments->header, "header")
                                    : DecodeObject(segments->payload, "payload");
  if (!object.ok()) return object.status();
  auto it = object->find(name);
  if (it == object->end()) return std::string();
  if (!it->is_string()) return UnauthenticatedError(std::string("token ") + name + " malformed");
  return it->get<std::string>();
}

}  // namespace

StatusOr<std::shared_ptr<const Identity>> VerifyJwt(std::string_view token,
                                                    const IssuerConfig& config,
                                                    const JsonWebKeySet& keys, int64_t now) {
  try {
    return Verify(token, config, keys, now);
  } catch (const std::exception&) {
    return UnauthenticatedError("token unreadable");
  }
}

std::string_view DecodedJwt::issuer() const {
  auto it = payload.find("iss");
  if (it == payload.end() || !it->is_string()) return {};
  return it->get_ref<const std::string&>();
}

StatusOr<DecodedJwt> DecodeJwt(std::string_view token) {
  try {
    return Decode(token);
  } catch (const std::exception&) {
    return UnauthenticatedError("token unreadable");
  }
}

StatusOr<std::shared_ptr<const Identity>> VerifyDecodedJwt(const DecodedJwt& jwt,
                                                           const IssuerConfig& config,
                                                           const JsonWebKeySet& keys, int64_t now) {
  try {
    return VerifyDecoded(jwt, config, keys, now);
  } catch (const std::exception&) {
    return UnauthenticatedError("token unreadable");
  }
}

StatusOr<std::string> PeekIssuer(std::string_view token) {
  try {
    StatusOr<std::string> iss = PeekString(token, /*in_header=*/false, "iss");
    if (iss.ok() && iss->empty()) return UnauthenticatedError("token has no iss");
    return iss;
  } catch (const std::exception&) {
    return UnauthenticatedError("token unreadable");
  }
}

StatusOr<std::string> PeekKeyId(std::string_view token) {
  try {
    return PeekString(token, /*in_header=*/true, "kid");
  } catch (const std::exception&) {
    return UnauthenticatedError("token unreadable");
  }
}

}  // namespace gatehouse::auth
