// `run` and `replay`: read everything, check everything, then send (README "How a run goes").
#include "batchcut/app/app.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <ctime>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <set>
#include <sstream>

#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/logger.h>

#include "app/common.hpp"
#include "app/track.hpp"
#include "batchcut/net/api.hpp"
#include "batchcut/net/loopback.hpp"
#include "batchcut/ops/log.hpp"
#include "batchcut/ops/metrics.hpp"
#include "batchcut/ops/progress.hpp"
#include "batchcut/ops/report.hpp"
#include "batchcut/run/plan.hpp"
#include "batchcut/run/runner.hpp"
#include "batchcut/run/shard.hpp"
#include "batchcut/util/plural.hpp"
#include "batchcut/util/time_util.hpp"

namespace batchcut {

namespace fs = std::filesystem;
using namespace app_detail;

// The key comes from a file or the environment, never from a flag's value.
std::optional<std::string> app_detail::load_api_key(const RunCommand& c, std::ostream& err) {
  if (c.api_key_override) return c.api_key_override;
  std::string key;
  if (c.api_key_file) {
    const std::string name = c.api_key_file->string();
    // As ssh does with a private key: a key file of one's own that group or others may read
    // is refused, for the key could already be in other hands. (A file someone else owns,
    // such as a secret Kubernetes or systemd mounts read-only for the service, is not ours
    // to fix.)
    struct stat st {};
    if (::stat(name.c_str(), &st) == 0 && st.st_uid == ::geteuid() && (st.st_mode & 077) != 0) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
      err << "batchcut: --api-key-file " << name << " can be read by group or others (mode " << mode
          << "); the key must be yours alone: chmod 600 " << name << "\n";
      return std::nullopt;
    }
    std::ifstream in(*c.api_key_file, std::ios::binary);
    if (!in) {
      err << "batchcut: cannot read --api-key-file " << name << "\n";
      return std::nullopt;
    }
    std::getline(in, key);
    if (!key.empty() && key.back() == '\r') key.pop_back();
    if (key.empty()) {
      err << "batchcut: --api-key-file " << c.api_key_file->string()
          << ": the first line is empty\n";
      return std::nullopt;
    }
  } else if (const char* env = std::getenv("VP_API_KEY"); env && *env) {
    key = env;
  } else {
    err << "batchcut: no API key: set VP_API_KEY or pass --api-key-file FILE\n";
    return std::nullopt;
  }
  while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
  for (unsigned char ch : key) {
    if (ch < 0x21 || ch > 0x7e) {  // header injection or a pasted newline; never echo the key
      err << "batchcut: the API key contains a character that cannot go in an HTTP header\n";
      return std::nullopt;
    }
  }
  return key;
}

