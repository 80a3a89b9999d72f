// KeyWaiter: where RequestGate parks a request whose token's issuer has no
// keys yet (the JWKS cache's first fetch is still under way), so that the
// event loop never blocks on it.
//
//   KeyWaiter waiter(jwks_cache, time);          // one per proxy; owns one thread
//   RequestGate gate({..., .waiter = &waiter});   // the gate parks requests in it
//   waiter.Park(issuer, deadline, [..] { ... }); // `then` runs on the waiter's thread
//
// Each continuation runs once: when KeyProvider::Keys(issuer) has keys, when
// its deadline has passed, or when the waiter is destroyed; it then looks at
// the keys again itself (present, or answer 503). Continuations run on the
// waiter's thread, never on the caller's.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "proxy/auth/issuer_config.h"
#include "proxy/auth/key_provider.h"
#include "proxy/core/time_source.h"

namespace gatehouse::server {

// Parks requests whose issuer has no keys yet, without blocking an event loop:
// one thread polls KeyProvider::Keys() for every parked request and runs its
// continuation once the keys are there or its deadline (TimeSource monotonic
// time) has passed. With nothing parked the thread sleeps until Park() (no
// timer wake-ups); poll_interval applies only while something is parked.
class KeyWaiter {
 public:
  KeyWaiter(auth::KeyProvider& keys, const TimeSource& time,
            std::chrono::milliseconds poll_interval = std::chrono::milliseconds(10));
  ~KeyWaiter();  // runs every parked continuation (they see no keys) and joins

  void Park(const auth::IssuerConfig& config, std::chrono::steady_clock::time_point deadline,
            std::function<void()> then);
  size_t parked();
  size_t wakeups();  // times the thread woke to look at the parked list (tests)

 private:
  struct Parked {
    auth::IssuerConfig config;
    std::chrono::steady_clock::time_point deadline;
    std::function<void()> then;
  };
  void Run();

  auth::KeyProvider& keys_;
  const TimeSource& time_;
  std::chrono::milliseconds poll_interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  size_t wakeups_ = 0;
  std::vector<Parked> parked_;
  std::thread thread_;
};

}  // namespace gatehouse::server
