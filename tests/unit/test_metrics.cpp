// The Prometheus metrics: the exact exposition of a known run, promtool's verdict on it, the
// last success carried over a failed run, the address syntax, and the listener's answers.
#include "batchcut/ops/metrics.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "batchcut/ops/report.hpp"

using namespace batchcut;
namespace fs = std::filesystem;
using std::chrono::milliseconds;

namespace {

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("batchcut-metrics-" + std::to_string(std::random_device{}()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs a shell command (every one here has its own time bound); its exit status and output.
std::pair<int, std::string> shell(const std::string& command) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return {-1, "popen failed"};
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// promtool's complaints about an exposition (empty when it has none).
std::string promtool_complaints(const std::string& text) {
  TempDir dir;
  std::ofstream(dir.path / "m.prom", std::ios::binary) << text;
  const auto [status, out] = shell("timeout 60 promtool check metrics < " + (dir.path / "m.prom").string());
  return status == 0 && out.empty() ? "" : "exit " + std::to_string(status) + ": " + out;
}

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

// A run part way through: 3 cuts answered 200, one 503, one timed out; two retries.
MetricsSample known_sample() {
  MetricsSample m;
  m.total_jobs = 10;
  m.jobs = jobs_by_state({{JobState::succeeded, 4}, {JobState::in_doubt, 1}},
                         {{JobState::succeeded, 2}, {JobState::failed, 1}}, 10);
  auto& st = m.stats;
  st.requests[{RequestKind::cut, 200}] = 3;
  st.requests[{RequestKind::cut, 503}] = 1;
  st.requests[{RequestKind::cut, 0}] = 1;  // no answer: counted under request_errors only
  st.requests[{RequestKind::read, 200}] = 1;
  st.request_errors[{RequestKind::cut, "timeout"}] = 1;
  st.retries_by_cause["http_503"] = 1;
  st.retries_by_cause["timeout"] = 1;
  for (int us : {3000, 200000, 1500000}) st.latency_of(RequestKind::cut).record(std::chrono::microseconds(us));
  st.latency_of(RequestKind::read).record(milliseconds(40));
  st.rate_limiter_wait = milliseconds(1500);
  m.paused = milliseconds(2000);
  m.in_flight = 2;
  m.started = std::chrono::system_clock::time_point(std::chrono::seconds(1764700000));
  m.in_progress = true;
  m.last.success_timestamp = 1764600000.5;
  m.last.duration_seconds = 12.25;
  m.last.exit_status = 0;
  return m;
}

}  // namespace

TEST(Metrics, JobsByStateAddUpToTheTotalWithEveryStatePresent) {
  const auto jobs = jobs_by_state({{JobState::succeeded, 4}, {JobState::in_doubt, 1}},
                                  {{JobState::succeeded, 2}, {JobState::failed, 1}}, 10);
  EXPECT_EQ(jobs, (std::map<JobState, std::size_t>{{JobState::pending, 2},
                                                   {JobState::succeeded, 6},
                                                   {JobState::failed, 1},
                                                   {JobState::retry_exhausted, 0},
                                                   {JobState::in_doubt, 1}}));
}

TEST(Metrics, RendersTheKnownRunExactly) {
  const std::string text = render_metrics(known_sample());
  for (const char* line : {
           "# HELP batchcut_run_in_progress 1 while a run is going, 0 once it has ended.",
           "# TYPE batchcut_run_in_progress gauge",
           "batchcut_run_in_progress 1",
           "batchcut_run_start_timestamp_seconds 1764700000",
           "# TYPE batchcut_jobs gauge",
           "batchcut_jobs{state=\"pending\"} 2",
           "batchcut_jobs{state=\"succeeded\"} 6",
           "batchcut_jobs{state=\"failed\"} 1",
           "batchcut_jobs{state=\"retry_exhausted\"} 0",
           "batchcut_jobs{state=\"in_doubt\"} 1",
           "batchcut_manifest_jobs 10",
           "batchcut_requests_in_flight 2",
           "# TYPE batchcut_requests_total counter",
           "batchcut_requests_total{kind=\"stop_and_cut\",code=\"200\"} 3",
           "batchcut_requests_total{kind=\"stop_and_cut\",code=\"503\"} 1",
           "batchcut_requests_total{kind=\"read\",code=\"200\"} 1",
           "batchcut_request_errors_total{kind=\"stop_and_cut\",error=\"timeout\"} 1",
           "batchcut_retries_total{cause=\"http_503\"} 1",
           "batchcut_retries_total{cause=\"timeout\"} 1",
           "batchcut_rate_limiter_wait_seconds_total 1.5",
           "batchcut_retry_after_pause_seconds_total 2",
           "# TYPE batchcut_request_duration_seconds histogram",
           "batchcut_request_duration_seconds_bucket{kind=\"stop_and_cut\",le=\"0.005\"} 1",
           "batchcut_request_duration_seconds_bucket{kind=\"stop_and_cut\",le=\"0.1\"} 1",
           "batchcut_request_duration_seconds_bucket{kind=\"stop_and_cut\",le=\"0.25\"} 2",
           "batchcut_request_duration_seconds_bucket{kind=\"stop_and_cut\",le=\"1\"} 2",
           "batchcut_request_duration_seconds_bucket{kind=\"stop_and_cut\",le=\"2.5\"} 3",
           "batchcut_request_duration_seconds_bucket{kind=\"stop_and_cut\",le=\"60\"} 3",
           "batchcut_request_duration_seconds_bucket{kind=\"stop_and_cut\",le=\"+Inf\"} 3",
           "batchcut_request_duration_seconds_sum{kind=\"stop_and_cut\"} 1.703",
           "batchcut_request_duration_seconds_count{kind=\"stop_and_cut\"} 3",
           "batchcut_request_duration_seconds_bucket{kind=\"read\",le=\"0.025\"} 0",
           "batchcut_request_duration_seconds_bucket{kind=\"read\",le=\"0.05\"} 1",
           "batchcut_request_duration_seconds_count{kind=\"read\"} 1",
           "# TYPE batchcut_last_success_timestamp_seconds gauge",
           "batchcut_last_success_timestamp_seconds 1764600000.5",
           "batchcut_last_run_duration_seconds 12.25",
           "batchcut_last_run_exit_status 0",
       })
    EXPECT_TRUE(has_line(text, line)) << "missing: " << line << "\n" << text;
  EXPECT_EQ(text.find("code=\"0\""), std::string::npos) << text;
  EXPECT_EQ(promtool_complaints(text), "");
}

TEST(Metrics, FamiliesWithoutSamplesAndAFirstRunPassPromtool) {
  MetricsSample m;  // nothing sent yet, no earlier run: the last_* families have no sample
  m.jobs = jobs_by_state({}, {}, 3);
  m.total_jobs = 3;
  const std::string text = render_metrics(m);
  EXPECT_TRUE(has_line(text, "batchcut_jobs{state=\"pending\"} 3")) << text;
  EXPECT_EQ(text.find("\nbatchcut_last_success_timestamp_seconds "), std::string::npos) << text;
  EXPECT_EQ(promtool_complaints(text), "");
}

TEST(Metrics, PromtoolCheckFailsOnABadExposition) {
  // The check itself can fail: a counter without _total is a complaint.
  EXPECT_NE(promtool_complaints("# HELP x_requests n\n# TYPE x_requests counter\nx_requests 1\n"), "");
}

TEST(Metrics, LabelValuesAreEscaped) {
  MetricsSample m;
  m.stats.retries_by_cause["say \"hi\"\\\n"] = 1;
  const std::string text = render_metrics(m);
  EXPECT_TRUE(has_line(text, "batchcut_retries_total{cause=\"say \\\"hi\\\"\\\\\\n\"} 1")) << text;
  EXPECT_EQ(promtool_complaints(text), "");
}

TEST(Metrics, ReadsTheLastRunBackAndNamesABadLine) {
  std::vector<std::string> warnings;
  const auto last = read_last_run_metrics(render_metrics(known_sample()), "m.prom", warnings);
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(last.success_timestamp, 1764600000.5);
  EXPECT_EQ(last.duration_seconds, 12.25);
  EXPECT_EQ(last.exit_status, 0);

  const auto bad = read_last_run_metrics("# HELP x\nbatchcut_last_run_exit_status 3\nbatchcut_last_success_timestamp_seconds soon\n",
                                         "/var/lib/m.prom", warnings);
  EXPECT_FALSE(bad.success_timestamp);
  EXPECT_EQ(bad.exit_status, 3);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].rfind("/var/lib/m.prom:3: batchcut_last_success_timestamp_seconds: \"soon\"", 0), 0u) << warnings[0];
}

