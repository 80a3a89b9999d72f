#include "proxy/auth/jwks_cache.h"

#include <algorithm>
#include <vector>

#include "proxy/auth/oidc_discovery.h"

namespace gatehouse::auth {

struct JwksCache::Entry {
  std::shared_ptr<const JsonWebKeySet> keys;
  SteadyTime next_fetch;
  SteadyTime last_kid_refresh;
  bool kid_refresh_used = false;
  bool in_flight = false;
  std::chrono::milliseconds backoff{0};  // 0: last fetch succeeded (or none yet)
};

JwksCache::JwksCache(HttpFetcher& fetcher, const TimeSource& time, JitterSource jitter,
                     JwksCacheOptions options)
    : fetcher_(fetcher), time_(time), jitter_(std::move(jitter)), options_(options) {}

JwksCache::~JwksCache() = default;

JwksCache::Entry& JwksCache::EntryFor(const IssuerConfig& config) {
  auto [it, inserted] = entries_.try_emplace(EntryKey(config.issuer, config.jwks_uri));
  if (inserted) {
    it->second = std::make_unique<Entry>();
    it->second->next_fetch = time_.MonotonicNow();
    work_requested_ = true;
    work_.notify_all();
  }
  return *it->second;
}

void JwksCache::Track(const IssuerConfig& config) {
  std::lock_guard<std::mutex> lock(mu_);
  EntryFor(config);
}

std::shared_ptr<const JsonWebKeySet> JwksCache::Keys(const IssuerConfig& config) {
  std::lock_guard<std::mutex> lock(mu_);
  return EntryFor(config).keys;
}

void JwksCache::KeyIdNotFound(const IssuerConfig& config) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& entry = EntryFor(config);
  const SteadyTime now = time_.MonotonicNow();
  // Security/availability: junk kids are free to send, so they may trigger at
  // most one fetch per interval, and none while the IdP is failing (backoff).
  if (entry.backoff.count() > 0) return;
  if (entry.kid_refresh_used && now - entry.last_kid_refresh < options_.kid_refresh_interval)
    return;
  entry.kid_refresh_used = true;
  entry.last_kid_refresh = now;
  entry.next_fetch = std::min(entry.next_fetch, now);
  work_requested_ = true;
  work_.notify_all();
}

void JwksCache::RequestRefresh(const IssuerConfig& config) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& entry = EntryFor(config);
  entry.next_fetch = std::min(entry.next_fetch, time_.MonotonicNow());
  work_requested_ = true;
  work_.notify_all();
}

StatusOr<std::shared_ptr<const JsonWebKeySet>> JwksCache::Fetch(const std::string& issuer,
                                                                const std::string& jwks_uri) {
  std::string uri = jwks_uri;
  if (uri.empty()) {
    if (Status s = CheckFetchUrl(issuer, issuer); !s.ok()) return s;
    StatusOr<HttpResponse> discovery = fetcher_.Get(DiscoveryUrl(issuer));
    if (!discovery.ok()) return discovery.status();
    if (discovery->status < 200 || discovery->status > 299) {
      return UnavailableError("discovery: HTTP " + std::to_string(discovery->status));
    }
    StatusOr<std::string> found = JwksUriFromDiscovery(discovery->body, issuer);
    if (!found.ok()) return found.status();
    uri = std::move(*found);
  } else if (Status s = CheckFetchUrl(uri, issuer); !s.ok()) {
    return s;
  }
  StatusOr<HttpResponse> jwks = fetcher_.Get(uri);
  if (!jwks.ok()) return jwks.status();
  if (jwks->status < 200 || jwks->status > 299) {
    return UnavailableError("jwks: HTTP " + std::to_string(jwks->status));
  }
  return JsonWebKeySet::Parse(jwks->body);
}

std::chrono::milliseconds JwksCache::Jittered(std::chrono::milliseconds backoff) {
  double j = jitter_ ? jitter_() : 0.5;
  j = std::clamp(j, 0.0, 1.0);
  return std::chrono::milliseconds(
      static_cast<int64_t>(static_cast<double>(backoff.count()) * (0.8 + 0.4 * j)));
}

void JwksCache::Complete(const EntryKey& key,
                         StatusOr<std::shared_ptr<const JsonWebKeySet>> result) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    Entry& entry = *entries_.at(key);
    entry.in_flight = false;
    const SteadyTime now = time_.MonotonicNow();
    if (result.ok()) {
      entry.keys = std::move(*result);
      entry.backoff = std::chrono::milliseconds(0);
      entry.next_fetch = now + options_.ttl;
    } else {
      // Keep the last good keys: an IdP outage must not log everyone out.
      entry.backoff = entry.backoff.count() == 0
                          ? options_.initial_backoff
                          : std::min(entry.backoff * 2, options_.max_backoff);
      entry.next_fetch = now + Jittered(entry.backoff);
    }
  }
  keys_changed_.notify_all();
  if (hook_) hook_(key.first, result.ok() ? "success" : "error");
}

JwksCache::SteadyTime JwksCache::RunDueFetches() {
  std::vector<EntryKey> due;
  {
    std::lock_guard<std::mutex> lock(mu_);
    work_requested_ = false;
    const SteadyTime now = time_.MonotonicNow();
    for (auto& [key, entry] : entries_) {
      if (!entry->in_flight && entry->next_fetch <= now) {
        entry->in_flight = true;
        due.push_back(key);
      }
    }
  }
  // Fetches run without the lock: the data path keeps reading the old keys.
  for (const EntryKey& key : due) Complete(key, Fetch(key.first, key.second));
  std::lock_guard<std::mutex> lock(mu_);
  SteadyTime next = time_.MonotonicNow() + options_.ttl;
  for (auto& [key, entry] : entries_) next = std::min(next, entry->next_fetch);
  return next;
}

void JwksCache::WaitForWork(std::chrono::nanoseconds max_wait) {
  std::unique_lock<std::mutex> lock(mu_);
  if (max_wait.count() <= 0) return;
  work_.wait_for(lock, max_wait, [this] { return work_requested_ || shutdown_; });
}

void JwksCache::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown_ = true;
  }
  work_.notify_all();
  keys_changed_.notify_all();
}

bool JwksCache::WaitForKeys(const IssuerConfig& config, std::chrono::nanoseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  Entry& entry = EntryFor(config);
  return keys_changed_.wait_for(lock, timeout, [&] {
    return entry.keys != nullptr || shutdown_;
  }) && entry.keys != nullptr;
}

}  // namespace gatehouse::auth