namespace {

bool check_options(const RunCommand& c, std::ostream& err) {
  bool ok = true;
  auto bad = [&](const std::string& what) {
    err << "batchcut: " << what << "\n";
    ok = false;
  };
  if (c.concurrency < 1 || c.concurrency > 10000) bad("--concurrency must be 1..10000");
  if (!(c.rate >= 0)) bad("--rate must be >= 0 (0 means unlimited)");
  if (!(c.burst >= 1)) bad("--burst must be >= 1");
  if (c.max_attempts < 1 || c.max_attempts > 1000) bad("--max-attempts must be 1..1000");
  if (!(c.timeout_seconds > 0) || c.timeout_seconds > 3600) bad("--timeout must be in (0, 3600] seconds");
  if (!(c.retry_budget_percent > 0) || c.retry_budget_percent > 100) bad("--retry-budget must be in (0, 100]");
  if (c.halt_after_failures && *c.halt_after_failures == 0) bad("--halt-after-failures must be >= 1");
  if (c.halt_after_failure_rate && !(*c.halt_after_failure_rate > 0 && *c.halt_after_failure_rate <= 1))
    bad("--halt-after-failure-rate must be in (0%, 100%]");
  if (c.halt_window < 1) bad("--halt-window must be >= 1");
  if (!(c.drain_timeout_seconds >= 0)) bad("--drain-timeout must be >= 0");
  if (!(c.reconcile_delay_seconds >= 0) || c.reconcile_delay_seconds > 3600) bad("--reconcile-delay must be 0..3600 seconds");
  if (!(c.lookup_clock_skew_seconds >= 0) || c.lookup_clock_skew_seconds > 86400) bad("--lookup-clock-skew must be 0..86400 seconds");
  if (!(c.backoff_base_seconds > 0) || !(c.backoff_cap_seconds >= c.backoff_base_seconds))
    bad("--backoff-base must be > 0 and --backoff-cap >= --backoff-base");
  if (!(c.max_retry_after_seconds >= 0) || c.max_retry_after_seconds > 86400) bad("--max-retry-after must be 0..86400 seconds");
  if (c.ca_file && !fs::exists(*c.ca_file)) bad("--ca-file " + c.ca_file->string() + " does not exist");
  if (c.replay_states.empty()) bad("--states names no state");
  if (c.base_url && c.base_url->empty()) bad("--base-url is empty");
  for (auto st : c.replay_states)
    if (st == JobState::succeeded) bad("--states: succeeded jobs are never sent again (their VOD exists)");
  if (c.wait_ready) {  // checked now, not after an hour of cuts
    if (!(c.ready.timeout_seconds > 0)) bad("--ready-timeout must be > 0");
    if (!(c.ready.poll_interval_seconds > 0)) bad("--poll-interval must be > 0");
  }
  if (c.ready.manage_base_url) {  // lookups go there too, with or without --wait-ready
    std::string why;
    const auto manage = parse_base_url(*c.ready.manage_base_url, &why);
    if (!manage) bad("--manage-base-url: " + why);
    else if (!manage->tls && !c.allow_insecure_http)
      if (auto refusal = clear_text_refusal(manage->host, manage->port))
        bad("--manage-base-url http://" + manage->host + " would send the API key in clear text (" + *refusal +
            "); use https://, or pass --allow-insecure-http");
  }
  return ok;
}

std::chrono::milliseconds seconds_option(double s) {
  return std::chrono::milliseconds(static_cast<long long>(s * 1000));
}

// The level: --log-level, else $BATCHCUT_LOG, else info; then -v/-q move it.
std::shared_ptr<spdlog::logger> run_logger(const RunCommand& c, ProgressMode view, std::ostream& err) {
  std::string name = "info", source = "--log-level";
  if (c.log_level) name = *c.log_level;
  else if (const char* env = std::getenv("BATCHCUT_LOG"); env && *env) name = env, source = "BATCHCUT_LOG";
  const auto level = parse_log_level(name);
  if (!level) {
    err << "batchcut: " << source << (source == "--log-level" ? " " : "=") << name
        << ": unknown log level (trace, debug, info, warn, error, critical, off)\n";
    return nullptr;
  }
  if (c.log_format != "text" && c.log_format != "json") {
    err << "batchcut: --log-format " << c.log_format << ": expected text or json\n";
    return nullptr;
  }
  LogOptions o;
  o.level = static_cast<spdlog::level::level_enum>(
      std::clamp(static_cast<int>(*level) - c.verbosity, static_cast<int>(spdlog::level::trace),
                 static_cast<int>(spdlog::level::off)));
  o.format = c.log_format == "json" ? LogFormat::json : LogFormat::text;
  o.file = c.log_file;
  o.erase_bar = view == ProgressMode::bar || (view == ProgressMode::automatic && c.stderr_is_terminal);
  return make_logger(o, err);
}

std::string local_and_utc(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm local{}, utc{};
  localtime_r(&tt, &local);
  gmtime_r(&tt, &utc);
  char buf[96];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M %Z", &local);
  std::string text = buf;
  std::strftime(buf, sizeof buf, " (%Y-%m-%d %H:%M UTC)", &utc);
  return text + buf;
}

// What the run is about to do, before it does it.
// With --log-format json it goes through the log, so stderr holds only JSON lines.
void print_banner(const RunCommand& c, const Plan& plan, const std::string& base_url, const fs::path& ledger,
                  std::optional<std::chrono::system_clock::time_point> deadline, spdlog::logger& logger,
                  std::ostream& to) {
  std::ostringstream err;
  std::size_t kept = 0;
  for (const auto& [s, n] : plan.kept) kept += n;
  err << "batchcut " BATCHCUT_VERSION ": " << plan.todo.size() << " of " << counted(plan.total, "job") << " to send to " << base_url << " (" << kept
      << " settled earlier, " << plan.read_first << " to read back first)\n";
  err << "  rate " << (c.rate > 0 ? fmt::format("{:g}/s", c.rate) : std::string("unlimited")) << ", concurrency "
      << c.concurrency << ", at most " << c.max_attempts << " attempts per job; ledger " << ledger.string() << "\n";
  if (deadline) {
    const auto now = std::chrono::system_clock::now();
    err << "  deadline " << local_and_utc(*deadline) << ", in "
        << duration_text(std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - now));
    const std::time_t a = std::chrono::system_clock::to_time_t(now), b = std::chrono::system_clock::to_time_t(*deadline);
    std::tm today{}, then{};
    localtime_r(&a, &today);
    localtime_r(&b, &then);
    if (c.deadline && c.deadline->size() == 5 && c.deadline->at(2) == ':' && then.tm_yday != today.tm_yday)
      err << " (" << *c.deadline << " has passed today, so this is tomorrow's)";
    err << "\n";
  }
  if (c.log_format != "json") {
    to << err.str();
    return;
  }
  std::istringstream lines(err.str());
  for (std::string line; std::getline(lines, line);) logger.info("{}", line);
}

