// The operations layer on its own (issue 8): the latency histogram, the live view's lines,
// the next step for every outcome, shell quoting, the summary JSON against its schema, and
// the log's formats and redaction.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "batchcut/app/app.hpp"
#include "batchcut/ops/log.hpp"
#include "batchcut/ops/progress.hpp"
#include "batchcut/ops/report.hpp"
#include "batchcut/ops/stats.hpp"

using namespace batchcut;
namespace fs = std::filesystem;
using std::chrono::microseconds;
using std::chrono::milliseconds;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A fresh file path under the temp dir, removed at the end of the test.
struct TempPath {
  fs::path path;
  explicit TempPath(const std::string& name)
      : path(fs::temp_directory_path() / ("batchcut-ops-" + std::to_string(::getpid()) + "-" + name)) {
    fs::remove_all(path);
  }
  ~TempPath() { fs::remove_all(path); }
};

// Runs `command` with /bin/sh; its stdout, and its exit status in `status`.
std::string shell(const std::string& command, int& status) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  status = ::pclose(p);
  return out;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

}  // namespace

// ---- LatencyHistogram ----

TEST(LatencyHistogram, AnEmptyHistogramSaysZeroEverywhere) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.max(), microseconds(0));
  EXPECT_EQ(h.sum_seconds(), 0.0);
  for (double q : {0.5, 0.9, 0.99, 1.0}) EXPECT_EQ(h.quantile(q), microseconds(0)) << q;
  for (std::size_t i = 0; i < LatencyHistogram::prometheus_bounds.size(); ++i) EXPECT_EQ(h.cumulative(i), 0u);
}

TEST(LatencyHistogram, QuantilesAreWithinTwoPercentOfExactAndTheMaxIsExact) {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    std::mt19937_64 rng(seed);
    // Log-uniform from 50 us to 20 s, the span a request's latency can have.
    std::uniform_real_distribution<double> exponent(std::log(50.0), std::log(20e6));
    LatencyHistogram h;
    std::vector<std::int64_t> all;
    for (int i = 0; i < 20000; ++i) {
      const auto us = static_cast<std::int64_t>(std::exp(exponent(rng)));
      all.push_back(us);
      h.record(microseconds(us));
    }
    std::sort(all.begin(), all.end());
    EXPECT_EQ(h.count(), all.size());
    EXPECT_EQ(h.max(), microseconds(all.back()));
    for (double q : {0.01, 0.5, 0.9, 0.99, 0.999, 1.0}) {
      const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(all.size())));
      const double exact = static_cast<double>(all[rank - 1]);
      const double got = static_cast<double>(h.quantile(q).count());
      EXPECT_LE(std::abs(got - exact), 0.02 * exact + 1) << "seed " << seed << " q " << q << ": " << got << " vs " << exact;
    }
  }
}

TEST(LatencyHistogram, SmallAndEqualSamplesGiveExactQuantiles) {
  LatencyHistogram h;
  for (int i = 0; i < 10; ++i) h.record(microseconds(1000));
  EXPECT_EQ(h.quantile(0.5), microseconds(1000));  // never above the max
  EXPECT_EQ(h.quantile(0.99), microseconds(1000));
  h.record(microseconds(-5));  // a clock step backwards counts as 0, not as garbage
  EXPECT_EQ(h.count(), 11u);
  EXPECT_EQ(h.quantile(0.01), microseconds(0));
}

