// The commands behind the CLI, callable in-process by tests and the demo. Each returns the
// process exit status and writes what a person reads to `out` (results) and `err` (problems).
#pragma once

#include <chrono>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "batchcut/ledger/writer.hpp"
#include "batchcut/manifest/manifest.hpp"
#include "batchcut/net/auth.hpp"

namespace batchcut {

enum ExitStatus : int {
  exit_ok = 0,          // every job succeeded
  exit_some_failed = 1, // some job did not
  exit_usage = 2,       // bad usage, config, manifest or ledger, or the ledger is in use: nothing was sent
  exit_aborted = 3,     // 401, certificate failure, ledger write failure, a halt policy tripped
  exit_deadline = 4,    // the --deadline passed; the rest is pending
  // 128 + signal (130 SIGINT, 143 SIGTERM): stopped by a signal; the rest is pending
};

// How `batchcut track` (and `run --wait-ready`) follow the VODs of succeeded jobs until they
// are Ready (vod/tracker.hpp).
struct TrackSettings {
  std::optional<std::string> manage_base_url;  // the manage API; default: default_manage_base_url
  double timeout_seconds = 7200;               // give up on VODs still processing after this
  double poll_interval_seconds = 30;           // between reads of a VOD still processing
  std::optional<double> duration_tolerance_seconds;  // default: max(2 s, 1 % of the expected)
};

struct RunCommand {
  std::filesystem::path manifest;  // for run; empty for replay
  // Replay: take the jobs in these states from this ledger instead of a manifest.
  std::optional<std::filesystem::path> replay_ledger;
  std::vector<JobState> replay_states = {JobState::retry_exhausted, JobState::pending};
  ManifestFormat format = ManifestFormat::detect;
  std::optional<std::filesystem::path> ledger;  // default: beside the manifest
  // Where to send. Unset: where the ledger's last run sent (its run record), else the
  // production API. A base URL other than the ledger's needs `retarget`.
  std::optional<std::string> base_url;
  bool retarget = false;
  int concurrency = 8;
  double rate = 10;
  double burst = 1;
  int max_attempts = 6;
  double timeout_seconds = 60;
  std::optional<std::filesystem::path> ca_file;   // unset: the ledger's, if it names one
  std::optional<AuthScheme> auth_scheme;          // unset: the ledger's, else bearer
  std::optional<std::filesystem::path> api_key_file;  // else the VP_API_KEY environment variable
  bool dry_run = false;
  // `batchcut plan`: say what a run would send, skip and refuse, how long it would take and
  // whether it fits the deadline; send nothing, lock nothing.
  bool plan_only = false;
  double expected_latency_seconds = 1;  // the plan's guess at one request's round trip
  bool allow_changed = false;
  bool allow_insecure_http = false;  // http:// to a host other than loopback
  bool insecure = false;             // TLS without certificate checks (warned on every run)
  LedgerSync ledger_sync = LedgerSync::group_commit;
  std::uint64_t seed = 0;
  bool reconcile = true;
  double reconcile_delay_seconds = 2;
  double lookup_clock_skew_seconds = 60;  // a lookup also takes VODs inserted this long before the first cut
  double retry_budget_percent = 20;
  std::optional<std::size_t> halt_after_failures;
  std::optional<double> halt_after_failure_rate;  // 0..1
  std::size_t halt_window = 100;
  std::optional<std::string> deadline;  // ISO time, HH:MM (local), or a duration like 2h
  double drain_timeout_seconds = 30;
  double backoff_base_seconds = 0.5;
  double backoff_cap_seconds = 30;
  double max_retry_after_seconds = 600;  // a longer Retry-After is a failed attempt, not a pause
  bool handle_signals = true;
  // Set by the demo and tests instead of VP_API_KEY / --api-key-file.
  std::optional<std::string> api_key_override;
  // Sharding (run/shard.hpp): `shard` "K/N" (0-based) takes only shard K of N of the
  // manifest; or `shards` "N" with K from $JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs).
  // The default ledger is then NAME.shard-K-of-N.ledger.jsonl.
  std::optional<std::string> shard;
  std::optional<std::string> shards;

