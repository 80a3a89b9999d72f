#include "operator/kube/kube_client.h"

#include <cpprest/http_client.h>

#include <algorithm>
#include <array>
#include <boost/asio/ssl.hpp>
#include <exception>
#include <sstream>

#include "operator/kube/trust_store.h"

namespace gatehouse::kube {
namespace {

namespace http = web::http;
using http::client::http_client;
using http::client::http_client_config;

constexpr size_t kMaxResponseBytes = 256u << 20;  // a list of thousands of policies
constexpr size_t kMaxWatchLineBytes = 16u << 20;

http_client_config MakeClientConfig(const KubeConfig& config, std::chrono::seconds timeout) {
  http_client_config out;
  out.set_timeout(timeout);
  out.set_validate_certificates(!config.insecure_skip_tls_verify);
  std::string ca = config.ca_pem;
  std::string cert = config.client_cert_pem;
  std::string key = config.client_key_pem;
  out.set_ssl_context_callback([ca, cert, key](boost::asio::ssl::context& ctx) {
    // Only the cluster's CA is trusted when one is configured (not the
    // system store cpprestsdk loaded into this context first). A CA that
    // does not parse leaves nothing trusted: the handshake fails, Unavailable.
    if (!ca.empty()) (void)TrustOnly(ctx.native_handle(), ca);
    if (!cert.empty() && !key.empty()) {
      ctx.use_certificate_chain(boost::asio::buffer(cert.data(), cert.size()));
      ctx.use_private_key(boost::asio::buffer(key.data(), key.size()),
                          boost::asio::ssl::context::pem);
    }
  });
  return out;
}

http::method MethodOf(const std::string& name) {
  if (name == "GET") return http::methods::GET;
  if (name == "PUT") return http::methods::PUT;
  if (name == "POST") return http::methods::POST;
  if (name == "PATCH") return http::methods::PATCH;
  if (name == "DELETE") return http::methods::DEL;
  return name;
}

// The body as it arrives, 16 KiB at a time: the string grows with the answer
// (a status PATCH gets a few KB back), never to a large read size first.
StatusOr<std::string> ReadAll(http::http_response& response) {
  concurrency::streams::streambuf<uint8_t> source = response.body().streambuf();
  std::string out;
  std::array<uint8_t, 16 * 1024> chunk;
  while (const size_t n = source.getn(chunk.data(), chunk.size()).get()) {
    if (out.size() + n > kMaxResponseBytes) return ResourceExhaustedError("API response too large");
    out.append(reinterpret_cast<const char*>(chunk.data()), n);
  }
  return out;
}

// A std::streambuf over a cpprest response body, refilled 64 KiB at a time
// (cpprest's own interop buffer reads one byte per task). Reports end of
// stream past `limit` bytes, so an oversized body ends in a parse error.
class BodyStreamBuf final : public std::streambuf {
 public:
  BodyStreamBuf(concurrency::streams::streambuf<uint8_t> source, size_t limit)
      : source_(std::move(source)), limit_(limit) {}
  bool over_limit() const { return over_limit_; }

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    if (total_ >= limit_) {
      over_limit_ = true;
      return traits_type::eof();
    }
    size_t want = std::min(buffer_.size(), limit_ - total_);
    size_t n = source_.getn(reinterpret_cast<uint8_t*>(buffer_.data()), want).get();
    if (n == 0) return traits_type::eof();
    total_ += n;
    setg(buffer_.data(), buffer_.data(), buffer_.data() + n);
    return traits_type::to_int_type(*gptr());
  }

 private:
  concurrency::streams::streambuf<uint8_t> source_;
  size_t limit_;
  size_t total_ = 0;
  bool over_limit_ = false;
  std::array<char, 64 * 1024> buffer_{};
};

}  // namespace

StatusOr<int> KubeTransport::GetStreamed(const std::string& path,
                                         const std::function<Status(std::istream&)>& read) {
  StatusOr<KubeResponse> response = Send("GET", path, "");
  if (!response.ok()) return response.status();
  if (response->status < 200 || response->status > 299) return response->status;
  std::istringstream body(std::move(response->body));
  if (Status s = read(body); !s.ok()) return s;
  return response->status;
}

