#include "batchcut/ops/stats.hpp"

#include <algorithm>
#include <cmath>

namespace batchcut {

namespace {

const double log_growth = std::log(1.02);

std::size_t bucket_of(std::int64_t us) {
  return static_cast<std::size_t>(std::log1p(static_cast<double>(std::max<std::int64_t>(us, 0))) / log_growth);
}

// The largest latency, in microseconds, that lands in bucket i.
std::int64_t bucket_top(std::size_t i) {
  return static_cast<std::int64_t>(std::expm1(static_cast<double>(i + 1) * log_growth));
}

}  // namespace

const char* to_string(RequestKind k) {
  switch (k) {
    case RequestKind::cut: return "stop_and_cut";
    case RequestKind::clip: return "cut_and_publish";
    case RequestKind::read: return "read";
    case RequestKind::lookup: return "lookup";
  }
  return "?";
}

const char* describe(RequestKind k) {
  switch (k) {
    case RequestKind::cut: return "stop-and-cut";
    case RequestKind::clip: return "cut-and-publish";
    case RequestKind::read: return "state read";
    case RequestKind::lookup: return "lookup";
  }
  return "?";
}

void LatencyHistogram::record(std::chrono::microseconds latency) {
  const auto us = std::max<std::int64_t>(latency.count(), 0);
  const std::size_t b = bucket_of(us);
  if (b >= buckets_.size()) buckets_.resize(b + 1);
  ++buckets_[b];
  const double seconds = static_cast<double>(us) / 1e6;
  for (std::size_t i = 0; i < prometheus_bounds.size(); ++i)
    if (seconds <= prometheus_bounds[i]) {
      ++prometheus_[i];
      break;
    }
  ++count_;
  sum_us_ += static_cast<double>(us);
  max_ = std::max(max_, std::chrono::microseconds(us));
}

std::chrono::microseconds LatencyHistogram::quantile(double q) const {
  if (count_ == 0) return std::chrono::microseconds(0);
  const auto rank = static_cast<std::uint64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(count_)));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= std::max<std::uint64_t>(rank, 1))
      return std::min(max_, std::chrono::microseconds(bucket_top(i)));
  }
  return max_;
}

std::uint64_t LatencyHistogram::cumulative(std::size_t bound_index) const {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i <= bound_index && i < prometheus_.size(); ++i) n += prometheus_[i];
  return n;
}

std::string retry_cause(int http_status, const std::string& transport_error) {
  if (http_status > 0) return "http_" + std::to_string(http_status);
  return transport_error.empty() ? "unknown" : transport_error;
}

}  // namespace batchcut