  // What a person or a machine watching the run sees (README "Operations").
  std::string command_line;              // set by the CLI: how to run this again, for the next steps
  std::string progress = "auto";         // auto (a bar on a terminal, else log lines), bar, log, none
  double progress_interval_seconds = 10; // log lines: one every this many seconds
  bool stderr_is_terminal = false;       // set by the CLI
  std::optional<std::string> log_level;  // trace..off; else $BATCHCUT_LOG, else info
  int verbosity = 0;                     // -v: one level more detail each, -q: one less
  std::string log_format = "text";       // text, or json (one object per line)
  std::optional<std::filesystem::path> log_file;  // else stderr
  std::optional<std::filesystem::path> summary_json;  // the summary as JSON (config/schema/)
  // Prometheus metrics (README "Metrics and alerts"): a textfile for node_exporter, GET /metrics.
  std::optional<std::filesystem::path> metrics_file;
  std::optional<std::string> metrics_listen;  // HOST:PORT, :PORT or PORT (127.0.0.1); port 0: any free one
  double metrics_interval_seconds = 15;       // between writes of metrics_file

  // --wait-ready: after the summary, track the VODs of the ledger's succeeded jobs until they
  // are Ready (as `batchcut track`), for at most ready.timeout_seconds (--ready-timeout).
  bool wait_ready = false;
  TrackSettings ready;
};

// `batchcut track LEDGER`: reads every succeeded job's VOD on the manage API until it is
// Ready or Failed, or the timeout passes, appending each new observation to the ledger (whose
// lock it holds). The key, auth scheme, CA file, pacing and backoff come from `connection`
// (unset: the ledger's), as for a run; connection.timeout_seconds is per request.
// Exit 0 when every tracked VOD is Ready, 1 otherwise, 2 on bad usage or a fatal answer (401).
struct TrackCommand {
  std::filesystem::path ledger;
  TrackSettings track;
  RunCommand connection;
};

int track_command(const TrackCommand& command, std::ostream& out, std::ostream& err);

// "2h", "30s", "1h30m", "90" (seconds): nullopt when malformed.
std::optional<double> parse_duration_seconds(const std::string& text);

int run_command(const RunCommand& command, std::ostream& out, std::ostream& err);
int validate_command(const std::filesystem::path& manifest, ManifestFormat format,
                     std::ostream& out, std::ostream& err);
// `status` and `export` read one ledger or several (the shards of one manifest) as one: a job
// found in more than one ledger is reported on `err`, naming them, and counted once, with its
// state from the ledger where it got furthest: succeeded, else in_doubt (a cut may exist),
// else failed, else retry_exhausted, else pending; on a tie, the ledger named first.

// Prints one row per job (csv or jsonl); with `as_manifest`, the jobs in `states` as a new
// manifest (csv or yaml) for a person to edit and run.
// `states` empty: every job for rows, failed/retry_exhausted/pending for a manifest.
int export_command(const std::vector<std::filesystem::path>& ledgers, const std::string& format,
                   bool as_manifest, const std::vector<JobState>& states, std::ostream& out,
                   std::ostream& err);

// "failed,in_doubt" -> states; nullopt (and a message in `error`) for an unknown name.
std::optional<std::vector<JobState>> parse_states(const std::string& list, std::string& error);

// --deadline: an ISO 8601 time, HH:MM in local time (the next one to come), or a duration
// such as 90m, 2h or 1h30m.
std::optional<std::chrono::system_clock::time_point> parse_deadline(
    const std::string& text, std::chrono::system_clock::time_point now);
// Jobs per state, for a person, or with `json` as one JSON object (config/schema/status.schema.json).
int status_command(const std::vector<std::filesystem::path>& ledgers, bool json, std::ostream& out,
                   std::ostream& err);

// Starts the emulator in-process (TLS, a little fault injection) and runs `manifest`
// against it, with the ledger in `work_dir`.
int demo_command(const std::filesystem::path& manifest, const std::filesystem::path& work_dir,
                 std::ostream& out, std::ostream& err);

}  // namespace batchcut
