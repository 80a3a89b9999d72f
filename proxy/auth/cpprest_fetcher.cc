#include "proxy/auth/cpprest_fetcher.h"

#include <cpprest/containerstream.h>
#include <cpprest/http_client.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <vector>

namespace gatehouse::auth {
namespace {

// The URL for error messages, without query or fragment (they may carry secrets).
std::string Redacted(const std::string& url) { return url.substr(0, url.find_first_of("?#")); }

StatusOr<std::string> ReadBounded(web::http::http_response& response, size_t max_bytes) {
  if (response.headers().has(web::http::header_names::content_length) &&
      response.headers().content_length() > max_bytes) {
    return ResourceExhaustedError("response body too large");
  }
  // Read in chunks so a chunked (length-less) body is bounded too. The body
  // stream is of uint8_t, so the target buffer must be too.
  concurrency::streams::container_buffer<std::vector<uint8_t>> buffer;
  concurrency::streams::istream body = response.body();
  size_t total = 0;
  while (true) {
    const size_t n = body.read(buffer, 64 * 1024).get();
    if (n == 0) break;
    total += n;
    if (total > max_bytes) return ResourceExhaustedError("response body too large");
  }
  // The buffer's collection may be larger than what was written (it grows in
  // blocks): only the first `total` bytes are the body.
  const std::vector<uint8_t>& bytes = buffer.collection();
  const size_t n = std::min(total, bytes.size());
  return std::string(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
}

}  // namespace

CpprestFetcher::CpprestFetcher(std::chrono::milliseconds timeout, size_t max_body_bytes)
    : timeout_(timeout), max_body_bytes_(max_body_bytes) {}

StatusOr<HttpResponse> CpprestFetcher::Get(const std::string& url) {
  return Send(/*post=*/false, url, "", {});
}

StatusOr<HttpResponse> CpprestFetcher::GetWithHeaders(const std::string& url,
                                                      const HttpHeaders& headers) {
  return Send(/*post=*/false, url, "", headers);
}

StatusOr<HttpResponse> CpprestFetcher::Post(const std::string& url, const std::string& form_body,
                                            const HttpHeaders& headers) {
  return Send(/*post=*/true, url, form_body, headers);
}

StatusOr<HttpResponse> CpprestFetcher::Send(bool post, const std::string& url,
                                            const std::string& body_text,
                                            const HttpHeaders& headers) {
  try {
    web::http::client::http_client_config config;
    config.set_timeout(timeout_);
    config.set_validate_certificates(true);
    config.set_max_redirects(0);
    config.set_https_to_http_redirects(false);
    web::http::client::http_client client(web::uri(url), config);
    web::http::http_request request(post ? web::http::methods::POST : web::http::methods::GET);
    request.headers().add(web::http::header_names::accept, "application/json");
    for (const auto& [name, value] : headers) request.headers().add(name, value);
    if (post) request.set_body(body_text, "application/x-www-form-urlencoded");
    web::http::http_response response = client.request(request).get();
    StatusOr<std::string> body = ReadBounded(response, max_body_bytes_);
    if (!body.ok())
      return Status(body.status().code(), body.status().message() + ": " + Redacted(url));
    HttpResponse out;
    out.status = response.status_code();
    out.body = std::move(*body);
    return out;
  } catch (const std::exception&) {
    // cpprest reports DNS, connect, TLS and timeout failures as exceptions.
    return UnavailableError("fetch failed: " + Redacted(url));
  }
}

}  // namespace gatehouse::auth