TEST(LatencyHistogram, PrometheusBucketsAreExactAtTheirBounds) {
  LatencyHistogram h;
  std::vector<std::int64_t> all;
  auto add = [&](std::int64_t us) {
    all.push_back(us);
    h.record(microseconds(us));
  };
  for (double bound : LatencyHistogram::prometheus_bounds) {
    const auto us = static_cast<std::int64_t>(std::llround(bound * 1e6));
    add(us);      // on the bound: counted in it (le = "less or equal")
    add(us + 1);  // just above: in the next one
    add(us - 1);
  }
  add(61'000'000);  // above the last bound: only in +Inf (the count)
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::int64_t> any(0, 70'000'000);
  for (int i = 0; i < 5000; ++i) add(any(rng));
  for (std::size_t i = 0; i < LatencyHistogram::prometheus_bounds.size(); ++i) {
    const auto bound_us = static_cast<std::int64_t>(std::llround(LatencyHistogram::prometheus_bounds[i] * 1e6));
    const auto expected = static_cast<std::uint64_t>(std::count_if(all.begin(), all.end(), [&](auto us) { return us <= bound_us; }));
    EXPECT_EQ(h.cumulative(i), expected) << "le=" << LatencyHistogram::prometheus_bounds[i];
  }
  EXPECT_LT(h.cumulative(LatencyHistogram::prometheus_bounds.size() - 1), h.count());
  double sum = 0;
  for (auto us : all) sum += static_cast<double>(us);
  EXPECT_NEAR(h.sum_seconds(), sum / 1e6, 1e-6);
}

TEST(RunStats, ARetryIsNamedByItsStatusElseItsTransportError) {
  EXPECT_EQ(retry_cause(503, ""), "http_503");
  EXPECT_EQ(retry_cause(500, "closed"), "http_500");
  EXPECT_EQ(retry_cause(0, "timeout"), "timeout");
  EXPECT_EQ(retry_cause(0, ""), "unknown");
}

// ---- the live view ----

namespace {

RunSnapshot snapshot_at(std::size_t settled, std::size_t total, milliseconds elapsed) {
  RunSnapshot s;
  s.total = total;
  s.settled_count = settled;
  s.settled[JobState::succeeded] = settled > 2 ? settled - 2 : settled;
  if (settled > 2) {
    s.settled[JobState::failed] = 1;
    s.settled[JobState::in_doubt] = 1;
  }
  s.in_flight = 8;
  s.waiting_retry = 3;
  s.requests = settled + 5;
  s.elapsed = elapsed;
  return s;
}

}  // namespace

