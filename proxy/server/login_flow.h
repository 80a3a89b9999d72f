// LoginFlow: browser sign-in for the gate (OIDC authorization code + PKCE),
// sessions as credentials, refresh, logout and Metabase JWT SSO. The pure
// steps live in proxy/auth (session_cookie, login_state, return_path,
// oidc_login, metabase_sso); this is their HTTP glue plus a small pool of
// blocking worker threads for every IdP call (discovery, token exchange,
// userinfo, refresh), so no event-loop thread ever waits on the network.
//
//   LoginFlow login({.codec = codec, .fetcher = fetcher, .keys = jwks_cache, .time = time,
//                    .random = random});
//   store.SetApplyHook([&](const FleetSnapshot& s) { login.Track(s); });  // prefetch discovery
//   RequestGate gate({..., .login = &login});
//
// Endpoints (on every host of a policy with login; the gate routes them):
//   GET  /.gatehouse/callback?code&state   sign-in completes: 302 to the saved path with the
//                                          session cookie; 400 bad state, 502 IdP failure
//   GET|POST /.gatehouse/logout[?return_to] session cleared; 302 to end_session or the path
//   GET  /auth/sso (no jwt) on a spec.metabase policy: 302 /auth/sso?jwt=..&return_to=..
//
// Cookies (host-only, Path=/, HttpOnly, SameSite=Lax; on a TLS listener
// "__Host-" prefixed and Secure): the session (gatehouse_session, Max-Age =
// time to its hard expiry) and the login state (gatehouse_login, Max-Age 600,
// cleared by every callback, whatever its outcome: a state is single-use; this
// process also remembers the states it has seen until they expire, so a
// callback replayed together with its login cookie is refused too).
//
// Continuations: callbacks given to the asynchronous calls run either before
// the call returns or later on a worker thread; exactly once.
//
// Refresh (chosen design): when a session's access token expires within
// kRefreshWindowSeconds and it holds a refresh token, the request is parked
// while a worker POSTs grant_type=refresh_token (bounded by the fetcher's
// timeout). Success: the request is answered 307 to the same URL with the new
// session cookie (the browser repeats it, method and body kept). The IdP
// refused the refresh token (400/401): the session is over, the request is
// treated as carrying no credential. IdP unreachable: the request is served
// with the existing session (it lasts to its hard expiry), and refreshes for
// that issuer pause kRefreshBackoff. Refreshes of one refresh token are done
// once: concurrent and later requests (within kRefreshReuse) presenting the
// old session get the same new cookie, so a rotating IdP never sees a reuse.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "proxy/auth/key_provider.h"
#include "proxy/auth/login_state.h"
#include "proxy/auth/oidc_discovery.h"
#include "proxy/auth/session_cookie.h"
#include "proxy/core/http_fetcher.h"
#include "proxy/core/random_source.h"
#include "proxy/core/time_source.h"
#include "proxy/policy/decision.h"
#include "proxy/server/fleet_snapshot.h"
#include "proxy/server/gate.h"

namespace gatehouse::server {

inline constexpr std::string_view kCallbackPath = "/.gatehouse/callback";
inline constexpr std::string_view kLogoutPath = "/.gatehouse/logout";
inline constexpr std::string_view kMetabaseSsoPath = "/auth/sso";
inline constexpr int64_t kRefreshWindowSeconds = 60;

// Cookie names by listener scheme.
std::string_view SessionCookieName(bool tls);
std::string_view LoginCookieName(bool tls);
// "name=value; Path=/; HttpOnly; SameSite=Lax[; Secure]; Max-Age=N".
std::string SetCookieHeader(std::string_view name, std::string_view value, int64_t max_age,
                            bool tls);
// Every value of cookie `name` in the request's Cookie headers.
std::vector<std::string_view> CookieValues(const RequestHead& request, std::string_view name);
// The Host header when it is a plain host[:port] (safe in a URL), else "".
std::string_view UrlSafeHost(const RequestHead& request);

// What the login flow answered, for the gate's audit line and metrics.
struct LoginOutcome {
  LocalResponse response;
  policy::DecisionReason reason = policy::DecisionReason::kLoginFailed;
  bool counted = true;                     // false: a 503 (no decision was made)
  std::string_view uncounted_reason;       // audit reason when !counted
  const PolicyRuntime* runtime = nullptr;  // the policy it ran under, if any
  std::shared_ptr<const auth::Identity> identity;
};
using LoginDone = std::function<void(LoginOutcome)>;

enum class RefreshResult { kRefreshed, kKeep, kEnded };
struct RefreshOutcome {
  RefreshResult result = RefreshResult::kKeep;
  std::optional<LocalResponse> response;  // kRefreshed: the 307 with the new cookie
};

struct LoginFlowDeps {
  const auth::SessionCodec& codec;
  HttpFetcher& fetcher;     // blocking; called on worker threads only
  auth::KeyProvider& keys;  // the issuer keys that verify ID tokens
  const TimeSource& time;
  RandomSource& random;
  int64_t session_ttl_seconds = 12 * 3600;
  std::chrono::milliseconds wait = std::chrono::seconds(5);  // metadata / keys wait
  size_t worker_threads = 2;
  size_t max_queued = 1024;  // more: 503 at once
  std::chrono::seconds discovery_ttl = std::chrono::hours(1);
  std::chrono::seconds refresh_backoff = std::chrono::seconds(30);
  std::chrono::seconds refresh_reuse = std::chrono::seconds(30);
};

class LoginFlow {
 public:
  explicit LoginFlow(LoginFlowDeps deps);
  ~LoginFlow();  // finishes queued jobs, joins the workers

