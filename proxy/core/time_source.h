// TimeSource: the only way core code learns the time.
//
//   class JwksCache { explicit JwksCache(const TimeSource& time); ... };
//   SystemTimeSource real;          // in binaries
//   FakeTimeSource fake(1700000000); // in tests: fake.Advance(std::chrono::seconds(61));
//
// Core code never calls std::chrono::*::now() itself, so every time-dependent
// behaviour (token expiry, cache TTLs, backoff) is testable without sleeping.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace gatehouse {

class TimeSource {
 public:
  using Clock = std::chrono::system_clock;
  virtual ~TimeSource() = default;
  // Wall-clock time (token exp/nbf/iat are wall-clock seconds).
  virtual Clock::time_point Now() const = 0;
  // Monotonic time for intervals and TTLs.
  virtual std::chrono::steady_clock::time_point MonotonicNow() const = 0;

  int64_t NowSeconds() const {
    return std::chrono::duration_cast<std::chrono::seconds>(Now().time_since_epoch()).count();
  }
};

class SystemTimeSource final : public TimeSource {
 public:
  Clock::time_point Now() const override { return Clock::now(); }
  std::chrono::steady_clock::time_point MonotonicNow() const override {
    return std::chrono::steady_clock::now();
  }
};

// For tests: starts at a fixed epoch second; both clocks move only on Advance().
class FakeTimeSource final : public TimeSource {
 public:
  explicit FakeTimeSource(int64_t epoch_seconds = 1700000000)
      : offset_ns_(0), epoch_(epoch_seconds) {}
  Clock::time_point Now() const override {
    return Clock::time_point(std::chrono::seconds(epoch_)) +
           std::chrono::nanoseconds(offset_ns_.load());
  }
  std::chrono::steady_clock::time_point MonotonicNow() const override {
    return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(offset_ns_.load()));
  }
  void Advance(std::chrono::nanoseconds d) { offset_ns_ += d.count(); }

 private:
  std::atomic<int64_t> offset_ns_;
  int64_t epoch_;
};

}  // namespace gatehouse
