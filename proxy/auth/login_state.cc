#include "proxy/auth/login_state.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "proxy/auth/base64url.h"
#include "proxy/auth/strict_json.h"

namespace gatehouse::auth {
namespace {

std::string LoginAad(std::string_view host) { return "login\n" + std::string(host); }

}  // namespace

LoginState NewLoginState(RandomSource& random, std::string return_path, std::string policy,
                         int64_t now) {
  LoginState s;
  s.state = Base64UrlEncode(random.Bytes(16));
  s.nonce = Base64UrlEncode(random.Bytes(16));
  s.code_verifier = Base64UrlEncode(random.Bytes(32));
  s.return_path = std::move(return_path);
  s.policy = std::move(policy);
  s.expires_at = now + kLoginTtlSeconds;
  return s;
}

std::string PkceChallengeS256(std::string_view verifier) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(verifier.data()), verifier.size(), digest);
  return Base64UrlEncode(std::string_view(reinterpret_cast<char*>(digest), sizeof(digest)));
}

std::string SealLoginState(const SessionCodec& codec, const LoginState& s, std::string_view host) {
  const nlohmann::json j = {{"st", s.state},       {"nc", s.nonce},  {"cv", s.code_verifier},
                            {"rp", s.return_path}, {"po", s.policy}, {"exp", s.expires_at}};
  return codec.Seal(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                    LoginAad(host));
}

StatusOr<LoginState> OpenLoginState(const SessionCodec& codec, std::string_view value,
                                    std::string_view host, int64_t now) {
  StatusOr<std::string> plaintext = codec.Open(value, LoginAad(host));
  if (!plaintext.ok()) return plaintext.status();
  StatusOr<nlohmann::json> j = ParseStrictJson(*plaintext, kMaxSealedValueBytes);
  const Status bad = UnauthenticatedError("login state malformed");
  if (!j.ok() || !j->is_object()) return bad;
  LoginState s;
  for (auto [name, out] :
       {std::pair{"st", &s.state}, std::pair{"nc", &s.nonce}, std::pair{"cv", &s.code_verifier},
        std::pair{"rp", &s.return_path}, std::pair{"po", &s.policy}}) {
    auto it = j->find(name);
    if (it == j->end() || !it->is_string() || it->get_ref<const std::string&>().empty()) return bad;
    *out = it->get<std::string>();
  }
  auto exp = j->find("exp");
  if (exp == j->end() || !exp->is_number_integer()) return bad;
  s.expires_at = exp->get<int64_t>();
  // Security: a login cookie outliving its window could be replayed later.
  if (now >= s.expires_at) return UnauthenticatedError("login expired");
  return s;
}

bool StateMatches(std::string_view expected, std::string_view presented) {
  if (expected.empty() || expected.size() != presented.size()) return false;
  return CRYPTO_memcmp(expected.data(), presented.data(), expected.size()) == 0;
}

}  // namespace gatehouse::auth
