// The runner: takes validated jobs, as the ledger knows them, and drives each through its
// lifecycle (job/lifecycle.hpp) until it settles or the run stops. It owns the flow
// scheduler -> rate limiter -> attempt -> classification -> ledger, and nothing else:
// the transport moves bytes, the policies decide timing, step() decides state, and the
// ledger remembers every event before it can matter.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "batchcut/job/lifecycle.hpp"
#include "batchcut/ledger/writer.hpp"
#include "batchcut/run/clock.hpp"
#include "batchcut/run/policy.hpp"
#include "batchcut/net/transport.hpp"
#include "batchcut/ops/stats.hpp"

namespace spdlog {
class logger;
}

namespace batchcut {

struct RunOptions {
  BaseUrl base;
  // The manage API, where a lost answer's VOD is looked up (vod/lookup.hpp); batchcut track
  // reads VODs there too (default_manage_base_url, set by the command line). nullopt: the
  // same host as `base` (tests, the emulator).
  std::optional<BaseUrl> manage_base;
  // A lookup takes VODs inserted up to this long before the first cut was dispatched: the
  // server's clock may be behind ours. Wider finds an older same-titled VOD; narrower may
  // miss ours and send the clip again.
  std::chrono::milliseconds lookup_clock_skew{60000};
  int concurrency = 8;
  double rate = 10;   // requests per second over all workers; 0 = unlimited
  double burst = 1;
  int max_attempts = 6;  // cuts per job in this run; also the reads per doubt
  std::chrono::milliseconds timeout{60000};
  BackoffPolicy backoff;
  std::uint64_t seed = 0;  // for the jitter; 0 = random

  // Resilience (see README "Job states"):
  bool reconcile = true;              // read the live video before cutting again when in doubt
  // A read waits at least this long after the in-doubt attempt (or, for one left in flight
  // by an earlier run, after this run starts): a backend behind a proxy that gave up, or a
  // request from a killed run still in a socket buffer, may act a moment later.
  std::chrono::milliseconds reconcile_delay{2000};
  double retry_budget_percent = 20;   // share of in-flight slots retries and reads may hold
  bool adaptive_rate = true;          // AIMD on 429/503
  std::optional<std::size_t> halt_after_failures;
  std::optional<double> halt_after_failure_rate;  // 0..1
  std::size_t halt_window = 100;
  std::optional<steady_time> deadline;  // on RunClock: nothing new is sent after it
  std::chrono::milliseconds drain_timeout{30000};  // after a signal, wait this long at most
  bool handle_signals = false;        // SIGINT/SIGTERM: stop dispatching, drain, then stop
  // Every tick_interval, and once when the run starts to drain, on_tick gets the run as it
  // stands (the live view and the metrics read it). 0 or no callback: no ticks.
  std::chrono::milliseconds tick_interval{0};
  std::function<void(const RunSnapshot&)> on_tick;
};

enum class StopReason { none, fatal, halted, deadline, signal, ledger };
// What made a fatal stop: the key refused (401), the certificate (untrusted, or for another
// host), or a bug.
enum class FatalCause { none, unauthorized, certificate, wrong_host, internal };

// A job handed to the runner: its spec and what the ledger knows of it. A request the ledger
// shows out is taken as Interrupted (the caller holds the ledger's lock: its run is gone).
struct RunJob {
  JobSpec spec;
  Lifecycle life;
  bool reopen = false;  // settled, and to be run again: the runner records a Reopen first
};

struct UnrecordedId {
  std::string job;  // projectId/liveVideoId
  std::string video_public_id;
};

struct RunSummary {
  std::map<JobState, std::size_t> states;  // the state of every job handed in, at the end
  std::size_t requests = 0;          // cuts sent (or tried): stop-and-cut and cut-and-publish
  std::size_t clips = 0;             // of which were cut-and-publish
  std::size_t retries = 0;           // of which were retries
  std::size_t reconciles = 0;        // reads of a live video's state
  std::size_t lookups = 0;           // searches of the manage API for a lost answer's VOD
  std::size_t recovered = 0;         // jobs that succeeded through a lookup
  std::size_t connections = 0;       // connections opened
  std::chrono::milliseconds elapsed{0};
  std::chrono::milliseconds paused{0};  // time all workers stood still on Retry-After
  double final_rate = 0;             // the adaptive rate at the end (0: unlimited)
  StopReason stop = StopReason::none;
  int signal = 0;                    // the signal that stopped the run
  bool forced = false;               // stopped without draining (second signal, drain timeout)
  std::size_t abandoned = 0;         // jobs left with a request out (the next run reads them back)
  std::string abort_reason;
  FatalCause fatal = FatalCause::none;
  std::optional<std::string> ledger_failure;  // the ledger could not be written
  std::vector<UnrecordedId> unrecorded;       // ids received that the ledger may not hold
  RunStats stats;                              // requests by kind and status, latencies, retries by cause

  double achieved_rate() const;  // requests per second
  bool stopped_early() const { return stop != StopReason::none; }
};

// Runs the jobs on `executor`'s context (the caller runs it) and records everything in
// `ledger`. Every job's `job` record must already be in the ledger.
class Runner {
 public:
  // `manage_transport`: for lookups on the manage API when it is another host than the
  // livestream API's; nullptr: lookups go through `transport` too.
  Runner(RunOptions options, Transport& transport, LedgerLog& ledger,
         std::shared_ptr<spdlog::logger> logger, Transport* manage_transport = nullptr);
  ~Runner();

  // Starts the run on the executor; `done` is called there with the summary.
  void start(boost::asio::any_io_executor executor, std::vector<RunJob> jobs,
             std::function<void(RunSummary)> done);

  // Stops dispatching; requests out finish and are recorded; the rest stays as it is.
  void stop(StopReason reason, std::string why, int signal = 0);

  // The summary of a run cut short without finishing (its event loop stopped); nothing more
  // is written. Call it before the event loop goes.
  RunSummary abandon();

  // No ledger callback reaches the event loop after this; call it before the loop goes.
  void close_gate();

  // The jobs as the runner knows them now (for tests that compare them with the ledger).
  const std::vector<RunJob>& jobs() const;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// Convenience: a fresh io_context, the real transport, signals, run to completion.
RunSummary run_jobs(const RunOptions& options, const TransportOptions& transport_options,
                    LedgerLog& ledger, std::vector<RunJob> jobs,
                    std::shared_ptr<spdlog::logger> logger);

}  // namespace batchcut
