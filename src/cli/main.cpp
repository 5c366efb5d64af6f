// batchcut's command line: parses arguments, then calls the core (batchcut/app.hpp).
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include <unistd.h>

#include "batchcut/app/app.hpp"
#include "batchcut/ops/metrics.hpp"
#include "batchcut/ops/log.hpp"
#include "batchcut/ops/report.hpp"
#include "batchcut/vod/vod.hpp"
#include "config_file.hpp"

namespace fs = std::filesystem;
using namespace batchcut;

namespace {

// config/examples/demo.yaml: beside the working directory when run from a checkout, else
// in the source tree this binary was built from, else where it was installed.
fs::path find_demo_manifest() {
  std::error_code ec;
  const fs::path installed = fs::read_symlink("/proc/self/exe", ec).parent_path().parent_path() /
                             "share/doc/batchcut/examples/demo.yaml";  // cmake --install, the .deb
  for (fs::path candidate : {fs::path("config/examples/demo.yaml"),
                             fs::path(BATCHCUT_SOURCE_DIR) / "config/examples/demo.yaml", installed}) {
    if (fs::exists(candidate)) return candidate;
  }
  return fs::path(BATCHCUT_SOURCE_DIR) / "config/examples/demo.yaml";
}

// Flags whose values need converting after parsing.
struct RunFlags {
  std::string auth_scheme;
  bool no_sync = false;
  bool no_reconcile = false;
  std::string halt_rate;
  std::string states;
  std::size_t halt_failures = 0;
};

// What the run shows while it goes and leaves behind: progress, logs, the summary JSON.
void add_view_options(CLI::App* cmd, RunCommand& run) {
  cmd->add_option("--progress", run.progress, "auto (a bar on a terminal, else log lines), bar, log or none")
      ->check(CLI::IsMember({"auto", "bar", "log", "none"}))
      ->capture_default_str();
  cmd->add_option("--progress-interval", run.progress_interval_seconds, "Seconds between progress log lines")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--log-level", run.log_level, "trace, debug, info, warn, error, critical or off (default: $BATCHCUT_LOG, else info)");
  cmd->add_flag_function("-v,--verbose", [&run](std::int64_t n) { run.verbosity += static_cast<int>(std::max<std::int64_t>(n, 0)); },
                         "More detail in the log (-v: debug, one line per attempt; -vv: trace; =false: none)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_flag_function("-q,--quiet", [&run](std::int64_t n) { run.verbosity -= static_cast<int>(std::max<std::int64_t>(n, 0)); },
                         "Less in the log (-q: warnings and errors only; -qq: errors only)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--log-format", run.log_format, "text, or json (one object per line)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd->add_option("--log-file", run.log_file, "Write the log to this file instead of stderr");
  cmd->add_option("--summary-json", run.summary_json, "Also write the summary to this file as JSON (config/schema/summary.schema.json)");
  cmd->add_option("--metrics-file", run.metrics_file, "Write Prometheus metrics to this file (node_exporter textfile), every --metrics-interval and at exit");
  cmd->add_option("--metrics-listen", run.metrics_listen, "Serve GET /metrics on HOST:PORT during the run (host 127.0.0.1 by default; port 0: a free one)")
      ->check([](const std::string& v) {
        std::string error;
        return parse_listen_address(v, error) ? std::string() : error;
      });
  cmd->add_option("--metrics-interval", run.metrics_interval_seconds, "Seconds between writes of --metrics-file")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
}

// How fast requests go: `run`, `replay` and `track` share these.
void add_pacing_options(CLI::App* cmd, RunCommand& run) {
  cmd->add_option("--concurrency", run.concurrency, "Requests in flight at most")->capture_default_str();
  cmd->add_option("--rate", run.rate, "Requests per second, all workers together (0: unlimited)")->capture_default_str();
  cmd->add_option("--burst", run.burst, "Token bucket size")->capture_default_str();
}

// Who may be trusted and how the key goes: `run`, `replay` and `track` share these.
void add_key_options(CLI::App* cmd, RunCommand& run, RunFlags& flags) {
  cmd->add_option("--ca-file", run.ca_file, "PEM file of extra trusted CAs (default: the ledger's)");
  cmd->add_flag("--allow-insecure-http", run.allow_insecure_http, "Allow http:// to a host other than loopback (sends the key in clear)");
  cmd->add_flag("--insecure", run.insecure,
                "Do not verify the server's certificate (warns on every run; command line only)");
  cmd->add_option("--auth-scheme", flags.auth_scheme,
                  "Authorization: 'Bearer KEY' (bearer) or 'KEY' (raw); default: the ledger's, else bearer")
      ->check(CLI::IsMember({"bearer", "raw"}));
  cmd->add_option("--api-key-file", run.api_key_file, "File whose first line is the API key (else $VP_API_KEY)");
}

void add_backoff_options(CLI::App* cmd, RunCommand& run) {
  cmd->add_option("--backoff-base", run.backoff_base_seconds, "Seconds: first retry waits up to this (full jitter)")->capture_default_str();
  cmd->add_option("--backoff-cap", run.backoff_cap_seconds, "Seconds: no retry waits longer (except for Retry-After)")->capture_default_str();
  cmd->add_option("--max-retry-after", run.max_retry_after_seconds,
                  "Seconds: the longest Retry-After honoured; a longer one is a failed attempt, not a pause")
      ->capture_default_str();
  cmd->add_option("--seed", run.seed, "Seed for the backoff jitter (0: random)")->capture_default_str();
}

// A duration flag: 2h, 30s, 1h30m or plain seconds.
CLI::Option* add_duration_option(CLI::App* cmd, const std::string& name, double& seconds, const std::string& help) {
  return cmd
      ->add_option_function<std::string>(
          name, [&seconds](const std::string& v) { seconds = *parse_duration_seconds(v); }, help)
      ->check([](const std::string& v) {
        return parse_duration_seconds(v) ? std::string() : "expected a duration such as 2h, 30s or 1h30m, or seconds";
      });
}

// Where VODs are read and how they are followed (`track`, and `run --wait-ready`).
void add_track_options(CLI::App* cmd, TrackSettings& t) {
  cmd->add_option("--manage-base-url", t.manage_base_url,
                  std::string("The manage API, where VODs are read and lost answers looked up (default: ") +
                      default_manage_base_url + " for VP's livestream API, else the --base-url's server)");
  add_duration_option(cmd, "--poll-interval", t.poll_interval_seconds, "Between reads of a VOD still processing")
      ->default_str("30s");
  cmd->add_option("--duration-tolerance", t.duration_tolerance_seconds,
                  "Seconds a VOD's duration may differ from its cut's range (default: max(2, 1% of the range))")
      ->check(CLI::NonNegativeNumber);
}

// The connection, pacing and retry options `run` and `replay` share.
void add_run_options(CLI::App* cmd, RunCommand& run, RunFlags& flags) {
  add_view_options(cmd, run);
  cli::add_config_option(cmd);  // each of these options is also a config key and a BATCHCUT_* variable
  cmd->add_option("--base-url", run.base_url,
                  "API base URL (default: the one the ledger was made with, else https://livestream.vp.gjirafa.tech)");
  cmd->add_flag("--retarget", run.retarget, "Send to a --base-url other than the one the ledger was made with");
  add_pacing_options(cmd, run);
  cmd->add_option("--max-attempts", run.max_attempts, "Stop-and-cut attempts per job, first included")->capture_default_str();
  cmd->add_option("--timeout", run.timeout_seconds, "Seconds per attempt")->capture_default_str();
  add_key_options(cmd, run, flags);
  cmd->add_flag("--dry-run", run.dry_run, "Validate and print the requests; send nothing");
  cmd->add_flag("--ledger-sync-none", flags.no_sync, "Do not fsync the ledger (faster; a crash may lose records)");
  cmd->add_flag("--no-reconcile", flags.no_reconcile, "Retry in-doubt attempts without reading the video's state first");
  cmd->add_option("--reconcile-delay", run.reconcile_delay_seconds, "Seconds to let an in-doubt attempt settle before reading the video's state")->capture_default_str();
  cmd->add_option("--lookup-clock-skew", run.lookup_clock_skew_seconds,
                  "Seconds before the first cut a VOD may be inserted and still be taken as a lost answer's (the server's clock may be behind)")
      ->capture_default_str();
  cmd->add_option("--retry-budget", run.retry_budget_percent, "Percent of in-flight slots retries may hold")->capture_default_str();
  cmd->add_option("--halt-after-failures", flags.halt_failures, "Stop after N failed attempts")->capture_default_str();
  cmd->add_option("--halt-after-failure-rate", flags.halt_rate, "Stop when P% of the last --halt-window attempts failed");
  cmd->add_option("--halt-window", run.halt_window, "Attempts the failure rate is measured over")->capture_default_str();
  cmd->add_option("--deadline", run.deadline, "Dispatch nothing new after: ISO time, HH:MM (local) or a duration (2h)");
  cmd->add_option("--drain-timeout", run.drain_timeout_seconds, "Seconds to wait for requests in flight after SIGINT/SIGTERM")->capture_default_str();
  add_backoff_options(cmd, run);
  cmd->add_option("--shard", run.shard,
                  "K/N: take only shard K of N of the jobs (0-based, 0 <= K < N; split by job identity), "
                  "into its own ledger NAME.shard-K-of-N.ledger.jsonl");
  cmd->add_option("--shards", run.shards,
                  "N: shard as --shard K/N with K from $JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs, 0-based)");
  cmd->add_flag("--wait-ready", run.wait_ready,
                "After the run, follow its VODs until they are Ready (as batchcut track), for at most --ready-timeout");
  add_duration_option(cmd, "--ready-timeout", run.ready.timeout_seconds, "With --wait-ready: give up on VODs still processing after this")
      ->default_str("2h");
  add_track_options(cmd, run.ready);
}

// Returns false (with a message) when a converted flag is bad.
bool finish_run_options(RunCommand& run, const RunFlags& flags) {
  if (run.insecure)  // every run, on stderr, whatever the log level
    std::cerr << "batchcut: WARNING: --insecure: the server's certificate is not verified; anyone on the way "
                 "can pose as the server and read the API key\n";
  if (!flags.auth_scheme.empty()) run.auth_scheme = parse_auth_scheme(flags.auth_scheme);
  if (flags.no_sync) run.ledger_sync = LedgerSync::none;
  run.reconcile = !flags.no_reconcile;
  if (flags.halt_failures) run.halt_after_failures = flags.halt_failures;
  if (!flags.halt_rate.empty()) {
    std::string v = flags.halt_rate;
    if (v.back() == '%') v.pop_back();
    try {
      std::size_t used = 0;
      const double pct = std::stod(v, &used);
      if (used != v.size()) throw std::invalid_argument(v);
      run.halt_after_failure_rate = pct / 100.0;
    } catch (const std::exception&) {
      std::cerr << "batchcut: --halt-after-failure-rate " << flags.halt_rate << ": expected a percentage such as 50%\n";
      return false;
    }
  }
  if (!flags.states.empty()) {
    std::string error;
    auto states = parse_states(flags.states, error);
    if (!states) {
      std::cerr << "batchcut: --states: " << error << "\n";
      return false;
    }
    run.replay_states = *states;
  }
  return true;
}

// How this command was typed, to print as the command to run again. The key is never an
// argument; a URL's credentials are masked.
std::string command_line_of(int argc, char** argv) {
  std::string line = "batchcut";
  for (int i = 1; i < argc; ++i) line += " " + shell_quote(without_url_credentials(argv[i]));
  return line;
}

void add_format_option(CLI::App* app, ManifestFormat& format) {
  app->add_option_function<std::string>(
         "--format",
         [&format](const std::string& v) { format = *parse_manifest_format(v); },
         "Manifest format (default: from the extension)")
      ->check(CLI::IsMember({"yaml", "yml", "csv"}));
}

}  // namespace

int main(int argc, char** argv) {
  // A closed stdout or stderr (a pipe whose reader went away) must not kill a run mid-batch:
  // writes to it fail quietly and the ledger still gets everything. Likewise a ledger over
  // the file size limit is a write error, reported with the ids it could not hold, not a crash.
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGXFSZ, SIG_IGN);
  // Named, so usage lines say "batchcut", not the path it was started by.
  CLI::App app{"batchcut: stop live streams and cut them into VODs, in bulk, exactly once", "batchcut"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "batchcut " BATCHCUT_VERSION);
  // As with most tools, a later value of a repeated option wins (scripts append overrides).
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);

  // run
  RunCommand run;
  RunFlags run_flags;
  auto* run_cmd = app.add_subcommand("run", "Run a manifest against the API, recording a ledger");
  run_cmd->add_option("manifest", run.manifest, "YAML or CSV manifest")->required();
  add_format_option(run_cmd, run.format);
  run_cmd->add_option("--ledger", run.ledger, "Ledger file (default: beside the manifest, NAME.ledger.jsonl)");
  run_cmd->add_flag("--allow-changed", run.allow_changed, "Send jobs whose range or visibility changed since the ledger recorded them");
  add_run_options(run_cmd, run, run_flags);

  // plan
  RunCommand plan;
  RunFlags plan_flags;
  plan.plan_only = true;
  auto* plan_cmd = app.add_subcommand("plan", "Say what a run would send, skip and refuse, how long it would take, "
                                              "and whether it fits --deadline; send nothing");
  plan_cmd->add_option("manifest", plan.manifest, "YAML or CSV manifest")->required();
  add_format_option(plan_cmd, plan.format);
  plan_cmd->add_option("--ledger", plan.ledger, "Ledger file (default: beside the manifest, NAME.ledger.jsonl)");
  plan_cmd->add_flag("--allow-changed", plan.allow_changed, "Send jobs whose range or visibility changed since the ledger recorded them");
  plan_cmd->add_option("--expected-latency", plan.expected_latency_seconds, "Seconds one request is expected to take, for the estimate")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  add_run_options(plan_cmd, plan, plan_flags);

  // replay
  RunCommand replay;
  RunFlags replay_flags;
  fs::path replay_ledger;
  auto* replay_cmd = app.add_subcommand("replay", "Re-run the jobs of a ledger that are in the given states");
  replay_cmd->add_option("ledger", replay_ledger, "Ledger file")->required();
  replay_cmd->add_option("--states", replay_flags.states, "Comma-separated states to replay")
      ->default_str("retry_exhausted,pending");
  add_run_options(replay_cmd, replay, replay_flags);

  // track
  TrackCommand track;
  RunFlags track_flags;
  auto* track_cmd = app.add_subcommand("track", "Follow the VODs of a ledger's succeeded jobs until they are Ready");
  track_cmd->add_option("ledger", track.ledger, "Ledger file")->required();
  add_duration_option(track_cmd, "--timeout", track.track.timeout_seconds, "Give up on VODs still processing after this")
      ->default_str("2h");
  add_track_options(track_cmd, track.track);
  add_pacing_options(track_cmd, track.connection);
  add_key_options(track_cmd, track.connection, track_flags);
  add_backoff_options(track_cmd, track.connection);
  track_cmd->add_option("--request-timeout", track.connection.timeout_seconds, "Seconds per request")->capture_default_str();
  track_cmd->add_flag("--ledger-sync-none", track_flags.no_sync, "Do not fsync the ledger (faster; a crash may lose records)");

  // validate
  fs::path validate_manifest;
  ManifestFormat validate_format = ManifestFormat::detect;
  auto* validate_cmd = app.add_subcommand("validate", "Validate a manifest; send nothing");
  validate_cmd->add_option("manifest", validate_manifest, "YAML or CSV manifest")->required();
  add_format_option(validate_cmd, validate_format);

  // export
  std::vector<fs::path> export_ledgers;
  std::string export_format;
  bool export_manifest = false;
  std::string export_states;
  auto* export_cmd = app.add_subcommand("export", "Print one row per job from a ledger, or the jobs as a manifest");
  export_cmd->add_option("ledgers", export_ledgers, "Ledger files (several, e.g. the shards of one manifest, are merged)")
      ->required()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  export_cmd->add_option("--format", export_format, "csv or jsonl (rows); csv or yaml (--manifest)")
      ->check(CLI::IsMember({"csv", "jsonl", "yaml"}));
  export_cmd->add_flag("--manifest", export_manifest, "Write the selected jobs as a manifest to edit and run");
  export_cmd->add_option("--states", export_states,
                         "Comma-separated states to select (default: all rows; with --manifest: "
                         "failed,retry_exhausted,pending)");

  // status
  std::vector<fs::path> status_ledgers;
  bool status_json = false;
  auto* status_cmd = app.add_subcommand("status", "Count the jobs in each state");
  status_cmd->add_option("ledgers", status_ledgers, "Ledger files (several, e.g. the shards of one manifest, are merged)")
      ->required()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  status_cmd->add_flag("--json", status_json, "One JSON object (schema: config/schema/status.schema.json)");

  // demo
  fs::path demo_dir = fs::temp_directory_path() / "batchcut-demo";
  fs::path demo_manifest;
  auto* demo_cmd = app.add_subcommand("demo", "Run the demo manifest against an in-process emulator");
  demo_cmd->add_option("--dir", demo_dir, "Where the demo writes its ledger")->capture_default_str();
  demo_cmd->add_option("--manifest", demo_manifest, "Manifest to run (default: config/examples/demo.yaml)");

  // config show: what `run` would use, and where each value comes from
  RunCommand shown;
  RunFlags shown_flags;
  auto* config_cmd = app.add_subcommand("config", "Show the effective configuration");
  config_cmd->require_subcommand(1);
  auto* show_cmd = config_cmd->add_subcommand(
      "show", "Print each run option's effective value and where it came from (flag, env, file:line, default)");
  add_run_options(show_cmd, shown, shown_flags);

  cli::Layers layers;
  try {
    layers = cli::parse_layered(app, argc, argv);
  } catch (const cli::ConfigError& e) {
    for (const auto& problem : e.problems()) std::cerr << problem.to_string() << "\n";
    return exit_usage;
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : exit_usage;
  }

  const std::string command_line = command_line_of(argc, argv);
  run.command_line = replay.command_line = command_line;
  run.stderr_is_terminal = replay.stderr_is_terminal = ::isatty(STDERR_FILENO) == 1;
  if (*run_cmd) {
    if (!finish_run_options(run, run_flags)) return exit_usage;
    return run_command(run, std::cout, std::cerr);
  }
  if (*plan_cmd) {
    if (!finish_run_options(plan, plan_flags)) return exit_usage;
    return run_command(plan, std::cout, std::cerr);
  }
  if (*replay_cmd) {
    if (!finish_run_options(replay, replay_flags)) return exit_usage;
    replay.replay_ledger = replay_ledger;
    return run_command(replay, std::cout, std::cerr);
  }
  if (*show_cmd) {
    if (!finish_run_options(shown, shown_flags)) return exit_usage;
    cli::print_effective(std::cout, *show_cmd, layers);
    return 0;
  }
  if (*track_cmd) {
    if (!finish_run_options(track.connection, track_flags)) return exit_usage;
    return track_command(track, std::cout, std::cerr);
  }
  if (*validate_cmd) return validate_command(validate_manifest, validate_format, std::cout, std::cerr);
  if (*export_cmd) {
    std::string error;
    auto states = parse_states(export_states, error);
    if (!states) {
      std::cerr << "batchcut: --states: " << error << "\n";
      return exit_usage;
    }
    if (export_format.empty()) export_format = "csv";
    if (!export_manifest && export_format == "yaml") {
      std::cerr << "batchcut: --format yaml goes with --manifest; rows are csv or jsonl\n";
      return exit_usage;
    }
    if (export_manifest && export_format == "jsonl") {
      std::cerr << "batchcut: a manifest is csv or yaml\n";
      return exit_usage;
    }
    return export_command(export_ledgers, export_format, export_manifest, *states, std::cout, std::cerr);
  }
  if (*status_cmd) return status_command(status_ledgers, status_json, std::cout, std::cerr);
  if (*demo_cmd) {
    if (demo_manifest.empty()) demo_manifest = find_demo_manifest();
    return demo_command(demo_manifest, demo_dir, std::cout, std::cerr);
  }
  return exit_usage;
}
