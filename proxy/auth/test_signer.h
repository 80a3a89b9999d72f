// TestSigner (tests, fuzzers and benchmarks only): generates a key pair for
// one JWS algorithm, exports its public JWK and signs tokens, using OpenSSL
// directly so unit tests need no external tool.
//
//   TestSigner rsa(JwsAlgorithm::kRS256, "rsa-1");
//   std::string jwks = JwksOf({rsa.PublicJwk()});
//   std::string token = rsa.Mint({{"iss", "https://idp"}, {"exp", now + 300}});
//   std::string custom = rsa.MintWithHeader(header_json, payload_json);
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/auth/issuer_config.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace gatehouse::auth {

class TestSigner {
 public:
  // RSA 2048 for RS*/PS*, P-256 / P-384 for ES256 / ES384, Ed25519 for EdDSA.
  TestSigner(JwsAlgorithm alg, std::string kid);
  ~TestSigner();
  TestSigner(const TestSigner&) = delete;
  TestSigner& operator=(const TestSigner&) = delete;

  JwsAlgorithm alg() const { return alg_; }
  const std::string& kid() const { return kid_; }
  nlohmann::json PublicJwk() const;  // with kid, use=sig, no alg
  // Raw JWS signature of `input` (ES*: JOSE r||s).
  std::string Sign(std::string_view input) const;
  // header {"alg", "kid", "typ":"JWT"} + payload, signed.
  std::string Mint(const nlohmann::json& payload) const;
  // Exactly these header and payload texts (encoded as given), signed.
  std::string MintRaw(std::string_view header_text, std::string_view payload_text) const;

 private:
  JwsAlgorithm alg_;
  std::string kid_;
  EVP_PKEY* pkey_ = nullptr;
};

std::string JwksOf(const std::vector<nlohmann::json>& jwks);

}  // namespace gatehouse::auth
