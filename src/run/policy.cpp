#include "batchcut/run/policy.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace batchcut {

std::optional<std::chrono::milliseconds> honoured_retry_after(const BackoffPolicy& policy,
                                                              std::optional<std::chrono::milliseconds> retry_after) {
  if (retry_after && *retry_after > policy.max_retry_after) return std::nullopt;
  return retry_after;
}

std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, int retry, double u01,
                                        std::optional<std::chrono::milliseconds> retry_after) {
  using std::chrono::milliseconds;
  const double base = static_cast<double>(policy.base.count());
  const double cap = static_cast<double>(policy.cap.count());
  // 2^(retry-1), computed in floating point so a large retry count cannot overflow.
  const double ceiling = std::min(cap, base * std::exp2(std::max(0, retry - 1)));
  u01 = std::clamp(u01, 0.0, 1.0);
  auto delay = milliseconds(static_cast<long long>(ceiling * u01));
  retry_after = honoured_retry_after(policy, retry_after);
  if (retry_after && *retry_after > delay) delay = *retry_after;
  return delay;
}

TokenBucket::TokenBucket(double rate, double burst) : burst_(std::max(1.0, burst)) {
  set_rate(rate);
}

void TokenBucket::set_rate(double rate) {
  rate_ = rate;
  interval_ = rate > 0 ? std::chrono::nanoseconds(static_cast<long long>(1e9 / rate))
                       : std::chrono::nanoseconds(0);
}

steady_time TokenBucket::reserve(steady_time now) {
  if (unlimited()) return now;
  if (!tat_) tat_ = now;
  // Up to burst-1 intervals of credit may be used ahead of the schedule.
  const auto tolerance = std::chrono::duration_cast<std::chrono::nanoseconds>(
      interval_ * (burst_ - 1.0));
  const steady_time go = std::max(now, *tat_ - tolerance);
  tat_ = std::max(*tat_, now) + interval_;
  return go;
}

AdaptiveRate::AdaptiveRate(double target, double floor_fraction, std::chrono::milliseconds cooldown)
    : target_(target),
      floor_(target * floor_fraction),
      current_(target),
      cooldown_(cooldown) {}

double AdaptiveRate::on_throttle(steady_time now) {
  if (!enabled()) return current_;
  if (last_decrease_ && now - *last_decrease_ < cooldown_) return current_;
  last_decrease_ = now;
  current_ = std::max(floor_, current_ / 2);
  return current_;
}

double AdaptiveRate::on_success() {
  if (!enabled()) return current_;
  current_ = std::min(target_, current_ + target_ / 20);
  return current_;
}

RetryBudget::RetryBudget(int concurrency, double percent)
    : limit_(std::max(1, static_cast<int>(std::floor(concurrency * percent / 100.0)))) {}

bool RetryBudget::try_acquire() {
  if (in_use_ >= limit_) return false;
  ++in_use_;
  return true;
}

void RetryBudget::release() {
  if (in_use_ > 0) --in_use_;
}

HaltPolicy::HaltPolicy(std::optional<std::size_t> max_failures, std::optional<double> max_rate,
                       std::size_t window)
    : max_failures_(max_failures), max_rate_(max_rate), window_(std::max<std::size_t>(1, window)) {}

bool HaltPolicy::record(bool failed) {
  if (tripped()) return true;
  failures_ += failed;
  recent_.push_back(failed);
  recent_failures_ += failed;
  if (recent_.size() > window_) {
    recent_failures_ -= recent_.front();
    recent_.pop_front();
  }
  if (max_failures_ && failures_ >= *max_failures_) {
    reason_ = "halted after " + std::to_string(failures_) + " failed attempts (--halt-after-failures)";
  } else if (max_rate_ && recent_.size() == window_ &&
             static_cast<double>(recent_failures_) >= *max_rate_ * static_cast<double>(window_)) {
    char pct[32];
    std::snprintf(pct, sizeof pct, "%.0f%%", 100.0 * static_cast<double>(recent_failures_) /
                                                 static_cast<double>(window_));
    reason_ = std::string("halted: ") + pct + " of the last " + std::to_string(window_) +
              " attempts failed (--halt-after-failure-rate)";
  }
  return tripped();
}

}  // namespace batchcut
