#include "batchcut/ops/report.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ostream>

#include "batchcut/ops/progress.hpp"
#include "batchcut/util/plural.hpp"
#include "batchcut/util/time_util.hpp"

namespace batchcut {

namespace fs = std::filesystem;
namespace json = boost::json;
using std::chrono::milliseconds;

namespace {

const char* to_string(StopReason r) {
  switch (r) {
    case StopReason::none: return "none";
    case StopReason::fatal: return "fatal";
    case StopReason::halted: return "halted";
    case StopReason::deadline: return "deadline";
    case StopReason::signal: return "signal";
    case StopReason::ledger: return "ledger";
  }
  return "none";
}

std::string latency_text(std::chrono::microseconds us) {
  char buf[32];
  const double ms = static_cast<double>(us.count()) / 1000.0;
  if (ms < 10) std::snprintf(buf, sizeof buf, "%.1f ms", ms);
  else if (ms < 10000) std::snprintf(buf, sizeof buf, "%.0f ms", ms);
  else std::snprintf(buf, sizeof buf, "%.1f s", ms / 1000);
  return buf;
}

double seconds(std::chrono::microseconds us) { return static_cast<double>(us.count()) / 1e6; }
double seconds(milliseconds ms) { return static_cast<double>(ms.count()) / 1e3; }

std::string iso(std::chrono::system_clock::time_point t) {
  return format_iso8601(std::chrono::time_point_cast<std::chrono::milliseconds>(t));
}

}  // namespace

std::map<JobState, std::size_t> RunReport::final_states() const {
  std::map<JobState, std::size_t> states = kept;
  for (const auto& [s, n] : run.states) states[s] += n;
  for (auto s : all_job_states) states[s];  // every state present, zero or not
  return states;
}

std::size_t RunReport::kept_count() const {
  std::size_t n = 0;
  for (const auto& [s, k] : kept) n += k;
  return n;
}

std::string shell_quote(const std::string& word) {
  if (!word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,+@%") == std::string::npos)
    return word;
  std::string q = "'";
  for (char c : word) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::vector<std::string> next_steps(const RunReport& r) {
  std::vector<std::string> steps;
  const std::string ledger = shell_quote(r.ledger.string());
  const std::string again = r.command_line.empty() ? "the same command" : r.command_line;
  const auto states = r.final_states();
  switch (r.run.stop) {
    case StopReason::fatal:
      if (r.run.fatal == FatalCause::unauthorized)
        steps.push_back("the API refused the key (HTTP 401): check VP_API_KEY or --api-key-file, then run again: " + again);
      else if (r.run.fatal == FatalCause::certificate)
        steps.push_back("the server's certificate did not verify; if it uses a private CA, add --ca-file CA.pem, then run again: " + again);
      else if (r.run.fatal == FatalCause::wrong_host)
        steps.push_back("the server's certificate is for another host name (hostname mismatch): check --base-url "
                        "(batchcut sends the key only to a server whose certificate names it), then run again: " + again);
      else
        steps.push_back("batchcut stopped on an internal error (please report it with the log); run again to resume: " + again);
      break;
    case StopReason::ledger:
      steps.push_back("keep the NOT RECORDED ids printed above; fix the ledger's disk (space, permissions), then run again: " + again);
      break;
    case StopReason::halted:
      steps.push_back("the failure policy stopped the run; see the errors with `batchcut export " + ledger +
                      " --states pending,retry_exhausted`, then run again once the API is healthy: " + again);
      break;
    case StopReason::deadline:
      steps.push_back("the deadline passed; run again (with a later --deadline) to continue where it stopped: " + again);
      break;
    case StopReason::signal:
      steps.push_back("stopped by a signal; run again to continue where it stopped: " + again);
      break;
    case StopReason::none:
      if (states.at(JobState::pending)) steps.push_back("run again to finish the pending jobs: " + again);
      break;
  }
  if (r.run.ledger_failure && r.run.stop != StopReason::ledger)
    steps.push_back("the ledger could not be written; keep the NOT RECORDED ids printed above and fix its disk");
  if (auto n = states.at(JobState::failed)) {
    std::string run_fixed = "batchcut run fix.csv";
    for (const auto& arg : r.target_args) run_fixed += " " + shell_quote(arg);
    steps.push_back(counted(n, "job") + (n == 1 ? " was" : " were") +
                    " refused by the API for good: see why with `batchcut export " + ledger +
                    " --states failed`; to send them again, write them to a manifest with `batchcut export " +
                    ledger + " --manifest --states failed > fix.csv`, correct it, then `" + run_fixed + "`");
  }
  if (auto n = states.at(JobState::retry_exhausted))
    steps.push_back(counted(n, "job") +
                    " ran out of attempts (nothing was cut): send them again later with `batchcut replay " + ledger + "`");
  if (auto n = states.at(JobState::in_doubt))
    steps.push_back(counted(n, "job") +
                    " may have been cut: `batchcut replay " + ledger +
                    " --states in_doubt` reads each stream's state and cuts only what is still live; "
                    "see them with `batchcut export " + ledger + " --states in_doubt`");
  if (steps.empty())
    steps.push_back("nothing to do: every job succeeded; the VOD ids are in `batchcut export " + ledger + "`");
  return steps;
}

void print_report(const RunReport& r, std::ostream& out) {
  const RunSummary& run = r.run;
  const auto states = r.final_states();
  out << "batchcut: " << counted(r.total, "job") << ":";
  const char* sep = " ";
  for (auto s : all_job_states) {
    out << sep << states.at(s) << " " << batchcut::to_string(s);
    sep = ", ";
  }
  out << "\n";
  if (auto kept = r.kept_count())
    out << "  " << kept << (kept == 1 ? " of them was" : " of them were") << " settled in the ledger already and not sent again\n";
  if (run.abandoned)
    out << "  " << run.abandoned << (run.abandoned == 1 ? " was" : " were")
        << " left with a request out; the next run reads their state first\n";
  char line[256];
  std::snprintf(line, sizeof line, " in %.1f s, %.1f req/s\n", seconds(run.elapsed), run.achieved_rate());
  out << "  requests: " << run.requests - run.clips << " stop-and-cut";
  if (run.clips) out << ", " << run.clips << " cut-and-publish";
  out << " (" << counted(run.retries, "retry", "retries") << "), " << counted(run.reconciles, "state read");
  if (run.lookups) out << ", " << counted(run.lookups, "lookup") << " (" << counted(run.recovered, "id") << " recovered)";
  out << ", over " << counted(run.connections, "connection") << line;
  for (auto kind : all_request_kinds) {
    const LatencyHistogram& h = run.stats.latency_of(kind);
    if (!h.count()) continue;
    out << "  latency (" << describe(kind) << "): p50 " << latency_text(h.quantile(0.5))
        << ", p90 " << latency_text(h.quantile(0.9)) << ", p99 " << latency_text(h.quantile(0.99)) << ", max "
        << latency_text(h.max()) << "\n";
  }
  if (!run.stats.retries_by_cause.empty()) {
    out << "  retries by cause:";
    sep = " ";
    for (const auto& [cause, n] : run.stats.retries_by_cause) {
      out << sep << cause << " " << n;
      sep = ", ";
    }
    out << "\n";
  }
  const std::size_t sent = run.requests + run.reconciles;
  std::snprintf(line, sizeof line, "  a request waited %.2f s on average for the rate limiter; paused %.1f s on Retry-After; rate at the end ",
                sent ? seconds(run.stats.rate_limiter_wait) / static_cast<double>(sent) : 0.0, seconds(run.paused));
  out << line;
  if (run.final_rate > 0) {
    std::snprintf(line, sizeof line, "%.1f/s\n", run.final_rate);
    out << line;
  } else {
    out << "unlimited\n";
  }
  if (run.stopped_early()) out << "  STOPPED: " << run.abort_reason << (run.forced ? " (without draining)" : "") << "\n";
  out << "  ledger: " << r.ledger.string() << "\n";
  for (const auto& step : next_steps(r)) out << "next: " << step << "\n";
}

std::string report_json(const RunReport& r) {
  const RunSummary& run = r.run;
  json::object doc;
  doc["schema"] = "batchcut.summary/1";
  doc["version"] = BATCHCUT_VERSION;
  doc["command"] = r.command;
  doc["commandLine"] = r.command_line;
  doc["manifest"] = r.manifest ? json::value(r.manifest->string()) : json::value(nullptr);
  doc["ledger"] = r.ledger.string();
  doc["baseUrl"] = r.base_url;
  doc["startedAt"] = iso(r.started);
  doc["endedAt"] = iso(r.ended);
  doc["elapsedSeconds"] = seconds(run.elapsed);
  doc["exitStatus"] = r.exit_status;

  json::object jobs;
  jobs["total"] = r.total;
  jobs["settledEarlier"] = r.kept_count();
  for (const auto& [s, n] : r.final_states()) jobs[batchcut::to_string(s)] = n;
  jobs["abandoned"] = run.abandoned;
  doc["jobs"] = std::move(jobs);

  json::object requests;
  requests["stopAndCut"] = run.requests - run.clips;
  requests["cutAndPublish"] = run.clips;
  requests["retries"] = run.retries;
  requests["reads"] = run.reconciles;
  requests["lookups"] = run.lookups;
  requests["recovered"] = run.recovered;
  requests["connections"] = run.connections;
  json::array by_status, errors;
  for (const auto& [key, n] : run.stats.requests)
    by_status.push_back(json::object{{"kind", to_string(key.first)}, {"status", key.second}, {"count", n}});
  for (const auto& [key, n] : run.stats.request_errors)
    errors.push_back(json::object{{"kind", to_string(key.first)}, {"error", key.second}, {"count", n}});
  requests["byStatus"] = std::move(by_status);
  requests["errors"] = std::move(errors);
  doc["requests"] = std::move(requests);

  json::object latency;
  for (auto kind : all_request_kinds) {
    const LatencyHistogram& h = run.stats.latency_of(kind);
    latency[to_string(kind)] = json::object{{"count", h.count()},
                                            {"p50", seconds(h.quantile(0.5))},
                                            {"p90", seconds(h.quantile(0.9))},
                                            {"p99", seconds(h.quantile(0.99))},
                                            {"max", seconds(h.max())}};
  }
  doc["latencySeconds"] = std::move(latency);
  json::object causes;
  for (const auto& [cause, n] : run.stats.retries_by_cause) causes[cause] = n;
  doc["retriesByCause"] = std::move(causes);
  doc["rateLimiterWaitSeconds"] = seconds(run.stats.rate_limiter_wait);
  doc["pausedSeconds"] = seconds(run.paused);
  doc["finalRate"] = run.final_rate;

  json::object stop;
  stop["reason"] = to_string(run.stop);
  stop["detail"] = run.abort_reason;
  stop["signal"] = run.signal;
  stop["forced"] = run.forced;
  doc["stop"] = std::move(stop);
  doc["ledgerFailure"] = run.ledger_failure ? json::value(*run.ledger_failure) : json::value(nullptr);
  json::array unrecorded;
  for (const auto& u : run.unrecorded)
    unrecorded.push_back(json::object{{"job", u.job}, {"videoPublicId", u.video_public_id}});
  doc["unrecorded"] = std::move(unrecorded);
  json::array steps;
  for (const auto& s : next_steps(r)) steps.push_back(json::string(s));
  doc["nextSteps"] = std::move(steps);
  return json::serialize(doc) + "\n";
}

bool write_file_atomically(const fs::path& path, const std::string& text, std::string& error) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::string tmpl = (dir / ("." + path.filename().string() + ".XXXXXX")).string();
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0) {
    error = "cannot create a temporary file in " + dir.string() + ": " + std::strerror(errno);
    return false;
  }
  ::fchmod(fd, 0644);
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = std::string("write failed: ") + std::strerror(errno);
      ::close(fd);
      ::unlink(tmpl.c_str());
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0 || ::rename(tmpl.c_str(), path.c_str()) != 0) {
    error = std::string("cannot replace ") + path.string() + ": " + std::strerror(errno);
    ::unlink(tmpl.c_str());
    return false;
  }
  return true;
}

}  // namespace batchcut
