// FakeHttpFetcher (tests only): serves canned responses by URL and counts requests.
//
//   FakeHttpFetcher fetcher;
//   fetcher.Serve("https://idp/.well-known/openid-configuration", 200, body);
//   fetcher.Fail("https://idp/jwks");           // kUnavailable from now on
//   EXPECT_EQ(fetcher.Count("https://idp/jwks"), 1);
//   fetcher.Handle("https://idp/token", [](const FakeHttpFetcher::Request& r) {
//     return HttpResponse{200, "{...}"};         // POSTs and GETs with headers
//   });
//   fetcher.requests().back().body;             // what was sent
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "proxy/core/http_fetcher.h"

namespace gatehouse::auth {

class FakeHttpFetcher final : public HttpFetcher {
 public:
  struct Request {
    std::string method;  // "GET" | "POST"
    std::string url;
    std::string body;
    HttpHeaders headers;
  };
  // Returning status 0 means "unreachable" (kUnavailable).
  using Handler = std::function<HttpResponse(const Request&)>;

  void Serve(const std::string& url, int status, std::string body) {
    std::lock_guard<std::mutex> lock(mu_);
    responses_[url] = HttpResponse{status, std::move(body)};
  }
  void Handle(const std::string& url, Handler handler) {
    std::lock_guard<std::mutex> lock(mu_);
    handlers_[url] = std::move(handler);
  }
  void Fail(const std::string& url) {
    std::lock_guard<std::mutex> lock(mu_);
    responses_.erase(url);
    handlers_.erase(url);
  }
  int Count(const std::string& url) {
    std::lock_guard<std::mutex> lock(mu_);
    return counts_[url];
  }
  std::vector<Request> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  StatusOr<HttpResponse> Get(const std::string& url) override {
    return Answer(Request{"GET", url, "", {}});
  }
  StatusOr<HttpResponse> GetWithHeaders(const std::string& url,
                                        const HttpHeaders& headers) override {
    return Answer(Request{"GET", url, "", headers});
  }
  StatusOr<HttpResponse> Post(const std::string& url, const std::string& form_body,
                              const HttpHeaders& headers) override {
    return Answer(Request{"POST", url, form_body, headers});
  }

 private:
  StatusOr<HttpResponse> Answer(Request request) {
    Handler handler;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++counts_[request.url];
      requests_.push_back(request);
      auto h = handlers_.find(request.url);
      if (h != handlers_.end()) {
        handler = h->second;
      } else {
        auto it = responses_.find(request.url);
        if (it == responses_.end()) return UnavailableError("fake: unreachable " + request.url);
        return it->second;
      }
    }
    HttpResponse response = handler(request);  // outside the lock: it may call back in
    if (response.status == 0) return UnavailableError("fake: unreachable " + request.url);
    return response;
  }

  std::mutex mu_;
  std::map<std::string, HttpResponse> responses_;
  std::map<std::string, Handler> handlers_;
  std::map<std::string, int> counts_;
  std::vector<Request> requests_;
};

}  // namespace gatehouse::auth