TEST(Metrics, ListenAddresses) {
  std::string error;
  auto a = parse_listen_address("127.0.0.1:9464", error);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 9464);
  a = parse_listen_address(":0", error);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 0);
  a = parse_listen_address("9100", error);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 9100);
  a = parse_listen_address("[::1]:9100", error);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "::1");
  EXPECT_FALSE(parse_listen_address("localhost:9100", error));
  EXPECT_NE(error.find("not an IP address"), std::string::npos) << error;
  EXPECT_FALSE(parse_listen_address("127.0.0.1:70000", error));
  EXPECT_NE(error.find("not a port number"), std::string::npos) << error;
  EXPECT_FALSE(parse_listen_address("127.0.0.1:", error));
}

namespace {

RunReport report_with_exit(int exit_status) {
  RunReport r;
  r.total = 3;
  r.kept = {{JobState::succeeded, 1}};
  r.run.states = {{JobState::succeeded, 1}, {JobState::pending, 1}};
  r.started = std::chrono::system_clock::time_point(std::chrono::seconds(1764800000));
  r.ended = r.started + milliseconds(7500);
  r.exit_status = exit_status;
  return r;
}

}  // namespace

TEST(Metrics, AFailedRunCarriesTheLastSuccessForwardAndASucceededOneSetsIt) {
  TempDir dir;
  const fs::path file = dir.path / "batchcut.prom";
  std::ostringstream err;
  {
    MetricsSample before = known_sample();  // an earlier run's file: last success 1764600000.5
    std::ofstream(file) << render_metrics(before);
    RunMetrics metrics({file, std::nullopt, milliseconds(15000)}, err);
    ASSERT_TRUE(metrics.start({{JobState::succeeded, 1}}, 3));
    // While it runs: in progress, and the earlier run's last_* still there.
    std::string text = slurp(file);
    EXPECT_TRUE(has_line(text, "batchcut_run_in_progress 1")) << text;
    EXPECT_TRUE(has_line(text, "batchcut_last_success_timestamp_seconds 1764600000.5")) << text;
    EXPECT_TRUE(has_line(text, "batchcut_jobs{state=\"pending\"} 2")) << text;
    metrics.finish(report_with_exit(3));
    text = slurp(file);
    EXPECT_TRUE(has_line(text, "batchcut_run_in_progress 0")) << text;
    EXPECT_TRUE(has_line(text, "batchcut_last_success_timestamp_seconds 1764600000.5")) << text;
    EXPECT_TRUE(has_line(text, "batchcut_last_run_exit_status 3")) << text;
    EXPECT_TRUE(has_line(text, "batchcut_last_run_duration_seconds 7.5")) << text;
    EXPECT_TRUE(has_line(text, "batchcut_jobs{state=\"succeeded\"} 2")) << text;
    EXPECT_TRUE(has_line(text, "batchcut_jobs{state=\"pending\"} 1")) << text;
    EXPECT_EQ(promtool_complaints(text), "");
  }
  {
    RunMetrics metrics({file, std::nullopt, milliseconds(15000)}, err);
    ASSERT_TRUE(metrics.start({}, 3));
    metrics.finish(report_with_exit(0));
    const std::string text = slurp(file);
    EXPECT_TRUE(has_line(text, "batchcut_last_success_timestamp_seconds 1764800007.5")) << text;
    EXPECT_TRUE(has_line(text, "batchcut_last_run_exit_status 0")) << text;
  }
  EXPECT_EQ(err.str(), "");
  // Only the file itself is left behind: no temporary file of the atomic write.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()), 1);
}

