// jws_signature: checks the signature of a JWS signing input with one public key.
//
//   bool ok = VerifyJwsSignature(JwsAlgorithm::kES256, key, "header.payload", raw_signature);
//
// RS256/384/512: RSASSA-PKCS1-v1_5; PS256: RSASSA-PSS with MGF1-SHA256 and a
// 32-byte salt; ES256/ES384: the JOSE raw r||s form (exactly 64 / 96 bytes,
// anything else is rejected before OpenSSL sees it), converted to DER;
// EdDSA: Ed25519. The caller has already checked key.Fits(alg); this function
// checks it again (deny by default). Never throws; false on any failure.
#pragma once

#include <string_view>

#include "proxy/auth/issuer_config.h"
#include "proxy/auth/json_web_key.h"

namespace gatehouse::auth {

bool VerifyJwsSignature(JwsAlgorithm alg, const VerificationKey& key,
                        std::string_view signing_input, std::string_view signature);

}  // namespace gatehouse::auth
