// LoginFlow: the worker pool, the discovery cache, the blocking IdP calls and
// the refresh hand-off. The HTTP endpoints are in login_flow_http.cc.
#include "proxy/server/login_flow.h"

#include <openssl/sha.h>

#include "proxy/auth/oidc_login.h"
#include "proxy/auth/return_path.h"
#include "proxy/server/login_flow_internal.h"

namespace gatehouse::server {

using namespace login_internal;  // NOLINT: this file is that module

struct LoginFlow::MetadataEntry {
  std::shared_ptr<const auth::ProviderMetadata> value;
  std::chrono::steady_clock::time_point fetched_at;
  std::chrono::steady_clock::time_point retry_at;  // after a failure
  bool in_flight = false;
};

LoginFlow::LoginFlow(LoginFlowDeps deps) : deps_(deps) {
  for (size_t i = 0; i < std::max<size_t>(1, deps_.worker_threads); ++i) {
    workers_.emplace_back([this] { Work(); });
  }
}

LoginFlow::~LoginFlow() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  metadata_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
}

bool LoginFlow::Post(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Bounded: a flood of sign-ins against a slow IdP is refused (503), not queued forever.
    if (stop_ || queue_.size() >= deps_.max_queued) return false;
    queue_.push_back(std::move(job));
  }
  work_cv_.notify_one();
  return true;
}

size_t LoginFlow::pending() {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size() + running_;
}

void LoginFlow::Work() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    work_cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping and drained: every continuation has run
    std::function<void()> job = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    lock.unlock();
    job();
    lock.lock();
    --running_;
  }
}

bool LoginFlow::ClaimState(const std::string& state, int64_t expires_at) {
  constexpr size_t kMaxRemembered = 100000;
  const int64_t now = deps_.time.NowSeconds();
  std::lock_guard<std::mutex> lock(mu_);
  if (used_states_.size() >= kMaxRemembered) {
    for (auto it = used_states_.begin(); it != used_states_.end();) {
      it = it->second <= now ? used_states_.erase(it) : std::next(it);
    }
    // Still full: forget the oldest-keyed entry. A replay then reaches the
    // IdP, which refuses the already-redeemed code (502): still no session.
    if (used_states_.size() >= kMaxRemembered) used_states_.erase(used_states_.begin());
  }
  return used_states_.emplace(state, expires_at).second;
}

void LoginFlow::Track(const FleetSnapshot& snapshot) {
  for (const auto& [policy, runtime] : snapshot.runtimes) {
    if (runtime->login == nullptr) continue;
    if (KnownMetadata(runtime->login->client.issuer) != nullptr) continue;
    const std::string issuer = runtime->login->client.issuer;
    (void)Post([this, issuer] { EnsureMetadata(issuer); });
  }
}

std::shared_ptr<const auth::ProviderMetadata> LoginFlow::KnownMetadata(const std::string& issuer) {
  std::shared_ptr<const auth::ProviderMetadata> value;
  bool stale = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = metadata_.find(issuer);
    if (it == metadata_.end() || it->second->value == nullptr) return nullptr;
    value = it->second->value;
    stale = !it->second->in_flight &&
            deps_.time.MonotonicNow() - it->second->fetched_at > deps_.discovery_ttl;
  }
  // Endpoints rarely move: serve the old document while a worker fetches the new one.
  if (stale) (void)Post([this, issuer] { EnsureMetadata(issuer); });
  return value;
}

std::shared_ptr<const auth::ProviderMetadata> LoginFlow::EnsureMetadata(const std::string& issuer) {
  std::unique_lock<std::mutex> lock(mu_);
  auto& slot = metadata_[issuer];
  if (slot == nullptr) slot = std::make_unique<MetadataEntry>();
  MetadataEntry& entry = *slot;
  const auto now = deps_.time.MonotonicNow();
  if (entry.value != nullptr && now - entry.fetched_at <= deps_.discovery_ttl) return entry.value;
  if (entry.in_flight) {
    // Another worker is fetching it right now (never a queued job, so no deadlock).
    metadata_cv_.wait_for(lock, deps_.wait, [&] { return !entry.in_flight || stop_; });
    return entry.value;
  }
  if (entry.value == nullptr && now < entry.retry_at) return nullptr;  // failed a moment ago
  entry.in_flight = true;
  lock.unlock();
  std::shared_ptr<const auth::ProviderMetadata> fetched;
  if (auth::CheckFetchUrl(issuer, issuer).ok()) {
    StatusOr<HttpResponse> r = deps_.fetcher.Get(auth::DiscoveryUrl(issuer));
    if (r.ok() && r->status == 200) {
      StatusOr<auth::ProviderMetadata> m = auth::ProviderMetadataFromDiscovery(r->body, issuer);
      if (m.ok()) fetched = std::make_shared<const auth::ProviderMetadata>(std::move(*m));
    }
  }
  lock.lock();
  entry.in_flight = false;
  if (fetched != nullptr) {
    entry.value = fetched;
    entry.fetched_at = deps_.time.MonotonicNow();
  } else {
    entry.retry_at = deps_.time.MonotonicNow() + std::chrono::seconds(5);
  }
  metadata_cv_.notify_all();
  return entry.value;  // a failed refetch keeps the last good document
}

