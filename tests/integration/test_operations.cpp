// What a person running batchcut sees (issue 8), end to end: the real binary against the
// real emulator over TLS. The live view (a bar on a real pseudo-terminal, log lines
// elsewhere, the drain after SIGTERM), the summary and its next steps for every outcome,
// --summary-json against config/schema/summary.schema.json, and the logs, with the key
// redacted everywhere at every level.
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <ctime>
#include <fcntl.h>
#include <map>
#include <sstream>

#include "batchcut/ops/report.hpp"
#include "emulated.hpp"
#include "support.hpp"

using namespace batchcut;
using namespace batchcut::test;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

// Jobs on proj1's videos lv{from}..lv{from+n-1}.
std::string jobs_csv(int from, int n) {
  std::string s = "projectId,liveVideoId,videoVisibilityOptionId,fromMilisecond,toMilisecond\n";
  for (int i = from; i < from + n; ++i) s += "proj1,lv" + std::to_string(i) + ",2,0,60000\n";
  return s;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The summary's "next: " lines, without the prefix.
std::vector<std::string> next_lines(const std::string& out) {
  std::vector<std::string> steps;
  for (const auto& l : lines_of(out))
    if (l.starts_with("next: ")) steps.push_back(l.substr(6));
  return steps;
}

json::object load_json(const fs::path& p) { return json::parse(read_file(p)).as_object(); }

// Validates every file against config/schema/summary.schema.json with the system Python's
// jsonschema; the errors, if any.
std::string schema_errors(const std::vector<fs::path>& files) {
  std::vector<std::string> args{"-c",
                                "import json, sys, jsonschema\n"
                                "schema = json.load(open(sys.argv[1]))\n"
                                "jsonschema.Draft202012Validator.check_schema(schema)\n"
                                "for f in sys.argv[2:]:\n"
                                "    for e in jsonschema.Draft202012Validator(schema).iter_errors(json.load(open(f))):\n"
                                "        print(f, e.json_path, e.message)\n",
                                std::string(BATCHCUT_SOURCE_DIR) + "/config/schema/summary.schema.json"};
  for (const auto& f : files) args.push_back(f.string());
  const auto r = run_process("/usr/bin/python3", args, {}, 60);
  if (r.exit_code != 0) return "python failed (" + std::to_string(r.exit_code) + "): " + r.err;
  return r.out;
}

// The JSON summary says what the text summary says: the next steps, the exit status, and
// the count of every state.
void expect_json_matches_text(const json::object& doc, const ProcessResult& r) {
  std::vector<std::string> steps;
  for (const auto& s : doc.at("nextSteps").as_array()) steps.emplace_back(s.as_string());
  EXPECT_EQ(steps, next_lines(r.out));
  EXPECT_EQ(doc.at("exitStatus").as_int64(), r.exit_code);
  const auto& jobs = doc.at("jobs").as_object();
  std::string line = "batchcut: " + std::to_string(jobs.at("total").as_int64()) + " job";
  EXPECT_NE(r.out.find(line), std::string::npos) << r.out;
  std::string counts;
  for (const char* s : {"succeeded", "failed", "retry_exhausted", "in_doubt", "pending"})
    counts += (counts.empty() ? "" : ", ") + std::to_string(jobs.at(s).as_int64()) + " " + s;
  EXPECT_NE(r.out.find(": " + counts + "\n"), std::string::npos) << counts << "\n" << r.out;
}

// ---- a pseudo-terminal ----

struct PtyResult {
  int exit_code = -1;
  std::string terminal;  // everything written to the terminal (stderr)
};

// Runs `program` on a new pseudo-terminal `columns` wide (stdin and stderr on it; stdout to
// `out_file`), reading what it draws until it exits; killed after `timeout_seconds`.
PtyResult run_on_terminal(const std::string& program, const std::vector<std::string>& args,
                          const std::vector<std::string>& env, unsigned short columns,
                          const fs::path& out_file, int timeout_seconds = 60) {
  winsize size{};
  size.ws_row = 24;
  size.ws_col = columns;
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) envs.emplace_back(*e);
  envs.insert(envs.end(), env.begin(), env.end());
  std::vector<char*> argv{const_cast<char*>(program.c_str())}, envp;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (auto& e : envs) envp.push_back(e.data());
  envp.push_back(nullptr);
  const int out_fd = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int master = -1;
  const pid_t pid = ::forkpty(&master, nullptr, nullptr, &size);
  if (pid < 0) throw std::runtime_error("forkpty failed");
  if (pid == 0) {
    ::dup2(out_fd, 1);
    ::execve(program.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(out_fd);
  PtyResult result;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  bool timed_out = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      timed_out = true;
      break;
    }
    pollfd p{master, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(master, buf, sizeof buf);
    if (n <= 0) break;  // EIO: the child's side is closed, it has exited
    result.terminal.append(buf, static_cast<std::size_t>(n));
  }
  ::close(master);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = timed_out ? -2 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace

// ---- 1. The live view ----

TEST(Operations, OnATerminalABarIsRedrawnInPlaceAndEveryDrawFitsTheWidth) {
  TempDir dir;
  auto o = tls_options(dir, 40);
  o.faults.latency = std::chrono::milliseconds(60);
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "jobs.csv", jobs_csv(0, 40));
  // The defaults: --progress auto, and info logs (one line per job) between the draws.
  const auto r = run_on_terminal(BATCHCUT_BINARY, run_args("run", dir / "jobs.csv", emulator, dir, {"--concurrency", "2"}),
                                 key_env, 60, dir / "stdout.txt");
  ASSERT_EQ(r.exit_code, 0) << r.terminal;
  EXPECT_NE(r.terminal.find("40 of 40 jobs to send to " + emulator.base_url() + " (0 settled earlier, 0 to read back first)"),
            std::string::npos) << r.terminal;
  EXPECT_NE(r.terminal.find("rate unlimited, concurrency 2"), std::string::npos) << r.terminal;
  // Every draw starts with a carriage return and an erase, and fits in 59 columns.
  std::size_t bars = 0;
  const std::string erase = "\r\033[K";
  for (auto at = r.terminal.find(erase); at != std::string::npos; at = r.terminal.find(erase, at + 1)) {
    const auto from = at + erase.size();
    const std::string drawn = r.terminal.substr(from, r.terminal.find_first_of("\r\n\033", from) - from);
    if (!drawn.starts_with("[")) continue;  // a log line, which may wrap
    ++bars;
    EXPECT_LT(drawn.size(), 60u) << drawn;
    EXPECT_NE(drawn.find("/40 "), std::string::npos) << drawn;
    EXPECT_NE(drawn.find("%"), std::string::npos) << drawn;
  }
  EXPECT_GE(bars, 2u) << "the bar was not redrawn:\n" << r.terminal;
  // Each log line erases the bar first (the bar is redrawn below it), so none follows a bar.
  EXPECT_EQ(occurrences(r.terminal, " info proj1/lv"), 40u) << r.terminal;
  EXPECT_EQ(occurrences(r.terminal, erase + "20"), 40u) << r.terminal;  // erase, then the log's year
  const std::string out = read_file(dir / "stdout.txt");
  EXPECT_NE(out.find("batchcut: 40 jobs: 40 succeeded"), std::string::npos) << out;
  EXPECT_EQ(out.find("\033"), std::string::npos) << "the summary on stdout holds no terminal codes";
}

TEST(Operations, OffATerminalProgressIsALogLineEveryIntervalAndNoneShowsNothing) {
  TempDir dir;
  auto o = tls_options(dir, 60);
  o.faults.latency = std::chrono::milliseconds(50);
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "a.csv", jobs_csv(0, 30));
  write_file(dir / "b.csv", jobs_csv(30, 30));
  // stderr is a pipe: --progress auto means log lines.
  const auto logged = run_process(BATCHCUT_BINARY,
                                  run_args("run", dir / "a.csv", emulator, dir,
                                           {"--concurrency", "2", "--progress-interval", "0.2",
                                            "--summary-json", (dir / "a.json").string()}),
                                  key_env);
  ASSERT_EQ(logged.exit_code, 0) << logged.err;
  std::size_t progress = 0, with_eta = 0;
  for (const auto& line : lines_of(logged.err)) {
    if (line.find("progress: ") == std::string::npos) continue;
    ++progress;
    EXPECT_NE(line.find("/30 jobs settled ("), std::string::npos) << line;
    EXPECT_NE(line.find("%)"), std::string::npos) << line;
    with_eta += line.find("ETA ") != std::string::npos;
  }
  EXPECT_GE(progress, 2u) << logged.err;
  EXPECT_GE(with_eta, 1u) << logged.err;
  EXPECT_EQ(logged.err.find("\033"), std::string::npos) << "no terminal codes off a terminal";
  EXPECT_EQ(next_lines(logged.out),
            std::vector<std::string>{"nothing to do: every job succeeded; the VOD ids are in `batchcut export " +
                                     (dir / "a.ledger.jsonl").string() + "`"});
  expect_json_matches_text(load_json(dir / "a.json"), logged);

  const auto quiet = run_process(BATCHCUT_BINARY,
                                 run_args("run", dir / "b.csv", emulator, dir,
                                          {"--concurrency", "2", "--progress", "none", "--progress-interval", "0.2"}),
                                 key_env);
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.err.find("progress: "), std::string::npos) << quiet.err;
  EXPECT_NE(quiet.out.find("batchcut: 30 jobs: 30 succeeded"), std::string::npos) << quiet.out;
  EXPECT_EQ(schema_errors({dir / "a.json"}), "");
}

