#include "proxy/auth/test_signer.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <stdexcept>

#include "proxy/auth/base64url.h"

namespace gatehouse::auth {
namespace {

std::string BnBytes(EVP_PKEY* pkey, const char* name, size_t pad_to = 0) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) throw std::runtime_error("get_bn_param");
  size_t len = std::max(pad_to, static_cast<size_t>(BN_num_bytes(bn)));
  std::string out(len, '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(len));
  BN_free(bn);
  return out;
}

std::string EcdsaDerToRaw(const std::string& der, size_t half) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  if (!sig) throw std::runtime_error("d2i_ECDSA_SIG");
  std::string raw(half * 2, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(raw.data()),
               static_cast<int>(half));
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(raw.data() + half),
               static_cast<int>(half));
  ECDSA_SIG_free(sig);
  return raw;
}

const EVP_MD* Digest(JwsAlgorithm alg) {
  switch (alg) {
    case JwsAlgorithm::kRS384:
    case JwsAlgorithm::kES384:
      return EVP_sha384();
    case JwsAlgorithm::kRS512:
      return EVP_sha512();
    case JwsAlgorithm::kEdDSA:
      return nullptr;
    default:
      return EVP_sha256();
  }
}

}  // namespace

TestSigner::TestSigner(JwsAlgorithm alg, std::string kid) : alg_(alg), kid_(std::move(kid)) {
  switch (alg) {
    case JwsAlgorithm::kES256:
      pkey_ = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case JwsAlgorithm::kES384:
      pkey_ = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
      break;
    case JwsAlgorithm::kEdDSA:
      pkey_ = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
    default:
      pkey_ = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
  }
  if (!pkey_) throw std::runtime_error("keygen failed");
}

TestSigner::~TestSigner() { EVP_PKEY_free(pkey_); }

nlohmann::json TestSigner::PublicJwk() const {
  nlohmann::json jwk = {{"kid", kid_}, {"use", "sig"}};
  switch (alg_) {
    case JwsAlgorithm::kES256:
    case JwsAlgorithm::kES384: {
      const size_t size = alg_ == JwsAlgorithm::kES256 ? 32 : 48;
      jwk["kty"] = "EC";
      jwk["crv"] = alg_ == JwsAlgorithm::kES256 ? "P-256" : "P-384";
      jwk["x"] = Base64UrlEncode(BnBytes(pkey_, OSSL_PKEY_PARAM_EC_PUB_X, size));
      jwk["y"] = Base64UrlEncode(BnBytes(pkey_, OSSL_PKEY_PARAM_EC_PUB_Y, size));
      break;
    }
    case JwsAlgorithm::kEdDSA: {
      std::string raw(32, '\0');
      size_t len = raw.size();
      EVP_PKEY_get_raw_public_key(pkey_, reinterpret_cast<unsigned char*>(raw.data()), &len);
      jwk["kty"] = "OKP";
      jwk["crv"] = "Ed25519";
      jwk["x"] = Base64UrlEncode(raw);
      break;
    }
    default:
      jwk["kty"] = "RSA";
      jwk["n"] = Base64UrlEncode(BnBytes(pkey_, OSSL_PKEY_PARAM_RSA_N));
      jwk["e"] = Base64UrlEncode(BnBytes(pkey_, OSSL_PKEY_PARAM_RSA_E));
  }
  return jwk;
}

std::string TestSigner::Sign(std::string_view input) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  std::string sig;
  size_t len = 0;
  bool ok = EVP_DigestSignInit(ctx, &pctx, Digest(alg_), nullptr, pkey_) == 1;
  if (ok && alg_ == JwsAlgorithm::kPS256) {
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) > 0 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) > 0;
  }
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  ok = ok && EVP_DigestSign(ctx, nullptr, &len, data, input.size()) == 1;
  sig.resize(len);
  ok = ok && EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, data,
                            input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) throw std::runtime_error("sign failed");
  sig.resize(len);
  if (alg_ == JwsAlgorithm::kES256) return EcdsaDerToRaw(sig, 32);
  if (alg_ == JwsAlgorithm::kES384) return EcdsaDerToRaw(sig, 48);
  return sig;
}

std::string TestSigner::MintRaw(std::string_view header_text, std::string_view payload_text) const {
  std::string input = Base64UrlEncode(header_text) + "." + Base64UrlEncode(payload_text);
  return input + "." + Base64UrlEncode(Sign(input));
}

std::string TestSigner::Mint(const nlohmann::json& payload) const {
  nlohmann::json header = {{"alg", JwsAlgorithmName(alg_)}, {"kid", kid_}, {"typ", "JWT"}};
  return MintRaw(header.dump(), payload.dump());
}

std::string JwksOf(const std::vector<nlohmann::json>& jwks) {
  nlohmann::json doc = {{"keys", nlohmann::json::array()}};
  for (const auto& k : jwks) doc["keys"].push_back(k);
  return doc.dump();
}

}  // namespace gatehouse::auth