std::shared_ptr<const auth::JsonWebKeySet> LoginFlow::AwaitKeys(const auth::IssuerConfig& config) {
  const auto deadline = deps_.time.MonotonicNow() + deps_.wait;
  while (true) {
    if (auto keys = deps_.keys.Keys(config)) return keys;
    if (deps_.time.MonotonicNow() >= deadline) return nullptr;
    std::unique_lock<std::mutex> lock(mu_);
    if (stop_) return nullptr;
    metadata_cv_.wait_for(lock, std::chrono::milliseconds(20));
  }
}

StatusOr<auth::Session> LoginFlow::CompleteSignIn(const PolicyLogin& login,
                                                  const auth::LoginState& state,
                                                  const std::string& code,
                                                  const std::string& redirect_uri) {
  auto metadata = EnsureMetadata(login.client.issuer);
  if (metadata == nullptr) return UnavailableError("identity provider discovery unavailable");
  const auth::FormRequest form =
      auth::BuildCodeExchange(login.client, code, redirect_uri, state.code_verifier);
  StatusOr<HttpResponse> response =
      deps_.fetcher.Post(metadata->token_endpoint, form.body, form.headers);
  if (!response.ok()) return UnavailableError("token endpoint unreachable");
  StatusOr<auth::TokenResponse> tokens =
      auth::ParseTokenResponse(response->status, response->body, /*need_id_token=*/true);
  if (!tokens.ok()) {
    return UnavailableError("token exchange failed: " + tokens.status().message());
  }
  auto keys = AwaitKeys(login.issuer);
  if (keys == nullptr) return UnavailableError("identity provider keys unavailable");
  const int64_t now = deps_.time.NowSeconds();
  StatusOr<std::shared_ptr<const auth::Identity>> identity = auth::VerifyIdToken(
      tokens->id_token, login.issuer, login.client.client_id, *keys, state.nonce, now);
  if (!identity.ok()) {
    deps_.keys.KeyIdNotFound(login.issuer);  // rate-limited; helps after a key rotation
    return UnauthenticatedError("ID token invalid");
  }
  std::optional<nlohmann::json> userinfo;
  if (!auth::HasGroupsClaim(**identity, login.issuer) && !metadata->userinfo_endpoint.empty()) {
    StatusOr<HttpResponse> info = deps_.fetcher.GetWithHeaders(
        metadata->userinfo_endpoint, {{"Authorization", "Bearer " + tokens->access_token}});
    if (!info.ok()) return UnavailableError("userinfo unreachable");
    StatusOr<nlohmann::json> parsed =
        auth::ParseUserinfo(info->status, info->body, (*identity)->subject);
    if (!parsed.ok()) return UnauthenticatedError("userinfo invalid");
    userinfo = std::move(*parsed);
  }
  return auth::BuildSession(**identity, login.issuer, *tokens, userinfo ? &*userinfo : nullptr, now,
                            deps_.session_ttl_seconds);
}

StatusOr<auth::Session> LoginFlow::RunRefresh(const PolicyLogin& login,
                                              const auth::Session& session) {
  auto metadata = EnsureMetadata(login.client.issuer);
  if (metadata == nullptr) return UnavailableError("discovery unavailable");
  const auth::FormRequest form = auth::BuildRefreshExchange(login.client, session.refresh_token);
  StatusOr<HttpResponse> response =
      deps_.fetcher.Post(metadata->token_endpoint, form.body, form.headers);
  if (!response.ok()) return UnavailableError("token endpoint unreachable");
  StatusOr<auth::TokenResponse> tokens =
      auth::ParseTokenResponse(response->status, response->body, /*need_id_token=*/false);
  if (!tokens.ok()) return tokens.status();  // kPermissionDenied: the IdP refused the grant
  const int64_t now = deps_.time.NowSeconds();
  std::shared_ptr<const auth::Identity> refreshed;
  if (!tokens->id_token.empty()) {
    auto keys = AwaitKeys(login.issuer);
    if (keys == nullptr) return UnavailableError("keys unavailable");
    StatusOr<std::shared_ptr<const auth::Identity>> id =
        auth::VerifyIdToken(tokens->id_token, login.issuer, login.client.client_id, *keys, "", now);
    if (!id.ok()) return UnavailableError("refreshed ID token invalid");
    refreshed = *id;
  }
  StatusOr<auth::Session> updated =
      auth::ApplyRefresh(session, *tokens, refreshed.get(), login.issuer, now);
  if (!updated.ok()) return PermissionDeniedError(updated.status().message());
  return updated;
}