TEST(Operations, TheBannerCountsTheJobsAndGivesTheDeadlineInLocalTimeAndUtc) {
  TempDir dir;
  auto o = tls_options(dir, 5);
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "jobs.csv", jobs_csv(0, 3));
  ASSERT_EQ(run_process(BATCHCUT_BINARY, run_args("run", dir / "jobs.csv", emulator, dir), key_env).exit_code, 0);
  // Two minutes ago on a clock 9 hours ahead of UTC (a POSIX TZ, no tz database needed).
  const std::time_t now = std::time(nullptr) + 9 * 3600;
  std::tm jst{};
  gmtime_r(&now, &jst);
  if (jst.tm_hour == 0 && jst.tm_min < 3) GTEST_SKIP() << "two minutes ago was yesterday";
  const std::time_t before = now - 120;
  std::tm then{};
  gmtime_r(&before, &then);
  char hhmm[8];
  std::strftime(hhmm, sizeof hhmm, "%H:%M", &then);
  write_file(dir / "jobs.csv", jobs_csv(0, 5));
  auto env = key_env;
  env.push_back("TZ=JST-9");
  const auto r = run_process(BATCHCUT_BINARY, run_args("run", dir / "jobs.csv", emulator, dir, {"--deadline", hhmm}), env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("2 of 5 jobs to send to " + emulator.base_url() + " (3 settled earlier, 0 to read back first)"),
            std::string::npos) << r.err;
  // Tomorrow's HH:MM, local (JST) and in UTC, 23h58m away.
  const std::time_t tomorrow = before + 24 * 3600;
  std::tm local{}, utc{};
  gmtime_r(&tomorrow, &local);
  const std::time_t tomorrow_utc = tomorrow - 9 * 3600;
  gmtime_r(&tomorrow_utc, &utc);
  char expected[160], utc_text[40];
  std::strftime(expected, sizeof expected, "deadline %Y-%m-%d %H:%M JST", &local);
  std::strftime(utc_text, sizeof utc_text, " (%Y-%m-%d %H:%M UTC), in 23h5", &utc);
  EXPECT_NE(r.err.find(std::string(expected) + utc_text), std::string::npos) << expected << utc_text << "\n" << r.err;
  EXPECT_NE(r.err.find("(" + std::string(hhmm) + " has passed today, so this is tomorrow's)"), std::string::npos) << r.err;
}

