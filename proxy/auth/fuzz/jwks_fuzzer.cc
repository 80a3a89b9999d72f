// libFuzzer: bytes -> JWKS parser (and the strict JSON parser under it).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "proxy/auth/json_web_key.h"
#include "proxy/auth/oidc_discovery.h"
#include "proxy/auth/strict_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto set = gatehouse::auth::JsonWebKeySet::Parse(text);
  if (set.ok()) {
    const auto& s = **set;
    if (s.keys().size() + s.skipped().size() > gatehouse::auth::kMaxJwksKeys) std::abort();
    for (const auto& key : s.keys()) {
      if (key.pkey() == nullptr) std::abort();
    }
  }
  (void)gatehouse::auth::ParseStrictJson(text);
  (void)gatehouse::auth::JwksUriFromDiscovery(text, "https://idp.example.com");
  return 0;
}
