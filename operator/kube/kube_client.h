// KubeTransport: the seam between the operator and the Kubernetes API.
// KubeClient is the real one (cpprestsdk, TLS, bearer token / client cert);
// informer_test.cc drives a fake.
//
//   KubeClient client(config);
//   StatusOr<KubeResponse> r = client.Send("GET", "/api/v1/namespaces/ns/configmaps/x", "");
//   client.GetStreamed("/apis/gatehouse.dev/v1alpha1/accesspolicies",
//                      [](std::istream& body) { return ParseListFrom(body); });
//   client.Watch("/apis/gatehouse.dev/v1alpha1/accesspolicies?watch=1&resourceVersion=7",
//                [](std::string_view line) { Handle(line); return true; });
//
// Both block; they run on the operator's control threads. Errors (connect,
// TLS, timeout) are kUnavailable; HTTP statuses are returned, not errors.
#pragma once

#include <chrono>
#include <functional>
#include <istream>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "operator/kube/kube_config.h"
#include "proxy/core/status.h"

namespace gatehouse::kube {

struct KubeResponse {
  int status = 0;
  std::string body;
};

class KubeTransport {
 public:
  virtual ~KubeTransport() = default;
  // One request; `body` is JSON (or a merge patch for PATCH) when not empty.
  virtual StatusOr<KubeResponse> Send(const std::string& method, const std::string& path,
                                      const std::string& body) = 0;
  // A streaming GET: `on_line` gets each newline-terminated line as it
  // arrives; returning false ends the stream. Returns the HTTP status (on a
  // non-2xx status the body goes to `error_body` and no line is delivered).
  virtual StatusOr<int> Watch(const std::string& path,
                              const std::function<bool(std::string_view)>& on_line,
                              std::string* error_body) = 0;
  // A GET whose 2xx body `read` consumes as a stream, so a large list is
  // never held whole in memory. Returns the HTTP status (`read` is called only
  // on 2xx) or the error `read` returned. This default reads the body with
  // Send first (enough for fakes); KubeClient streams from the socket.
  virtual StatusOr<int> GetStreamed(const std::string& path,
                                    const std::function<Status(std::istream&)>& read);
};

class KubeClient final : public KubeTransport {
 public:
  explicit KubeClient(KubeConfig config,
                      std::chrono::seconds request_timeout = std::chrono::seconds(15),
                      std::chrono::seconds watch_timeout = std::chrono::seconds(330));
  ~KubeClient() override;

  StatusOr<KubeResponse> Send(const std::string& method, const std::string& path,
                              const std::string& body) override;
  StatusOr<int> Watch(const std::string& path, const std::function<bool(std::string_view)>& on_line,
                      std::string* error_body) override;
  StatusOr<int> GetStreamed(const std::string& path,
                            const std::function<Status(std::istream&)>& read) override;

 private:
  struct Impl;
  std::string BearerToken();
  KubeConfig config_;
  std::unique_ptr<Impl> impl_;
};

// "a b/c" -> "a%20b%2Fc" for query values and path segments.
std::string UrlEncode(std::string_view text);

}  // namespace gatehouse::kube