TEST(Operations, SigtermDrainsSaysWhatIsLeftExits143AndTheNextLineRunsTheRest) {
  TempDir dir;
  SignalledRun sig;
  sig.at = 6;
  sig.signals = {SIGTERM};
  auto o = tls_options(dir, 60);
  o.faults.latency = std::chrono::milliseconds(300);
  o.on_request = [&](std::uint64_t n, std::string_view) { sig.on_request(n); };
  Emulator emulator(o);
  emulator.start();
  // A folder and a file name a shell would split or unquote: the printed command survives them.
  const fs::path odd = dir / "it's a run";
  fs::create_directories(odd);
  write_file(odd / "jobs \"60\".csv", jobs_csv(0, 60));
  const fs::path summary = odd / "summary.json";
  const auto r = sig.run(run_args("run", odd / "jobs \"60\".csv", emulator, dir,
                                  {"--concurrency", "4", "--progress", "log", "--progress-interval", "30",
                                   "--drain-timeout", "5", "--summary-json", summary.string()}),
                         dir);
  ASSERT_EQ(r.exit_code, 143) << r.out << r.err;
  EXPECT_NE(r.err.find("stopping (received SIGTERM): "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(" still out will finish and be recorded; the rest stays pending for the next run; "
                       "this takes at most 5s; a second Ctrl-C (or SIGTERM) stops at once"),
            std::string::npos) << r.err;
  const auto steps = next_lines(r.out);
  ASSERT_FALSE(steps.empty()) << r.out;
  const std::string prefix = "stopped by a signal; run again to continue where it stopped: ";
  ASSERT_TRUE(steps[0].starts_with(prefix)) << steps[0];
  const auto doc = load_json(summary);
  EXPECT_EQ(doc.at("stop").at("reason").as_string(), "signal");
  EXPECT_EQ(doc.at("stop").at("signal").as_int64(), SIGTERM);
  EXPECT_FALSE(doc.at("stop").at("forced").as_bool());
  EXPECT_EQ(doc.at("commandLine").as_string(), steps[0].substr(prefix.size()));
  expect_json_matches_text(doc, r);
  EXPECT_EQ(schema_errors({summary}), "");
  const auto pending = doc.at("jobs").at("pending").as_int64();
  EXPECT_GT(pending, 0);

  // The printed command, through a shell, with `batchcut` on the PATH: it runs the rest.
  // (A fresh emulator on the same address, without the latency.)
  const auto port = emulator.port();
  emulator.stop();
  o.listen_port = port;
  o.faults.latency = std::chrono::milliseconds(0);
  o.on_request = nullptr;
  o.record.reset();
  Emulator fresh(o);
  fresh.start();
  const std::string path = "PATH=" + shell_quote(fs::path(BATCHCUT_BINARY).parent_path().string()) + ":\"$PATH\"; export PATH; ";
  const auto again = run_process("/bin/sh", {"-c", path + steps[0].substr(prefix.size())}, key_env);
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_NE(again.err.find(std::to_string(pending) + " of 60 jobs to send"), std::string::npos) << again.err;
  EXPECT_EQ(static_cast<std::int64_t>(fresh.stats().cuts_made), pending);
  EXPECT_EQ(count_state(read_ledger(odd / "jobs \"60\".ledger.jsonl"), JobState::succeeded), 60u);
  EXPECT_EQ(load_json(summary).at("exitStatus").as_int64(), 0);  // the same --summary-json, rewritten
}

TEST(Operations, ASecondSignalStopsWithoutDraining) {
  TempDir dir;
  SignalledRun sig;
  sig.at = 4;
  sig.signals = {SIGTERM, SIGINT};
  auto o = tls_options(dir, 20);
  o.faults.latency = std::chrono::milliseconds(2500);  // longer than a drain should be waited for
  o.on_request = [&](std::uint64_t n, std::string_view) { sig.on_request(n); };
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "jobs.csv", jobs_csv(0, 20));
  const auto r = sig.run(run_args("run", dir / "jobs.csv", emulator, dir,
                                  {"--concurrency", "4", "--summary-json", (dir / "s.json").string()}),
                         dir);
  EXPECT_TRUE(r.exit_code == 130 || r.exit_code == 143) << r.exit_code << r.out << r.err;
  EXPECT_NE(r.out.find("(without draining)"), std::string::npos) << r.out;
  const auto doc = load_json(dir / "s.json");
  EXPECT_TRUE(doc.at("stop").at("forced").as_bool());
  EXPECT_GE(doc.at("jobs").at("abandoned").as_int64(), 1);
  expect_json_matches_text(doc, r);
}

