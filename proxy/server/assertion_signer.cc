#include "proxy/server/assertion_signer.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "proxy/auth/base64url.h"

namespace gatehouse::server {
namespace {

constexpr size_t kCoordinateBytes = 32;  // P-256

std::string Sha256(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(digest), length);
}

StatusOr<std::string> Coordinate(EVP_PKEY* pkey, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) {
    return InternalError("assertion key: cannot read the public point");
  }
  std::string out(kCoordinateBytes, '\0');
  const int written =
      BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), kCoordinateBytes);
  BN_free(bn);
  if (written != static_cast<int>(kCoordinateBytes)) {
    return InternalError("assertion key: bad coordinate length");
  }
  return out;
}

bool IsP256(EVP_PKEY* pkey) {
  if (EVP_PKEY_is_a(pkey, "EC") != 1) return false;
  char group[64] = {0};
  size_t length = 0;
  if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                     &length) != 1) {
    return false;
  }
  return std::string_view(group, length) == "prime256v1";
}

// DER ECDSA-Sig-Value -> the JOSE r||s form (RFC 7518 section 3.4).
StatusOr<std::string> DerToJose(const unsigned char* der, size_t der_length) {
  const unsigned char* p = der;
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_length));
  if (sig == nullptr) return InternalError("assertion: bad signature encoding");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig, &r, &s);
  std::string out(2 * kCoordinateBytes, '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(out.data());
  const bool ok = BN_bn2binpad(r, bytes, kCoordinateBytes) == kCoordinateBytes &&
                  BN_bn2binpad(s, bytes + kCoordinateBytes, kCoordinateBytes) == kCoordinateBytes;
  ECDSA_SIG_free(sig);
  if (!ok) return InternalError("assertion: bad signature length");
  return out;
}

std::string RandomJti() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return std::string();
  return auth::Base64UrlEncode(std::string_view(reinterpret_cast<char*>(bytes), sizeof(bytes)));
}

}  // namespace

std::string AudienceFromHost(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    if (close != std::string_view::npos) host = host.substr(0, close + 1);
  } else {
    const size_t colon = host.find(':');
    if (colon != std::string_view::npos) host = host.substr(0, colon);
  }
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  std::string out(host);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

AssertionSigner::AssertionSigner(EVP_PKEY* pkey) : pkey_(pkey) {}
AssertionSigner::~AssertionSigner() { EVP_PKEY_free(pkey_); }

StatusOr<std::unique_ptr<AssertionSigner>> AssertionSigner::FromPem(std::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return InternalError("signing key: out of memory");
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (pkey == nullptr) return InvalidArgumentError("signing key: not a PEM private key");
  if (!IsP256(pkey)) {
    EVP_PKEY_free(pkey);
    return InvalidArgumentError("signing key: must be an EC P-256 key (ES256)");
  }
  std::unique_ptr<AssertionSigner> signer(new AssertionSigner(pkey));
  if (Status s = signer->Init(); !s.ok()) return s;
  return signer;
}

StatusOr<std::unique_ptr<AssertionSigner>> AssertionSigner::Generate() {
  EVP_PKEY* pkey = EVP_EC_gen("P-256");
  if (pkey == nullptr) return InternalError("signing key: P-256 key generation failed");
  std::unique_ptr<AssertionSigner> signer(new AssertionSigner(pkey));
  if (Status s = signer->Init(); !s.ok()) return s;
  return signer;
}

Status AssertionSigner::Init() {
  StatusOr<std::string> x = Coordinate(pkey_, OSSL_PKEY_PARAM_EC_PUB_X);
  StatusOr<std::string> y = Coordinate(pkey_, OSSL_PKEY_PARAM_EC_PUB_Y);
  if (!x.ok()) return x.status();
  if (!y.ok()) return y.status();
  const std::string x64 = auth::Base64UrlEncode(*x);
  const std::string y64 = auth::Base64UrlEncode(*y);
  // RFC 7638: the required members in lexicographic order, no whitespace.
  const std::string canonical =
      R"({"crv":"P-256","kty":"EC","x":")" + x64 + R"(","y":")" + y64 + R"("})";
  kid_ = auth::Base64UrlEncode(Sha256(canonical));
  nlohmann::json jwk = {{"kty", "EC"}, {"crv", "P-256"}, {"x", x64},      {"y", y64},
                        {"kid", kid_}, {"use", "sig"},   {"alg", "ES256"}};
  jwks_ = nlohmann::json{{"keys", nlohmann::json::array({jwk})}}.dump();
  const nlohmann::json header = {{"alg", "ES256"}, {"kid", kid_}, {"typ", "JWT"}};
  header_b64_ = auth::Base64UrlEncode(header.dump());
  return Status::Ok();
}

