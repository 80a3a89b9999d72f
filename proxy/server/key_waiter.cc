#include "proxy/server/key_waiter.h"

#include <utility>

namespace gatehouse::server {

KeyWaiter::KeyWaiter(auth::KeyProvider& keys, const TimeSource& time,
                     std::chrono::milliseconds poll_interval)
    : keys_(keys), time_(time), poll_interval_(poll_interval), thread_([this] { Run(); }) {}

KeyWaiter::~KeyWaiter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void KeyWaiter::Park(const auth::IssuerConfig& config,
                     std::chrono::steady_clock::time_point deadline, std::function<void()> then) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    parked_.push_back(Parked{config, deadline, std::move(then)});
  }
  cv_.notify_all();
}

size_t KeyWaiter::parked() {
  std::lock_guard<std::mutex> lock(mu_);
  return parked_.size();
}

size_t KeyWaiter::wakeups() {
  std::lock_guard<std::mutex> lock(mu_);
  return wakeups_;
}

// Idle (nothing parked): sleeps until Park() or the destructor notifies; no
// timer, so an idle proxy costs no CPU here. While something is parked, the
// KeyProvider has no arrival signal and the deadline runs on TimeSource time,
// so both are checked every poll_interval_.
void KeyWaiter::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (parked_.empty()) {
      cv_.wait(lock, [this] { return stop_ || !parked_.empty(); });
    } else {
      cv_.wait_for(lock, poll_interval_, [this] { return stop_; });
    }
    ++wakeups_;
    std::vector<std::function<void()>> ready;
    const auto now = time_.MonotonicNow();
    for (auto it = parked_.begin(); it != parked_.end();) {
      if (stop_ || now >= it->deadline || keys_.Keys(it->config) != nullptr) {
        ready.push_back(std::move(it->then));
        it = parked_.erase(it);
      } else {
        ++it;
      }
    }
    const bool stopping = stop_;
    lock.unlock();
    for (auto& then : ready) then();  // re-evaluates: keys present, or 503
    lock.lock();
    if (stopping && parked_.empty()) return;
  }
}

}  // namespace gatehouse::server