// ---- 2. The summary: a next step for every outcome ----

TEST(Operations, EveryOutcomeEndsWithItsNextStepAndTheJsonCountsMatchTextLedgerAndEmulator) {
  TempDir dir;
  auto o = tls_options(dir, 40);
  o.faults.seed = 4;
  o.faults.p503 = 0.25;            // no cut; with one attempt: retry_exhausted
  o.faults.p500_after_cut = 0.25;  // cut, then 500: read back as stopped, its VOD not found: in_doubt
  o.faults.retry_after_seconds = 0;
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "mixed.csv", jobs_csv(0, 30));
  const fs::path ledger = dir / "mixed.ledger.jsonl";
  // The manage API is out of reach, so no lookup can recover an id: every outcome occurs.
  const auto mixed = run_process(BATCHCUT_BINARY,
                                 run_args("run", dir / "mixed.csv", emulator, dir,
                                          {"--max-attempts", "1", "--reconcile-delay", "0", "--summary-json",
                                           (dir / "mixed.json").string(), "--manage-base-url", "https://127.0.0.1:1"}),
                                 key_env);
  EXPECT_EQ(mixed.exit_code, 1) << mixed.out << mixed.err;
  // At the default level, one log line per job's outcome, whatever it is.
  for (int i = 0; i < 30; ++i) EXPECT_EQ(occurrences(mixed.err, " proj1/lv" + std::to_string(i) + ": "), 1u) << i << "\n" << mixed.err;
  const auto doc = load_json(dir / "mixed.json");
  expect_json_matches_text(doc, mixed);
  const auto& jobs = doc.at("jobs").as_object();
  for (const char* s : {"succeeded", "retry_exhausted", "in_doubt"})
    EXPECT_GE(jobs.at(s).as_int64(), 1) << s << " did not happen; the test shows nothing for it\n" << mixed.out;
  const auto l = read_ledger(ledger);
  for (auto [name, state] : std::map<std::string, JobState>{{"succeeded", JobState::succeeded}, {"failed", JobState::failed},
                                                            {"retry_exhausted", JobState::retry_exhausted},
                                                            {"in_doubt", JobState::in_doubt}, {"pending", JobState::pending}})
    EXPECT_EQ(static_cast<std::int64_t>(count_state(l, state)), jobs.at(name).as_int64()) << name;
  const std::string L = ledger.string();
  const std::string steps = [&] {
    std::string s;
    for (const auto& n : next_lines(mixed.out)) s += n + "\n";
    return s;
  }();
  for (const std::string& command : {"`batchcut replay " + L + "`", "`batchcut replay " + L + " --states in_doubt`"})
    EXPECT_NE(steps.find(command), std::string::npos) << command << "\n" << steps;
  // The requests the summary counts are the requests the emulator answered.
  emulator.stop();
  const auto stats = emulator.stats();
  std::map<int, std::uint64_t> by_status;
  for (const auto& row : doc.at("requests").at("byStatus").as_array())
    by_status[static_cast<int>(row.at("status").as_int64())] += static_cast<std::uint64_t>(row.at("count").as_int64());
  EXPECT_EQ(by_status, stats.requests_by_status);
  const auto& requests = doc.at("requests");  // the lookups went to the manage API, not here
  EXPECT_GT(requests.at("lookups").as_int64(), 0);
  EXPECT_EQ(static_cast<std::uint64_t>(requests.at("stopAndCut").as_int64() + requests.at("cutAndPublish").as_int64() +
                                       requests.at("reads").as_int64()),
            stats.requests);
  EXPECT_EQ(static_cast<std::uint64_t>(jobs.at("succeeded").as_int64()) + static_cast<std::uint64_t>(jobs.at("in_doubt").as_int64()),
            stats.cuts_made);
  const auto& lat = doc.at("latencySeconds").at("stop_and_cut").as_object();
  EXPECT_EQ(lat.at("count").as_int64(), doc.at("requests").at("stopAndCut").as_int64());
  EXPECT_LE(lat.at("p50").as_double(), lat.at("p99").as_double());
  EXPECT_LE(lat.at("p99").as_double(), lat.at("max").as_double());
  EXPECT_NE(mixed.out.find("latency (stop-and-cut): p50 "), std::string::npos) << mixed.out;
  EXPECT_NE(mixed.out.find("latency (state read): p50 "), std::string::npos) << mixed.out;

  // The deadline, the key refused, the certificate: each says how to go on.
  Emulator slow([&] {
    auto s = tls_options(dir, 40);
    s.ca_out = dir / "slow-ca.pem";
    s.record.reset();
    s.faults.latency = std::chrono::milliseconds(200);
    return s;
  }());
  slow.start();
  write_file(dir / "late.csv", jobs_csv(0, 40));
  auto late_args = run_args("run", dir / "late.csv", slow, dir,
                            {"--concurrency", "2", "--deadline", "500ms", "--summary-json", (dir / "late.json").string()});
  late_args[5] = (dir / "slow-ca.pem").string();  // --ca-file's value
  const auto late = run_process(BATCHCUT_BINARY, late_args, key_env);
  EXPECT_EQ(late.exit_code, 4) << late.out << late.err;
  write_file(dir / "denied.csv", jobs_csv(30, 5));
  Emulator fast([&] {
    auto s = tls_options(dir, 40);
    s.record.reset();
    return s;
  }());
  fast.start();
  const auto denied = run_process(BATCHCUT_BINARY,
                                  run_args("run", dir / "denied.csv", fast, dir, {"--summary-json", (dir / "denied.json").string()}),
                                  {"VP_API_KEY=not-the-key"});
  EXPECT_EQ(denied.exit_code, 3) << denied.out << denied.err;
  // A job the API refuses (no such video: 404) beside two it takes.
  write_file(dir / "refused.csv", jobs_csv(0, 2) + "proj1,lv404,2,0,60000\n");
  const auto refused = run_process(BATCHCUT_BINARY,
                                   run_args("run", dir / "refused.csv", fast, dir, {"--summary-json", (dir / "refused.json").string()}),
                                   key_env);
  EXPECT_EQ(refused.exit_code, 1) << refused.out << refused.err;
  EXPECT_EQ(occurrences(refused.err, " warning proj1/lv404: failed: HTTP 404"), 1u) << refused.err;
  const std::string R = (dir / "refused.ledger.jsonl").string();
  const auto refused_steps = next_lines(refused.out);
  ASSERT_EQ(refused_steps.size(), 1u) << refused.out;
  for (const std::string& command : {"`batchcut export " + R + " --states failed`",
                                     "`batchcut export " + R + " --manifest --states failed > fix.csv`",
                                     "`batchcut run fix.csv --base-url " + fast.base_url() + " --ca-file " +
                                         (dir / "ca.pem").string() + "`"})
    EXPECT_NE(refused_steps[0].find(command), std::string::npos) << command << "\n" << refused_steps[0];
  write_file(dir / "untrusted.csv", jobs_csv(35, 5));
  auto untrusted_args = run_args("run", dir / "untrusted.csv", fast, dir, {"--summary-json", (dir / "untrusted.json").string()});
  untrusted_args.erase(untrusted_args.begin() + 4, untrusted_args.begin() + 6);  // no --ca-file
  const auto untrusted = run_process(BATCHCUT_BINARY, untrusted_args, key_env);
  EXPECT_EQ(untrusted.exit_code, 3) << untrusted.out << untrusted.err;

  const std::vector<std::pair<const ProcessResult*, std::string>> stops = {
      {&late, "the deadline passed; run again (with a later --deadline) to continue where it stopped: batchcut run "},
      {&denied, "the API refused the key (HTTP 401): check VP_API_KEY or --api-key-file, then run again: batchcut run "},
      {&untrusted, "the server's certificate did not verify; if it uses a private CA, add --ca-file CA.pem, then run again: batchcut run "}};
  for (const auto& [r, says] : stops) {
    const auto n = next_lines(r->out);
    ASSERT_FALSE(n.empty()) << r->out;
    EXPECT_TRUE(n[0].starts_with(says)) << n[0];
  }
  expect_json_matches_text(load_json(dir / "late.json"), late);
  expect_json_matches_text(load_json(dir / "denied.json"), denied);
  expect_json_matches_text(load_json(dir / "untrusted.json"), untrusted);
  expect_json_matches_text(load_json(dir / "refused.json"), refused);
  EXPECT_EQ(load_json(dir / "refused.json").at("jobs").at("failed").as_int64(), 1);
  EXPECT_EQ(load_json(dir / "late.json").at("stop").at("reason").as_string(), "deadline");
  EXPECT_EQ(schema_errors({dir / "mixed.json", dir / "late.json", dir / "denied.json", dir / "untrusted.json",
                           dir / "refused.json"}),
            "");
}

