#include "proxy/server/request_gate.h"

#include <algorithm>
#include <array>

#include "proxy/auth/jwt_verifier.h"
#include "proxy/auth/token_cache.h"
#include "proxy/policy/path_normalizer.h"
#include "proxy/policy/policy_engine.h"
#include "proxy/server/identity_headers.h"

namespace gatehouse::server {
namespace {

constexpr size_t kMaxAuditPathBytes = 2048;
constexpr std::string_view kNoConfigReason = "no_config";
constexpr std::string_view kKeysUnavailableReason = "keys_unavailable";

// A worker thread's assertions and the identity lines built from them; the
// line cache is keyed by this assertion cache's serials.
struct IdentityCaches {
  AssertionCache assertions;
  IdentityLineCache lines;
  ForwardingLineCache forwarding;  // X-Forwarded-* (keyed by client and host, not identity)
};

IdentityCaches& ThreadIdentityCaches() {
  thread_local IdentityCaches caches;
  return caches;
}

std::string_view PathOnly(std::string_view target) {
  target = target.substr(0, target.find('?'));
  return target.substr(0, std::min(target.size(), kMaxAuditPathBytes));
}

constexpr char kContextKind = 0;  // its address tags RequestGate's contexts

}  // namespace

// What Finish() needs again: one per request.
struct RequestGate::Context final : GateContext {
  Context() : GateContext(&kContextKind) {}
  Context(Context&& other) noexcept = default;

  std::string_view request_id() const { return {request_id_text.data(), kRequestIdLength}; }
  // Back to the state of a new Context, keeping the strings' capacity.
  void Reset() {
    snapshot.reset();
    runtime = nullptr;
    counted = false;
    decision = policy::Decision{};
    reason = {};
    identity.reset();
    verb = http::verb::unknown;
    method_text.clear();
    host.clear();
    path.clear();
    client_ip.clear();
  }

