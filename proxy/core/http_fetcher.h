// HttpFetcher: the seam through which core code reads from the network
// (OIDC discovery, JWKS). The real implementation uses cpprestsdk
// (proxy/auth/cpprest_fetcher.h); tests use a fake that serves canned bodies.
//
//   StatusOr<HttpResponse> r = fetcher.Get("https://idp/.well-known/openid-configuration");
//
//   StatusOr<HttpResponse> t = fetcher.Post(token_endpoint, form_body,
//                                           {{"Authorization", "Basic ..."}});
//   StatusOr<HttpResponse> u = fetcher.GetWithHeaders(userinfo, {{"Authorization", "Bearer ..."}});
//
// Get() and Post() block; callers run them on a control-plane or worker
// thread, never on the data path. Post() sends `form_body` as
// application/x-www-form-urlencoded. The defaults of Post()/GetWithHeaders()
// answer kInternal, so fakes that only serve GETs need not change.
// Implementations must bound the body size (kMaxFetchBodyBytes) and time out.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "proxy/core/status.h"

namespace gatehouse {

inline constexpr size_t kMaxFetchBodyBytes = 1 << 20;  // 1 MiB: no JWKS is bigger

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

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
  virtual StatusOr<HttpResponse> GetWithHeaders(const std::string& url,
                                                const HttpHeaders& headers) {
    if (headers.empty()) return Get(url);
    return InternalError("GET with headers not supported by this fetcher");
  }
  virtual StatusOr<HttpResponse> Post(const std::string& url, const std::string& form_body,
                                      const HttpHeaders& headers) {
    (void)url;
    (void)form_body;
    (void)headers;
    return InternalError("POST not supported by this fetcher");
  }
};

}  // namespace gatehouse