// ---- 3. Logs ----

TEST(Operations, LogsGoAsJsonOrToAFileWithOneLinePerOutcomeAndPerAttemptAtDebug) {
  TempDir dir;
  auto o = tls_options(dir, 20);
  Emulator emulator(o);
  emulator.start();
  auto run = [&](const std::string& name, int from, std::vector<std::string> extra, std::vector<std::string> env = key_env) {
    write_file(dir / (name + ".csv"), jobs_csv(from, 4));
    extra.insert(extra.end(), {"--progress", "none"});
    return run_process(BATCHCUT_BINARY, run_args("run", dir / (name + ".csv"), emulator, dir, extra), env);
  };

  // JSON at debug: every stderr line is an object with time, level and msg (the banner too).
  const auto js = run("json", 0, {"--log-format", "json", "-v"});
  ASSERT_EQ(js.exit_code, 0) << js.err;
  std::size_t outcomes = 0, attempts = 0;
  for (const auto& line : lines_of(js.err)) {
    json::error_code ec;
    const auto v = json::parse(line, ec);
    ASSERT_TRUE(!ec && v.is_object()) << "not a JSON object: " << line;
    const auto& obj = v.as_object();
    ASSERT_TRUE(obj.contains("time") && obj.contains("level") && obj.contains("msg")) << line;
    const std::string msg(obj.at("msg").as_string()), level(obj.at("level").as_string());
    if (msg.find(": succeeded: videoPublicId vjs") != std::string::npos) {
      ++outcomes;
      EXPECT_EQ(level, "info");
    }
    if (msg.find(" cut 1: success -> ") != std::string::npos) {
      ++attempts;
      EXPECT_EQ(level, "debug");
    }
  }
  EXPECT_EQ(outcomes, 4u) << js.err;
  EXPECT_EQ(attempts, 4u) << js.err;

  // Text at the default level: one line per outcome, none per attempt.
  const auto info = run("info", 4, {});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_EQ(occurrences(info.err, " info proj1/lv"), 4u) << info.err;
  EXPECT_EQ(occurrences(info.err, ": succeeded: videoPublicId "), 4u) << info.err;
  EXPECT_EQ(occurrences(info.err, " cut 1: "), 0u) << info.err;
  // BATCHCUT_LOG=debug (the legacy variable) and --log-level debug both add the attempts.
  auto env = key_env;
  env.push_back("BATCHCUT_LOG=debug");
  EXPECT_EQ(occurrences(run("legacy", 8, {}, env).err, " debug proj1/lv"), 4u);

  // -q: warnings only, the summary still on stdout.
  const auto quiet = run("quiet", 12, {"-q"});
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.err.find("succeeded"), std::string::npos) << quiet.err;
  EXPECT_NE(quiet.out.find("batchcut: 4 jobs: 4 succeeded"), std::string::npos) << quiet.out;

  // --log-file: the lines go there, not to stderr.
  const auto filed = run("filed", 16, {"--log-file", (dir / "run.log").string(), "--log-level", "debug"});
  ASSERT_EQ(filed.exit_code, 0) << filed.err;
  EXPECT_EQ(filed.err.find("succeeded"), std::string::npos) << filed.err;
  const std::string log = read_file(dir / "run.log");
  EXPECT_EQ(occurrences(log, ": succeeded: videoPublicId "), 4u) << log;
  EXPECT_EQ(occurrences(log, " cut 1: success"), 4u) << log;

  // An unknown level is an error before anything is sent, by flag or by environment.
  const auto requests = emulator.stats().requests;
  const auto bad_flag = run("bad1", 0, {"--log-level", "loud"});
  EXPECT_EQ(bad_flag.exit_code, 2);
  EXPECT_NE(bad_flag.err.find("--log-level loud: unknown log level"), std::string::npos) << bad_flag.err;
  auto bad_env = key_env;
  bad_env.push_back("BATCHCUT_LOG=loud");
  const auto bad_var = run("bad2", 0, {}, bad_env);
  EXPECT_EQ(bad_var.exit_code, 2);
  EXPECT_NE(bad_var.err.find("BATCHCUT_LOG=loud: unknown log level"), std::string::npos) << bad_var.err;
  EXPECT_EQ(emulator.stats().requests, requests);
  EXPECT_FALSE(fs::exists(dir / "bad1.ledger.jsonl"));
  EXPECT_FALSE(fs::exists(dir / "bad2.ledger.jsonl"));
}

