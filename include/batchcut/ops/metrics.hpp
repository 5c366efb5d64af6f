// A run's Prometheus metrics (README "Metrics and alerts"): the text exposition format, written
// for node_exporter's textfile collector (--metrics-file: atomically, every --metrics-interval
// and at exit) and served as GET /metrics by a small HTTP listener on its own thread
// (--metrics-listen). Everything comes from RunSnapshot and RunReport; the key never does.
//
// A textfile is rewritten by every run, so what describes the last *finished* run
// (batchcut_last_success_timestamp_seconds, batchcut_last_run_*) is read from the previous
// file and carried forward until this run finishes; a run that does not exit 0 keeps the
// earlier last success. No `ledger` label: one file (and one schedule) per textfile directory.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "batchcut/job/lifecycle.hpp"
#include "batchcut/ops/stats.hpp"

namespace batchcut {

struct RunReport;

// What describes the last finished run; carried from one file to the next.
struct LastRunMetrics {
  std::optional<double> success_timestamp;  // seconds since the epoch of the last run that exited 0
  std::optional<double> duration_seconds;
  std::optional<int> exit_status;
};

// Everything one rendering shows.
struct MetricsSample {
  std::map<JobState, std::size_t> jobs;  // every job of the run's manifest (or replay), by state
  std::size_t total_jobs = 0;
  std::size_t in_flight = 0;
  std::chrono::milliseconds paused{0};   // all workers stood still on Retry-After
  RunStats stats;
  std::chrono::system_clock::time_point started;
  bool in_progress = true;
  LastRunMetrics last;
};

// The jobs by state: `kept` (settled by earlier runs) plus `this_run` (settled in this run);
// every state present, and a job not settled is pending, so they add up to `total`.
std::map<JobState, std::size_t> jobs_by_state(const std::map<JobState, std::size_t>& kept,
                                              const std::map<JobState, std::size_t>& this_run,
                                              std::size_t total);

// The Prometheus text exposition format (version 0.0.4), HELP and TYPE on every family.
std::string render_metrics(const MetricsSample& m);

// The last_* values of an earlier rendering. A value that does not parse is left out and
// named in `warnings` ("FILE:LINE: metric: ...").
LastRunMetrics read_last_run_metrics(const std::string& text, const std::string& source,
                                     std::vector<std::string>& warnings);

// --metrics-listen: "HOST:PORT", ":PORT" or "PORT"; HOST is an IP address (IPv6 in
// brackets), 127.0.0.1 when left out; port 0 picks a free one.
struct ListenAddress {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
};
std::optional<ListenAddress> parse_listen_address(const std::string& text, std::string& error);

struct MetricsOptions {
  std::optional<std::filesystem::path> file;
  std::optional<std::string> listen;
  std::chrono::milliseconds interval{15000};  // between writes of the file
};

// The metrics of one run: fed by the runner's ticks, written and served as they come.
class RunMetrics {
 public:
  RunMetrics(MetricsOptions options, std::ostream& err);
  ~RunMetrics();  // stops the listener; a run that never finished leaves last_* as they were

  bool enabled() const { return options_.file || options_.listen; }
  // Reads the previous file, opens the listener (printing its URL to `err`) and writes the
  // first file. False, with a message on `err`, when the listener cannot be opened.
  bool start(const std::map<JobState, std::size_t>& kept, std::size_t total);
  // How often the runner should call on_tick (0: never).
  std::chrono::milliseconds tick_interval() const;
  void on_tick(const RunSnapshot& s);
  // The final write: in_progress 0, this run's duration and exit status, and its end as the
  // last success when it exited 0.
  void finish(const RunReport& report);

  // The port listened on (for tests; 0 when not listening).
  std::uint16_t port() const;

  class Server;

 private:
  void publish();
  void write_file();

  MetricsOptions options_;
  std::ostream& err_;
  std::map<JobState, std::size_t> kept_;
  MetricsSample sample_;
  std::unique_ptr<Server> server_;
  std::chrono::milliseconds last_write_{0};
  bool started_ = false, finished_ = false, write_failed_ = false;
};

}  // namespace batchcut
