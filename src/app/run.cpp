// `run` and `replay`: read everything, check everything, then send (README "How a run goes").
#include "batchcut/app/app.hpp"

#include <charconv>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <set>
#include <sstream>

#include "app/common.hpp"
#include "batchcut/net/api.hpp"
#include "batchcut/net/loopback.hpp"
#include "batchcut/run/plan.hpp"
#include "batchcut/run/runner.hpp"
#include "batchcut/run/shard.hpp"
#include "batchcut/util/time_util.hpp"

namespace batchcut {

namespace fs = std::filesystem;
using namespace app_detail;

namespace {

// The key comes from a file or the environment, never from a flag's value.
std::optional<std::string> load_api_key(const RunCommand& c, std::ostream& err) {
  if (c.api_key_override) return c.api_key_override;
  std::string key;
  if (c.api_key_file) {
    std::ifstream in(*c.api_key_file, std::ios::binary);
    if (!in) {
      err << "batchcut: cannot read --api-key-file " << c.api_key_file->string() << "\n";
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
  if (!(c.backoff_base_seconds > 0) || !(c.backoff_cap_seconds >= c.backoff_base_seconds))
    bad("--backoff-base must be > 0 and --backoff-cap >= --backoff-base");
  if (c.ca_file && !fs::exists(*c.ca_file)) bad("--ca-file " + c.ca_file->string() + " does not exist");
  if (c.replay_states.empty()) bad("--states names no state");
  if (c.base_url && c.base_url->empty()) bad("--base-url is empty");
  for (auto st : c.replay_states)
    if (st == JobState::succeeded) bad("--states: succeeded jobs are never sent again (their VOD exists)");
  return ok;
}

void print_summary(const Plan& plan, const RunSummary& run, const fs::path& ledger, std::ostream& out) {
  std::map<JobState, std::size_t> states = plan.kept;
  for (const auto& [s, n] : run.states) states[s] += n;
  out << "batchcut: " << plan.total << " jobs:";
  const char* sep = " ";
  for (auto s : all_states) {
    out << sep << states[s] << " " << to_string(s);
    sep = ", ";
  }
  out << "\n";
  std::size_t kept = 0;
  for (const auto& [s, n] : plan.kept) kept += n;
  if (kept) out << "  " << kept << " of them were settled in the ledger already and not sent again\n";
  if (run.abandoned)
    out << "  " << run.abandoned << " were left with a request out; the next run reads their state first\n";
  out << "  requests: " << run.requests << " stop-and-cut (" << run.retries << " retries), "
      << run.reconciles << " state reads, over " << run.connections << " connections in "
      << seconds_text(run.elapsed) << ", " << std::fixed << std::setprecision(1)
      << run.achieved_rate() << " req/s\n";
  if (run.paused.count() > 0)
    out << "  paused " << seconds_text(run.paused) << " on the server's Retry-After; rate at the end "
        << std::setprecision(1) << run.final_rate << "/s\n";
  if (run.stopped_early()) out << "  STOPPED: " << run.abort_reason << (run.forced ? " (without draining)" : "") << "\n";
  out << "  ledger: " << ledger.string() << "\n";
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
  const auto logger = make_logger(err);
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
  if (!replay) {
    manifest = load_manifest(c.manifest, c.format);
    if (!manifest.ok()) {
      print_diagnostics(manifest.errors, err);
      err << "batchcut: " << c.manifest.string() << ": " << manifest.errors.size()
          << " problem(s); nothing sent\n";
      return exit_usage;
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
  if (existed && !c.dry_run && !open_ledger()) return exit_usage;
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
  const std::set<JobState> replay_states(c.replay_states.begin(), c.replay_states.end());
  if (shard && !replay) {
    const std::size_t all = manifest.jobs.size();
    std::erase_if(manifest.jobs, [&](const JobSpec& j) { return !in_shard(j, *shard); });
    err << "batchcut: shard " << to_string(*shard) << " (0-based): " << manifest.jobs.size() << " of the "
        << all << " jobs in " << c.manifest.string() << "\n";
  }
  Plan plan = replay ? plan_replay(known, replay_states)
                     : plan_run(manifest.jobs, c.manifest.string(), known, c.allow_changed);
  if (!plan.refused.empty()) {
    print_diagnostics(plan.refused, err);
    err << "batchcut: nothing sent\n";
    return exit_usage;
  }
  if (c.dry_run) {
    for (const auto& job : plan.todo) {
      if (reads_first(job))
        out << "GET " << base->to_string() << live_video_target(*base, job.spec).substr(base->path_prefix.size())
            << "   (in doubt: the state is read first; the cut below is sent only if it can still be made)\n";
      out << "POST " << base->to_string() << stop_and_cut_target(*base, job.spec).substr(base->path_prefix.size())
          << "\n" << stop_and_cut_body(job.spec) << "\n";
    }
    std::size_t kept = 0;
    for (const auto& [s, n] : plan.kept) kept += n;
    err << "batchcut: dry run: " << plan.todo.size() << " jobs would be sent to " << base->to_string() << " ("
        << plan.read_first << " after reading their state, " << plan.changed << " changed), " << kept
        << " settled already; nothing was sent\n";
    return exit_ok;
  }
  if (replay && plan.todo.empty()) {
    err << "batchcut: " << ledger_path.string() << ": no job is in the states to replay\n";
    return exit_ok;
  }

  auto key = load_api_key(c, err);
  if (!key) return exit_usage;
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
    for (const auto& spec : plan.job_records) append_job(*ledger, spec);
  }

  RunOptions options;
  options.base = *base;
  options.concurrency = c.concurrency;
  options.rate = c.rate;
  options.burst = c.burst;
  options.max_attempts = c.max_attempts;
  options.timeout = std::chrono::milliseconds(static_cast<long long>(c.timeout_seconds * 1000));
  options.seed = c.seed;
  options.backoff.base = std::chrono::milliseconds(static_cast<long long>(c.backoff_base_seconds * 1000));
  options.backoff.cap = std::chrono::milliseconds(static_cast<long long>(c.backoff_cap_seconds * 1000));
  options.reconcile = c.reconcile;
  options.reconcile_delay = std::chrono::milliseconds(static_cast<long long>(c.reconcile_delay_seconds * 1000));
  options.retry_budget_percent = c.retry_budget_percent;
  options.halt_after_failures = c.halt_after_failures;
  options.halt_after_failure_rate = c.halt_after_failure_rate;
  options.halt_window = c.halt_window;
  if (deadline)
    options.deadline = RunClock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                             *deadline - std::chrono::system_clock::now());
  options.drain_timeout = std::chrono::milliseconds(static_cast<long long>(c.drain_timeout_seconds * 1000));
  options.handle_signals = c.handle_signals;
  TransportOptions transport;
  transport.base = *base;
  if (target->ca_file) transport.ca_file = fs::path(*target->ca_file);
  transport.authorization =
      authorization_value(target->auth_scheme == "raw" ? AuthScheme::raw : AuthScheme::bearer, *key);
  transport.loopback_only = !base->tls && !c.allow_insecure_http;

  RunSummary run;
  try {
    run = run_jobs(options, transport, *ledger, std::move(plan.todo), logger);
  } catch (const std::exception& e) {  // before anything was sent: the CA file could not be loaded
    err << "batchcut: " << e.what() << "\n";
    return exit_usage;
  }
  print_summary(plan, run, ledger_path, out);
  if (run.ledger_failure) {
    err << "batchcut: ledger write failed: " << *run.ledger_failure << "\n";
    for (const auto& u : run.unrecorded)
      err << "batchcut: NOT RECORDED: " << u.job << " succeeded with videoPublicId " << u.video_public_id << "\n";
  }
  std::size_t succeeded = plan.kept[JobState::succeeded];
  if (auto it = run.states.find(JobState::succeeded); it != run.states.end()) succeeded += it->second;
  return exit_status_for(run, succeeded == plan.total);
}

}  // namespace batchcut
