// CpprestFetcher: the real HttpFetcher, on cpprestsdk's http_client.
// Lives in its own library (gatehouse_auth_fetch) so core auth code never
// includes cpprest headers.
//
//   CpprestFetcher fetcher;                        // 10 s timeout, TLS verified
//   JwksCache cache(fetcher, time, jitter);
//   StatusOr<HttpResponse> r = fetcher.Get("https://idp.example.com/jwks");
//   StatusOr<HttpResponse> t = fetcher.Post(token_url, "grant_type=...", {{"Authorization", ...}});
//
// Any HTTP status is returned as is (the caller decides); redirects are not
// followed (a 3xx comes back as a status, so a redirect can never move a
// fetch to another scheme or host); the body is bounded by kMaxFetchBodyBytes
// (kResourceExhausted beyond it); every cpprest exception becomes kUnavailable
// naming the URL without its query string.
#pragma once

#include <chrono>
#include <string>

#include "proxy/core/http_fetcher.h"

namespace gatehouse::auth {

class CpprestFetcher final : public HttpFetcher {
 public:
  explicit CpprestFetcher(std::chrono::milliseconds timeout = std::chrono::seconds(10),
                          size_t max_body_bytes = kMaxFetchBodyBytes);
  StatusOr<HttpResponse> Get(const std::string& url) override;
  StatusOr<HttpResponse> GetWithHeaders(const std::string& url,
                                        const HttpHeaders& headers) override;
  StatusOr<HttpResponse> Post(const std::string& url, const std::string& form_body,
                              const HttpHeaders& headers) override;

 private:
  StatusOr<HttpResponse> Send(bool post, const std::string& url, const std::string& body,
                              const HttpHeaders& headers);

  std::chrono::milliseconds timeout_;
  size_t max_body_bytes_;
};

}  // namespace gatehouse::auth
