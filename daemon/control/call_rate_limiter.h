// CallRateLimiter: a token bucket that bounds how often clients may change things (launch
// guests, swap policies, send signals), so a runaway script cannot fork-bomb through the daemon.
//
//   CallRateLimiter limiter(/*per_second=*/50, /*burst=*/100);
//   if (!limiter.TryAcquire()) return RESOURCE_EXHAUSTED;
//
// Thread-safe (gRPC handlers call it concurrently). Reads are not limited: they cost the loop
// one short post each and the sync server's thread cap bounds them.
#pragma once

#include <algorithm>
#include <chrono>
#include <mutex>

namespace hijack::control {

class CallRateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  CallRateLimiter(double per_second, double burst)
      : per_second_(per_second), burst_(burst), tokens_(burst), last_(Clock::now()) {}

  // Takes one token if there is one. `now` is for tests.
  bool TryAcquire(Clock::time_point now = Clock::now()) {
    std::lock_guard lock(mu_);
    double elapsed = std::chrono::duration<double>(now - last_).count();
    if (elapsed > 0) {
      tokens_ = std::min(burst_, tokens_ + elapsed * per_second_);
      last_ = now;
    }
    if (tokens_ < 1) {
      return false;
    }
    tokens_ -= 1;
    return true;
  }

 private:
  const double per_second_;
  const double burst_;
  std::mutex mu_;
  double tokens_;
  Clock::time_point last_;
};

}  // namespace hijack::control