TEST(Operations, TheKeyIsNowhereAtTraceLevelThroughEveryErrorPathEvenWhenTheServerEchoesIt) {
  TempDir dir;
  const std::string key = "Zx9-s3cret-KEY-7731";
  const std::string wrong = "Wr0ng-KEY-55aa";
  auto o = tls_options(dir, 40);
  o.api_key = key;
  o.faults.seed = 21;
  o.faults.echo_authorization = true;  // every JSON error quotes "Authorization: Bearer KEY"
  o.faults.p500 = 0.15;
  o.faults.p503 = 0.15;
  o.faults.p429 = 0.1;
  o.faults.retry_after_seconds = 0;
  o.faults.p500_after_cut = 0.1;
  o.faults.p_slow_cut = 0.1;  // answered after the client's --timeout: a timeout
  o.faults.slow_cut_delay = std::chrono::milliseconds(1200);
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "key.txt", key + "\n");
  fs::permissions(dir / "key.txt", fs::perms::owner_read | fs::perms::owner_write);  // as --api-key-file wants
  write_file(dir / "jobs.csv", jobs_csv(0, 30) + "proj1,lv404,2,0,60000\n");  // a 404, echoed
  const std::vector<std::string> quick = {"--timeout", "0.5", "--max-attempts", "4", "--reconcile-delay", "0",
                                          "--backoff-base", "0.01", "--backoff-cap", "0.05"};
  auto first = run_args("run", dir / "jobs.csv", emulator, dir, quick);
  first.insert(first.end(), {"--api-key-file", (dir / "key.txt").string(), "--log-level", "trace", "--log-file",
                             (dir / "run.log").string(), "--summary-json", (dir / "run.json").string()});
  const auto r1 = run_process(BATCHCUT_BINARY, first);
  EXPECT_TRUE(r1.exit_code == 0 || r1.exit_code == 1) << r1.out << r1.err;
  // Then the rest again, logging JSON at trace to stderr, the key from the environment.
  auto second = std::vector<std::string>{"replay", (dir / "jobs.ledger.jsonl").string(), "--states",
                                         "pending,retry_exhausted,in_doubt,failed", "-vv", "--log-format", "json",
                                         "--summary-json", (dir / "replay.json").string()};
  second.insert(second.end(), quick.begin(), quick.end());
  const auto r2 = run_process(BATCHCUT_BINARY, second, {"VP_API_KEY=" + key});
  // And a key the server refuses (401, echoed), at trace.
  write_file(dir / "denied.csv", jobs_csv(35, 3));
  auto third = run_args("run", dir / "denied.csv", emulator, dir,
                        {"-vv", "--summary-json", (dir / "denied.json").string()});
  const auto r3 = run_process(BATCHCUT_BINARY, third, {"VP_API_KEY=" + wrong});
  EXPECT_EQ(r3.exit_code, 3) << r3.out << r3.err;

  // Every error path fired, and the server did echo the key.
  const std::string ledger = read_file(dir / "jobs.ledger.jsonl");
  const auto doc = load_json(dir / "run.json");
  for (const char* cause : {"http_500", "http_503", "http_429"})
    EXPECT_TRUE(doc.at("retriesByCause").as_object().contains(cause) ||
                load_json(dir / "replay.json").at("retriesByCause").as_object().contains(cause))
        << cause << " never happened: " << json::serialize(doc.at("retriesByCause"));
  EXPECT_NE(json::serialize(doc.at("requests").at("errors")).find(R"("error":"timeout")"), std::string::npos)
      << json::serialize(doc.at("requests"));
  EXPECT_NE(ledger.find("Authorization was: Bearer [redacted]"), std::string::npos) << "the echo did not reach the ledger";
  EXPECT_NE(r3.out.find("Authorization was: Bearer [redacted]"), std::string::npos) << r3.out;
  EXPECT_NE(read_file(dir / "run.log").find(" trace "), std::string::npos) << "not at trace level";

  const std::map<std::string, std::string> places = {
      {"run stdout", r1.out},           {"run stderr", r1.err},
      {"replay stdout", r2.out},        {"replay stderr", r2.err},
      {"refused stdout", r3.out},       {"refused stderr", r3.err},
      {"log file", read_file(dir / "run.log")},
      {"ledger", ledger},               {"refused ledger", read_file(dir / "denied.ledger.jsonl")},
      {"summary json", read_file(dir / "run.json")},
      {"replay summary json", read_file(dir / "replay.json")},
      {"refused summary json", read_file(dir / "denied.json")}};
  for (const auto& [where, text] : places) {
    EXPECT_FALSE(text.empty()) << where;
    EXPECT_EQ(text.find(key), std::string::npos) << "the key is in the " << where << ":\n" << text;
    EXPECT_EQ(text.find(wrong), std::string::npos) << "the refused key is in the " << where << ":\n" << text;
  }
}