  std::shared_ptr<const FleetSnapshot> snapshot;  // keeps decision pointers valid
  const PolicyRuntime* runtime = nullptr;
  bool counted = false;  // a policy::Decision exists (counted in gatehouse_decisions_total)
  policy::Decision decision;
  std::string_view reason;  // label for the audit line (decision's, or a 503 reason)
  std::shared_ptr<const auth::Identity> identity;
  std::array<char, kRequestIdLength> request_id_text{};
  // The request's method: Beast's own text of a known verb (no copy per
  // request; Beast gives the verb only for exactly that text), else a copy.
  void SetMethod(const RequestHead& request) {
    verb = request.method();
    if (verb == http::verb::unknown) method_text.assign(AsStd(request.method_string()));
  }
  std::string_view method() const {
    return verb != http::verb::unknown ? AsStd(http::to_string(verb)) : method_text;
  }
  http::verb verb = http::verb::unknown;
  std::string method_text;  // only for a verb Beast does not know
  std::string host;
  std::string path;
  std::string client_ip;
};

namespace {

// One spare Context per thread (see RequestGate::NewContext).
std::unique_ptr<GateContext>& ThreadSpareContext() {
  thread_local std::unique_ptr<GateContext> spare;
  return spare;
}

}  // namespace

std::unique_ptr<RequestGate::Context> RequestGate::NewContext() {
  std::unique_ptr<GateContext>& spare = ThreadSpareContext();
  if (spare == nullptr) return std::make_unique<Context>();
  return std::unique_ptr<Context>(static_cast<Context*>(spare.release()));
}

void RequestGate::Recycle(std::unique_ptr<Context> ctx) {
  std::unique_ptr<GateContext>& spare = ThreadSpareContext();
  if (spare != nullptr) return;  // one is enough: this one is freed
  // Security: nothing of this request stays reachable (snapshot, identity
  // released; strings emptied) while the object waits for the next one.
  ctx->Reset();
  spare = std::move(ctx);
}

// ---------------------------------------------------------------------------
// RequestGate

void RequestGate::Check(RequestHead& request, const ClientInfo& client, Done done) {
  Evaluate(request, client, done, /*may_wait=*/deps_.waiter != nullptr);
}

void RequestGate::Answer(RequestHead& request, std::unique_ptr<Context> ctx, Done& done, int status,
                         int64_t retry_after) {
  GateVerdict verdict;
  verdict.local_response =
      MakeLocalResponse(request, status, ctx->reason, ctx->request_id(), retry_after);
  verdict.context = std::move(ctx);
  done(std::move(verdict));
}

void RequestGate::Evaluate(RequestHead& request, const ClientInfo& client, Done& done,
                           bool may_wait, SessionUse session_use) {
  std::unique_ptr<Context> ctx = NewContext();
  WriteRequestId(ctx->request_id_text.data());
  ctx->SetMethod(request);
  ctx->host.assign(FirstFieldValue(request, http::field::host));
  ctx->client_ip = client.address_text;
  ctx->snapshot = deps_.store.Current();
  if (ctx->snapshot == nullptr) {
    // Not ready: no config means no policy to enforce; refuse everything.
    ctx->path = PathOnly(AsStd(request.target()));
    ctx->reason = kNoConfigReason;
    return Answer(request, std::move(ctx), done, 503);
  }
  // The normalized path goes straight into the context (reused capacity);
  // the query stays a view into the request target.
  std::string_view query;
  if (!policy::NormalizePathInto(AsStd(request.target()), ctx->path, query).ok()) {
    // Security: a path we cannot normalize could match a rule differently
    // than the upstream reads it; it is never routed.
    ctx->path = PathOnly(AsStd(request.target()));
    ctx->counted = true;
    ctx->decision = policy::MakeDecision(policy::DecisionReason::kBadRequest, nullptr, "");
    ctx->reason = ctx->decision.ReasonLabel();
    return Answer(request, std::move(ctx), done, 400);
  }
  const bool read_method =
      request.method() == http::verb::get || request.method() == http::verb::head;
  if (read_method && ctx->path == kFleetJwksPath) {
    // Public keys only, on every host, so upstreams can verify assertions.
    // Counted like every decision (PRODUCT.md section 6), under policy "".
    ctx->counted = true;
    ctx->decision = policy::MakeDecision(policy::DecisionReason::kAllowed, nullptr, kFleetJwksRule);
    ctx->reason = ctx->decision.ReasonLabel();
    GateVerdict verdict;
    LocalResponse response = MakeLocalResponse(request, 200, ctx->reason, ctx->request_id());
    response.set(http::field::content_type, "application/jwk-set+json");
    response.set(http::field::cache_control, "public, max-age=300");
    response.body() = deps_.signer.jwks();
    response.prepare_payload();
    verdict.local_response = std::move(response);
    verdict.context = std::move(ctx);
    return done(std::move(verdict));
  }
  // Login hook: /.gatehouse/callback and /.gatehouse/logout on any fronted host.
  if (HandleLoginEndpoint(request, client, ctx, query, done)) return;
  const policy::CompiledPolicy* routed =
      policy::Route(*ctx->snapshot->policies, ctx->host, ctx->path);
  ctx->runtime = ctx->snapshot->RuntimeFor(routed);
  if (ctx->runtime == nullptr) {
    ctx->counted = true;
    ctx->decision = policy::MakeDecision(policy::DecisionReason::kNoRoute, nullptr, "");
    ctx->reason = ctx->decision.ReasonLabel();
    return Answer(request, std::move(ctx), done, 404);
  }

  // Authenticate. Any offered credential that does not verify is a bad
  // credential: the engine still lets public rules through, and answers
  // invalid_token (never no_credentials) otherwise.
  // FindBearer does not check token68 yet: AuthenticateBearer does (or knows
  // the bytes passed it), and without an authenticator no token can verify.
  const BearerCredential credential = FindBearer(request);
  bool bad_credentials = credential.kind == CredentialKind::kInvalid;
  if (credential.kind == CredentialKind::kBearer) {
    if (ctx->runtime->authenticator == nullptr) {
      bad_credentials = true;  // the policy trusts no issuer: no token can verify
    } else {
      StatusOr<std::shared_ptr<const auth::Identity>> identity = AuthenticateBearer(
          ctx->runtime->authenticator, credential.token, deps_.time.NowSeconds());
      if (identity.ok()) {
        ctx->identity = std::move(*identity);
      } else if (identity.status().code() == StatusCode::kUnavailable) {
        // The issuer's first keys are not here yet: wait off the event loop.
        if (may_wait && ParkForKeys(request, client, done, credential.token, *ctx)) return;
        ctx->reason = kKeysUnavailableReason;
        return Answer(request, std::move(ctx), done, 503);
      } else {
        bad_credentials = true;
      }
    }
  }

  // Login hook: without a bearer credential, a valid session cookie of this
  // host and this policy's login issuer is the credential. A cookie that does
  // not open (tampered, foreign host, expired, unknown key) is no credential
  // at all, so a browser is sent to sign in again and an API client gets 401.
  if (credential.kind == CredentialKind::kNone && deps_.login != nullptr &&
      ctx->runtime->login != nullptr && session_use != SessionUse::kIgnore) {
    if (std::optional<auth::Session> session =
            deps_.login->SessionFor(request, client, *ctx->runtime->login)) {
      if (session_use == SessionUse::kUse && !request.count(http::field::upgrade) &&
          deps_.login->RefreshDue(*session)) {
        return RefreshThenEvaluate(request, client, done, *ctx, std::move(*session),
                                   ctx->path + std::string(query));
      }
      ctx->identity = auth::SessionIdentity(*session);
    }
  }

  policy::RequestFacts facts{.method = ctx->method(),
                             .host = ctx->host,
                             .path = ctx->path,
                             .client_ip = &client.address,
                             .identity = ctx->identity.get(),
                             .bad_credentials = bad_credentials,
                             .browser_navigation = IsBrowserNavigation(request)};
  thread_local DecisionMemo decisions;
  ctx->decision = decisions.Decide(ctx->snapshot, *routed, facts, ctx->identity);
  ctx->counted = true;
  ctx->reason = ctx->decision.ReasonLabel();
  if (!ctx->decision.allow) {
    if (ctx->decision.reason == policy::DecisionReason::kLoginRequired && deps_.login != nullptr &&
        ctx->runtime->login != nullptr) {
      // Login hook: a browser without a session goes to the IdP (302).
      const PolicyRuntime& runtime = *ctx->runtime;
      std::shared_ptr<const FleetSnapshot> snapshot = ctx->snapshot;
      std::string request_id(ctx->request_id());
      std::string target = ctx->path + std::string(query);  // before ctx moves below
      return deps_.login->StartLogin(request, client, std::move(snapshot), runtime,
                                     std::move(target), std::move(request_id),
                                     LoginContinuation(std::move(ctx), done));
    }
    // Without the login flow a login_required decision is a 401.
    const int status = ctx->decision.reason == policy::DecisionReason::kLoginRequired
                           ? 401
                           : ctx->decision.http_status;
    return Answer(request, std::move(ctx), done, status);
  }

  if (RateLimiter* limiter = ctx->runtime->rate_limiter.get()) {
    // Key: the identity (issuer + user, so two IdPs' "alice" stay apart), or
    // the client address for key=ip and for anonymous requests on public rules.
    std::string key;
    if (limiter->spec().key == policy::RateLimitKey::kIdentity && ctx->identity != nullptr) {
      key = ctx->identity->issuer + '\n' + ctx->identity->user;
    } else {
      key = client.address_text;
    }
    const RateDecision rate = limiter->Take(key, deps_.time.MonotonicNow());
    if (!rate.allowed) {
      ctx->decision =
          policy::MakeDecision(policy::DecisionReason::kRateLimited, routed, ctx->decision.rule);
      ctx->reason = ctx->decision.ReasonLabel();
      if (ctx->runtime->metrics) ctx->runtime->metrics->rate_limited().Increment();
      return Answer(request, std::move(ctx), done, 429, rate.retry_after_seconds);
    }
  }
  if (deps_.login != nullptr && ctx->identity != nullptr) {
    // Login hook: Metabase JWT SSO, only after the request was authorized.
    if (std::optional<LocalResponse> sso = deps_.login->MetabaseSso(
            request, *ctx->runtime, *ctx->identity, ctx->path, query, ctx->request_id())) {
      ctx->decision =
          policy::MakeDecision(policy::DecisionReason::kMetabaseSso, routed, ctx->decision.rule);
      ctx->reason = ctx->decision.ReasonLabel();
      GateVerdict verdict;
      verdict.local_response = std::move(*sso);
      verdict.context = std::move(ctx);
      return done(std::move(verdict));
    }
  }
  Forward(request, client, std::move(ctx), query, done);
}

// ---------------------------------------------------------------------------
// Browser sign-in hooks (login_flow.h)

LoginDone RequestGate::LoginContinuation(std::unique_ptr<Context> ctx, Done& done) {
  // std::function needs a copyable callable: the context travels in a shared_ptr.
  std::shared_ptr<Context> shared(ctx.release());
  return [shared, done = std::move(done)](LoginOutcome outcome) {
    auto owned = std::make_unique<Context>(std::move(*shared));
    if (outcome.runtime != nullptr) owned->runtime = outcome.runtime;
    const policy::CompiledPolicy* policy =
        owned->runtime != nullptr ? owned->runtime->policy : nullptr;
    owned->counted = outcome.counted;
    owned->decision = policy::MakeDecision(outcome.reason, policy, "");
    owned->decision.http_status = static_cast<int>(outcome.response.result_int());
    owned->reason = outcome.counted ? owned->decision.ReasonLabel() : outcome.uncounted_reason;
    if (outcome.identity != nullptr) owned->identity = std::move(outcome.identity);
    GateVerdict verdict;
    verdict.local_response = std::move(outcome.response);
    verdict.context = std::move(owned);
    done(std::move(verdict));
  };
}

bool RequestGate::HandleLoginEndpoint(RequestHead& request, const ClientInfo& client,
                                      std::unique_ptr<Context>& ctx, std::string_view query,
                                      Done& done) {
  if (deps_.login == nullptr) return false;
  const bool get = request.method() == http::verb::get;
  const bool callback = get && ctx->path == kCallbackPath;
  const bool logout = (get || request.method() == http::verb::post) && ctx->path == kLogoutPath;
  if (!callback && !logout) return false;
  std::shared_ptr<const FleetSnapshot> snapshot = ctx->snapshot;
  std::string request_id(ctx->request_id());
  LoginDone next = LoginContinuation(std::move(ctx), done);
  if (callback) {
    deps_.login->Callback(request, client, std::move(snapshot), std::string(query),
                          std::move(request_id), std::move(next));
  } else {
    deps_.login->Logout(request, client, std::move(snapshot), std::string(query),
                        std::move(request_id), std::move(next));
  }
  return true;
}

void RequestGate::RefreshThenEvaluate(RequestHead& request, const ClientInfo& client, Done& done,
                                      const Context& ctx, auth::Session session,
                                      std::string target) {
  // The refresh runs on a login worker; this request waits for it (bounded by
  // the fetcher's timeout), then is answered or evaluated again from there.
  auto parked = std::make_shared<Done>(std::move(done));
  auto ctx_copy = std::make_shared<Context>();
  ctx_copy->snapshot = ctx.snapshot;
  ctx_copy->runtime = ctx.runtime;
  ctx_copy->request_id_text = ctx.request_id_text;
  ctx_copy->verb = ctx.verb;
  ctx_copy->method_text = ctx.method_text;
  ctx_copy->host = ctx.host;
  ctx_copy->path = ctx.path;
  ctx_copy->client_ip = ctx.client_ip;
  ctx_copy->identity = auth::SessionIdentity(session);
  deps_.login->Refresh(
      request, client, ctx.snapshot, *ctx.runtime, std::move(session), std::move(target),
      std::string(ctx.request_id()),
      [this, &request, client, parked, ctx_copy](RefreshOutcome outcome) {
        if (outcome.result == RefreshResult::kRefreshed) {
          // Allowed to continue with the new cookie: the browser repeats the
          // request (307 keeps method and body) and is decided then.
          auto owned = std::make_unique<Context>(std::move(*ctx_copy));
          owned->decision =
              policy::MakeDecision(policy::DecisionReason::kAllowed, owned->runtime->policy, "");
          owned->reason = "session_refreshed";  // audit only; the repeat is counted
          GateVerdict verdict;
          verdict.local_response = std::move(*outcome.response);
          verdict.context = std::move(owned);
          return (*parked)(std::move(verdict));
        }
        const SessionUse next = outcome.result == RefreshResult::kEnded ? SessionUse::kIgnore
                                                                        : SessionUse::kUseNoRefresh;
        Evaluate(request, client, *parked, /*may_wait=*/false, next);
      });
}

void RequestGate::Forward(RequestHead& request, const ClientInfo& client,
                          std::unique_ptr<Context> ctx, std::string_view query, Done& done) {
  const PolicyRuntime& runtime = *ctx->runtime;
  // Security: strip first (every casing, every copy; public routes too), then
  // set only values the gate produced.
  GateVerdict verdict;
  StripClientHeaders(request, runtime.headers);
  IdentityCaches& caches = ThreadIdentityCaches();
  caches.forwarding.AddTo(ctx->host, client, ctx->request_id(), verdict.added_fields);
  if (ctx->identity != nullptr) {
    std::string_view assertion;
    uint64_t serial = 0;  // 0: no assertion (signing failed), nothing reused
    StatusOr<std::string_view> signed_assertion = caches.assertions.Get(
        deps_.signer, ctx->identity, runtime.policy->key, ctx->host, deps_.time.NowSeconds());
    if (signed_assertion.ok()) {
      assertion = *signed_assertion;
      serial = caches.assertions.last_serial();
    }
    caches.lines.AddTo(runtime.headers, ctx->identity, assertion, serial, verdict.added_fields);
  }
  verdict.upstream = runtime.upstream;
  // Normalized path (what the rules saw), base path applied, query as received.
  verdict.upstream_target = runtime.upstream->base_path;
  verdict.upstream_target += ctx->path;
  verdict.upstream_target += query;
  verdict.context = std::move(ctx);
  done(std::move(verdict));
}

bool RequestGate::ParkForKeys(RequestHead& request, const ClientInfo& client, Done& done,
                              std::string_view token, const Context& ctx) {
  StatusOr<std::string> iss = auth::PeekIssuer(token);
  if (!iss.ok()) return false;
  const auto& issuers = ctx.runtime->authenticator->issuers();
  auto it = std::find_if(issuers.begin(), issuers.end(),
                         [&](const auth::IssuerConfig& c) { return c.issuer == *iss; });
  if (it == issuers.end()) return false;
  const auto deadline = deps_.time.MonotonicNow() + deps_.first_keys_timeout;
  // The request head and client outlive the verdict (gate.h); `done` moves along.
  deps_.waiter->Park(*it, deadline, [this, &request, client, done = std::move(done)]() mutable {
    Evaluate(request, client, done, /*may_wait=*/false);
  });
  return true;
}

void RequestGate::Finish(GateVerdict& verdict, const ExchangeOutcome& outcome) {
  if (verdict.context == nullptr || verdict.context->kind != &kContextKind) return;
  auto* ctx = static_cast<Context*>(verdict.context.get());
  PolicyMetrics* pm = ctx->runtime != nullptr && ctx->runtime->metrics ? ctx->runtime->metrics.get()
                                                                       : &deps_.metrics.Unrouted();
  if (ctx->counted) pm->Decision(ctx->decision).Increment();
  pm->gate_duration().Observe(std::chrono::duration<double>(outcome.gate_time).count());
  if (outcome.upstream_time.count() > 0) {
    pm->upstream_duration().Observe(std::chrono::duration<double>(outcome.upstream_time).count());
  }
  if (deps_.audit != nullptr) WriteAudit(*ctx, outcome);
  // The exchange is over: the context goes back to this thread's spare.
  Recycle(std::unique_ptr<Context>(static_cast<Context*>(verdict.context.release())));
}

void RequestGate::WriteAudit(const Context& context, const ExchangeOutcome& outcome) {
  const Context* ctx = &context;
  const auth::Identity* id = ctx->identity.get();
  AuditRecord record{
      .ts = deps_.time.Now(),
      .request_id = ctx->request_id(),
      .policy = ctx->runtime != nullptr ? std::string_view(ctx->runtime->policy->key) : "",
      .rule = ctx->decision.rule,
      .decision = ctx->counted || ctx->decision.allow ? ctx->decision.DecisionLabel() : "deny",
      .reason = ctx->reason,
      .sub = id ? std::string_view(id->subject) : "",
      .email = id ? std::string_view(id->email) : "",
      .method = ctx->method(),
      .host = ctx->host,
      .path = ctx->path,
      .status = outcome.status,
      .client_ip = ctx->client_ip,
      .token_id = id ? std::string_view(id->token_id) : "",
      .gate_us = outcome.gate_time.count(),
      .upstream_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(outcome.upstream_time).count()};
  deps_.audit->Write(record);
}

}  // namespace gatehouse::server
