// libFuzzer: token text -> VerifyJwt with a fixed key set (one key per
// algorithm), plus the unverified peeks and the base64url canonical-encoding
// property. Any crash, sanitizer report or property violation is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "proxy/auth/base64url.h"
#include "proxy/auth/jwt_verifier.h"
#include "proxy/auth/test_signer.h"

namespace {

using gatehouse::auth::AllJwsAlgorithms;
using gatehouse::auth::IssuerConfig;
using gatehouse::auth::JsonWebKeySet;
using gatehouse::auth::JwsAlgorithm;
using gatehouse::auth::TestSigner;

const JsonWebKeySet& Keys() {
  static const std::shared_ptr<const JsonWebKeySet> keys = [] {
    std::vector<nlohmann::json> jwks;
    for (JwsAlgorithm alg : AllJwsAlgorithms()) {
      TestSigner signer(alg, std::string(gatehouse::auth::JwsAlgorithmName(alg)));
      jwks.push_back(signer.PublicJwk());
    }
    return *JsonWebKeySet::Parse(gatehouse::auth::JwksOf(jwks));
  }();
  return *keys;
}

const IssuerConfig& Config() {
  static const IssuerConfig config = [] {
    IssuerConfig c;
    c.issuer = "https://idp.vectors.test";
    c.audiences = {"gatehouse"};
    c.algorithms = AllJwsAlgorithms();
    return c;
  }();
  return config;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view token(reinterpret_cast<const char*>(data), size);
  auto identity = gatehouse::auth::VerifyJwt(token, Config(), Keys(), 1700000000);
  // Random bytes never carry a valid signature from our freshly generated keys.
  if (identity.ok()) std::abort();
  (void)gatehouse::auth::PeekIssuer(token);
  (void)gatehouse::auth::PeekKeyId(token);
  // Strict base64url: whatever decodes must re-encode to exactly the input.
  auto decoded = gatehouse::auth::Base64UrlDecode(token);
  if (decoded.ok() && gatehouse::auth::Base64UrlEncode(*decoded) != token) std::abort();
  return 0;
}