int exit_status_for(const RunSummary& run, bool all_succeeded) {
  if (run.ledger_failure) return exit_aborted;
  switch (run.stop) {
    case StopReason::fatal:
    case StopReason::halted:
    case StopReason::ledger: return exit_aborted;
    case StopReason::deadline: return exit_deadline;
    case StopReason::signal: return 128 + run.signal;
    case StopReason::none: break;
  }
  return all_succeeded ? exit_ok : exit_some_failed;
}

// A base URL other than the ledger's is refused unless --retarget: a ledger made against the
// emulator must not send real cuts because a flag was forgotten.
std::optional<RunTarget> resolve_target(const RunCommand& c, const std::optional<Shard>& shard,
                                        const LedgerContents& known, const fs::path& ledger_path,
                                        std::ostream& err) {
  RunTarget t;
  if (known.target) t = *known.target;
  else t.base_url = default_base_url;
  // A ledger holds one shard's jobs: another shard (or none) on it would skip jobs silently,
  // or cut the other shards' jobs a second time. A replay keeps the ledger's shard.
  if (known.target && (shard || !c.replay_ledger) && known.target->shard != shard) {
    auto name = [](const std::optional<Shard>& s) { return s ? "shard " + to_string(*s) : std::string("no shard"); };
    err << "batchcut: the ledger " << ledger_path.string() << " was made by a run of "
        << name(known.target->shard) << ", not " << name(shard)
        << "; give each shard its own ledger (the default when sharded: NAME.shard-K-of-N.ledger.jsonl)\n";
    return std::nullopt;
  }
  if (shard) t.shard = shard;
  if (c.base_url) {
    auto given = parse_base_url(*c.base_url);
    if (!given) {  // reported by the caller, without echoing it (it may hold credentials)
      t.base_url = *c.base_url;
      return t;
    }
    auto recorded = known.target ? parse_base_url(known.target->base_url) : std::nullopt;
    const std::string now = given->to_string();
    if (known.target && recorded && recorded->to_string() != now && !c.retarget) {
      err << "batchcut: the ledger " << ledger_path.string() << " was made against "
          << recorded->to_string() << ", not " << now
          << " (--base-url); pass --retarget to send its jobs there\n";
      return std::nullopt;
    }
    t.base_url = now;
  }
  if (c.auth_scheme) t.auth_scheme = *c.auth_scheme == AuthScheme::raw ? "raw" : "bearer";
  if (c.ca_file) t.ca_file = c.ca_file->string();
  return t;
}

// What a dry run prints for one job: the requests it would send first.
void print_dry_run_job(std::ostream& out, const BaseUrl& base, const RunJob& job) {
  const auto path = [&](const std::string& target) { return base.to_string() + target.substr(base.path_prefix.size()); };
  if (reads_first(job)) {
    if (job.spec.kind == JobKind::clip)
      out << "(in doubt: VODs titled as this clip are looked up first on the manage API; the cut below is sent "
             "only if none is found)\n";
    else
      out << "GET " << path(live_video_target(base, job.spec))
          << "   (in doubt: the state is read first; the cut below is sent only if it can still be made)\n";
  }
  out << "POST " << path(cut_target(base, job.spec)) << "\n" << cut_body(job.spec) << "\n";
}

