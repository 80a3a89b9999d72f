// The HTTP surface of the gate: credential extraction and local answers.
#include <openssl/rand.h>

#include <array>
#include <cctype>
#include <string_view>
#include <cstdio>
#include <random>

#include "proxy/server/identity_headers.h"
#include "proxy/server/request_gate.h"

namespace gatehouse::server {
namespace {

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// RFC 7235 token68 characters (the '=' padding is handled by the caller), as a
// table: this runs over every byte of every bearer token, and libc's
// locale-aware isalnum showed up at 3% of a benchmark profile.
constexpr std::array<bool, 256> kToken68Chars = [] {
  std::array<bool, 256> table{};
  for (int c = 'a'; c <= 'z'; ++c) table[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) table[c] = true;
  for (int c = '0'; c <= '9'; ++c) table[c] = true;
  for (unsigned char c : std::string_view("-._~+/")) table[c] = true;
  return table;
}();

bool IsToken68Char(char c) { return kToken68Chars[static_cast<unsigned char>(c)]; }

bool ContainsIgnoreCase(std::string_view haystack, std::string_view lower_needle) {
  if (haystack.size() < lower_needle.size()) return false;
  for (size_t i = 0; i + lower_needle.size() <= haystack.size(); ++i) {
    size_t k = 0;
    while (k < lower_needle.size() &&
           std::tolower(static_cast<unsigned char>(haystack[i + k])) == lower_needle[k]) {
      ++k;
    }
    if (k == lower_needle.size()) return true;
  }
  return false;
}

std::string_view StatusText(int status) {
  switch (status) {
    case 302:
      return "Found";
    case 307:
      return "Temporary Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 429:
      return "Too Many Requests";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

}  // namespace

BearerCredential ExtractBearer(const RequestHead& request) {
  const size_t count = request.count(http::field::authorization);
  if (count == 0) return {};
  // Security: several Authorization headers are ambiguous (which one would an
  // upstream read?), so none of them is trusted.
  if (count > 1) return {CredentialKind::kInvalid, {}};
  std::string_view value = AsStd(request[http::field::authorization]);
  constexpr std::string_view kScheme = "bearer";
  if (value.size() <= kScheme.size() || !IEquals(value.substr(0, kScheme.size()), kScheme) ||
      value[kScheme.size()] != ' ') {
    return {CredentialKind::kInvalid, {}};  // another scheme: a credential we cannot verify
  }
  value.remove_prefix(kScheme.size());
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  size_t i = 0;
  while (i < value.size() && IsToken68Char(value[i])) ++i;
  while (i < value.size() && value[i] == '=') ++i;  // token68 padding
  if (i == 0 || i != value.size()) return {CredentialKind::kInvalid, {}};
  return {CredentialKind::kBearer, value};
}

bool IsBrowserNavigation(const RequestHead& request) {
  if (request.method() != http::verb::get) return false;
  for (const auto& field : request) {
    if (field.name() == http::field::accept &&
        ContainsIgnoreCase(AsStd(field.value()), "text/html")) {
      return true;
    }
  }
  return false;
}

LocalResponse MakeLocalResponse(const RequestHead& request, int status, std::string_view reason,
                                std::string_view request_id, int64_t retry_after_seconds) {
  LocalResponse response;
  response.version(request.version());
  response.result(static_cast<unsigned>(status));
  response.set("X-Request-Id", AsBeast(request_id));
  response.set(http::field::cache_control, "no-store");
  response.set("X-Content-Type-Options", "nosniff");
  if (status == 401) {
    // RFC 6750 section 3.1: no error code when no credential was offered.
    response.set(http::field::www_authenticate,
                 reason == "invalid_token" ? R"(Bearer realm="gatehouse", error="invalid_token")"
                                           : R"(Bearer realm="gatehouse")");
  }
  if (status == 429) response.set(http::field::retry_after, std::to_string(retry_after_seconds));
  // The body names the reason label and the request id, nothing internal
  // (no policy, rule, claim or token detail): both are our own safe strings.
  const std::string_view text = StatusText(status);
  const std::string_view accept = AsStd(request[http::field::accept]);
  std::string body;
  if (ContainsIgnoreCase(accept, "text/html")) {
    response.set(http::field::content_type, "text/html; charset=utf-8");
    body = "<!doctype html><title>" + std::to_string(status) + " " + std::string(text) +
           "</title><h1>" + std::to_string(status) + " " + std::string(text) +
           "</h1><p>Reason: " + std::string(reason) +
           "</p><p>Request ID: " + std::string(request_id) + "</p>\n";
  } else if (ContainsIgnoreCase(accept, "application/json")) {
    response.set(http::field::content_type, "application/json");
    body = R"({"status":)" + std::to_string(status) + R"(,"reason":")" + std::string(reason) +
           R"(","request_id":")" + std::string(request_id) + "\"}\n";
  } else {
    response.set(http::field::content_type, "text/plain; charset=utf-8");
    body = std::to_string(status) + " " + std::string(text) + ": " + std::string(reason) +
           " (request id " + std::string(request_id) + ")\n";
  }
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

std::string NewRequestId() {
  // Unique, not secret: a per-thread generator seeded from the OS CSPRNG.
  thread_local std::mt19937_64 generator = [] {
    uint64_t seed[2] = {0, 0};
    if (RAND_bytes(reinterpret_cast<unsigned char*>(seed), sizeof(seed)) != 1) {
      seed[0] = std::random_device()();
      seed[1] = std::random_device()();
    }
    std::seed_seq seq{seed[0], seed[0] >> 32, seed[1], seed[1] >> 32};
    return std::mt19937_64(seq);
  }();
  char out[33];
  std::snprintf(out, sizeof(out), "%016llx%016llx", static_cast<unsigned long long>(generator()),
                static_cast<unsigned long long>(generator()));
  return std::string(out, 32);
}

}  // namespace gatehouse::server
