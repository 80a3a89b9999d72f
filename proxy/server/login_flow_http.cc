// LoginFlow's HTTP surface: cookies, sessions, the login redirect, the
// callback / logout / Metabase SSO endpoints (see login_flow.h).
#include <openssl/sha.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "proxy/auth/base64url.h"
#include "proxy/auth/metabase_sso.h"
#include "proxy/auth/oidc_login.h"
#include "proxy/auth/return_path.h"
#include "proxy/auth/url_codec.h"
#include "proxy/policy/route_table.h"
#include "proxy/server/identity_headers.h"
#include "proxy/server/login_flow.h"
#include "proxy/server/login_flow_internal.h"

namespace gatehouse::server {

using policy::DecisionReason;

using namespace login_internal;  // NOLINT: this file is that module

namespace {

bool HostMatches(std::string_view pattern, std::string_view host) {
  if (pattern == host) return true;
  if (pattern.substr(0, 2) != "*.") return false;
  const std::string_view suffix = pattern.substr(1);  // ".example.com"
  if (host.size() <= suffix.size() || host.substr(host.size() - suffix.size()) != suffix) {
    return false;
  }
  // Exactly one extra label, as the route table matches.
  return host.substr(0, host.size() - suffix.size()).find('.') == std::string_view::npos;
}

bool ServesHost(const PolicyRuntime& rt, std::string_view host) {
  for (const std::string& h : rt.policy->hosts) {
    if (HostMatches(h, host)) return true;
  }
  return false;
}

// The login-enabled policy serving `host` (by key when given), else any policy
// serving it (login null), else null.
const PolicyRuntime* RuntimeForHost(const FleetSnapshot& s, std::string_view host,
                                    std::string_view key, bool* any_policy) {
  *any_policy = false;
  const PolicyRuntime* found = nullptr;
  for (const auto& p : s.policies->policies()) {
    const PolicyRuntime* rt = s.RuntimeFor(p.get());
    if (rt == nullptr || !ServesHost(*rt, host)) continue;
    *any_policy = true;
    if (rt->login == nullptr) continue;
    if (!key.empty() && p->key != key) continue;
    if (found == nullptr || p->key < found->policy->key) found = rt;  // stable choice
  }
  return found;
}

// 404 no_route: the sign-in endpoints exist only on hosts the fleet fronts.
LoginOutcome NotFronted(const RequestFacts& f, std::string_view request_id) {
  LocalResponse r = Base(f, 404, request_id);
  r.set(http::field::content_type, "text/plain; charset=utf-8");
  r.body() = "404 Not Found: no_route (request id " + std::string(request_id) + ")\n";
  return Outcome(std::move(r), DecisionReason::kNoRoute, nullptr);
}

LoginOutcome Unavailable(const RequestFacts& f, std::string_view request_id,
                         const PolicyRuntime* rt) {
  LoginOutcome o = Outcome(
      FailurePage(f, 503, "identity provider unavailable, try again", request_id, kIdpUnavailable),
      DecisionReason::kLoginFailed, rt);
  o.counted = false;
  o.uncounted_reason = kIdpUnavailable;
  return o;
}

}  // namespace

// ---------------------------------------------------------------------------
// Cookies

std::string_view SessionCookieName(bool tls) {
  return tls ? "__Host-gatehouse_session" : "gatehouse_session";
}

std::string_view LoginCookieName(bool tls) {
  return tls ? "__Host-gatehouse_login" : "gatehouse_login";
}

std::string SetCookieHeader(std::string_view name, std::string_view value, int64_t max_age,
                            bool tls) {
  // Host-only (no Domain), whole site (Path=/), never readable by scripts,
  // not sent on cross-site subrequests; __Host- requires Secure on TLS.
  std::string out =
      std::string(name) + "=" + std::string(value) + "; Path=/; HttpOnly; SameSite=Lax";
  if (tls) out += "; Secure";
  out += "; Max-Age=" + std::to_string(std::max<int64_t>(0, max_age));
  return out;
}

std::vector<std::string_view> CookieValues(const RequestHead& request, std::string_view name) {
  std::vector<std::string_view> out;
  for (const auto& field : request) {
    if (field.name() != http::field::cookie) continue;
    std::string_view rest = AsStd(field.value());
    while (!rest.empty()) {
      const size_t semi = rest.find(';');
      std::string_view pair = rest.substr(0, semi);
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      while (!pair.empty() && (pair.front() == ' ' || pair.front() == '\t')) pair.remove_prefix(1);
      const size_t eq = pair.find('=');
      if (eq == std::string_view::npos || pair.substr(0, eq) != name) continue;
      std::string_view value = pair.substr(eq + 1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
        value.remove_suffix(1);
      out.push_back(value);
    }
  }
  return out;
}

std::string_view UrlSafeHost(const RequestHead& request) {
  const std::string_view host = AsStd(request[http::field::host]);
  if (host.empty() || host.size() > policy::kMaxHostBytes) return {};
  for (char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
    // Security: anything else ('/', '@', '\', '?', '#', spaces) could turn our
    // redirect URI into a URL of another origin.
    if (!ok) return {};
  }
  return host;
}

// ---------------------------------------------------------------------------
// Sessions

std::optional<auth::Session> LoginFlow::SessionFor(const RequestHead& request,
                                                   const ClientInfo& client,
                                                   const PolicyLogin& login) const {
  const RequestFacts f = FactsOf(request, client);
  if (f.host.empty()) return std::nullopt;
  const int64_t now = deps_.time.NowSeconds();
  // Several cookies of that name (e.g. one tossed from a sibling domain on
  // plain HTTP): only one that opens with our key for this host counts.
  for (std::string_view value : CookieValues(request, SessionCookieName(client.tls))) {
    StatusOr<auth::Session> s = auth::OpenSession(deps_.codec, value, f.host, now);
    // Security: a session is only a credential for the policy's own login issuer.
    if (s.ok() && s->issuer == login.client.issuer) return std::move(*s);
  }
  return std::nullopt;
}

bool LoginFlow::RefreshDue(const auth::Session& session) {
  if (session.refresh_token.empty()) return false;
  if (session.access_expires_at - deps_.time.NowSeconds() > kRefreshWindowSeconds) return false;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = refresh_paused_.find(session.issuer);
  return it == refresh_paused_.end() || deps_.time.MonotonicNow() >= it->second;
}

// ---------------------------------------------------------------------------
// Login redirect

void LoginFlow::StartLogin(const RequestHead& request, const ClientInfo& client,
                           std::shared_ptr<const FleetSnapshot> snapshot,
                           const PolicyRuntime& runtime, std::string target, std::string request_id,
                           LoginDone done) {
  const RequestFacts f = FactsOf(request, client);
  const PolicyLogin& login = *runtime.login;
  auto answer = [this, f, rt = &runtime, request_id](
                    const auth::ProviderMetadata& metadata,
                    const auth::LoginState& state) -> LoginOutcome {
    const std::string url = auth::BuildAuthorizationUrl(
        metadata, rt->login->client, Origin(f) + std::string(kCallbackPath), state);
    LocalResponse r = Redirect(f, 302, url, request_id);
    r.insert(
        http::field::set_cookie,
        SetCookieHeader(LoginCookieName(f.tls), auth::SealLoginState(deps_.codec, state, f.host),
                        auth::kLoginTtlSeconds, f.tls));
    return Outcome(std::move(r), DecisionReason::kLoginRequired, rt);
  };
  if (f.host.empty() || f.url_host.empty()) {
    return done(Outcome(FailurePage(f, 400, "bad Host header", request_id),
                        DecisionReason::kLoginFailed, &runtime));
  }
  // The return path is this request's own path and query, sanitized like any
  // return_to (a target of "//evil" must not come back as a redirect).
  const auth::LoginState state = auth::NewLoginState(deps_.random, auth::SanitizeReturnPath(target),
                                                     runtime.policy->key, deps_.time.NowSeconds());
  if (auto metadata = KnownMetadata(login.client.issuer)) return done(answer(*metadata, state));
  // Discovery not known yet: a worker fetches it (bounded wait), off the event loop.
  auto shared_done = std::make_shared<LoginDone>(std::move(done));
  const bool posted = Post([this, f, state, answer, snapshot, shared_done, request_id,
                            issuer = login.client.issuer, rt = &runtime] {
    auto metadata = EnsureMetadata(issuer);
    (*shared_done)(metadata ? answer(*metadata, state) : Unavailable(f, request_id, rt));
  });
  if (!posted) (*shared_done)(Unavailable(f, request_id, &runtime));
}

// ---------------------------------------------------------------------------
// Callback

void LoginFlow::Callback(const RequestHead& request, const ClientInfo& client,
                         std::shared_ptr<const FleetSnapshot> snapshot, std::string query_text,
                         std::string request_id, LoginDone done) {
  const RequestFacts f = FactsOf(request, client);
  const std::string query = QueryOf(query_text);
  // Every outcome clears the login cookie: a state is good for one callback.
  auto fail = [&](int status, std::string_view detail, const PolicyRuntime* rt) {
    LocalResponse r = FailurePage(f, status, detail, request_id);
    ClearCookie(r, LoginCookieName(f.tls), f.tls);
    LoginOutcome o = Outcome(std::move(r), DecisionReason::kLoginFailed, rt);
    done(std::move(o));
  };
  bool any_policy = false;
  const PolicyRuntime* host_rt =
      f.host.empty() ? nullptr : RuntimeForHost(*snapshot, f.host, "", &any_policy);
  if (!any_policy) return done(NotFronted(f, request_id));  // no policy serves this host
  if (f.host.empty() || f.url_host.empty()) return fail(400, "bad Host header", nullptr);
  std::optional<auth::LoginState> state;
  for (std::string_view value : CookieValues(request, LoginCookieName(f.tls))) {
    StatusOr<auth::LoginState> s =
        auth::OpenLoginState(deps_.codec, value, f.host, deps_.time.NowSeconds());
    if (s.ok()) state = std::move(*s);
  }
  if (!state) return fail(400, "no sign-in in progress, or it expired", host_rt);
  bool unused = false;
  const PolicyRuntime* rt = RuntimeForHost(*snapshot, f.host, state->policy, &unused);
  if (rt == nullptr) return fail(400, "the sign-in was started for a policy that is gone", host_rt);
  const std::optional<std::string> state_param = Param(query, "state");
  // Security: the state binds this callback to the browser that started the
  // login (login CSRF); compared in constant time.
  if (!state_param || !auth::StateMatches(state->state, *state_param)) {
    return fail(400, "sign-in state does not match", rt);
  }
  // Security: single use, even when the login cookie is replayed with it.
  if (!ClaimState(state->state, state->expires_at)) {
    return fail(400, "this sign-in was already completed; start again", rt);
  }
  if (Param(query, "error")) return fail(502, "the identity provider refused the sign-in", rt);
  const std::optional<std::string> code = Param(query, "code");
  if (!code || code->empty()) return fail(502, "the identity provider sent no code", rt);

  auto shared_done = std::make_shared<LoginDone>(std::move(done));
  const bool posted =
      Post([this, f, rt, snapshot, state = *state, code = *code, request_id, shared_done] {
        LocalResponse r;
        StatusOr<auth::Session> session =
            CompleteSignIn(*rt->login, state, code, Origin(f) + std::string(kCallbackPath));
        StatusOr<std::string> sealed =
            session.ok() ? auth::SealSession(
                               deps_.codec, *session, f.host,
                               kMaxSetCookieBytes - SetCookieHeader(SessionCookieName(f.tls), "",
                                                                    session->expires_at, f.tls)
                                                        .size())
                         : StatusOr<std::string>(session.status());
        if (!sealed.ok()) {
          // The message is one of our fixed texts (plus an HTTP status): no token, code or body.
          spdlog::warn("sign-in failed (request id {}): {}", request_id, sealed.status().message());
          const std::string detail = !session.ok()
                                         ? session.status().message()
                                         : std::string("the session does not fit in a cookie");
          r = FailurePage(f, 502, detail, request_id);
          ClearCookie(r, LoginCookieName(f.tls), f.tls);
          return (*shared_done)(Outcome(std::move(r), DecisionReason::kLoginFailed, rt));
        }
        r = Redirect(f, 302, state.return_path, request_id);
        r.insert(http::field::set_cookie,
                 SetCookieHeader(SessionCookieName(f.tls), *sealed,
                                 session->expires_at - deps_.time.NowSeconds(), f.tls));
        ClearCookie(r, LoginCookieName(f.tls), f.tls);
        LoginOutcome o = Outcome(std::move(r), DecisionReason::kLoginCallback, rt);
        o.identity = auth::SessionIdentity(*session);
        (*shared_done)(std::move(o));
      });
  if (!posted) {
    LoginOutcome o = Unavailable(f, request_id, rt);
    ClearCookie(o.response, LoginCookieName(f.tls), f.tls);
    Finish(o.response);
    (*shared_done)(std::move(o));
  }
}

// ---------------------------------------------------------------------------
// Logout

void LoginFlow::Logout(const RequestHead& request, const ClientInfo& client,
                       std::shared_ptr<const FleetSnapshot> snapshot, std::string query_text,
                       std::string request_id, LoginDone done) {
  const RequestFacts f = FactsOf(request, client);
  bool any_policy = false;
  const PolicyRuntime* rt =
      f.host.empty() ? nullptr : RuntimeForHost(*snapshot, f.host, "", &any_policy);
  if (!any_policy) return done(NotFronted(f, request_id));
  const std::string return_to =
      auth::SanitizeReturnPath(Param(QueryOf(query_text), "return_to").value_or("/"));
  std::shared_ptr<const auth::Identity> identity;
  if (rt != nullptr) {
    if (auto s = SessionFor(request, client, *rt->login)) identity = auth::SessionIdentity(*s);
  }
  auto answer = [f, rt, return_to, request_id, identity](const auth::ProviderMetadata* metadata) {
    std::string location = return_to;
    if (metadata != nullptr && !metadata->end_session_endpoint.empty() && !f.url_host.empty()) {
      location = auth::BuildEndSessionUrl(metadata->end_session_endpoint,
                                          rt->login->client.client_id, Origin(f) + return_to);
    }
    LocalResponse r = Redirect(f, 302, location, request_id);
    ClearCookie(r, SessionCookieName(f.tls), f.tls);
    ClearCookie(r, LoginCookieName(f.tls), f.tls);
    LoginOutcome o = Outcome(std::move(r), DecisionReason::kLogout, rt);
    o.identity = identity;
    return o;
  };
  if (rt == nullptr) return done(answer(nullptr));
  if (auto metadata = KnownMetadata(rt->login->client.issuer)) return done(answer(metadata.get()));
  auto shared_done = std::make_shared<LoginDone>(std::move(done));
  const bool posted = Post([this, rt, snapshot, answer, shared_done] {
    auto metadata = EnsureMetadata(rt->login->client.issuer);
    (*shared_done)(answer(metadata.get()));  // without discovery: the local path still logs out
  });
  if (!posted) (*shared_done)(answer(nullptr));
}

// ---------------------------------------------------------------------------
// Metabase SSO

std::optional<LocalResponse> LoginFlow::MetabaseSso(const RequestHead& request,
                                                    const PolicyRuntime& runtime,
                                                    const auth::Identity& identity,
                                                    std::string_view path, std::string_view query,
                                                    std::string_view request_id) {
  if (runtime.metabase_secret.empty() || request.method() != http::verb::get ||
      path != kMetabaseSsoPath) {
    return std::nullopt;
  }
  const std::string q = QueryOf(query);
  StatusOr<std::optional<std::string>> jwt = auth::QueryParam(q, "jwt");
  // With a jwt (or an unreadable query) the request goes to Metabase, which verifies it.
  if (!jwt.ok() || jwt->has_value()) return std::nullopt;
  const std::string return_to = auth::SanitizeReturnPath(Param(q, "return_to").value_or("/"));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string jti;
  for (unsigned char c : deps_.random.Bytes(16)) {
    jti.push_back(kHex[c >> 4]);
    jti.push_back(kHex[c & 0xf]);
  }
  const std::string token =
      auth::MintMetabaseToken(identity, runtime.metabase_secret, deps_.time.NowSeconds(), jti);
  RequestFacts f;
  f.version = request.version();
  LocalResponse r = Redirect(f, 302,
                             std::string(kMetabaseSsoPath) + "?jwt=" + token +
                                 "&return_to=" + auth::PercentEncode(return_to),
                             request_id);
  // The body must not repeat the token; Redirect's body names only the request id.
  Finish(r);
  return r;
}

}  // namespace gatehouse::server