struct LoginFlow::RefreshEntry {
  bool done = false;
  std::optional<StatusOr<auth::Session>> result;
  std::chrono::steady_clock::time_point done_at;
  std::vector<std::function<void(const StatusOr<auth::Session>&)>> waiters;
};

// ---------------------------------------------------------------------------
// Refresh

void LoginFlow::Refresh(const RequestHead& request, const ClientInfo& client,
                        std::shared_ptr<const FleetSnapshot> snapshot, const PolicyRuntime& runtime,
                        auth::Session session, std::string target, std::string request_id,
                        std::function<void(RefreshOutcome)> done) {
  const RequestFacts f = FactsOf(request, client);
  const std::string key = Sha256(session.refresh_token);
  const std::string issuer = session.issuer;
  auto finish = [this, f, target = auth::SanitizeReturnPath(target), request_id, issuer,
                 done](const StatusOr<auth::Session>& result) {
    RefreshOutcome out;
    if (result.ok()) {
      const std::string_view name = SessionCookieName(f.tls);
      const size_t overhead = SetCookieHeader(name, "", result->expires_at, f.tls).size();
      StatusOr<std::string> sealed =
          auth::SealSession(deps_.codec, *result, f.host, kMaxSetCookieBytes - overhead);
      if (sealed.ok()) {
        LocalResponse r = Redirect(f, 307, target, request_id);
        r.insert(
            http::field::set_cookie,
            SetCookieHeader(name, *sealed, result->expires_at - deps_.time.NowSeconds(), f.tls));
        Finish(r);
        out.result = RefreshResult::kRefreshed;
        out.response = std::move(r);
      }
    } else if (result.status().code() == StatusCode::kPermissionDenied) {
      out.result = RefreshResult::kEnded;  // the IdP revoked the grant: the session is over
    } else {
      // IdP unreachable: keep serving the session; pause refreshes for this issuer.
      std::lock_guard<std::mutex> lock(mu_);
      refresh_paused_[issuer] = deps_.time.MonotonicNow() + deps_.refresh_backoff;
    }
    done(std::move(out));
  };
  std::shared_ptr<RefreshEntry> entry;
  bool start = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto now = deps_.time.MonotonicNow();
    for (auto it = refreshes_.begin(); it != refreshes_.end();) {
      const bool old = it->second->done && now - it->second->done_at > deps_.refresh_reuse;
      it = old ? refreshes_.erase(it) : std::next(it);
    }
    auto& slot = refreshes_[key];
    if (slot == nullptr) {
      slot = std::make_shared<RefreshEntry>();
      start = true;
    }
    entry = slot;
    if (!entry->done) entry->waiters.push_back(finish);
  }
  if (!start) {
    if (entry->done) finish(*entry->result);  // refreshed a moment ago: same new session
    return;
  }
  const bool posted = Post([this, entry, key, snapshot, rt = &runtime, session] {
    StatusOr<auth::Session> result = RunRefresh(*rt->login, session);
    std::vector<std::function<void(const StatusOr<auth::Session>&)>> waiters;
    {
      std::lock_guard<std::mutex> lock(mu_);
      entry->done = true;
      entry->result = result;
      entry->done_at = deps_.time.MonotonicNow();
      waiters.swap(entry->waiters);
      if (!result.ok()) refreshes_.erase(key);  // only successes are reused
    }
    for (auto& w : waiters) w(result);
  });
  if (!posted) {
    std::vector<std::function<void(const StatusOr<auth::Session>&)>> waiters;
    {
      std::lock_guard<std::mutex> lock(mu_);
      waiters.swap(entry->waiters);
      refreshes_.erase(key);
    }
    for (auto& w : waiters) w(UnavailableError("refresh queue full"));
  }
}

}  // namespace gatehouse::server
