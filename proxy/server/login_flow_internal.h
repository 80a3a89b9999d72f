// Internal to the login flow (login_flow.cc, login_flow_http.cc): the
// request facts a response needs (copied, so worker threads never read the
// request head) and the small response builders both files share.
#pragma once

#include <openssl/sha.h>

#include <optional>
#include <string>
#include <string_view>

#include "proxy/auth/url_codec.h"
#include "proxy/policy/route_table.h"
#include "proxy/server/identity_headers.h"
#include "proxy/server/login_flow.h"

namespace gatehouse::server::login_internal {

using policy::DecisionReason;

inline constexpr size_t kMaxSetCookieBytes = 4096;
inline constexpr std::string_view kIdpUnavailable =
    "idp_unavailable";  // 503, like keys_unavailable

// What a response needs from the request, copied so workers never read the request head.
struct RequestFacts {
  unsigned version = 11;
  bool tls = false;
  std::string host;      // canonical: lowercase, no port (the cookie AAD)
  std::string url_host;  // as sent (with port), for redirect URIs
};

inline RequestFacts FactsOf(const RequestHead& request, const ClientInfo& client) {
  RequestFacts f;
  f.version = request.version();
  f.tls = client.tls;
  char buffer[policy::kMaxHostBytes];
  f.host = std::string(policy::CanonicalHost(AsStd(request[http::field::host]), buffer));
  f.url_host = std::string(UrlSafeHost(request));
  return f;
}

inline std::string Origin(const RequestFacts& f) {
  return (f.tls ? "https://" : "http://") + f.url_host;
}

inline LocalResponse Base(const RequestFacts& f, int status, std::string_view request_id) {
  LocalResponse r;
  r.version(f.version);
  r.result(static_cast<unsigned>(status));
  r.set("X-Request-Id", AsBeast(request_id));
  r.set(http::field::cache_control, "no-store");
  r.set("X-Content-Type-Options", "nosniff");
  return r;
}

inline LocalResponse Redirect(const RequestFacts& f, int status, std::string_view location,
                              std::string_view request_id) {
  LocalResponse r = Base(f, status, request_id);
  r.set(http::field::location, AsBeast(location));
  r.set(http::field::content_type, "text/plain; charset=utf-8");
  r.body() = "Redirecting (request id " + std::string(request_id) + ")\n";
  return r;
}

// A small page: the request id and a fixed reason text of ours (never an
// IdP answer, a code or a token).
inline LocalResponse FailurePage(
    const RequestFacts& f, int status, std::string_view detail, std::string_view request_id,
    std::string_view label = policy::ReasonLabel(DecisionReason::kLoginFailed)) {
  LocalResponse r = Base(f, status, request_id);
  r.set(http::field::content_type, "text/html; charset=utf-8");
  const std::string title = status == 400   ? "400 Bad Request"
                            : status == 503 ? "503 Service Unavailable"
                                            : "502 Bad Gateway";
  r.body() = "<!doctype html><title>" + title +
             "</title><h1>Sign-in failed</h1><p>Reason: " + std::string(label) + " (" +
             std::string(detail) + ")</p><p>Request ID: " + std::string(request_id) +
             "</p><p><a href=\"/\">Start again</a></p>\n";
  return r;
}

inline void Finish(LocalResponse& r) { r.prepare_payload(); }

inline void ClearCookie(LocalResponse& r, std::string_view name, bool tls) {
  r.insert(http::field::set_cookie, SetCookieHeader(name, "", 0, tls));
}

inline std::string QueryOf(std::string_view query) {
  return std::string(!query.empty() && query.front() == '?' ? query.substr(1) : query);
}

inline std::optional<std::string> Param(std::string_view query, std::string_view name) {
  StatusOr<std::optional<std::string>> v = auth::QueryParam(query, name);
  if (!v.ok()) return std::nullopt;
  return *v;
}

inline std::string Sha256(std::string_view s) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d);
  return std::string(reinterpret_cast<char*>(d), sizeof(d));
}

inline LoginOutcome Outcome(LocalResponse response, DecisionReason reason,
                            const PolicyRuntime* rt) {
  LoginOutcome o;
  Finish(response);
  o.response = std::move(response);
  o.reason = reason;
  o.runtime = rt;
  return o;
}

}  // namespace gatehouse::server::login_internal
