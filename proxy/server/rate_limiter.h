// RateLimiter: token buckets for one policy's spec.rateLimit, one bucket per
// key (the identity's user, or the client IP), with bounded memory.
//
//   RateLimiter limiter(spec, /*max_keys=*/100000);
//   RateDecision d = limiter.Take("alice", time.MonotonicNow());
//   if (!d.allowed) Respond429(d.retry_after_seconds);
//
// Bucket: capacity `burst` (at least 1), refilled at requestsPerMinute / 60
// tokens a second; a request takes one token. Retry-After is the whole number
// of seconds until one token is back (at least 1).
// Memory: at most `max_keys` buckets. Keys are spread over shards, each an LRU
// list; when a shard is full, its least recently used bucket is dropped. A
// dropped bucket restarts full, which only matters for a key that stayed idle
// while max_keys other keys were seen, so an attacker needs that many
// distinct identities (or addresses) to reset one key's budget.
// Thread-safe (one mutex per shard).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "proxy/policy/access_policy.h"

namespace gatehouse::server {

struct RateDecision {
  bool allowed = true;
  int64_t retry_after_seconds = 0;  // set when !allowed
};

class RateLimiter {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;
  static constexpr size_t kShards = 16;

  RateLimiter(const policy::RateLimitSpec& spec, size_t max_keys);
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  RateDecision Take(std::string_view key, SteadyTime now);

  const policy::RateLimitSpec& spec() const { return spec_; }
  size_t TrackedKeys();

 private:
  struct Bucket {
    std::string key;
    double tokens = 0;
    SteadyTime updated;
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  struct Shard {
    std::mutex mu;
    std::list<Bucket> lru;  // front: most recently used
    std::unordered_map<std::string_view, std::list<Bucket>::iterator, Hash> index;
  };

  policy::RateLimitSpec spec_;
  double capacity_;
  double tokens_per_second_;
  size_t max_keys_per_shard_;
  std::array<Shard, kShards> shards_;
};

}  // namespace gatehouse::server