StatusOr<std::string> AssertionSigner::Sign(const AssertionClaims& claims, int64_t now) const {
  const std::string jti = RandomJti();
  if (jti.empty()) return InternalError("assertion: no randomness for jti");
  nlohmann::json payload = {{"iss", kAssertionIssuer},
                            {"aud", AudienceFromHost(claims.audience)},
                            {"sub", claims.subject},
                            {"email", claims.email},
                            {"groups", claims.groups ? *claims.groups : std::vector<std::string>{}},
                            {"iat", now},
                            {"exp", now + kAssertionLifetimeSeconds},
                            {"jti", jti},
                            {"policy", claims.policy}};
  std::string signing_input = header_b64_;
  signing_input.push_back('.');
  try {
    // Claim values are hostile (from a token): replace invalid UTF-8 instead of throwing.
    signing_input += auth::Base64UrlEncode(
        payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  } catch (const std::exception&) {
    return InternalError("assertion: claims could not be encoded");
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) return InternalError("assertion: out of memory");
  unsigned char der[128];
  size_t der_length = sizeof(der);
  const bool signed_ok =
      EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, pkey_) == 1 &&
      EVP_DigestSign(ctx, der, &der_length,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!signed_ok) return InternalError("assertion: signing failed");
  StatusOr<std::string> signature = DerToJose(der, der_length);
  if (!signature.ok()) return signature.status();
  signing_input.push_back('.');
  signing_input += auth::Base64UrlEncode(*signature);
  return signing_input;
}

bool AssertionCache::Fresh(const Entry& entry, const AssertionSigner& signer, int64_t now) const {
  return entry.signer == &signer && now >= entry.issued_at &&
         now - entry.issued_at < kAssertionReuseSeconds;
}

StatusOr<std::string_view> AssertionCache::Get(
    const AssertionSigner& signer, const std::shared_ptr<const auth::Identity>& identity,
    std::string_view policy, std::string_view host, int64_t now) {
  // The same immutable Identity object carries the same claims: when policy
  // and Host match too, the last entry is the one the key would find.
  if (last_.entry != nullptr && last_.identity == identity && last_.signer == &signer &&
      last_.policy == policy && last_.host == host && Fresh(*last_.entry, signer, now)) {
    return std::string_view(last_.entry->assertion);
  }
  // Key: exactly the claims the assertion carries besides iat/exp/jti (sub,
  // email, groups, policy, aud), each length-prefixed (groups after their
  // count) so that no two claim sets share a key (["a,b"] and ["a","b"]
  // differ). Keying by content, not by the Identity object, lets every fresh
  // token of one user reuse the signature: their assertions would be
  // identical but for iat, exp and jti.
  const std::string audience = AudienceFromHost(host);
  std::string& key = key_;
  key.clear();
  const auto append = [&key](std::string_view part) {
    const uint32_t size = static_cast<uint32_t>(part.size());
    key.append(reinterpret_cast<const char*>(&size), sizeof(size));
    key.append(part);
  };
  append(identity->subject);
  append(identity->email);
  const uint32_t group_count = static_cast<uint32_t>(identity->groups.size());
  key.append(reinterpret_cast<const char*>(&group_count), sizeof(group_count));
  for (const std::string& group : identity->groups) append(group);
  append(policy);
  append(audience);
  auto it = entries_.find(key);
  const Entry* entry = nullptr;
  if (it != entries_.end() && Fresh(it->second, signer, now)) {
    entry = &it->second;
  } else {
    AssertionClaims claims{.audience = host,
                           .subject = identity->subject,
                           .email = identity->email,
                           .groups = &identity->groups,
                           .policy = policy};
    StatusOr<std::string> fresh = signer.Sign(claims, now);
    if (!fresh.ok()) return fresh.status();
    // Bounded: drop everything when full (entries live 30 s anyway).
    if (it == entries_.end() && entries_.size() >= max_entries_) {
      entries_.clear();
      last_ = Last{};
    }
    Entry& slot = entries_[key];
    slot = Entry{&signer, std::move(*fresh), now, ++signed_};
    entry = &slot;
  }
  last_.identity = identity;
  last_.signer = &signer;
  last_.policy.assign(policy);
  last_.host.assign(host);
  last_.entry = entry;
  return std::string_view(entry->assertion);
}

}  // namespace gatehouse::server
