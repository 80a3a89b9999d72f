#include "proxy/auth/metabase_sso.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <nlohmann/json.hpp>

#include "proxy/auth/base64url.h"

namespace gatehouse::auth {
namespace {

std::string StringClaim(const Identity& identity, const char* name) {
  if (!identity.claims.is_object()) return "";
  auto it = identity.claims.find(name);
  return it != identity.claims.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

std::pair<std::string, std::string> MetabaseNames(const Identity& identity) {
  std::string first = StringClaim(identity, "given_name");
  std::string last = StringClaim(identity, "family_name");
  if (!first.empty() || !last.empty()) return {first, last};
  const std::string name = StringClaim(identity, "name");
  if (!name.empty()) {
    const size_t space = name.find(' ');
    if (space == std::string::npos) return {name, ""};
    return {name.substr(0, space), name.substr(space + 1)};
  }
  return {identity.email.substr(0, identity.email.find('@')), ""};
}

std::string MintMetabaseToken(const Identity& identity, std::string_view shared_secret, int64_t now,
                              std::string_view jti) {
  const auto [first, last] = MetabaseNames(identity);
  const nlohmann::json payload = {{"iat", now},
                                  {"exp", now + kMetabaseTokenSeconds},
                                  {"jti", jti},
                                  {"email", identity.email},
                                  {"first_name", first},
                                  {"last_name", last},
                                  {"groups", identity.groups}};
  const std::string input =
      Base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})") + "." +
      Base64UrlEncode(payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), shared_secret.empty() ? "" : shared_secret.data(),
       static_cast<int>(shared_secret.size()), reinterpret_cast<const unsigned char*>(input.data()),
       input.size(), mac, &mac_len);
  return input + "." + Base64UrlEncode(std::string_view(reinterpret_cast<char*>(mac), mac_len));
}

}  // namespace gatehouse::auth