void print_dry_run_summary(std::ostream& err, const Plan& plan, std::size_t to_send, const BaseUrl& base) {
  std::size_t kept = 0;
  for (const auto& [s, n] : plan.kept) kept += n;
  err << "batchcut: dry run: " << counted(to_send, "job") << " would be sent to " << base.to_string() << " ("
      << plan.read_first << " after reading their state, " << plan.changed << " changed), " << kept
      << " settled already; nothing was sent\n";
}

// A dry run of a manifest, streamed: read once to check it and plan it, then again to print
// each request, so that not even a manifest of millions of jobs is ever held in memory.
int dry_run_streamed(const RunCommand& c, const std::optional<Shard>& shard, const LedgerContents& known,
                     const BaseUrl& base, std::ostream& out, std::ostream& err) {
  const std::string name = c.manifest.string();
  std::size_t in_manifest = 0, to_send = 0;
  const auto pass = [&](const std::function<void(const RunJob&)>& each) {
    RunPlanner planner(name, known, c.allow_changed, false);
    in_manifest = to_send = 0;
    Manifest m = scan_manifest(c.manifest, c.format, [&](const JobSpec& j) {
      ++in_manifest;
      if (shard && !in_shard(j, *shard)) return;
      if (const RunJob* job = planner.add(j)) {
        ++to_send;
        if (each) each(*job);
      }
    });
    return std::pair{std::move(m), std::move(planner.plan())};
  };
  const auto [manifest, plan] = pass({});
  if (!print_manifest_diagnostics(manifest, c.manifest, err)) return exit_usage;
  if (shard)
    err << "batchcut: shard " << to_string(*shard) << " (0-based): " << plan.total << " of the " << in_manifest
        << " jobs in " << name << "\n";
  if (!plan.refused.empty()) {
    print_diagnostics(plan.refused, err);
    err << "batchcut: nothing sent\n";
    return exit_usage;
  }
  pass([&](const RunJob& job) { print_dry_run_job(out, base, job); });
  print_dry_run_summary(err, plan, to_send, base);
  return exit_ok;
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> parse_deadline(
    const std::string& text, std::chrono::system_clock::time_point now) {
  using namespace std::chrono;
  if (text.empty()) return std::nullopt;
  // HH:MM, local time: the next time the clock shows it.
  if (text.size() == 5 && text[2] == ':' && std::isdigit(static_cast<unsigned char>(text[0]))) {
    int hh = 0, mm = 0;
    if (std::from_chars(text.data(), text.data() + 2, hh).ec != std::errc{} ||
        std::from_chars(text.data() + 3, text.data() + 5, mm).ec != std::errc{} || hh > 23 || mm > 59)
      return std::nullopt;
    const std::time_t t = system_clock::to_time_t(now);
    std::tm local{};
    localtime_r(&t, &local);
    local.tm_hour = hh;
    local.tm_min = mm;
    local.tm_sec = 0;
    local.tm_isdst = -1;
    auto when = system_clock::from_time_t(std::mktime(&local));
    if (when <= now) {
      local.tm_mday += 1;
      local.tm_isdst = -1;
      when = system_clock::from_time_t(std::mktime(&local));
    }
    return when;
  }
  // A duration: one or more NUMBER UNIT pairs (ms, s, m, h), e.g. 1h30m.
  if (std::isdigit(static_cast<unsigned char>(text[0])) && text.find_first_of("T-") == std::string::npos) {
    milliseconds total{0};
    std::size_t i = 0;
    while (i < text.size()) {
      std::size_t j = i;
      while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]))) ++j;
      if (j == i) return std::nullopt;
      if (j - i > 9) return std::nullopt;  // more than 31 years in any unit
      long long n = std::stoll(text.substr(i, j - i));
      std::size_t k = j;
      while (k < text.size() && std::isalpha(static_cast<unsigned char>(text[k]))) ++k;
      const std::string unit = text.substr(j, k - j);
      if (unit == "ms") total += milliseconds(n);
      else if (unit == "s") total += seconds(n);
      else if (unit == "m" || unit == "min") total += minutes(n);
      else if (unit == "h") total += hours(n);
      else return std::nullopt;
      i = k;
    }
    if (total > std::chrono::hours(24 * 366)) return std::nullopt;
    return now + total;
  }
  if (auto t = parse_iso8601(text)) return time_point_cast<system_clock::duration>(*t);
  return std::nullopt;
}


