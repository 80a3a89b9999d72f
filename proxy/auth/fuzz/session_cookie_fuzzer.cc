// libFuzzer: hostile cookie values, callback queries, return paths and IdP
// answers -> the sign-in parsers. None may crash, and nothing forged may open.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "proxy/auth/login_state.h"
#include "proxy/auth/oidc_login.h"
#include "proxy/auth/return_path.h"
#include "proxy/auth/session_cookie.h"
#include "proxy/auth/url_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gatehouse;
  using namespace gatehouse::auth;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static FakeRandomSource random(1);
  static const SessionCodec codec(SessionKeySet::Generate(random), random);
  // Without the key, no input may open (AES-GCM forgery is out of reach).
  if (OpenSession(codec, text, "app.example.com", 0).ok()) std::abort();
  if (OpenLoginState(codec, text, "app.example.com", 0).ok()) std::abort();
  (void)ParseSession(text);
  (void)SessionKeySet::Parse(text);
  const std::string path = SanitizeReturnPath(text);
  if (path.empty() || path[0] != '/' || (path.size() > 1 && (path[1] == '/' || path[1] == '\\'))) {
    std::abort();
  }
  (void)QueryParam(text, "state");
  (void)ParseTokenResponse(200, text, true);
  (void)ParseUserinfo(200, text, "sub");
  (void)ProviderMetadataFromDiscovery(text, "https://idp.example.com");
  return 0;
}
