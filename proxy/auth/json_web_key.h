// JsonWebKeySet: the verification keys of one issuer, parsed from a JWKS
// document (RFC 7517) into OpenSSL public keys. Immutable after Parse; shared
// between worker threads as shared_ptr<const JsonWebKeySet>.
//
//   StatusOr<std::shared_ptr<const JsonWebKeySet>> set = JsonWebKeySet::Parse(body);
//   if (!set.ok()) { log(set.status()); keep the previous set; }
//   for (const VerificationKey& key : (*set)->keys()) if (key.Fits(alg)) ...
//   for (const SkippedKey& s : (*set)->skipped()) log(s.index, s.kid, s.reason);
//
// Accepted: RSA (n, e; 2048..8192-bit modulus), EC P-256 / P-384 (x, y of the
// exact coordinate length, point on the curve), OKP Ed25519 (x). A key is
// skipped (and the reason recorded) when its `use` is not "sig", its `key_ops`
// lack "verify", its `alg` is not a supported signature algorithm or does not
// fit the key, it carries private members (a JWKS must never publish them), it
// is of an unknown type (oct, encryption keys, ...), or it is malformed. A
// document that is not a JSON object with a `keys` array, or that has more
// than kMaxJwksKeys keys, is rejected as a whole. Duplicate kids are kept.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/auth/issuer_config.h"
#include "proxy/core/status.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace gatehouse::auth {

inline constexpr size_t kMaxJwksKeys = 64;
inline constexpr int kMinRsaModulusBits = 2048;
inline constexpr int kMaxRsaModulusBits = 8192;

enum class KeyCurve { kNone, kP256, kP384, kEd25519 };
enum class KeyType { kRsa, kEc, kOkp };

// One public verification key. Owns its EVP_PKEY.
class VerificationKey {
 public:
  VerificationKey(KeyType type, KeyCurve curve, std::string kid, std::optional<JwsAlgorithm> alg,
                  EVP_PKEY* pkey);
  ~VerificationKey();
  VerificationKey(VerificationKey&& other) noexcept;
  VerificationKey& operator=(VerificationKey&& other) noexcept;
  VerificationKey(const VerificationKey&) = delete;
  VerificationKey& operator=(const VerificationKey&) = delete;

  KeyType type() const { return type_; }
  KeyCurve curve() const { return curve_; }
  const std::string& kid() const { return kid_; }
  bool has_kid() const { return !kid_.empty(); }
  const std::optional<JwsAlgorithm>& alg() const { return alg_; }
  EVP_PKEY* pkey() const { return pkey_; }

  // True when this key may verify `alg`: kty/crv fit the algorithm and the
  // key's own `alg`, when it declares one, is exactly `alg`.
  bool Fits(JwsAlgorithm alg) const;

 private:
  KeyType type_;
  KeyCurve curve_;
  std::string kid_;
  std::optional<JwsAlgorithm> alg_;
  EVP_PKEY* pkey_;
};

struct SkippedKey {
  size_t index = 0;    // position in the `keys` array
  std::string kid;     // may be empty
  std::string reason;  // short, for logs; never key material
};

class JsonWebKeySet {
 public:
  static StatusOr<std::shared_ptr<const JsonWebKeySet>> Parse(std::string_view jwks_json);

  const std::vector<VerificationKey>& keys() const { return keys_; }
  const std::vector<SkippedKey>& skipped() const { return skipped_; }
  bool HasKeyId(std::string_view kid) const;

 private:
  JsonWebKeySet() = default;
  static StatusOr<std::shared_ptr<const JsonWebKeySet>> ParseUnchecked(std::string_view jwks_json);
  std::vector<VerificationKey> keys_;
  std::vector<SkippedKey> skipped_;
};

// True when kty/crv can verify `alg` (ignores the key's own `alg`).
bool KeyTypeFits(KeyType type, KeyCurve curve, JwsAlgorithm alg);

}  // namespace gatehouse::auth