TEST(Metrics, TheFileIsRewrittenOnceAnIntervalHasPassed) {
  TempDir dir;
  const fs::path file = dir.path / "batchcut.prom";
  std::ostringstream err;
  RunMetrics metrics({file, std::nullopt, milliseconds(15000)}, err);
  EXPECT_EQ(metrics.tick_interval(), milliseconds(15000));
  ASSERT_TRUE(metrics.start({}, 4));
  RunSnapshot s;
  s.total = 4;
  s.settled = {{JobState::succeeded, 1}};
  s.elapsed = milliseconds(14999);
  metrics.on_tick(s);
  EXPECT_TRUE(has_line(slurp(file), "batchcut_jobs{state=\"succeeded\"} 0"));
  s.elapsed = milliseconds(15000);
  metrics.on_tick(s);
  EXPECT_TRUE(has_line(slurp(file), "batchcut_jobs{state=\"succeeded\"} 1"));
  s.settled = {{JobState::succeeded, 2}};
  s.elapsed = milliseconds(29000);
  metrics.on_tick(s);
  EXPECT_TRUE(has_line(slurp(file), "batchcut_jobs{state=\"succeeded\"} 1"));
}

TEST(Metrics, ARunThatNeverFinishesLeavesTheLastRunAsItWas) {
  TempDir dir;
  const fs::path file = dir.path / "batchcut.prom";
  std::ofstream(file) << render_metrics(known_sample());
  std::ostringstream err;
  {
    RunMetrics metrics({file, std::nullopt, milliseconds(15000)}, err);
    ASSERT_TRUE(metrics.start({}, 3));
  }
  const std::string text = slurp(file);
  EXPECT_TRUE(has_line(text, "batchcut_run_in_progress 0")) << text;
  EXPECT_TRUE(has_line(text, "batchcut_last_run_exit_status 0")) << text;
  EXPECT_TRUE(has_line(text, "batchcut_last_success_timestamp_seconds 1764600000.5")) << text;
}

