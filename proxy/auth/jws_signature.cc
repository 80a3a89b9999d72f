#include "proxy/auth/jws_signature.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <array>
#include <memory>
#include <string>

namespace gatehouse::auth {
namespace {

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};

// One DER INTEGER (X.690 8.3) holding the unsigned big-endian `bytes`:
// leading zero bytes dropped (one kept for zero), a 0x00 prefix when the top
// bit is set so the value stays positive.
void AppendDerUnsigned(std::string_view bytes, std::string* der) {
  size_t skip = 0;
  while (skip + 1 < bytes.size() && bytes[skip] == 0) ++skip;
  bytes.remove_prefix(skip);
  const bool pad = (static_cast<unsigned char>(bytes[0]) & 0x80) != 0;
  der->push_back(0x02);
  der->push_back(static_cast<char>(bytes.size() + (pad ? 1 : 0)));
  if (pad) der->push_back(0);
  der->append(bytes);
}

// JOSE ECDSA signatures are r||s, each exactly the curve's field size
// (RFC 7518 3.4). OpenSSL wants DER. Any other length is rejected so that a
// DER-encoded or truncated signature is never accepted. The DER is written
// directly: with at most 48-byte halves every length fits the short form.
bool RawEcdsaToDer(std::string_view raw, size_t expected, std::string* der) {
  if (raw.size() != expected || expected == 0 || expected > 96) return false;
  const size_t half = expected / 2;
  std::string body;
  body.reserve(expected + 6);
  AppendDerUnsigned(raw.substr(0, half), &body);
  AppendDerUnsigned(raw.substr(half), &body);
  der->clear();
  der->push_back(0x30);
  der->push_back(static_cast<char>(body.size()));
  der->append(body);
  return true;
}

// SHA-2 digests fetched from the default provider once per process: passing
// EVP_sha256() instead makes OpenSSL 3 look the implementation up again on
// every init.
const EVP_MD* FetchedDigest(const char* name) {
  const EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  return md;  // never freed: lives as long as the process
}

const EVP_MD* PrefetchedDigestFor(JwsAlgorithm alg) {
  static const EVP_MD* const sha256 = FetchedDigest("SHA256");
  static const EVP_MD* const sha384 = FetchedDigest("SHA384");
  static const EVP_MD* const sha512 = FetchedDigest("SHA512");
  switch (alg) {
    case JwsAlgorithm::kRS256:
    case JwsAlgorithm::kPS256:
    case JwsAlgorithm::kES256:
      return sha256;
    case JwsAlgorithm::kRS384:
    case JwsAlgorithm::kES384:
      return sha384;
    case JwsAlgorithm::kRS512:
      return sha512;
    case JwsAlgorithm::kEdDSA:
      return nullptr;
  }
  return nullptr;
}

// A verify operation set up once for one (key, algorithm) and reused by one
// thread. RSA and ECDSA: an EVP_PKEY_CTX after EVP_PKEY_verify_init with the
// padding and digest fixed; the signing input is hashed separately and
// EVP_PKEY_verify checks the signature over that digest (for RSA including
// the DigestInfo naming the digest). Ed25519 signs the message itself, so its
// entry is an EVP_MD_CTX after EVP_DigestVerifyInit, copied per verification.
//
// Security: both contexts hold a reference on the EVP_PKEY, so while an entry
// exists its key pointer cannot be freed and handed to a different key; the
// pointer therefore identifies the key for as long as the entry is found.
class VerifierEntry {
 public:
  VerifierEntry() = default;
  VerifierEntry(const VerifierEntry&) = delete;
  VerifierEntry& operator=(const VerifierEntry&) = delete;
  ~VerifierEntry() { Reset(); }

  bool Matches(EVP_PKEY* pkey, JwsAlgorithm alg) const {
    return pkey_ != nullptr && pkey_ == pkey && alg_ == alg;
  }

