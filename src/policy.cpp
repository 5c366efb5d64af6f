#include "batchcut/policy.hpp"

#include <algorithm>
#include <cmath>

namespace batchcut {

std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, int retry, double u01,
                                        std::optional<std::chrono::milliseconds> retry_after) {
  using std::chrono::milliseconds;
  const double base = static_cast<double>(policy.base.count());
  const double cap = static_cast<double>(policy.cap.count());
  // 2^(retry-1), computed in floating point so a large retry count cannot overflow.
  const double ceiling = std::min(cap, base * std::exp2(std::max(0, retry - 1)));
  u01 = std::clamp(u01, 0.0, 1.0);
  auto delay = milliseconds(static_cast<long long>(ceiling * u01));
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

}  // namespace batchcut
