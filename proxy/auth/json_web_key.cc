#include "proxy/auth/json_web_key.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <array>
#include <utility>

#include "proxy/auth/base64url.h"
#include "proxy/auth/strict_json.h"

namespace gatehouse::auth {
namespace {

using Json = nlohmann::json;

// A JWKS is fetched with a 1 MiB body limit; the JSON parser gets the same.
constexpr size_t kMaxJwksBytes = 1 << 20;

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct BnDeleter {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
struct ParamBldDeleter {
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct ParamDeleter {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using BnPtr = std::unique_ptr<BIGNUM, BnDeleter>;

// The outcome of building one key: a key, or why it was skipped.
struct BuiltKey {
  PkeyPtr pkey;
  KeyCurve curve = KeyCurve::kNone;
  std::string error;
};

BuiltKey Skip(std::string reason) {
  BuiltKey b;
  b.error = std::move(reason);
  return b;
}

// Reads a required base64url member; empty optional when absent or malformed.
std::optional<std::string> Member(const Json& jwk, const char* name) {
  auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string()) return std::nullopt;
  StatusOr<std::string> decoded = Base64UrlDecode(it->get_ref<const std::string&>());
  if (!decoded.ok()) return std::nullopt;
  return std::move(*decoded);
}

PkeyPtr FromData(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamDeleter> params(OSSL_PARAM_BLD_to_param(bld));
  if (!params) return nullptr;
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0) {
    return nullptr;
  }
  return PkeyPtr(raw);
}

BuiltKey BuildRsa(const Json& jwk) {
  std::optional<std::string> n = Member(jwk, "n");
  std::optional<std::string> e = Member(jwk, "e");
  if (!n || !e) return Skip("RSA key needs base64url n and e");
  BnPtr bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()),
                       static_cast<int>(n->size()), nullptr));
  BnPtr bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()),
                       static_cast<int>(e->size()), nullptr));
  if (!bn_n || !bn_e) return Skip("RSA key material unreadable");
  const int bits = BN_num_bits(bn_n.get());
  // Below 2048 bits RSA is factorable by a determined attacker; above 8192 a
  // hostile JWKS could make every verification expensive.
  if (bits < kMinRsaModulusBits) return Skip("RSA modulus shorter than 2048 bits");
  if (bits > kMaxRsaModulusBits) return Skip("RSA modulus longer than 8192 bits");
  // A public exponent must be odd and > 1; a huge one is a denial-of-service lever.
  if (!BN_is_odd(bn_e.get()) || BN_is_one(bn_e.get()) || BN_num_bits(bn_e.get()) > 64) {
    return Skip("RSA public exponent invalid");
  }
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldDeleter> bld(OSSL_PARAM_BLD_new());
  if (!bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get())) {
    return Skip("RSA key could not be built");
  }
  BuiltKey built;
  built.pkey = FromData("RSA", bld.get());
  if (!built.pkey) return Skip("RSA key rejected by OpenSSL");
  return built;
}

bool PublicKeyIsValid(EVP_PKEY* pkey) {
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter> ctx(
      EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  return ctx && EVP_PKEY_public_check(ctx.get()) == 1;
}

BuiltKey BuildEc(const Json& jwk) {
  auto crv = jwk.find("crv");
  if (crv == jwk.end() || !crv->is_string()) return Skip("EC key needs crv");
  KeyCurve curve;
  size_t coordinate_bytes;
  const char* group;
  if (*crv == "P-256") {
    curve = KeyCurve::kP256, coordinate_bytes = 32, group = "prime256v1";
  } else if (*crv == "P-384") {
    curve = KeyCurve::kP384, coordinate_bytes = 48, group = "secp384r1";
  } else {
    return Skip("EC curve not supported");
  }
  std::optional<std::string> x = Member(jwk, "x");
  std::optional<std::string> y = Member(jwk, "y");
  // RFC 7518 6.2.1.2: coordinates are exactly the field size, leading zeros kept.
  if (!x || !y || x->size() != coordinate_bytes || y->size() != coordinate_bytes) {
    return Skip("EC coordinates missing or of the wrong length");
  }
  std::string point = "\x04" + *x + *y;  // SEC1 uncompressed point
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldDeleter> bld(OSSL_PARAM_BLD_new());
  if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                        point.size())) {
    return Skip("EC key could not be built");
  }
  BuiltKey built;
  built.pkey = FromData("EC", bld.get());
  // Security: a point off the curve enables invalid-curve attacks; check it.
  if (!built.pkey || !PublicKeyIsValid(built.pkey.get())) return Skip("EC point not on the curve");
  built.curve = curve;
  return built;
}