TEST(Metrics, TheListenerServesGetMetricsAndNothingElse) {
  std::ostringstream err;
  RunMetrics metrics({std::nullopt, std::string("127.0.0.1:0"), milliseconds(15000)}, err);
  EXPECT_EQ(metrics.tick_interval(), milliseconds(1000));
  ASSERT_TRUE(metrics.start({}, 5));
  ASSERT_NE(metrics.port(), 0);
  EXPECT_EQ(err.str(), "batchcut: metrics on http://127.0.0.1:" + std::to_string(metrics.port()) + "/metrics\n");
  RunSnapshot s;
  s.total = 5;
  s.settled = {{JobState::succeeded, 3}};
  metrics.on_tick(s);

  const std::string curl = "timeout 30 curl -sS --max-time 10 -o - -w '\\n%{http_code}' ";
  const std::string base = "http://127.0.0.1:" + std::to_string(metrics.port());
  auto [status, out] = shell(curl + base + "/metrics");
  ASSERT_EQ(status, 0) << out;
  EXPECT_TRUE(out.ends_with("\n200")) << out;
  const std::string body = out.substr(0, out.size() - 4);
  EXPECT_TRUE(has_line(body, "batchcut_jobs{state=\"succeeded\"} 3")) << body;
  EXPECT_EQ(promtool_complaints(body), "");
  for (const std::string& other : {base + "/", base + "/metrics/x", "-X POST " + base + "/metrics"}) {
    auto [st, o] = shell(curl + other);
    EXPECT_TRUE(o.ends_with("\n404")) << other << ": " << o;
  }
}

TEST(Metrics, AListenAddressInUseIsRefused) {
  std::ostringstream err;
  RunMetrics first({std::nullopt, std::string(":0"), milliseconds(15000)}, err);
  ASSERT_TRUE(first.start({}, 1));
  RunMetrics second({std::nullopt, ":" + std::to_string(first.port()), milliseconds(15000)}, err);
  EXPECT_FALSE(second.start({}, 1));
  EXPECT_NE(err.str().find("--metrics-listen :" + std::to_string(first.port()) + ": "), std::string::npos) << err.str();
}

TEST(Metrics, TheAlertRulesPassPromtool) {
  const auto [status, out] =
      shell("timeout 60 promtool check rules " BATCHCUT_SOURCE_DIR "/deploy/prometheus/batchcut-alerts.yml");
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("SUCCESS: 2 rules found"), std::string::npos) << out;
}
