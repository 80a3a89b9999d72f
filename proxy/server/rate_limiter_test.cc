#include "proxy/server/rate_limiter.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proxy/core/time_source.h"

namespace gatehouse::server {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct Step {
  milliseconds advance;
  std::string key;
  bool allowed;
  int64_t retry_after;  // checked when !allowed
};

struct BucketCase {
  std::string scenario;
  int per_minute;
  int burst;
  std::vector<Step> steps;
};

void CheckBucket(const BucketCase& c) {
  SCOPED_TRACE(c.scenario);
  FakeTimeSource time;
  RateLimiter limiter({.requests_per_minute = c.per_minute, .burst = c.burst}, 1000);
  for (size_t i = 0; i < c.steps.size(); ++i) {
    const Step& s = c.steps[i];
    time.Advance(s.advance);
    RateDecision d = limiter.Take(s.key, time.MonotonicNow());
    EXPECT_EQ(d.allowed, s.allowed) << "step " << i;
    if (!s.allowed) {
      EXPECT_EQ(d.retry_after_seconds, s.retry_after) << "step " << i;
    }
  }
}

TEST(RateLimiterTest, TokenBucketMath) {
  const std::vector<BucketCase> cases = {
      {"burst then deny; 60/min refills one a second",
       60,
       3,
       {{milliseconds(0), "a", true, 0},
        {milliseconds(0), "a", true, 0},
        {milliseconds(0), "a", true, 0},
        {milliseconds(0), "a", false, 1},
        {milliseconds(999), "a", false, 1},
        {milliseconds(1), "a", true, 0},
        {milliseconds(0), "a", false, 1}}},
      {"keys are independent",
       60,
       1,
       {{milliseconds(0), "a", true, 0},
        {milliseconds(0), "a", false, 1},
        {milliseconds(0), "b", true, 0},
        {milliseconds(0), "b", false, 1}}},
      {"slow rate: Retry-After counts whole seconds up",
       6,  // one token every 10 s
       1,
       {{milliseconds(0), "a", true, 0},
        {milliseconds(0), "a", false, 10},
        {milliseconds(2500), "a", false, 8},
        {milliseconds(7500), "a", true, 0}}},
      {"refill never exceeds the burst",
       60,
       2,
       {{milliseconds(0), "a", true, 0},
        {seconds(3600), "a", true, 0},
        {milliseconds(0), "a", true, 0},
        {milliseconds(0), "a", false, 1}}},
      {"burst 0 means a bucket of one",
       120,
       0,
       {{milliseconds(0), "a", true, 0},
        {milliseconds(0), "a", false, 1},
        {milliseconds(500), "a", true, 0}}},
  };
  for (const BucketCase& c : cases) CheckBucket(c);
}

TEST(RateLimiterTest, MemoryIsBoundedUnderManyKeys) {
  FakeTimeSource time;
  const size_t max_keys = 1600;
  RateLimiter limiter({.requests_per_minute = 60, .burst = 1}, max_keys);
  for (int i = 0; i < 100000; ++i) {
    limiter.Take("client-" + std::to_string(i), time.MonotonicNow());
  }
  EXPECT_LE(limiter.TrackedKeys(), max_keys);
  EXPECT_GT(limiter.TrackedKeys(), max_keys / 2);
}

TEST(RateLimiterTest, ActiveKeyKeepsItsBucketWhileOthersChurn) {
  FakeTimeSource time;
  RateLimiter limiter({.requests_per_minute = 1, .burst = 1}, 160);  // 10 per shard
  EXPECT_TRUE(limiter.Take("hot", time.MonotonicNow()).allowed);
  for (int i = 0; i < 1000; ++i) {
    // The hot key keeps being denied: touching it keeps it most recently used.
    EXPECT_FALSE(limiter.Take("hot", time.MonotonicNow()).allowed) << i;
    limiter.Take("cold-" + std::to_string(i), time.MonotonicNow());
  }
}

}  // namespace
}  // namespace gatehouse::server
