// Session cookies: stateless, encrypted browser sessions that any proxy pod
// holding the fleet's session keys can read.
//
//   StatusOr<SessionKeySet> keys = SessionKeySet::Parse(file_text);  // --session-keys
//   SessionCodec codec(std::move(*keys), random);
//   StatusOr<std::string> value = SealSession(codec, session, "app.example.com", max_bytes);
//   StatusOr<Session> s = OpenSession(codec, value, "app.example.com", now);
//   std::shared_ptr<const Identity> id = SessionIdentity(*s);
//
// Keys: one per line, 32 bytes as base64url (43 characters) or 64 hex
// characters; blank lines and lines starting with '#' are skipped. The FIRST
// key seals, every key opens (rotation: put the new key first, keep the old
// one second, nobody is logged out). A key's id is the first 4 bytes of
// SHA-256 of the key; the sealed value names it so Open picks the key without
// trial decryption.
//
// Sealed value: base64url(version 0x01 | key id (4) | nonce (12) |
// AES-256-GCM ciphertext | tag (16)); the caller's additional authenticated
// data binds it to a purpose and a host (a cookie minted for another host, or
// a login cookie presented as a session, does not open). Any tampered byte,
// unknown key id, wrong AAD or version fails with one fixed message.
//
// Session JSON (inside the envelope, compact): identity fields, the ID
// token's simple claims (strings, numbers, bools, arrays of strings), the
// times and the refresh token. SealSession drops the non-identity claims
// (keeping the name claims Metabase SSO needs) when the value would exceed
// `max_value_bytes`, and fails with kResourceExhausted if it still does:
// cookies are never split.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/auth/identity.h"
#include "proxy/core/random_source.h"
#include "proxy/core/status.h"

namespace gatehouse::auth {

inline constexpr size_t kSessionKeyBytes = 32;
inline constexpr size_t kSessionKeyIdBytes = 4;
inline constexpr size_t kMaxSealedValueBytes = 4096;  // longer cookie values are not opened

struct SessionKey {
  std::string id;      // kSessionKeyIdBytes raw bytes
  std::string secret;  // kSessionKeyBytes raw bytes; never logged
};

class SessionKeySet {
 public:
  // The --session-keys file. Errors name the line, never its content.
  static StatusOr<SessionKeySet> Parse(std::string_view file_text);
  // One fresh key (no --session-keys: sessions die with the process).
  static SessionKeySet Generate(RandomSource& random);
  static SessionKey KeyFromSecret(std::string secret);

  const SessionKey& current() const { return keys_.front(); }
  const SessionKey* Find(std::string_view id) const;
  size_t size() const { return keys_.size(); }

 private:
  std::vector<SessionKey> keys_;  // never empty
};

class SessionCodec {
 public:
  // `random` must outlive the codec.
  SessionCodec(SessionKeySet keys, RandomSource& random);

  std::string Seal(std::string_view plaintext, std::string_view aad) const;
  // kUnauthenticated("cookie does not open") for anything that fails.
  StatusOr<std::string> Open(std::string_view sealed, std::string_view aad) const;

  const SessionKeySet& keys() const { return keys_; }

 private:
  SessionKeySet keys_;
  RandomSource& random_;
};

struct Session {
  std::string issuer;
  std::string user;
  std::string subject;
  std::string email;
  std::vector<std::string> groups;
  std::string token_id;
  nlohmann::json claims = nlohmann::json::object();  // simple ID token claims
  int64_t issued_at = 0;                             // sign-in time, epoch seconds
  int64_t expires_at = 0;         // hard expiry: the session ends here, refresh or not
  int64_t access_expires_at = 0;  // the access token's expiry (refresh is due near it)
  std::string refresh_token;      // "" when the IdP issued none; never logged
};

// The claims of a verified ID token worth keeping: strings, numbers, bools and
// arrays of strings, minus protocol-only ones (nonce, at_hash, c_hash, aud...).
nlohmann::json SimpleClaims(const nlohmann::json& id_token_claims);

std::string SerializeSession(const Session& session);
StatusOr<Session> ParseSession(std::string_view json);

// The AAD of a session cookie for `host` (lowercase, no port).
std::string SessionAad(std::string_view host);

StatusOr<std::string> SealSession(const SessionCodec& codec, const Session& session,
                                  std::string_view host, size_t max_value_bytes);
// Opens and checks the hard expiry (kUnauthenticated when past).
StatusOr<Session> OpenSession(const SessionCodec& codec, std::string_view value,
                              std::string_view host, int64_t now);

// The identity a session vouches for (expires_at = the session's hard expiry).
std::shared_ptr<const Identity> SessionIdentity(const Session& session);

}  // namespace gatehouse::auth
