// RequestGate: the Gate (gate.h) of Gatehouse. Per request, in this order:
// normalize the path (400 bad_request), answer the fleet JWKS at
// /.well-known/gatehouse/jwks.json on any host, route by Host + path (404
// no_route), authenticate the bearer token with the routed policy's
// TokenAuthenticator, decide with the policy engine, rate-limit what is
// allowed (429 rate_limited), then rewrite the headers and forward.
//
//   ConfigStore store(jwks_cache, &metrics);
//   KeyWaiter waiter(jwks_cache, time);           // key_waiter.h: first-key waits
//   RequestGate gate({.store = store, .signer = signer, .audit = audit, .metrics = metrics,
//                     .time = time, .waiter = &waiter});
//   gate.Check(head, client, [&](GateVerdict v) { ... });   // see gate.h
//   gate.Finish(verdict, outcome);                          // audit line + metrics
//
// Responses: 401 carries WWW-Authenticate (RFC 6750: `Bearer realm="gatehouse"`
// without an error when no credential was offered, with
// error="invalid_token" when one failed); 403 names only the request id and
// the reason label (JSON, HTML or text by Accept); 429 carries Retry-After;
// 503 before any config or when an issuer's first keys did not arrive in
// time. Every local response carries X-Request-Id; forwarded requests carry
// it to the upstream (the data path should copy it onto the response).
//
// Browser sign-in (with deps.login, see login_flow.h): /.gatehouse/callback
// and /.gatehouse/logout are answered by the login flow on every host; a
// valid session cookie authenticates requests to a policy with login (a
// bearer token, when present, takes precedence); login_required is a 302 to
// the IdP; GET /auth/sso without `jwt` on a Metabase policy is answered with
// a minted token after the request was authorized like any other. A login
// whose IdP discovery is not known within the wait is answered 503
// (audit reason idp_unavailable). Without
// deps.login a login_required decision is answered 401 `Bearer realm="gatehouse"`.
//
// Threads: Check() may run on every worker thread at once. When a token's
// issuer has no keys yet, the request is parked in the KeyWaiter and `done`
// is called later FROM THE WAITER'S THREAD: the data path must post it back
// to the connection's strand.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "proxy/auth/token_authenticator.h"
#include "proxy/core/time_source.h"
#include "proxy/policy/policy_engine.h"
#include "proxy/server/assertion_signer.h"
#include "proxy/server/audit_log.h"
#include "proxy/server/config_store.h"
#include "proxy/server/gate.h"
#include "proxy/server/key_waiter.h"
#include "proxy/server/login_flow.h"
#include "proxy/server/proxy_metrics.h"

namespace gatehouse::server {

inline constexpr std::string_view kFleetJwksPath = "/.well-known/gatehouse/jwks.json";

struct RequestGateDeps {
  ConfigStore& store;
  const AssertionSigner& signer;
  AuditLog* audit = nullptr;  // null: no audit lines (tests)
  ProxyMetrics& metrics;
  const TimeSource& time;
  KeyWaiter* waiter = nullptr;  // null: 503 at once when keys are missing
  std::chrono::milliseconds first_keys_timeout = std::chrono::seconds(5);
  LoginFlow* login = nullptr;  // null: no browser sign-in (login_required -> 401)
};

class RequestGate final : public Gate {
 public:
  explicit RequestGate(RequestGateDeps deps) : deps_(deps) {}

  void Check(RequestHead& request, const ClientInfo& client, Done done) override;
  void Finish(GateVerdict& verdict, const ExchangeOutcome& outcome) override;

 private:
  struct Context;
  // Contexts are reused per thread: Finish() hands one back, the next
  // request on that thread takes it (no allocation per request).
  static std::unique_ptr<Context> NewContext();
  static void Recycle(std::unique_ptr<Context> ctx);
  void WriteAudit(const Context& ctx, const ExchangeOutcome& outcome);
  // How a session cookie may be used on this pass (a refresh re-runs Evaluate).
  enum class SessionUse { kUse, kUseNoRefresh, kIgnore };
  void Evaluate(RequestHead& request, const ClientInfo& client, Done& done, bool may_wait,
                SessionUse session_use = SessionUse::kUse);
  void Forward(RequestHead& request, const ClientInfo& client, std::unique_ptr<Context> ctx,
               std::string_view query, Done& done);
  bool ParkForKeys(RequestHead& request, const ClientInfo& client, Done& done,
                   std::string_view token, const Context& ctx);
  void Answer(RequestHead& request, std::unique_ptr<Context> ctx, Done& done, int status,
              int64_t retry_after = 0);
  // --- browser sign-in hooks (login_flow.h) ---
  LoginDone LoginContinuation(std::unique_ptr<Context> ctx, Done& done);
  bool HandleLoginEndpoint(RequestHead& request, const ClientInfo& client,
                           std::unique_ptr<Context>& ctx, std::string_view query, Done& done);
  void RefreshThenEvaluate(RequestHead& request, const ClientInfo& client, Done& done,
                           const Context& ctx, auth::Session session, std::string target);

