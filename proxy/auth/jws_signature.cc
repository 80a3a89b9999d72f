#include "proxy/auth/jws_signature.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <memory>
#include <string>

namespace gatehouse::auth {
namespace {

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct EcdsaSigDeleter {
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};

const EVP_MD* DigestFor(JwsAlgorithm alg) {
  switch (alg) {
    case JwsAlgorithm::kRS256:
    case JwsAlgorithm::kPS256:
    case JwsAlgorithm::kES256:
      return EVP_sha256();
    case JwsAlgorithm::kRS384:
    case JwsAlgorithm::kES384:
      return EVP_sha384();
    case JwsAlgorithm::kRS512:
      return EVP_sha512();
    case JwsAlgorithm::kEdDSA:
      return nullptr;  // Ed25519 hashes internally
  }
  return nullptr;
}

// JOSE ECDSA signatures are r||s, each exactly the curve's field size
// (RFC 7518 3.4). OpenSSL wants DER. Any other length is rejected so that a
// DER-encoded or truncated signature is never accepted.
bool RawEcdsaToDer(std::string_view raw, size_t expected, std::string* der) {
  if (raw.size() != expected) return false;
  const size_t half = expected / 2;
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  std::unique_ptr<ECDSA_SIG, EcdsaSigDeleter> sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(bytes, static_cast<int>(half), nullptr);
  BIGNUM* s = BN_bin2bn(bytes + half, static_cast<int>(half), nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return false;
  }
  const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return false;
  der->resize(static_cast<size_t>(len));
  auto* out = reinterpret_cast<unsigned char*>(der->data());
  return i2d_ECDSA_SIG(sig.get(), &out) == len;
}

bool ConfigurePss(EVP_PKEY_CTX* pctx) {
  return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) > 0 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) > 0;
}

bool ConfigurePkcs1(EVP_PKEY_CTX* pctx) {
  return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0;
}

}  // namespace

bool VerifyJwsSignature(JwsAlgorithm alg, const VerificationKey& key,
                        std::string_view signing_input, std::string_view signature) {
  if (!key.Fits(alg) || key.pkey() == nullptr) return false;
  std::string der;
  if (alg == JwsAlgorithm::kES256 || alg == JwsAlgorithm::kES384) {
    if (!RawEcdsaToDer(signature, alg == JwsAlgorithm::kES256 ? 64 : 96, &der)) return false;
    signature = der;
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, DigestFor(alg), nullptr, key.pkey()) != 1) {
    return false;
  }
  if (alg == JwsAlgorithm::kPS256 && !ConfigurePss(pctx)) return false;
  if (key.type() == KeyType::kRsa && alg != JwsAlgorithm::kPS256 && !ConfigurePkcs1(pctx)) {
    return false;
  }
  // One-shot form: required for Ed25519, fine for the others.
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(),
                          reinterpret_cast<const unsigned char*>(signing_input.data()),
                          signing_input.size()) == 1;
}

}  // namespace gatehouse::auth
