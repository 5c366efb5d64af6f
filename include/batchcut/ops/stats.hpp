// What a run counts while it goes, for the people and machines watching it: the progress
// view, the summary, the summary JSON and the Prometheus metrics all read these, and only
// these. The runner fills them in on its event loop; nothing here decides anything.
#pragma once

#include <array>
#include <iterator>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "batchcut/job/lifecycle.hpp"

namespace batchcut {

// cut: stop-and-cut; clip: cut-and-publish; read: GET the live video; lookup: search the
// project's videos for a lost answer's VOD.
enum class RequestKind { cut, clip, read, lookup };
inline constexpr RequestKind all_request_kinds[] = {RequestKind::cut, RequestKind::clip, RequestKind::read,
                                                    RequestKind::lookup};
const char* to_string(RequestKind k);  // "stop_and_cut", "cut_and_publish", "read", "lookup"
const char* describe(RequestKind k);   // "stop-and-cut", "cut-and-publish", "state read", "lookup"

// Latencies of one kind of request. Percentiles come from log-spaced buckets about 2 % wide
// (so p99 is within 2 % of the true value, in constant memory); the maximum is exact. The
// Prometheus buckets are counted exactly, on their own fixed bounds.
class LatencyHistogram {
 public:
  static constexpr std::array<double, 13> prometheus_bounds = {
      0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

  void record(std::chrono::microseconds latency);

  std::uint64_t count() const { return count_; }
  double sum_seconds() const { return sum_us_ / 1e6; }
  std::chrono::microseconds max() const { return max_; }
  // The smallest recorded latency that q of all are at or below (0 < q <= 1), to 2 %; 0 if empty.
  std::chrono::microseconds quantile(double q) const;
  // Samples at or below prometheus_bounds[i], cumulative as Prometheus wants them.
  std::uint64_t cumulative(std::size_t bound_index) const;

 private:
  std::vector<std::uint64_t> buckets_;  // log-spaced; grown on demand
  std::array<std::uint64_t, prometheus_bounds.size()> prometheus_{};
  std::uint64_t count_ = 0;
  double sum_us_ = 0;
  std::chrono::microseconds max_{0};
};

// Counters of one run.
struct RunStats {
  // Requests sent, by kind and HTTP status; status 0 means no answer (see `request_errors`).
  std::map<std::pair<RequestKind, int>, std::uint64_t> requests;
  // Requests that got no HTTP answer, by kind and transport error ("timeout", "closed", ...).
  std::map<std::pair<RequestKind, std::string>, std::uint64_t> request_errors;
  // Cuts sent again, by what the attempt before got: "http_503", "timeout", "closed", ...
  std::map<std::string, std::uint64_t> retries_by_cause;
  std::array<LatencyHistogram, std::size(all_request_kinds)> latency;  // by RequestKind
  std::chrono::microseconds rate_limiter_wait{0};  // summed over requests: waiting for a send slot

  LatencyHistogram& latency_of(RequestKind k) { return latency[static_cast<int>(k)]; }
  const LatencyHistogram& latency_of(RequestKind k) const { return latency[static_cast<int>(k)]; }
};

// Why an attempt's job is tried again: its HTTP status, else its transport error.
std::string retry_cause(int http_status, const std::string& transport_error);

// A run as it stands, for the live view and the metrics.
struct RunSnapshot {
  std::size_t total = 0;                    // jobs handed to this run
  std::map<JobState, std::size_t> settled;  // jobs settled in this run, by state
  std::size_t settled_count = 0;
  std::size_t in_flight = 0;        // requests on the wire now
  std::size_t waiting_retry = 0;    // retries and read-backs waiting for their time
  std::size_t requests = 0;         // cuts sent
  std::size_t retries = 0;          // of which were retries
  std::size_t reads = 0;            // read-backs sent
  double rate_limit = 0;            // the rate limit now (AIMD); 0 = unlimited
  std::chrono::milliseconds elapsed{0};
  std::chrono::milliseconds paused{0};  // all workers stood still on Retry-After
  bool draining = false;            // stopping: requests out finish, nothing new starts
  std::string stop_reason;          // why it is draining
  bool stopped_by_signal = false;   // a second signal stops at once
  std::chrono::milliseconds drain_timeout{0};  // after a signal: the longest the drain may take
  RunStats stats;
};

}  // namespace batchcut