  RequestGateDeps deps_;
};

// --- Pieces of the gate, exposed for tests (request_gate_responses.cc) ---

enum class CredentialKind { kNone, kBearer, kInvalid };
struct BearerCredential {
  CredentialKind kind = CredentialKind::kNone;
  std::string_view token;  // into the request; set for kBearer
};
// Exactly one `Authorization: Bearer <token68>` header gives kBearer; none
// gives kNone; several, another scheme or a malformed token give kInvalid.
BearerCredential ExtractBearer(const RequestHead& request);
// ExtractBearer without the token68 check: kBearer's token is NOT yet known to
// be token68 (AuthenticateBearer checks it, unless the memo vouches for it).
BearerCredential FindBearer(const RequestHead& request);
// RFC 7235 token68: token68 characters, then '=' padding only, not empty.
bool IsToken68(std::string_view token);

// The last bearer token one worker thread authenticated and the identity it
// gave: a keep-alive client sends the same token on every request, which then
// costs one constant-time compare instead of a token68 scan, a hash and a
// token cache lookup (itself a second full compare).
//
//   BearerMemo memo;                                  // one per worker thread
//   if (auto id = memo.Recall(token, authenticator, now)) ...   // known answer
//   memo.Remember(token, authenticator, identity);   // after Authenticate() said ok
//
// Recall() answers only for a token byte-equal to the remembered one
// (compared in constant time: it is another client's token), for the very
// same authenticator object (held weakly: a new config's authenticator is a
// new object, even at the same address), and only while now < the
// identity's expires_at, exactly as a TokenCache hit; anything else is
// nullptr. Tokens over kMaxBytes are not remembered.
class BearerMemo {
 public:
  static constexpr size_t kMaxBytes = 8 * 1024;

  std::shared_ptr<const auth::Identity> Recall(
      std::string_view token, const std::shared_ptr<const auth::TokenAuthenticator>& authenticator,
      int64_t now) const;
  void Remember(std::string_view token,
                const std::shared_ptr<const auth::TokenAuthenticator>& authenticator,
                std::shared_ptr<const auth::Identity> identity);

 private:
  std::string token_;
  std::weak_ptr<const auth::TokenAuthenticator> authenticator_;
  std::shared_ptr<const auth::Identity> identity_;
};

// The last decision one worker thread made, with its inputs: policy::Decide
// is a pure function of the policy and the facts it reads (method, path,
// identity, client address, bad_credentials, browser_navigation; never the
// host), so a keep-alive client repeating a request gets the same decision
// back after a compare of those, instead of a walk over the rules.
//
//   DecisionMemo memo;                                   // one per worker thread
//   policy::Decision d = memo.Decide(snapshot, *policy, facts, identity);
//
// Reused only when every input is equal: the same snapshot object (held
// weakly: a new config is a new object, even at the same address) and the
// same policy in it, byte-equal method and path, the same Identity object
// (held, so its address is not reused while remembered; identities are
// immutable), an equal client address and equal flags. `facts.identity`
// must be identity.get() (otherwise nothing is remembered). The decision
// points into the snapshot, which the caller holds for the request.
class DecisionMemo {
 public:
  policy::Decision Decide(const std::shared_ptr<const FleetSnapshot>& snapshot,
                          const policy::CompiledPolicy& policy, const policy::RequestFacts& facts,
                          const std::shared_ptr<const auth::Identity>& identity);

 private:
  bool Matches(const std::shared_ptr<const FleetSnapshot>& snapshot,
               const policy::CompiledPolicy& policy, const policy::RequestFacts& facts) const;

  bool valid_ = false;
  std::weak_ptr<const FleetSnapshot> snapshot_;
  const policy::CompiledPolicy* policy_ = nullptr;
  std::string method_;
  std::string path_;
  std::shared_ptr<const auth::Identity> identity_;
  bool has_ip_ = false;
  policy::IpAddress ip_;
  bool bad_credentials_ = false;
  bool browser_navigation_ = false;
  policy::Decision decision_;
};

// The gate's authentication of a bearer token found by FindBearer, for one
// worker thread: the thread's BearerMemo, else IsToken68 (kUnauthenticated
// when not) and authenticator->Authenticate with the thread's TokenCache; a
// success is remembered. kUnavailable: the issuer's first keys are missing.
StatusOr<std::shared_ptr<const auth::Identity>> AuthenticateBearer(
    const std::shared_ptr<const auth::TokenAuthenticator>& authenticator, std::string_view token,
    int64_t now);

// GET with an Accept header that names text/html.
bool IsBrowserNavigation(const RequestHead& request);

// A local answer: status, X-Request-Id, Cache-Control: no-store, a body that
// names only the reason label and the request id, WWW-Authenticate for 401,
// Retry-After for 429.
LocalResponse MakeLocalResponse(const RequestHead& request, int status, std::string_view reason,
                                std::string_view request_id, int64_t retry_after_seconds = 0);

// 128 random bits as 32 lowercase hex characters.
inline constexpr size_t kRequestIdLength = 32;
std::string NewRequestId();
// The same written to out[0, kRequestIdLength) (no allocation).
void WriteRequestId(char* out);

}  // namespace gatehouse::server