BuiltKey BuildOkp(const Json& jwk) {
  auto crv = jwk.find("crv");
  if (crv == jwk.end() || !crv->is_string() || *crv != "Ed25519") {
    return Skip("OKP curve not supported");
  }
  std::optional<std::string> x = Member(jwk, "x");
  if (!x || x->size() != 32) return Skip("Ed25519 x missing or not 32 bytes");
  PkeyPtr pkey(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(x->data()), x->size()));
  if (!pkey) return Skip("Ed25519 key rejected by OpenSSL");
  BuiltKey built;
  built.pkey = std::move(pkey);
  built.curve = KeyCurve::kEd25519;
  return built;
}

// Members that only a private (or symmetric) key has.
constexpr std::array<const char*, 8> kPrivateMembers = {"d",  "p",  "q",   "dp",
                                                        "dq", "qi", "oth", "k"};

// Checks the members every key shares; empty string when acceptable.
std::string CheckCommonMembers(const Json& jwk, std::optional<JwsAlgorithm>* alg) {
  for (const char* name : kPrivateMembers) {
    // Security: a published private key is compromised; refuse to trust it.
    if (jwk.contains(name)) return "private key material present";
  }
  if (auto use = jwk.find("use"); use != jwk.end() && *use != "sig") return "use is not sig";
  if (auto ops = jwk.find("key_ops"); ops != jwk.end()) {
    if (!ops->is_array()) return "key_ops is not an array";
    bool verify = false;
    for (const Json& op : *ops) verify = verify || op == "verify";
    if (!verify) return "key_ops lacks verify";
  }
  if (auto kid = jwk.find("kid"); kid != jwk.end() && !kid->is_string()) return "kid not a string";
  if (auto a = jwk.find("alg"); a != jwk.end()) {
    JwsAlgorithm parsed;
    if (!a->is_string() || !ParseJwsAlgorithm(a->get_ref<const std::string&>(), &parsed)) {
      return "alg is not a supported signature algorithm";
    }
    *alg = parsed;
  }
  return "";
}

// Builds one key or fills `skipped` with the reason it is not used.
std::optional<VerificationKey> BuildKey(const Json& jwk, SkippedKey* skipped) {
  if (!jwk.is_object()) {
    skipped->reason = "not a JSON object";
    return std::nullopt;
  }
  if (auto kid = jwk.find("kid"); kid != jwk.end() && kid->is_string()) skipped->kid = *kid;
  std::optional<JwsAlgorithm> alg;
  skipped->reason = CheckCommonMembers(jwk, &alg);
  if (!skipped->reason.empty()) return std::nullopt;
  auto kty = jwk.find("kty");
  if (kty == jwk.end() || !kty->is_string()) {
    skipped->reason = "kty missing";
    return std::nullopt;
  }
  BuiltKey built;
  KeyType type;
  if (*kty == "RSA") {
    type = KeyType::kRsa, built = BuildRsa(jwk);
  } else if (*kty == "EC") {
    type = KeyType::kEc, built = BuildEc(jwk);
  } else if (*kty == "OKP") {
    type = KeyType::kOkp, built = BuildOkp(jwk);
  } else {
    skipped->reason = "kty not supported";
    return std::nullopt;
  }
  if (!built.pkey) {
    skipped->reason = built.error;
    return std::nullopt;
  }
  if (alg && !KeyTypeFits(type, built.curve, *alg)) {
    skipped->reason = "alg does not fit the key type";
    return std::nullopt;
  }
  return VerificationKey(type, built.curve, skipped->kid, alg, built.pkey.release());
}

}  // namespace

