// AssertionSigner: the fleet's ES256 (P-256) key. Signs the identity assertion
// (PRODUCT.md section 5) sent upstream as X-Gatehouse-Assertion, and publishes
// the public key as a JWKS for /.well-known/gatehouse/jwks.json.
//
//   StatusOr<std::unique_ptr<AssertionSigner>> s = AssertionSigner::FromPem(pem_text);
//   // or, local mode without --signing-key: AssertionSigner::Generate() (ephemeral)
//   AssertionClaims claims{.audience = "metabase.example.com", .subject = id.user, ...};
//   StatusOr<std::string> jwt = (*s)->Sign(claims, now_seconds);
//   (*s)->jwks();   // {"keys":[{"kty":"EC","crv":"P-256","x":..,"y":..,"kid":..,...}]}
//
// Claims: iss "gatehouse", aud (host lowercased, port stripped), sub, email,
// groups, iat, exp = iat + kAssertionLifetimeSeconds, jti (128 random bits,
// base64url), policy ("namespace/name"). kid is the RFC 7638 thumbprint.
// Thread-safe: Sign() may run on every worker thread at once.
//
// AssertionCache (one per worker thread, no locks) keeps a signed assertion
// for up to kAssertionReuseSeconds of its 60 s life per (sub, email, groups,
// policy, audience): the claims it signs. So the ECDSA signature (30-70 us) is
// not paid on every request, nor on every fresh token of the same user. A
// reused assertion keeps its jti: the jti names the assertion, not the request
// (X-Request-Id does that).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "proxy/auth/identity.h"
#include "proxy/core/status.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace gatehouse::server {

inline constexpr int64_t kAssertionLifetimeSeconds = 60;
inline constexpr int64_t kAssertionReuseSeconds = 30;
inline constexpr std::string_view kAssertionIssuer = "gatehouse";

struct AssertionClaims {
  std::string_view audience;  // the request Host; lowercased and port-stripped by Sign()
  std::string_view subject;
  std::string_view email;
  const std::vector<std::string>* groups = nullptr;
  std::string_view policy;  // "namespace/name"
};

class AssertionSigner {
 public:
  // A PKCS#8 or SEC1 PEM private key; it must be an EC P-256 key.
  static StatusOr<std::unique_ptr<AssertionSigner>> FromPem(std::string_view pem);
  // A fresh random P-256 key (local mode without --signing-key).
  static StatusOr<std::unique_ptr<AssertionSigner>> Generate();

  ~AssertionSigner();
  AssertionSigner(const AssertionSigner&) = delete;
  AssertionSigner& operator=(const AssertionSigner&) = delete;

  StatusOr<std::string> Sign(const AssertionClaims& claims, int64_t now) const;

  const std::string& kid() const { return kid_; }
  const std::string& jwks() const { return jwks_; }  // the JWKS document text

 private:
  explicit AssertionSigner(EVP_PKEY* pkey);
  Status Init();

  EVP_PKEY* pkey_;
  std::string kid_;
  std::string jwks_;
  std::string header_b64_;  // base64url of {"alg":"ES256","kid":..,"typ":"JWT"}
};

// "Metabase.Example.com:8443" -> "metabase.example.com"; "[::1]:80" -> "[::1]".
std::string AudienceFromHost(std::string_view host);

class AssertionCache {
 public:
  explicit AssertionCache(size_t max_entries = 4096) : max_entries_(max_entries) {}

  // A cached assertion for (identity's sub/email/groups, policy, audience) signed at most
  // kAssertionReuseSeconds ago, else a fresh one from `signer`. The text
  // stays valid until the next Get() on this cache.
  StatusOr<std::string_view> Get(const AssertionSigner& signer,
                                 const std::shared_ptr<const auth::Identity>& identity,
                                 std::string_view policy, std::string_view host, int64_t now);

  // Names the assertion the last successful Get() returned: every signed
  // assertion gets its own serial (from 1; never reused by this cache), so
  // equal serials mean the same assertion text. 0 before any.
  uint64_t last_serial() const { return last_.entry != nullptr ? last_.entry->serial : 0; }

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    const AssertionSigner* signer = nullptr;
    std::string assertion;
    int64_t issued_at = 0;
    uint64_t serial = 0;
  };
  // The last answer, found again without building the key: the same Identity
  // object (held, so its address cannot be reused by another identity), the
  // same signer, policy and Host. A client that keeps its token hits this.
  struct Last {
    std::shared_ptr<const auth::Identity> identity;
    const AssertionSigner* signer = nullptr;
    std::string policy;
    std::string host;
    const Entry* entry = nullptr;  // a node of entries_ (stable until erased)
  };
  bool Fresh(const Entry& entry, const AssertionSigner& signer, int64_t now) const;

  size_t max_entries_;
  std::unordered_map<std::string, Entry> entries_;
  Last last_;
  uint64_t signed_ = 0;  // assertions signed by this cache: the last serial
  std::string key_;      // scratch: reused for every key built
};

}  // namespace gatehouse::server