struct KubeClient::Impl {
  Impl(const KubeConfig& config, std::chrono::seconds request_timeout,
       std::chrono::seconds watch_timeout)
      : requests(web::uri(config.server), MakeClientConfig(config, request_timeout)),
        watches(web::uri(config.server), MakeClientConfig(config, watch_timeout)) {}
  http_client requests;
  http_client watches;
};

KubeClient::KubeClient(KubeConfig config, std::chrono::seconds request_timeout,
                       std::chrono::seconds watch_timeout)
    : config_(std::move(config)),
      impl_(std::make_unique<Impl>(config_, request_timeout, watch_timeout)) {}

KubeClient::~KubeClient() = default;

std::string KubeClient::BearerToken() {
  // Re-read on every request: kubelet rotates bound tokens in place.
  if (!config_.token_file.empty()) {
    StatusOr<std::string> token = ReadSmallFile(config_.token_file);
    if (token.ok()) {
      std::string t = *token;
      while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
      return t;
    }
  }
  return config_.token;
}

namespace {

http::http_request MakeRequest(const std::string& method, const std::string& path,
                               const std::string& token) {
  http::http_request request(MethodOf(method));
  request.set_request_uri(path);
  request.headers().add(http::header_names::accept, "application/json");
  if (!token.empty()) request.headers().add(http::header_names::authorization, "Bearer " + token);
  return request;
}

}  // namespace

StatusOr<KubeResponse> KubeClient::Send(const std::string& method, const std::string& path,
                                        const std::string& body) {
  try {
    http::http_request request = MakeRequest(method, path, BearerToken());
    if (!body.empty()) {
      request.set_body(body,
                       method == "PATCH" ? "application/merge-patch+json" : "application/json");
    }
    http::http_response response = impl_->requests.request(request).get();
    StatusOr<std::string> text = ReadAll(response);
    if (!text.ok()) return text.status();
    return KubeResponse{response.status_code(), std::move(*text)};
  } catch (const std::exception&) {
    // Connect, TLS and timeout failures; the path carries no secrets.
    return UnavailableError("API request failed: " + method + " " + path.substr(0, path.find('?')));
  }
}

StatusOr<int> KubeClient::Watch(const std::string& path,
                                const std::function<bool(std::string_view)>& on_line,
                                std::string* error_body) {
  try {
    http::http_response response =
        impl_->watches.request(MakeRequest("GET", path, BearerToken())).get();
    int status = response.status_code();
    if (status < 200 || status > 299) {
      StatusOr<std::string> text = ReadAll(response);
      if (error_body != nullptr && text.ok()) *error_body = std::move(*text);
      return status;
    }
    auto stream = response.body().streambuf();
    std::string pending;
    char chunk[16 * 1024];
    while (true) {
      // Take what has arrived (at least one byte): events are delivered as soon
      // as their line is complete, never held back to fill a buffer.
      size_t available = stream.in_avail();
      size_t want = available > 0 ? std::min(available, sizeof(chunk)) : 1;
      size_t n = stream.getn(reinterpret_cast<uint8_t*>(chunk), want).get();
      if (n == 0) return status;
      pending.append(chunk, n);
      size_t start = 0;
      for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
        if (nl > start && !on_line(std::string_view(pending).substr(start, nl - start))) {
          return status;
        }
      }
      pending.erase(0, start);
      if (pending.size() > kMaxWatchLineBytes) {
        return ResourceExhaustedError("watch event too large");
      }
    }
  } catch (const std::exception&) {
    return UnavailableError("watch failed: " + path.substr(0, path.find('?')));
  }
}

StatusOr<int> KubeClient::GetStreamed(const std::string& path,
                                      const std::function<Status(std::istream&)>& read) {
  Status outcome = Status::Ok();
  int status = 0;
  try {
    http::http_response response =
        impl_->requests.request(MakeRequest("GET", path, BearerToken())).get();
    status = response.status_code();
    if (status < 200 || status > 299) return status;
    BodyStreamBuf buffer(response.body().streambuf(), kMaxResponseBytes);
    std::istream body(&buffer);
    outcome = read(body);
    if (buffer.over_limit()) return ResourceExhaustedError("API response too large");
  } catch (const std::exception&) {
    return UnavailableError("API request failed: GET " + path.substr(0, path.find('?')));
  }
  if (!outcome.ok()) return outcome;
  return status;
}

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace gatehouse::kube
