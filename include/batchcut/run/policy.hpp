// Pure retry and pacing policy: backoff with full jitter and a token bucket.
// Functions of plain values and an injected clock/random draw, so tests need no sleeps.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>
#include <string>

namespace batchcut {

using steady_time = std::chrono::steady_clock::time_point;

struct BackoffPolicy {
  std::chrono::milliseconds base{500};
  std::chrono::milliseconds cap{30000};
  // The longest Retry-After honoured (--max-retry-after). Past it, the answer is a failed
  // attempt like any other: one proxy's "come back tomorrow" must not stall a night's run.
  std::chrono::milliseconds max_retry_after{std::chrono::minutes(10)};
};

// A server's Retry-After as the policy honours it: nullopt when there is none, or when it
// is longer than max_retry_after.
std::optional<std::chrono::milliseconds> honoured_retry_after(const BackoffPolicy& policy,
                                                              std::optional<std::chrono::milliseconds> retry_after);

// Full jitter (AWS): a uniform draw in [0, min(cap, base * 2^(retry-1))), where `retry` is
// 1 for the first retry. `u01` is the random draw in [0, 1). A server's Retry-After, when
// honoured, is a floor: the wait is never shorter than it.
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

// AIMD on the request rate: a throttle signal (429, or 503) halves it, at most once per
// `cooldown` so one burst of refusals counts once; each success adds target/20 back, up to
// the target. The rate never drops below target * floor_fraction.
class AdaptiveRate {
 public:
  explicit AdaptiveRate(double target, double floor_fraction = 0.02,
                        std::chrono::milliseconds cooldown = std::chrono::milliseconds(1000));
  bool enabled() const { return target_ > 0; }
  double current() const { return current_; }
  // Both return the new rate.
  double on_throttle(steady_time now);
  double on_success();

 private:
  double target_;
  double floor_;
  double current_;
  std::chrono::milliseconds cooldown_;
  std::optional<steady_time> last_decrease_;
};

// Envoy's retry budget: retries may hold at most `percent` of the in-flight slots (at
// least one), so a failing API sees the load of first attempts, not a multiple of it.
class RetryBudget {
 public:
  RetryBudget(int concurrency, double percent);
  int limit() const { return limit_; }
  int in_use() const { return in_use_; }
  bool try_acquire();
  void release();

 private:
  int limit_;
  int in_use_ = 0;
};

// Stops a run that is failing: after `max_failures` failed attempts in all, or when the
// failure share of the last `window` attempts reaches `max_rate` (0..1; judged only once
// the window is full). A failed attempt is any that did not succeed.
class HaltPolicy {
 public:
  HaltPolicy(std::optional<std::size_t> max_failures, std::optional<double> max_rate,
             std::size_t window = 100);
  // Records one attempt; returns true once the run must halt (and stays true).
  bool record(bool failed);
  bool tripped() const { return !reason_.empty(); }
  const std::string& reason() const { return reason_; }

 private:
  std::optional<std::size_t> max_failures_;
  std::optional<double> max_rate_;
  std::size_t window_;
  std::deque<bool> recent_;
  std::size_t recent_failures_ = 0;
  std::size_t failures_ = 0;
  std::string reason_;
};

}  // namespace batchcut
