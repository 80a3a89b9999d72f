// JwksCache: the verification keys of every trusted issuer, kept fresh in the
// background. A KeyProvider for TokenAuthenticator.
//
// Threads: Keys()/KeyIdNotFound() are called from many worker threads and
// never block on the network; one control-plane thread runs the fetches:
//
//   JwksCache cache(fetcher, time, jitter);           // jitter: returns [0, 1)
//   cache.SetFetchResultHook([](std::string_view issuer, std::string_view result) {
//     jwks_fetches_total.Add({issuer, result});        // "success" | "error"
//   });
//   cache.Track(config);                               // for every trusted issuer
//   // control-plane thread:
//   while (running) {
//     auto next = cache.RunDueFetches();
//     cache.WaitForWork(next - time.MonotonicNow());   // woken early by refresh requests
//   }
//   // server start-up: give the first fetch a chance before serving
//   cache.WaitForKeys(config, std::chrono::seconds(5));
//
// Entries are keyed by (issuer, jwks_uri override). Without an override the
// JWKS URL comes from OIDC discovery (see oidc_discovery.h). Keys are
// refreshed after `ttl`; a token with an unknown kid triggers a refresh at
// most once per `kid_refresh_interval` per issuer; a failed fetch keeps the
// last good keys and retries with exponential backoff (initial_backoff
// doubling to max_backoff, scaled by 0.8..1.2 from the jitter source).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "proxy/auth/key_provider.h"
#include "proxy/core/http_fetcher.h"
#include "proxy/core/time_source.h"

namespace gatehouse::auth {

struct JwksCacheOptions {
  std::chrono::milliseconds ttl = std::chrono::minutes(10);
  std::chrono::milliseconds kid_refresh_interval = std::chrono::seconds(30);
  std::chrono::milliseconds initial_backoff = std::chrono::seconds(1);
  std::chrono::milliseconds max_backoff = std::chrono::minutes(5);
};

class JwksCache final : public KeyProvider {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;
  using JitterSource = std::function<double()>;  // uniform in [0, 1)
  using FetchResultHook = std::function<void(std::string_view issuer, std::string_view result)>;

  // `fetcher` and `time` must outlive the cache.
  JwksCache(HttpFetcher& fetcher, const TimeSource& time, JitterSource jitter,
            JwksCacheOptions options = {});
  ~JwksCache() override;

  // Not thread-safe against RunDueFetches: set it before the control thread starts.
  void SetFetchResultHook(FetchResultHook hook) { hook_ = std::move(hook); }

  // Starts tracking an issuer (idempotent); its first fetch is due at once.
  void Track(const IssuerConfig& config);
  // Snapshot; nullptr until the first successful fetch. Tracks unknown configs.
  std::shared_ptr<const JsonWebKeySet> Keys(const IssuerConfig& config) override;
  // Rate-limited refresh (once per kid_refresh_interval; not during backoff).
  void KeyIdNotFound(const IssuerConfig& config) override;
  // Unconditional refresh as soon as the control thread runs.
  void RequestRefresh(const IssuerConfig& config);

  // Control-plane thread: runs every due fetch (blocking) and returns when the
  // next one is due (in time.MonotonicNow() terms).
  SteadyTime RunDueFetches();
  // Control-plane thread: sleeps up to `max_wait` or until a fetch is requested.
  void WaitForWork(std::chrono::nanoseconds max_wait);
  // Wakes WaitForWork and WaitForKeys for shutdown.
  void Shutdown();

  // Blocks up to `timeout` for the issuer's first keys; true when present.
  bool WaitForKeys(const IssuerConfig& config, std::chrono::nanoseconds timeout);

 private:
  struct Entry;
  using EntryKey = std::pair<std::string, std::string>;  // issuer, jwks_uri override

  Entry& EntryFor(const IssuerConfig& config);  // requires mu_
  StatusOr<std::shared_ptr<const JsonWebKeySet>> Fetch(const std::string& issuer,
                                                       const std::string& jwks_uri);
  void Complete(const EntryKey& key, StatusOr<std::shared_ptr<const JsonWebKeySet>> result);
  std::chrono::milliseconds Jittered(std::chrono::milliseconds backoff);

  HttpFetcher& fetcher_;
  const TimeSource& time_;
  JitterSource jitter_;
  JwksCacheOptions options_;
  FetchResultHook hook_;

  std::mutex mu_;
  std::condition_variable keys_changed_;  // a fetch completed
  std::condition_variable work_;          // a fetch was requested
  bool work_requested_ = false;
  bool shutdown_ = false;
  std::map<EntryKey, std::unique_ptr<Entry>> entries_;
};

}  // namespace gatehouse::auth
