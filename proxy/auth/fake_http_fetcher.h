// FakeHttpFetcher (tests only): serves canned responses by URL and counts requests.
//
//   FakeHttpFetcher fetcher;
//   fetcher.Serve("https://idp/.well-known/openid-configuration", 200, body);
//   fetcher.Fail("https://idp/jwks");           // kUnavailable from now on
//   EXPECT_EQ(fetcher.Count("https://idp/jwks"), 1);
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "proxy/core/http_fetcher.h"

namespace gatehouse::auth {

class FakeHttpFetcher final : public HttpFetcher {
 public:
  void Serve(const std::string& url, int status, std::string body) {
    std::lock_guard<std::mutex> lock(mu_);
    responses_[url] = HttpResponse{status, std::move(body)};
  }
  void Fail(const std::string& url) {
    std::lock_guard<std::mutex> lock(mu_);
    responses_.erase(url);
  }
  int Count(const std::string& url) {
    std::lock_guard<std::mutex> lock(mu_);
    return counts_[url];
  }
  StatusOr<HttpResponse> Get(const std::string& url) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++counts_[url];
    auto it = responses_.find(url);
    if (it == responses_.end()) return UnavailableError("fake: unreachable " + url);
    return it->second;
  }

 private:
  std::mutex mu_;
  std::map<std::string, HttpResponse> responses_;
  std::map<std::string, int> counts_;
};

}  // namespace gatehouse::auth
