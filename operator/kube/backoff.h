// Backoff: exponential delays with jitter, so failing loops never hot-loop and
// many replicas never retry in lockstep. Pure: the caller supplies randomness.
//
//   Backoff backoff;                                  // 200 ms .. 30 s
//   std::chrono::milliseconds d = backoff.Delay(attempt, uniform01());
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>

namespace gatehouse::kube {

struct Backoff {
  std::chrono::milliseconds initial{200};
  std::chrono::milliseconds max{30000};

  // attempt 0 -> about `initial`; doubles each attempt up to `max`. The jitter
  // `r` in [0,1) scales the delay into [50%, 100%] of the nominal value.
  std::chrono::milliseconds Delay(int attempt, double r) const {
    double nominal = static_cast<double>(initial.count()) * std::pow(2.0, std::min(attempt, 30));
    nominal = std::min(nominal, static_cast<double>(max.count()));
    double jittered = nominal * (0.5 + 0.5 * std::clamp(r, 0.0, 1.0));
    return std::chrono::milliseconds(static_cast<int64_t>(jittered));
  }
};

}  // namespace gatehouse::kube
