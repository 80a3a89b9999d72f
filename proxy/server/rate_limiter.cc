#include "proxy/server/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace gatehouse::server {

RateLimiter::RateLimiter(const policy::RateLimitSpec& spec, size_t max_keys)
    : spec_(spec),
      capacity_(std::max(1, spec.burst)),
      tokens_per_second_(std::max(0, spec.requests_per_minute) / 60.0),
      max_keys_per_shard_(std::max<size_t>(1, max_keys / kShards)) {}

RateDecision RateLimiter::Take(std::string_view key, SteadyTime now) {
  Shard& shard = shards_[std::hash<std::string_view>()(key) % kShards];
  std::lock_guard<std::mutex> lock(shard.mu);
  auto found = shard.index.find(key);
  std::list<Bucket>::iterator bucket;
  if (found == shard.index.end()) {
    if (shard.index.size() >= max_keys_per_shard_) {
      // Bounded memory: forget the least recently used key of this shard.
      shard.index.erase(shard.lru.back().key);
      shard.lru.pop_back();
    }
    shard.lru.push_front(Bucket{std::string(key), capacity_, now});
    bucket = shard.lru.begin();
    shard.index.emplace(bucket->key, bucket);
  } else {
    bucket = found->second;
    shard.lru.splice(shard.lru.begin(), shard.lru, bucket);
    if (now > bucket->updated) {
      const double elapsed = std::chrono::duration<double>(now - bucket->updated).count();
      bucket->tokens = std::min(capacity_, bucket->tokens + elapsed * tokens_per_second_);
      bucket->updated = now;
    }
  }
  if (bucket->tokens >= 1.0) {
    bucket->tokens -= 1.0;
    return RateDecision{true, 0};
  }
  // Deny: tell the client when one whole token will be back.
  if (tokens_per_second_ <= 0) return RateDecision{false, 60};
  const double wait = (1.0 - bucket->tokens) / tokens_per_second_;
  return RateDecision{false, std::max<int64_t>(1, static_cast<int64_t>(std::ceil(wait)))};
}

size_t RateLimiter::TrackedKeys() {
  size_t total = 0;
  for (Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    total += shard.index.size();
  }
  return total;
}

}  // namespace gatehouse::server
