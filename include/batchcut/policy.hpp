// Pure retry and pacing policy: backoff with full jitter and a token bucket.
// Functions of plain values and an injected clock/random draw, so tests need no sleeps.
#pragma once

#include <chrono>
#include <optional>

namespace batchcut {

using steady_time = std::chrono::steady_clock::time_point;

struct BackoffPolicy {
  std::chrono::milliseconds base{500};
  std::chrono::milliseconds cap{30000};
};

// Full jitter (AWS): a uniform draw in [0, min(cap, base * 2^(retry-1))), where `retry` is
// 1 for the first retry. `u01` is the random draw in [0, 1). A server's Retry-After is a
// floor: the wait is never shorter than it.
std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, int retry, double u01,
                                        std::optional<std::chrono::milliseconds> retry_after = {});

// A token bucket as GCRA (virtual scheduling): each reservation gets the instant it may
// go, so callers are paced exactly (no bursts above `burst`, no drift below `rate`).
// In any window of length T at most burst + rate*T requests start. rate <= 0: unlimited.
class TokenBucket {
 public:
  TokenBucket(double rate, double burst);

  // Reserves one token; returns when the caller may send (== now when it may go at once).
  steady_time reserve(steady_time now);

  // Changes the rate from now on (used by adaptive backpressure); keeps reservations made.
  void set_rate(double rate);
  double rate() const { return rate_; }
  double burst() const { return burst_; }
  bool unlimited() const { return rate_ <= 0; }

 private:
  double rate_;
  double burst_;
  std::chrono::nanoseconds interval_{0};
  std::optional<steady_time> tat_;  // theoretical arrival time of the next request
};

}  // namespace batchcut