  // Prefetches the discovery document of every login issuer in `snapshot`.
  void Track(const FleetSnapshot& snapshot);

  // A valid session cookie of this request for `login` (this host, a key of
  // the set, before its hard expiry, issued by the login issuer); else nullopt.
  std::optional<auth::Session> SessionFor(const RequestHead& request, const ClientInfo& client,
                                          const PolicyLogin& login) const;
  // The access token is near expiry, a refresh token exists, and the issuer is not in backoff.
  bool RefreshDue(const auth::Session& session);

  // login_required for a browser: 302 to the IdP (or 503 when its discovery
  // is not known within the wait). `target` is the normalized path + query.
  void StartLogin(const RequestHead& request, const ClientInfo& client,
                  std::shared_ptr<const FleetSnapshot> snapshot, const PolicyRuntime& runtime,
                  std::string target, std::string request_id, LoginDone done);
  void Callback(const RequestHead& request, const ClientInfo& client,
                std::shared_ptr<const FleetSnapshot> snapshot, std::string query,
                std::string request_id, LoginDone done);
  void Logout(const RequestHead& request, const ClientInfo& client,
              std::shared_ptr<const FleetSnapshot> snapshot, std::string query,
              std::string request_id, LoginDone done);
  void Refresh(const RequestHead& request, const ClientInfo& client,
               std::shared_ptr<const FleetSnapshot> snapshot, const PolicyRuntime& runtime,
               auth::Session session, std::string target, std::string request_id,
               std::function<void(RefreshOutcome)> done);

  // GET /auth/sso without `jwt` on a Metabase policy, from an allowed
  // identity: the 302 with a fresh token. nullopt: not an SSO entry request.
  std::optional<LocalResponse> MetabaseSso(const RequestHead& request, const PolicyRuntime& runtime,
                                           const auth::Identity& identity, std::string_view path,
                                           std::string_view query, std::string_view request_id);

  // Test hook: jobs queued or running.
  size_t pending();

 private:
  struct MetadataEntry;
  struct RefreshEntry;

  // Marks a login state used; false when it was already (a replayed callback).
  bool ClaimState(const std::string& state, int64_t expires_at);
  bool Post(std::function<void()> job);
  void Work();
  std::shared_ptr<const auth::ProviderMetadata> KnownMetadata(const std::string& issuer);
  std::shared_ptr<const auth::ProviderMetadata> EnsureMetadata(const std::string& issuer);
  std::shared_ptr<const auth::JsonWebKeySet> AwaitKeys(const auth::IssuerConfig& config);
  StatusOr<auth::Session> CompleteSignIn(const PolicyLogin& login, const auth::LoginState& state,
                                         const std::string& code, const std::string& redirect_uri);
  StatusOr<auth::Session> RunRefresh(const PolicyLogin& login, const auth::Session& session);

  LoginFlowDeps deps_;
  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable metadata_cv_;
  std::deque<std::function<void()>> queue_;
  size_t running_ = 0;
  bool stop_ = false;
  std::map<std::string, std::unique_ptr<MetadataEntry>> metadata_;
  std::map<std::string, std::chrono::steady_clock::time_point> refresh_paused_;  // issuer ->
  std::map<std::string, std::shared_ptr<RefreshEntry>> refreshes_;  // sha256(refresh token) ->
  std::map<std::string, int64_t> used_states_;  // state -> login expiry (replay guard)
  std::vector<std::thread> workers_;
};

}  // namespace gatehouse::server
