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

#include "batchcut/ledger/ledger.hpp"
#include "batchcut/run/policy.hpp"
#include "batchcut/net/transport.hpp"

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

  // Resilience (see README "Job states"):
  bool reconcile = true;              // GET the live video before retrying an in-doubt attempt
  // The GET waits at least this long after the in-doubt attempt (or, for one left in
  // flight by an earlier run, after this run starts): a backend behind a proxy that gave
  // up, or a request from a killed run still in a socket buffer, may act a moment later.
  std::chrono::milliseconds reconcile_delay{2000};
  double retry_budget_percent = 20;   // share of in-flight slots retries may hold
  bool adaptive_rate = true;          // AIMD on 429/503
  std::optional<std::size_t> halt_after_failures;
  std::optional<double> halt_after_failure_rate;  // 0..1
  std::size_t halt_window = 100;
  std::optional<std::chrono::system_clock::time_point> deadline;  // nothing new after it
  std::chrono::milliseconds drain_timeout{30000};  // after a signal, wait this long at most
  bool handle_signals = false;        // SIGINT/SIGTERM: stop dispatching, drain, then stop
  std::chrono::milliseconds progress_interval{10000};  // 0: no progress lines
};

enum class StopReason { none, fatal, halted, deadline, signal, ledger };

// A job handed to the runner, with what the ledger already knows about it.
struct RunJob {
  JobSpec spec;
  int prior_attempts = 0;   // attempts made by earlier runs (attempt numbers continue)
  bool in_doubt = false;    // an earlier attempt may have cut, unsettled: reconcile before sending
  bool after_in_doubt = false;  // some earlier attempt may have cut: a 400 now means in_doubt
};

struct RunSummary {
  std::map<JobState, std::size_t> states;  // final state of every job handed in
  std::size_t requests = 0;          // stop-and-cut attempts sent (or tried)
  std::size_t retries = 0;           // of which were retries
  std::size_t reconciles = 0;        // GETs of a live video's state
  std::size_t connections = 0;       // connections opened
  std::chrono::milliseconds elapsed{0};
  std::chrono::milliseconds paused{0};  // time all workers stood still on Retry-After
  double final_rate = 0;             // the adaptive rate at the end (0: unlimited)
  StopReason stop = StopReason::none;
  int signal = 0;                    // the signal that stopped the run
  bool forced = false;               // stopped without draining (second signal, drain timeout)
  std::size_t abandoned = 0;         // of which jobs were left mid-request (in flight)
  std::string abort_reason;
  std::optional<std::string> ledger_failure;  // the ledger could not be written

  double achieved_rate() const;  // requests per second
  bool stopped_early() const { return stop != StopReason::none; }
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

  // Stops dispatching; attempts in flight finish and the rest stay pending.
  void stop(StopReason reason, std::string why, int signal = 0);

  // The summary so far, for a run that was cut short without finishing; records every
  // job not final and not in flight as pending.
  RunSummary abandon();

  // No ledger callback reaches the event loop after this; call it before the loop goes.
  void close_gate();

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// Convenience: a fresh io_context, the real transport, run to completion.
RunSummary run_jobs(const RunOptions& options, const TransportOptions& transport_options,
                    LedgerWriter& ledger, std::vector<RunJob> jobs,
                    std::shared_ptr<spdlog::logger> logger);

}  // namespace batchcut
