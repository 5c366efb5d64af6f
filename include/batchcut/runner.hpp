// The runner: takes validated jobs and drives each to a final state. It owns the flow
// scheduler -> rate limiter -> attempt -> classification -> ledger, and nothing else:
// the transport moves bytes, the policies decide, the ledger remembers.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "batchcut/ledger.hpp"
#include "batchcut/policy.hpp"
#include "batchcut/transport.hpp"

namespace spdlog {
class logger;
}

namespace batchcut {

struct RunOptions {
  BaseUrl base;
  int concurrency = 8;
  double rate = 10;   // requests per second over all workers; 0 = unlimited
  double burst = 1;
  int max_attempts = 6;
  std::chrono::milliseconds timeout{60000};
  BackoffPolicy backoff;
  std::uint64_t seed = 0;  // for the jitter; 0 = random
};

// A job handed to the runner, with what the ledger already knows about it.
struct RunJob {
  JobSpec spec;
  int prior_attempts = 0;  // attempts made by earlier runs (attempt numbers continue)
};

struct RunSummary {
  std::map<JobState, std::size_t> states;  // final state of every job handed in
  std::size_t requests = 0;          // stop-and-cut attempts sent (or tried)
  std::size_t retries = 0;           // of which were retries
  std::size_t connections = 0;       // connections opened
  std::chrono::milliseconds elapsed{0};
  bool aborted = false;              // a fatal answer stopped the run
  std::string abort_reason;
  std::optional<std::string> ledger_failure;  // the ledger could not be written

  double achieved_rate() const;  // requests per second
};

// Runs the jobs on `executor`'s context (the caller runs it) and records everything in
// `ledger`. Every job's `job` record must already be in the ledger.
class Runner {
 public:
  Runner(RunOptions options, Transport& transport, LedgerWriter& ledger,
         std::shared_ptr<spdlog::logger> logger);
  ~Runner();

  // Starts the run on the executor; `done` is called there with the summary.
  void start(boost::asio::any_io_executor executor, std::vector<RunJob> jobs,
             std::function<void(RunSummary)> done);

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// Convenience: a fresh io_context, the real transport, run to completion.
RunSummary run_jobs(const RunOptions& options, const TransportOptions& transport_options,
                    LedgerWriter& ledger, std::vector<RunJob> jobs,
                    std::shared_ptr<spdlog::logger> logger);

}  // namespace batchcut