int run_command(const RunCommand& c, std::ostream& out, std::ostream& err) {
  const bool replay = c.replay_ledger.has_value();
  // 1. Everything is checked before anything is sent.
  if (!check_options(c, err)) return exit_usage;
  const auto view_mode = parse_progress_mode(c.progress);
  if (!view_mode) {
    err << "batchcut: --progress " << c.progress << ": expected auto, bar, log or none\n";
    return exit_usage;
  }
  const auto logger = run_logger(c, *view_mode, err);
  if (!logger) return exit_usage;
  std::optional<std::chrono::system_clock::time_point> deadline;
  if (c.deadline) {
    deadline = parse_deadline(*c.deadline, std::chrono::system_clock::now());
    if (!deadline) {
      err << "batchcut: --deadline " << *c.deadline
          << ": expected an ISO 8601 time, HH:MM or a duration such as 2h\n";
      return exit_usage;
    }
  }
  Manifest manifest;
  // A dry run of a manifest streams it (dry_run_streamed), once the ledger is read.
  const bool streamed = c.dry_run && !replay;
  if (!replay) {
    if (!streamed) {
      manifest = load_manifest(c.manifest, c.format);
      if (!print_manifest_diagnostics(manifest, c.manifest, err)) return exit_usage;
    }
  } else if (!fs::exists(*c.replay_ledger)) {
    err << "batchcut: " << c.replay_ledger->string() << ": no such ledger\n";
    return exit_usage;
  }
  const char* completion_index = std::getenv("JOB_COMPLETION_INDEX");
  const ShardChoice sharding =
      resolve_shard(c.shard, c.shards, completion_index ? std::optional<std::string>(completion_index) : std::nullopt);
  if (!sharding.ok()) {
    err << "batchcut: " << sharding.error << "\n";
    return exit_usage;
  }
  const std::optional<Shard>& shard = sharding.shard;
  const fs::path ledger_path = replay ? *c.replay_ledger
                               : c.ledger ? *c.ledger
                               : shard    ? sharded_ledger_path(c.manifest, *shard)
                                          : default_ledger_path(c.manifest);

  // 2. The ledger: lock it (not for a dry run) and read what earlier runs did. A ledger that
  //    does not exist yet is created only once everything else has been checked.
  std::unique_ptr<LedgerWriter> ledger;
  const bool existed = fs::exists(ledger_path);
  auto open_ledger = [&]() -> bool {
    try {
      ledger = LedgerWriter::open(ledger_path, c.ledger_sync);
      return true;
    } catch (const LedgerError& e) {
      err << "batchcut: " << e.what() << "\n";
      return false;
    }
  };
  if (existed && !c.dry_run && !c.plan_only && !open_ledger()) return exit_usage;
  const LedgerContents known = existed ? read_ledger(ledger_path) : LedgerContents{};
  if (!known.errors.empty()) {
    print_diagnostics(known.errors, err);
    err << "batchcut: the ledger " << ledger_path.string() << " is damaged; nothing sent (it was not changed)\n";
    return exit_usage;
  }

  // 3. Where to send, and whether the key may go there.
  const auto target = resolve_target(c, shard, known, ledger_path, err);
  if (!target) return exit_usage;
  std::string url_error;
  const auto base = parse_base_url(target->base_url, &url_error);
  if (!base) {
    // The message names the problem without repeating the URL, which may hold a secret.
    err << "batchcut: --base-url: " << url_error << "\n";
    return exit_usage;
  }
  if (!base->tls && !c.allow_insecure_http) {
    if (auto why = clear_text_refusal(base->host, base->port)) {
      err << "batchcut: --base-url http://" << base->host << " would send the API key in clear text ("
          << *why << "); use https://, or pass --allow-insecure-http\n";
      return exit_usage;
    }
  }
  if (target->ca_file && !fs::exists(*target->ca_file)) {
    err << "batchcut: the CA file " << *target->ca_file << (c.ca_file ? "" : " (named by the ledger)")
        << " does not exist; pass --ca-file\n";
    return exit_usage;
  }

  // 4. Which jobs to send: the one plan that run, replay and dry run share.
  if (streamed) return dry_run_streamed(c, shard, known, *base, out, err);
  const std::set<JobState> replay_states(c.replay_states.begin(), c.replay_states.end());
  if (shard && !replay) {
    const std::size_t all = manifest.jobs.size();
    std::erase_if(manifest.jobs, [&](const JobSpec& j) { return !in_shard(j, *shard); });
    err << "batchcut: shard " << to_string(*shard) << " (0-based): " << manifest.jobs.size() << " of the "
        << all << " jobs in " << c.manifest.string() << "\n";
  }
  Plan plan = replay ? plan_replay(known, replay_states)
                     : plan_run(manifest.jobs, c.manifest.string(), known, c.allow_changed);
  std::vector<JobSpec>().swap(manifest.jobs);  // the plan holds what is sent: no second copy for the run
  if (c.plan_only) return print_plan(c, plan, base->to_string(), deadline, out, err);
  if (!plan.refused.empty()) {
    print_diagnostics(plan.refused, err);
    err << "batchcut: nothing sent\n";
    return exit_usage;
  }
  if (c.dry_run) {  // of a replay: the jobs come from the ledger, which is in memory anyway
    for (const auto& job : plan.todo) print_dry_run_job(out, *base, job);
    print_dry_run_summary(err, plan, plan.todo.size(), *base);
    return exit_ok;
  }
  if (replay && plan.todo.empty()) {
    err << "batchcut: " << ledger_path.string() << ": no job is in the states to replay\n";
    return exit_ok;
  }

  auto key = load_api_key(c, err);
  if (!key) return exit_usage;
  redact_in_logs(*key);  // whatever a server echoes, the log never shows the key
  // The metrics endpoint and file come up before the ledger is touched: a port in use stops
  // the run with nothing written.
  RunMetrics metrics({c.metrics_file, c.metrics_listen, seconds_option(c.metrics_interval_seconds)}, err);
  if (!metrics.start(plan.kept, plan.total)) return exit_usage;
  if (!existed) {
    if (!open_ledger()) return exit_usage;
    if (fs::file_size(ledger_path) != 0) {  // another run created it since we looked
      err << "batchcut: the ledger " << ledger_path.string() << " appeared while starting; run again\n";
      return exit_usage;
    }
  }

  // 5. Record where this run sends and the jobs it takes on, then run.
  if (known.torn_tail) {
    err << "batchcut: repairing a torn last line in " << ledger_path.string() << "\n";
    try {
      ledger->truncate_torn_tail(known.torn_tail_offset);
    } catch (const LedgerError& e) {
      err << "batchcut: " << e.what() << "\n";
      return exit_usage;
    }
  }
  if (!plan.todo.empty()) {
    append_run(*ledger, *target);
    for (const std::size_t at : plan.job_records) append_job(*ledger, plan.todo[at].spec);
  }

  RunOptions options;
  options.base = *base;
  options.concurrency = c.concurrency;
  options.rate = c.rate;
  options.burst = c.burst;
  options.max_attempts = c.max_attempts;
  options.timeout = seconds_option(c.timeout_seconds);
  options.seed = c.seed;
  options.backoff.base = seconds_option(c.backoff_base_seconds);
  options.backoff.cap = seconds_option(c.backoff_cap_seconds);
  options.backoff.max_retry_after = seconds_option(c.max_retry_after_seconds);
  options.reconcile = c.reconcile;
  options.reconcile_delay = seconds_option(c.reconcile_delay_seconds);
  // Lookups of a lost answer's VOD go to the manage API (vod/lookup.hpp).
  options.manage_base = parse_base_url(c.ready.manage_base_url.value_or(default_manage_base_for(base->to_string())));
  options.lookup_clock_skew = seconds_option(c.lookup_clock_skew_seconds);
  options.retry_budget_percent = c.retry_budget_percent;
  options.halt_after_failures = c.halt_after_failures;
  options.halt_after_failure_rate = c.halt_after_failure_rate;
  options.halt_window = c.halt_window;
  if (deadline)
    options.deadline = RunClock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                             *deadline - std::chrono::system_clock::now());
  options.drain_timeout = seconds_option(c.drain_timeout_seconds);
  options.handle_signals = c.handle_signals;
  TransportOptions transport;
  transport.base = *base;
  if (target->ca_file) transport.ca_file = fs::path(*target->ca_file);
  transport.verify_peer = !c.insecure;
  transport.authorization =
      authorization_value(target->auth_scheme == "raw" ? AuthScheme::raw : AuthScheme::bearer, *key);
  transport.loopback_only = !base->tls && !c.allow_insecure_http;

  ProgressView view(*view_mode, seconds_option(c.progress_interval_seconds), err, c.stderr_is_terminal, logger);
  const auto view_tick = view.tick_interval(), metrics_tick = metrics.tick_interval();
  options.tick_interval = view_tick.count() == 0 ? metrics_tick
                          : metrics_tick.count() == 0 ? view_tick : std::min(view_tick, metrics_tick);
  if (options.tick_interval.count() > 0)
    options.on_tick = [&view, &metrics](const RunSnapshot& s) { view.on_tick(s); metrics.on_tick(s); };
  print_banner(c, plan, base->to_string(), ledger_path, deadline, *logger, err);

  RunReport report;
  report.command = replay ? "replay" : "run";
  report.command_line = c.command_line;
  if (!replay) report.manifest = c.manifest;
  report.ledger = ledger_path;
  report.base_url = base->to_string();
  report.target_args = {"--base-url", report.base_url};
  if (target->ca_file) report.target_args.insert(report.target_args.end(), {"--ca-file", *target->ca_file});
  if (target->auth_scheme == "raw") report.target_args.insert(report.target_args.end(), {"--auth-scheme", "raw"});
  report.total = plan.total;
  report.kept = plan.kept;
  report.started = std::chrono::system_clock::now();
  try {
    report.run = run_jobs(options, transport, *ledger, std::move(plan.todo), logger);
  } catch (const std::exception& e) {  // before anything was sent: the CA file could not be loaded
    view.finish();
    err << "batchcut: " << e.what() << "\n";
    return exit_usage;
  }
  view.finish();
  report.ended = std::chrono::system_clock::now();
  const RunSummary& run = report.run;
  report.exit_status = exit_status_for(run, report.final_states()[JobState::succeeded] == plan.total);
  if (run.ledger_failure) {
    err << "batchcut: ledger write failed: " << *run.ledger_failure << "\n";
    for (const auto& u : run.unrecorded)
      err << "batchcut: NOT RECORDED: " << u.job << " succeeded with videoPublicId " << u.video_public_id << "\n";
  }
  print_report(report, out);
  metrics.finish(report);
  if (c.summary_json) {
    std::string why;
    if (!write_file_atomically(*c.summary_json, report_json(report), why))
      err << "batchcut: --summary-json: " << why << "\n";
  }
  // --wait-ready: the run's VODs (and any earlier run's not yet final), under the same lock.
  // Not after a stop (deadline, signal, 401): the operator asked for it to end.
  if (c.wait_ready && (report.exit_status == exit_ok || report.exit_status == exit_some_failed)) {
    try {
      ledger->flush();
    } catch (const LedgerError& e) {
      err << "batchcut: ledger write failed: " << e.what() << "\n";
      return exit_aborted;
    }
    const LedgerContents now = read_ledger(ledger_path);
    out << "\n";
    const auto outcome = track_ledger(c.ready, c, ledger_path, now, *ledger, out, err);
    if (report.exit_status != exit_ok) return report.exit_status;  // the run's own status wins
    switch (outcome) {
      case TrackOutcome::all_ready: return exit_ok;
      case TrackOutcome::not_all_ready: return exit_some_failed;
      case TrackOutcome::usage:
      case TrackOutcome::fatal: return exit_aborted;
    }
  }
  return report.exit_status;
}

}  // namespace batchcut