  // Sets the entry up for (key, alg); false (entry left empty) on any failure.
  bool Init(EVP_PKEY* pkey, JwsAlgorithm alg, KeyType type) {
    Reset();
    if (alg == JwsAlgorithm::kEdDSA) {
      md_ctx_ = EVP_MD_CTX_new();
      if (md_ctx_ == nullptr ||
          EVP_DigestVerifyInit(md_ctx_, nullptr, nullptr, nullptr, pkey) != 1) {
        Reset();
        return false;
      }
    } else {
      const EVP_MD* md = PrefetchedDigestFor(alg);
      pctx_ = EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr);
      if (md == nullptr || pctx_ == nullptr || EVP_PKEY_verify_init(pctx_) != 1 ||
          !ConfigurePadding(alg, type, md) || EVP_PKEY_CTX_set_signature_md(pctx_, md) <= 0) {
        Reset();
        return false;
      }
    }
    pkey_ = pkey;
    alg_ = alg;
    return true;
  }

  bool Verify(std::string_view signing_input, std::string_view signature) {
    const auto* sig = reinterpret_cast<const unsigned char*>(signature.data());
    const auto* msg = reinterpret_cast<const unsigned char*>(signing_input.data());
    if (md_ctx_ != nullptr) {
      // A fresh copy per verification: the one-shot call finalises its context.
      EVP_MD_CTX* work = ThreadScratch(kSignatureScratch);
      return work != nullptr && EVP_MD_CTX_copy_ex(work, md_ctx_) == 1 &&
             EVP_DigestVerify(work, sig, signature.size(), msg, signing_input.size()) == 1;
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    EVP_MD_CTX* work = ThreadScratch(kDigestScratch);
    if (work == nullptr || EVP_DigestInit_ex2(work, PrefetchedDigestFor(alg_), nullptr) != 1 ||
        EVP_DigestUpdate(work, msg, signing_input.size()) != 1 ||
        EVP_DigestFinal_ex(work, digest, &digest_len) != 1) {
      return false;
    }
    return EVP_PKEY_verify(pctx_, sig, signature.size(), digest, digest_len) == 1;
  }

 private:
  // Two per thread, never mixed: a context that carried an Ed25519 verify
  // operation must not be reused for a plain digest (OpenSSL would route the
  // digest into the signature operation still attached to it).
  enum ScratchUse { kDigestScratch = 0, kSignatureScratch = 1 };
  static EVP_MD_CTX* ThreadScratch(ScratchUse use) {
    thread_local std::array<std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>, 2> scratch = {
        std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>(EVP_MD_CTX_new()),
        std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>(EVP_MD_CTX_new())};
    return scratch[use].get();
  }

  bool ConfigurePadding(JwsAlgorithm alg, KeyType type, const EVP_MD* md) {
    if (type != KeyType::kRsa) return true;
    if (alg == JwsAlgorithm::kPS256) {
      // Padding first: the MGF1 digest and salt length apply to PSS only.
      return EVP_PKEY_CTX_set_rsa_padding(pctx_, RSA_PKCS1_PSS_PADDING) > 0 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(pctx_, md) > 0 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx_, 32) > 0;
    }
    return EVP_PKEY_CTX_set_rsa_padding(pctx_, RSA_PKCS1_PADDING) > 0;
  }

  void Reset() {
    EVP_PKEY_CTX_free(pctx_);
    EVP_MD_CTX_free(md_ctx_);
    pctx_ = nullptr;
    md_ctx_ = nullptr;
    pkey_ = nullptr;
  }

  EVP_PKEY* pkey_ = nullptr;  // identity only; the reference is held by a context
  JwsAlgorithm alg_ = JwsAlgorithm::kRS256;
  EVP_PKEY_CTX* pctx_ = nullptr;
  EVP_MD_CTX* md_ctx_ = nullptr;
};

// A few entries per thread (an issuer rotates a handful of keys); the oldest
// is replaced when full, so a key dropped from a JWKS is released after a few
// other keys were used on this thread.
constexpr size_t kVerifierEntriesPerThread = 8;

VerifierEntry* ThreadVerifier(EVP_PKEY* pkey, JwsAlgorithm alg, KeyType type) {
  thread_local std::array<VerifierEntry, kVerifierEntriesPerThread> entries;
  thread_local size_t next = 0;
  for (VerifierEntry& entry : entries) {
    if (entry.Matches(pkey, alg)) return &entry;
  }
  VerifierEntry& slot = entries[next];
  next = (next + 1) % entries.size();
  return slot.Init(pkey, alg, type) ? &slot : nullptr;
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
  VerifierEntry* verifier = ThreadVerifier(key.pkey(), alg, key.type());
  return verifier != nullptr && verifier->Verify(signing_input, signature);
}

}  // namespace gatehouse::auth
