// HttpFetcher: the seam through which core code reads from the network
// (OIDC discovery, JWKS). The real implementation uses cpprestsdk
// (proxy/auth/cpprest_fetcher.h); tests use a fake that serves canned bodies.
//
//   StatusOr<HttpResponse> r = fetcher.Get("https://idp/.well-known/openid-configuration");
//
// Get() blocks; callers run it on a control-plane thread, never on the data path.
// Implementations must bound the body size (kMaxFetchBodyBytes) and time out.
#pragma once

#include <cstddef>
#include <string>

#include "proxy/core/status.h"

namespace gatehouse {

inline constexpr size_t kMaxFetchBodyBytes = 1 << 20;  // 1 MiB: no JWKS is bigger

struct HttpResponse {
  int status = 0;
  std::string body;
};

class HttpFetcher {
 public:
  virtual ~HttpFetcher() = default;
  // kUnavailable when the server cannot be reached or times out;
  // kResourceExhausted when the body exceeds kMaxFetchBodyBytes.
  virtual StatusOr<HttpResponse> Get(const std::string& url) = 0;
};

}  // namespace gatehouse