TEST(ProgressView, DurationsAndTheEta) {
  EXPECT_EQ(duration_text(milliseconds(0)), "0s");
  EXPECT_EQ(duration_text(milliseconds(-300)), "0s");
  EXPECT_EQ(duration_text(milliseconds(59'400)), "59s");
  EXPECT_EQ(duration_text(milliseconds(61'000)), "1m01s");
  EXPECT_EQ(duration_text(milliseconds(3'723'000)), "1h02m");
  EXPECT_FALSE(eta(snapshot_at(0, 30, milliseconds(5000))));
  EXPECT_EQ(eta(snapshot_at(10, 30, milliseconds(10'000))), milliseconds(20'000));
  EXPECT_EQ(eta(snapshot_at(30, 30, milliseconds(10'000))), milliseconds(0));
}

TEST(ProgressView, TheBarShowsEveryCountAndFitsAnyTerminal) {
  const RunSnapshot s = [] {
    auto s = snapshot_at(120, 300, milliseconds(12'000));
    s.paused = milliseconds(2000);
    return s;
  }();
  const std::string wide = ProgressView::bar_line(s, 200);
  for (const char* part : {"[########", "120/300", "40.0%", "ok 118", "failed 1", "doubt 1", "exhausted 0",
                           "retrying 3", "out 8", "10.4/s", "paused 2s", "ETA 18s"})
    EXPECT_NE(wide.find(part), std::string::npos) << part << " missing from: " << wide;
  for (std::size_t cols = 20; cols <= 200; ++cols) {
    const std::string line = ProgressView::bar_line(s, cols);
    EXPECT_LT(line.size(), cols) << line;  // the last column stays free
    if (cols >= 40) {
      EXPECT_EQ(line.front(), '[') << cols << ": " << line;
      EXPECT_NE(line.find("40.0% ETA 18s"), std::string::npos) << cols << ": " << line;
    }
  }
  auto draining = s;
  draining.draining = true;
  EXPECT_NE(ProgressView::bar_line(draining, 120).find("draining"), std::string::npos);
  EXPECT_EQ(ProgressView::bar_line(draining, 120).find("ETA"), std::string::npos);
}

TEST(ProgressView, OnATerminalTheBarIsRedrawnInPlaceAndTheDrainAnnouncedOnce) {
  std::ostringstream err;
  ProgressView view(ProgressMode::automatic, milliseconds(10'000), err, true, nullptr);
  EXPECT_EQ(view.mode(), ProgressMode::bar);
  EXPECT_GT(view.tick_interval().count(), 0);
  view.on_tick(snapshot_at(1, 10, milliseconds(300)));
  view.on_tick(snapshot_at(2, 10, milliseconds(600)));
  EXPECT_EQ(err.str().find('\n'), std::string::npos) << "a redraw must not scroll";
  EXPECT_NE(err.str().find("\r\033[K[##"), std::string::npos) << err.str();
  auto stopping = snapshot_at(3, 10, milliseconds(900));
  stopping.draining = true;
  stopping.stop_reason = "received SIGTERM";
  stopping.stopped_by_signal = true;
  stopping.drain_timeout = milliseconds(5000);
  view.on_tick(stopping);
  view.on_tick(stopping);
  const std::string out = err.str();
  const std::string announced = "batchcut: stopping (received SIGTERM): 8 requests still out will finish and be recorded; "
                                "the rest stays pending for the next run; this takes at most 5s; a second Ctrl-C";
  ASSERT_NE(out.find(announced), std::string::npos) << out;
  EXPECT_EQ(out.find(announced), out.rfind(announced)) << "announced twice";
  view.finish();
  EXPECT_TRUE(err.str().ends_with("\r\033[K")) << "the bar's line is cleared for the summary";
}

TEST(ProgressView, OffATerminalALogLineEveryInterval) {
  TempPath log("progress.log");
  LogOptions o;
  o.file = log.path;
  auto logger = make_logger(o, std::cerr);
  ASSERT_TRUE(logger);
  std::ostringstream err;
  ProgressView view(ProgressMode::automatic, milliseconds(1000), err, false, logger);
  EXPECT_EQ(view.mode(), ProgressMode::log);
  EXPECT_LE(view.tick_interval(), milliseconds(1000));
  for (int t = 250; t <= 3000; t += 250) view.on_tick(snapshot_at(static_cast<std::size_t>(t / 250), 30, milliseconds(t)));
  logger->flush();
  const std::string text = slurp(log.path);
  std::size_t lines = 0;
  for (std::size_t at = text.find("progress: "); at != std::string::npos; at = text.find("progress: ", at + 1)) ++lines;
  EXPECT_EQ(lines, 3u) << text;  // at 1 s, 2 s and 3 s
  EXPECT_NE(text.find("progress: 4/30 jobs settled (13.3%), ETA 7s | ok 2 failed 1"), std::string::npos) << text;
  EXPECT_TRUE(err.str().empty()) << "log mode never draws on the stream: " << err.str();
}

TEST(ProgressView, NoneShowsNothingAndAnUnknownModeIsRefused) {
  std::ostringstream err;
  ProgressView view(ProgressMode::none, milliseconds(1000), err, true, nullptr);
  EXPECT_EQ(view.tick_interval(), milliseconds(0));
  view.on_tick(snapshot_at(1, 2, milliseconds(2000)));
  view.finish();
  EXPECT_TRUE(err.str().empty());
  EXPECT_EQ(parse_progress_mode("auto"), ProgressMode::automatic);
  EXPECT_EQ(parse_progress_mode("bar"), ProgressMode::bar);
  EXPECT_EQ(parse_progress_mode("log"), ProgressMode::log);
  EXPECT_EQ(parse_progress_mode("none"), ProgressMode::none);
  EXPECT_FALSE(parse_progress_mode("fancy"));
}

TEST(Deadline, AnHourAndMinuteThatHasPassedTodayIsTomorrows) {
  using namespace std::chrono;
  std::tm local{};
  local.tm_year = 2026 - 1900;
  local.tm_mon = 5;
  local.tm_mday = 10;
  local.tm_hour = 15;
  local.tm_min = 30;
  local.tm_isdst = -1;
  const auto now = system_clock::from_time_t(std::mktime(&local));
  const auto later = parse_deadline("16:00", now);
  ASSERT_TRUE(later);
  EXPECT_EQ(*later - now, minutes(30));
  const auto passed = parse_deadline("15:00", now);
  ASSERT_TRUE(passed);
  EXPECT_GT(*passed, now + hours(22));  // 23:30 later, or an hour off across a DST change
  EXPECT_LT(*passed, now + hours(25));
  EXPECT_FALSE(parse_deadline("25:00", now));
}

// ---- the next step for every outcome ----

namespace {

RunReport report_with(StopReason stop, FatalCause fatal, std::map<JobState, std::size_t> states) {
  RunReport r;
  r.command = "run";
  r.command_line = "batchcut run jobs.csv --base-url https://127.0.0.1:8443 --ca-file 'my ca.pem'";
  r.manifest = "jobs.csv";
  r.ledger = "/tmp/a b/jobs.ledger.jsonl";
  r.base_url = "https://127.0.0.1:8443";
  r.target_args = {"--base-url", r.base_url, "--ca-file", "my ca.pem"};
  r.run.stop = stop;
  r.run.fatal = fatal;
  r.run.states = std::move(states);
  for (const auto& [s, n] : r.run.states) r.total += n;
  return r;
}

const std::string ledger_q = "'/tmp/a b/jobs.ledger.jsonl'";
const std::string again = "batchcut run jobs.csv --base-url https://127.0.0.1:8443 --ca-file 'my ca.pem'";

}  // namespace

TEST(NextSteps, AllSucceededNamesTheExport) {
  const auto steps = next_steps(report_with(StopReason::none, FatalCause::none, {{JobState::succeeded, 5}}));
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_NE(steps[0].find("nothing to do"), std::string::npos);
  EXPECT_NE(steps[0].find("`batchcut export " + ledger_q + "`"), std::string::npos) << steps[0];
}

TEST(NextSteps, EachUnsettledOrRefusedStateNamesItsCommand) {
  const auto steps = next_steps(report_with(StopReason::none, FatalCause::none,
                                            {{JobState::succeeded, 5}, {JobState::failed, 2},
                                             {JobState::retry_exhausted, 1}, {JobState::in_doubt, 3}}));
  const std::string all = joined(steps);
  ASSERT_EQ(steps.size(), 3u) << all;
  EXPECT_NE(all.find("2 jobs were refused by the API for good: see why with `batchcut export " + ledger_q + " --states failed`"),
            std::string::npos) << all;
  EXPECT_NE(all.find("`batchcut export " + ledger_q + " --manifest --states failed > fix.csv`, correct it, then "
                     "`batchcut run fix.csv --base-url https://127.0.0.1:8443 --ca-file 'my ca.pem'`"),
            std::string::npos) << all;
  EXPECT_NE(all.find("1 job ran out of attempts (nothing was cut): send them again later with `batchcut replay " + ledger_q + "`"),
            std::string::npos) << all;
  EXPECT_NE(all.find("3 jobs may have been cut: `batchcut replay " + ledger_q + " --states in_doubt`"), std::string::npos) << all;
  EXPECT_EQ(all.find("nothing to do"), std::string::npos);
}

TEST(NextSteps, EveryStopNamesTheCommandToRunAgain) {
  struct Case {
    StopReason stop;
    FatalCause fatal;
    std::string says;
  };
  const std::vector<Case> cases = {
      {StopReason::fatal, FatalCause::unauthorized, "the API refused the key (HTTP 401): check VP_API_KEY or --api-key-file"},
      {StopReason::fatal, FatalCause::certificate, "add --ca-file CA.pem"},
      {StopReason::fatal, FatalCause::internal, "internal error"},
      {StopReason::deadline, FatalCause::none, "the deadline passed"},
      {StopReason::signal, FatalCause::none, "stopped by a signal"},
      {StopReason::ledger, FatalCause::none, "NOT RECORDED"},
      {StopReason::halted, FatalCause::none, "`batchcut export " + ledger_q + " --states pending,retry_exhausted`"},
      {StopReason::none, FatalCause::none, "run again to finish the pending jobs"},
  };
  for (const auto& c : cases) {
    const auto steps = next_steps(report_with(c.stop, c.fatal, {{JobState::succeeded, 2}, {JobState::pending, 3}}));
    ASSERT_FALSE(steps.empty());
    EXPECT_NE(steps[0].find(c.says), std::string::npos) << steps[0];
    EXPECT_TRUE(steps[0].ends_with(": " + again)) << steps[0];
  }
  // A stop with settled states to act on too: both, the stop first.
  const auto steps = next_steps(report_with(StopReason::signal, FatalCause::none,
                                            {{JobState::pending, 3}, {JobState::in_doubt, 1}}));
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_NE(steps[0].find("stopped by a signal"), std::string::npos);
  EXPECT_NE(steps[1].find("--states in_doubt"), std::string::npos);
}

TEST(NextSteps, EveryMixOfStopAndStatesGivesACommand) {
  const StopReason stops[] = {StopReason::none, StopReason::fatal, StopReason::halted,
                              StopReason::deadline, StopReason::signal, StopReason::ledger};
  const FatalCause causes[] = {FatalCause::none, FatalCause::unauthorized, FatalCause::certificate, FatalCause::internal};
  const JobState states[] = {JobState::pending, JobState::succeeded, JobState::failed, JobState::retry_exhausted, JobState::in_doubt};
  for (auto stop : stops)
    for (auto cause : causes)
      for (int mask = 0; mask < 32; ++mask) {
        std::map<JobState, std::size_t> m;
        for (int i = 0; i < 5; ++i)
          if (mask & (1 << i)) m[states[i]] = static_cast<std::size_t>(i + 1);
        auto r = report_with(stop, cause, m);
        if (stop == StopReason::ledger) r.run.ledger_failure = "No space left on device";
        const auto steps = next_steps(r);
        ASSERT_FALSE(steps.empty());
        EXPECT_NE(joined(steps).find("batchcut "), std::string::npos) << joined(steps);
        // An unsettled job is never left without a way on.
        if (m.count(JobState::pending) || stop != StopReason::none) {
          EXPECT_NE(joined(steps).find(again), std::string::npos) << static_cast<int>(stop) << " " << mask << joined(steps);
        }
        EXPECT_EQ(joined(steps).find("nothing to do") != std::string::npos,
                  stop == StopReason::none && (mask & ~2) == 0)
            << joined(steps);
      }
}

TEST(NextSteps, TheReportPrintsOneNextLinePerStepAndTheJsonHoldsTheSame) {
  auto r = report_with(StopReason::deadline, FatalCause::none, {{JobState::succeeded, 4}, {JobState::pending, 2}, {JobState::failed, 1}});
  r.run.stats.latency_of(RequestKind::cut).record(microseconds(12'000));
  r.run.stats.retries_by_cause["http_503"] = 2;
  r.run.paused = milliseconds(1500);
  r.run.final_rate = 7.5;
  std::ostringstream text;
  print_report(r, text);
  const auto steps = next_steps(r);
  std::string next_lines;
  std::istringstream in(text.str());
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("next: ")) next_lines += line.substr(6) + "\n";
  EXPECT_EQ(next_lines, joined(steps));
  for (const char* part : {"batchcut: 7 jobs: 4 succeeded, 1 failed, 0 retry_exhausted, 0 in_doubt, 2 pending", "latency (stop-and-cut): p50 12 ms",
                           "retries by cause: http_503 2", "paused 1.5 s on Retry-After", "rate at the end 7.5/s"})
    EXPECT_NE(text.str().find(part), std::string::npos) << part << " missing from:\n" << text.str();
  const auto doc = boost::json::parse(report_json(r)).as_object();
  std::string json_steps;
  for (const auto& s : doc.at("nextSteps").as_array()) json_steps += std::string(s.as_string()) + "\n";
  EXPECT_EQ(json_steps, joined(steps));
  EXPECT_EQ(doc.at("jobs").at("succeeded").as_int64(), 4);
  EXPECT_EQ(doc.at("jobs").at("pending").as_int64(), 2);
  EXPECT_EQ(doc.at("stop").at("reason").as_string(), "deadline");
}

// ---- shell quoting: what is printed runs the same thing ----

TEST(ShellQuote, EveryWordRoundTripsThroughAPosixShell) {
  const std::vector<std::string> words = {"plain", "path/to/jobs.csv", "--deadline=17:30", "a b", "it's",
                                          "\"quoted\"", "$HOME", "`id`", "a\\b", "", "*", "~", "semi;colon",
                                          "new\nline", "tab\there", "ünïcode", "'", "''", "x'y'z", "&&", "#hash"};
  std::string command = "printf '%s\\0'";
  for (const auto& w : words) command += " " + shell_quote(w);
  int status = -1;
  const std::string out = shell(command, status);
  ASSERT_EQ(status, 0) << command;
  std::vector<std::string> back;
  std::string cur;
  for (char c : out) {
    if (c == '\0') {
      back.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  EXPECT_EQ(back, words) << command;
  EXPECT_EQ(shell_quote("plain"), "plain");  // readable when it can be
  EXPECT_EQ(shell_quote("a b"), "'a b'");
}

// ---- the summary JSON against its schema ----

TEST(SummaryJson, ValidatesAgainstTheSchemaAndTheSchemaIsStrict) {
  auto r = report_with(StopReason::signal, FatalCause::none, {{JobState::succeeded, 3}, {JobState::pending, 1}});
  r.run.signal = 15;
  r.run.forced = true;
  r.run.abort_reason = "received SIGTERM";
  r.run.stats.requests[{RequestKind::cut, 200}] = 3;
  r.run.stats.request_errors[{RequestKind::read, "timeout"}] = 1;
  r.run.stats.latency_of(RequestKind::cut).record(microseconds(1000));
  r.run.stats.retries_by_cause["timeout"] = 1;
  r.run.ledger_failure = "disk full";
  r.run.unrecorded.push_back({"proj1/lv1", "vjsabc"});
  r.exit_status = 143;
  r.started = std::chrono::system_clock::now();
  r.ended = r.started + milliseconds(1234);
  TempPath good("good.json"), bad("bad.json");
  std::string why;
  ASSERT_TRUE(write_file_atomically(good.path, report_json(r), why)) << why;
  auto doc = boost::json::parse(report_json(r)).as_object();
  doc["surprise"] = 1;  // the schema must not let an unknown field through
  ASSERT_TRUE(write_file_atomically(bad.path, boost::json::serialize(doc), why)) << why;
  const std::string schema = std::string(BATCHCUT_SOURCE_DIR) + "/config/schema/summary.schema.json";
  auto validate = [&](const fs::path& p) {
    int status = -1;
    shell("/usr/bin/python3 -c 'import json,sys,jsonschema; "
          "jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])))' " +
              shell_quote(schema) + " " + shell_quote(p.string()) + " 2>&1",
          status);
    return status;
  };
  EXPECT_EQ(validate(good.path), 0);
  EXPECT_NE(validate(bad.path), 0);
}

TEST(SummaryJson, WritingAtomicallyReplacesAndReportsAMissingFolder) {
  TempPath dir("atomic");
  fs::create_directories(dir.path);
  std::string why;
  ASSERT_TRUE(write_file_atomically(dir.path / "s.json", "one", why));
  ASSERT_TRUE(write_file_atomically(dir.path / "s.json", "two", why));
  EXPECT_EQ(slurp(dir.path / "s.json"), "two");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator{}), 1) << "a temporary file was left";
  EXPECT_FALSE(write_file_atomically(dir.path / "no" / "s.json", "x", why));
  EXPECT_NE(why.find("no"), std::string::npos) << why;
}

// ---- the log ----

TEST(Log, LevelsByNameAndAnUnknownOneIsNotSilence) {
  EXPECT_EQ(parse_log_level("trace"), spdlog::level::trace);
  EXPECT_EQ(parse_log_level("debug"), spdlog::level::debug);
  EXPECT_EQ(parse_log_level("info"), spdlog::level::info);
  EXPECT_EQ(parse_log_level("warn"), spdlog::level::warn);
  EXPECT_EQ(parse_log_level("error"), spdlog::level::err);
  EXPECT_EQ(parse_log_level("critical"), spdlog::level::critical);
  EXPECT_EQ(parse_log_level("off"), spdlog::level::off);
  EXPECT_FALSE(parse_log_level("verbose"));
  EXPECT_FALSE(parse_log_level(""));
  EXPECT_FALSE(parse_log_level("INFO "));
}

TEST(Log, JsonLinesParseAndTheKeyIsRedactedAtEveryLevel) {
  TempPath file("log.jsonl");
  LogOptions o;
  o.level = spdlog::level::trace;
  o.format = LogFormat::json;
  o.file = file.path;
  auto logger = make_logger(o, std::cerr);
  ASSERT_TRUE(logger);
  const std::string key = "k3y-\"quoted\"-\\slash";
  redact_in_logs(key);
  logger->trace("trace {}", key);
  logger->debug("Authorization: Bearer {}", key);
  logger->info("twice {} and {}", key, key);
  logger->warn("a \"quote\", a newline\n and a tab\t");
  logger->error("error {}", key);
  logger->critical("critical {}", key);
  logger->flush();
  redact_in_logs("");
  EXPECT_EQ(redacted("k3y stays when nothing is registered"), "k3y stays when nothing is registered");
  const std::string text = slurp(file.path);
  EXPECT_EQ(text.find("k3y"), std::string::npos) << text;
  std::istringstream in(text);
  std::vector<std::string> levels, messages;
  for (std::string line; std::getline(in, line);) {
    boost::system::error_code ec;
    const auto v = boost::json::parse(line, ec);
    ASSERT_FALSE(ec) << line;
    const auto& o = v.as_object();
    ASSERT_TRUE(o.at("time").is_string() && o.at("level").is_string() && o.at("msg").is_string()) << line;
    EXPECT_EQ(o.size(), 3u) << line;
    levels.emplace_back(o.at("level").as_string());
    messages.emplace_back(o.at("msg").as_string());
  }
  EXPECT_EQ(levels, (std::vector<std::string>{"trace", "debug", "info", "warning", "error", "critical"}));
  EXPECT_EQ(messages[2], "twice [redacted] and [redacted]");
  EXPECT_EQ(messages[3], "a \"quote\", a newline\n and a tab\t");
}

TEST(Log, TheLevelFiltersAndAFileThatCannotBeOpenedIsSaid) {
  TempPath file("level.log");
  LogOptions o;
  o.level = spdlog::level::warn;
  o.file = file.path;
  auto logger = make_logger(o, std::cerr);
  ASSERT_TRUE(logger);
  logger->info("hidden");
  logger->warn("shown");
  logger->flush();
  const std::string text = slurp(file.path);
  EXPECT_EQ(text.find("hidden"), std::string::npos);
  EXPECT_NE(text.find(" warning shown"), std::string::npos) << text;

  std::ostringstream err;
  o.file = file.path / "not-a-dir" / "x.log";  // under a regular file
  EXPECT_FALSE(make_logger(o, err));
  EXPECT_NE(err.str().find("--log-file " + o.file->string()), std::string::npos) << err.str();
}