bool KeyTypeFits(KeyType type, KeyCurve curve, JwsAlgorithm alg) {
  switch (alg) {
    case JwsAlgorithm::kRS256:
    case JwsAlgorithm::kRS384:
    case JwsAlgorithm::kRS512:
    case JwsAlgorithm::kPS256:
      return type == KeyType::kRsa;
    case JwsAlgorithm::kES256:
      return type == KeyType::kEc && curve == KeyCurve::kP256;
    case JwsAlgorithm::kES384:
      return type == KeyType::kEc && curve == KeyCurve::kP384;
    case JwsAlgorithm::kEdDSA:
      return type == KeyType::kOkp && curve == KeyCurve::kEd25519;
  }
  return false;
}

VerificationKey::VerificationKey(KeyType type, KeyCurve curve, std::string kid,
                                 std::optional<JwsAlgorithm> alg, EVP_PKEY* pkey)
    : type_(type), curve_(curve), kid_(std::move(kid)), alg_(alg), pkey_(pkey) {}

VerificationKey::~VerificationKey() { EVP_PKEY_free(pkey_); }

VerificationKey::VerificationKey(VerificationKey&& other) noexcept
    : type_(other.type_),
      curve_(other.curve_),
      kid_(std::move(other.kid_)),
      alg_(other.alg_),
      pkey_(std::exchange(other.pkey_, nullptr)) {}

VerificationKey& VerificationKey::operator=(VerificationKey&& other) noexcept {
  if (this != &other) {
    EVP_PKEY_free(pkey_);
    type_ = other.type_;
    curve_ = other.curve_;
    kid_ = std::move(other.kid_);
    alg_ = other.alg_;
    pkey_ = std::exchange(other.pkey_, nullptr);
  }
  return *this;
}

bool VerificationKey::Fits(JwsAlgorithm alg) const {
  if (alg_ && *alg_ != alg) return false;
  return KeyTypeFits(type_, curve_, alg);
}

bool JsonWebKeySet::HasKeyId(std::string_view kid) const {
  for (const VerificationKey& key : keys_) {
    if (key.kid() == kid) return true;
  }
  return false;
}

StatusOr<std::shared_ptr<const JsonWebKeySet>> JsonWebKeySet::Parse(std::string_view jwks_json) {
  try {
    return ParseUnchecked(jwks_json);
  } catch (const std::exception&) {
    // nlohmann conversions or allocation failures: the document is unusable.
    return InvalidArgumentError("JWKS: unreadable document");
  }
}

StatusOr<std::shared_ptr<const JsonWebKeySet>> JsonWebKeySet::ParseUnchecked(
    std::string_view jwks_json) {
  StatusOr<Json> doc = ParseStrictJson(jwks_json, kMaxJwksBytes);
  if (!doc.ok()) return InvalidArgumentError("JWKS: " + doc.status().message());
  auto keys = doc->find("keys");
  if (!doc->is_object() || keys == doc->end() || !keys->is_array()) {
    return InvalidArgumentError("JWKS: not an object with a keys array");
  }
  if (keys->size() > kMaxJwksKeys) return InvalidArgumentError("JWKS: more than 64 keys");
  std::shared_ptr<JsonWebKeySet> set(new JsonWebKeySet());
  for (size_t i = 0; i < keys->size(); ++i) {
    SkippedKey skipped;
    skipped.index = i;
    std::optional<VerificationKey> key = BuildKey((*keys)[i], &skipped);
    if (key) {
      set->keys_.push_back(std::move(*key));
    } else {
      set->skipped_.push_back(std::move(skipped));
    }
  }
  return std::shared_ptr<const JsonWebKeySet>(std::move(set));
}

}  // namespace gatehouse::auth
