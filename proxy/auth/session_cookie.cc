#include "proxy/auth/session_cookie.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>

#include "proxy/auth/base64url.h"
#include "proxy/auth/strict_json.h"

namespace gatehouse::auth {
namespace {

using Json = nlohmann::json;

constexpr unsigned char kVersion = 0x01;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;
constexpr size_t kHeaderBytes = 1 + kSessionKeyIdBytes + kNonceBytes;
constexpr std::string_view kOpenFailed = "cookie does not open";

struct CipherCtx {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  ~CipherCtx() { EVP_CIPHER_CTX_free(ctx); }
};

const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

StatusOr<std::string> DecodeKeyLine(std::string_view line) {
  if (line.size() == 64) {
    std::string out;
    for (size_t i = 0; i < 64; i += 2) {
      auto hex = [](char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
      };
      const int hi = hex(line[i]);
      const int lo = hex(line[i + 1]);
      if (hi < 0 || lo < 0) return InvalidArgumentError("not 64 hex characters");
      out.push_back(static_cast<char>(hi * 16 + lo));
    }
    return out;
  }
  if (line.size() == 43) {
    StatusOr<std::string> raw = Base64UrlDecode(line);
    if (raw.ok() && raw->size() == kSessionKeyBytes) return raw;
  }
  return InvalidArgumentError("must be 32 bytes as base64url (43 characters) or 64 hex characters");
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool IsStringArray(const Json& v) {
  return v.is_array() &&
         std::all_of(v.begin(), v.end(), [](const Json& x) { return x.is_string(); });
}

}  // namespace

// ---------------------------------------------------------------------------
// Keys

SessionKey SessionKeySet::KeyFromSecret(std::string secret) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(U(secret), secret.size(), digest);
  return SessionKey{std::string(reinterpret_cast<char*>(digest), kSessionKeyIdBytes),
                    std::move(secret)};
}

StatusOr<SessionKeySet> SessionKeySet::Parse(std::string_view file_text) {
  SessionKeySet set;
  int line_number = 0;
  while (!file_text.empty()) {
    const size_t newline = file_text.find('\n');
    std::string_view line = Trim(file_text.substr(0, newline));
    file_text =
        newline == std::string_view::npos ? std::string_view() : file_text.substr(newline + 1);
    ++line_number;
    if (line.empty() || line.front() == '#') continue;
    StatusOr<std::string> secret = DecodeKeyLine(line);
    if (!secret.ok()) {
      return InvalidArgumentError("session keys line " + std::to_string(line_number) + ": " +
                                  secret.status().message());
    }
    SessionKey key = KeyFromSecret(std::move(*secret));
    if (set.Find(key.id) != nullptr) {
      return InvalidArgumentError("session keys line " + std::to_string(line_number) +
                                  ": the same key (id) appears twice");
    }
    set.keys_.push_back(std::move(key));
  }
  if (set.keys_.empty()) return InvalidArgumentError("session keys: no key in the file");
  return set;
}

SessionKeySet SessionKeySet::Generate(RandomSource& random) {
  SessionKeySet set;
  set.keys_.push_back(KeyFromSecret(random.Bytes(kSessionKeyBytes)));
  return set;
}

const SessionKey* SessionKeySet::Find(std::string_view id) const {
  for (const SessionKey& k : keys_) {
    if (k.id == id) return &k;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------
// Envelope

SessionCodec::SessionCodec(SessionKeySet keys, RandomSource& random)
    : keys_(std::move(keys)), random_(random) {}

std::string SessionCodec::Seal(std::string_view plaintext, std::string_view aad) const {
  const SessionKey& key = keys_.current();
  std::string out;
  out.push_back(static_cast<char>(kVersion));
  out += key.id;
  out += random_.Bytes(kNonceBytes);  // random 96-bit nonce per cookie
  out.resize(kHeaderBytes + plaintext.size() + kTagBytes);
  auto* body = reinterpret_cast<unsigned char*>(out.data());
  CipherCtx c;
  int len = 0;
  int total = 0;
  const bool ok =
      c.ctx != nullptr &&
      EVP_EncryptInit_ex(c.ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) == 1 &&
      EVP_EncryptInit_ex(c.ctx, nullptr, nullptr, U(key.secret), body + 1 + kSessionKeyIdBytes) ==
          1 &&
      EVP_EncryptUpdate(c.ctx, nullptr, &len, U(aad), static_cast<int>(aad.size())) == 1 &&
      EVP_EncryptUpdate(c.ctx, body + kHeaderBytes, &len, U(plaintext),
                        static_cast<int>(plaintext.size())) == 1 &&
      (total = len, EVP_EncryptFinal_ex(c.ctx, body + kHeaderBytes + total, &len) == 1) &&
      EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_GET_TAG, kTagBytes,
                          body + kHeaderBytes + plaintext.size()) == 1;
  // Security: an encryption failure is an OpenSSL invariant broken; never
  // hand out a half-built (possibly plaintext) cookie.
  if (!ok) std::abort();
  return Base64UrlEncode(out);
}

StatusOr<std::string> SessionCodec::Open(std::string_view sealed, std::string_view aad) const {
  if (sealed.size() > kMaxSealedValueBytes) return UnauthenticatedError(std::string(kOpenFailed));
  StatusOr<std::string> raw = Base64UrlDecode(sealed);
  if (!raw.ok() || raw->size() < kHeaderBytes + kTagBytes ||
      static_cast<unsigned char>((*raw)[0]) != kVersion) {
    return UnauthenticatedError(std::string(kOpenFailed));
  }
  const SessionKey* key = keys_.Find(std::string_view(*raw).substr(1, kSessionKeyIdBytes));
  if (key == nullptr) return UnauthenticatedError(std::string(kOpenFailed));
  const size_t text_bytes = raw->size() - kHeaderBytes - kTagBytes;
  const auto* body = reinterpret_cast<const unsigned char*>(raw->data());
  std::string plaintext(text_bytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(plaintext.data());
  unsigned char tag[kTagBytes];
  std::copy(body + kHeaderBytes + text_bytes, body + raw->size(), tag);
  CipherCtx c;
  int len = 0;
  unsigned char final_block[16];
  // The tag covers the AAD and the ciphertext; the key id and nonce select the
  // key and IV, so altering them also fails the tag.
  const bool ok =
      c.ctx != nullptr &&
      EVP_DecryptInit_ex(c.ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) == 1 &&
      EVP_DecryptInit_ex(c.ctx, nullptr, nullptr, U(key->secret), body + 1 + kSessionKeyIdBytes) ==
          1 &&
      EVP_DecryptUpdate(c.ctx, nullptr, &len, U(aad), static_cast<int>(aad.size())) == 1 &&
      EVP_DecryptUpdate(c.ctx, out, &len, body + kHeaderBytes, static_cast<int>(text_bytes)) == 1 &&
      EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_SET_TAG, kTagBytes, tag) == 1 &&
      EVP_DecryptFinal_ex(c.ctx, final_block, &len) == 1;
  if (!ok) return UnauthenticatedError(std::string(kOpenFailed));
  return plaintext;
}

// ---------------------------------------------------------------------------
// Session contents

Json SimpleClaims(const Json& id_token_claims) {
  static const std::vector<std::string_view> kProtocolOnly = {
      "aud",       "azp", "nonce", "at_hash", "c_hash", "s_hash",
      "auth_time", "sid", "exp",   "iat",     "nbf"};
  Json out = Json::object();
  if (!id_token_claims.is_object()) return out;
  for (const auto& [name, value] : id_token_claims.items()) {
    if (std::find(kProtocolOnly.begin(), kProtocolOnly.end(), name) != kProtocolOnly.end())
      continue;
    if (value.is_string() || value.is_number() || value.is_boolean() || IsStringArray(value)) {
      out[name] = value;
    }
  }
  return out;
}

std::string SerializeSession(const Session& s) {
  Json j = {{"v", 1},
            {"iss", s.issuer},
            {"usr", s.user},
            {"sub", s.subject},
            {"eml", s.email},
            {"grp", s.groups},
            {"jti", s.token_id},
            {"clm", s.claims.is_object() ? s.claims : Json::object()},
            {"iat", s.issued_at},
            {"exp", s.expires_at},
            {"aex", s.access_expires_at}};
  if (!s.refresh_token.empty()) j["rt"] = s.refresh_token;
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

StatusOr<Session> ParseSession(std::string_view text) {
  StatusOr<Json> parsed = ParseStrictJson(text, kMaxSealedValueBytes);
  const Status bad = UnauthenticatedError("session malformed");
  if (!parsed.ok() || !parsed->is_object()) return bad;
  const Json& j = *parsed;
  auto str = [&](const char* name, std::string* out, bool required) {
    auto it = j.find(name);
    if (it == j.end()) return !required;
    if (!it->is_string()) return false;
    *out = it->get<std::string>();
    return true;
  };
  auto num = [&](const char* name, int64_t* out) {
    auto it = j.find(name);
    if (it == j.end() || !it->is_number_integer()) return false;
    *out = it->get<int64_t>();
    return true;
  };
  Session s;
  auto v = j.find("v");
  if (v == j.end() || !v->is_number_integer() || v->get<int>() != 1) return bad;
  if (!str("iss", &s.issuer, true) || !str("usr", &s.user, true) || !str("sub", &s.subject, true) ||
      !str("eml", &s.email, true) || !str("jti", &s.token_id, true) ||
      !str("rt", &s.refresh_token, false) || !num("iat", &s.issued_at) ||
      !num("exp", &s.expires_at) || !num("aex", &s.access_expires_at)) {
    return bad;
  }
  auto grp = j.find("grp");
  auto clm = j.find("clm");
  if (grp == j.end() || !IsStringArray(*grp) || clm == j.end() || !clm->is_object()) return bad;
  s.groups = grp->get<std::vector<std::string>>();
  s.claims = *clm;
  if (s.issuer.empty() || s.user.empty()) return bad;
  return s;
}

std::string SessionAad(std::string_view host) { return "session\n" + std::string(host); }

StatusOr<std::string> SealSession(const SessionCodec& codec, const Session& session,
                                  std::string_view host, size_t max_value_bytes) {
  const std::string aad = SessionAad(host);
  std::string value = codec.Seal(SerializeSession(session), aad);
  if (value.size() <= max_value_bytes) return value;
  // Too big: keep only what identity and Metabase SSO need.
  Session smaller = session;
  smaller.claims = Json::object();
  for (const char* name : {"given_name", "family_name", "name"}) {
    auto it = session.claims.find(name);
    if (it != session.claims.end() && it->is_string()) smaller.claims[name] = *it;
  }
  value = codec.Seal(SerializeSession(smaller), aad);
  if (value.size() <= max_value_bytes) return value;
  return ResourceExhaustedError("session does not fit in one cookie (too many groups?)");
}

StatusOr<Session> OpenSession(const SessionCodec& codec, std::string_view value,
                              std::string_view host, int64_t now) {
  StatusOr<std::string> plaintext = codec.Open(value, SessionAad(host));
  if (!plaintext.ok()) return plaintext.status();
  StatusOr<Session> session = ParseSession(*plaintext);
  if (!session.ok()) return session.status();
  // Security: the hard expiry bounds a stolen cookie's life, refresh or not.
  if (now >= session->expires_at) return UnauthenticatedError("session expired");
  return session;
}

std::shared_ptr<const Identity> SessionIdentity(const Session& s) {
  auto id = std::make_shared<Identity>();
  id->issuer = s.issuer;
  id->user = s.user;
  id->subject = s.subject;
  id->email = s.email;
  id->groups = s.groups;
  id->token_id = s.token_id;
  id->expires_at = s.expires_at;
  id->claims = s.claims;
  return id;
}

}  // namespace gatehouse::auth
