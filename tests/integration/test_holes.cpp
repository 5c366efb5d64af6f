// One regression test per hole found in "never cut twice, never lose an id" (issue 7), end to
// end: the real batchcut binary against the real emulator over TLS. The holes that live
// below the binary are pinned where they live: the transport's (stray bytes, large headers,
// 101, request targets) in test_transport.cpp and test_api.cpp, the lifecycle's rules in
// test_lifecycle.cpp and tests/sim, the fair scheduler in test_runner.cpp.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <sstream>

#include "batchcut/ledger/writer.hpp"
#include "batchcut/manifest/csv.hpp"
#include "emulated.hpp"
#include "support.hpp"

using namespace batchcut;
using namespace batchcut::test;

namespace {

std::filesystem::path ledger_of(const TempDir& dir) { return dir / "jobs.ledger.jsonl"; }

std::map<std::string, const JobRecord*> by_key(const LedgerContents& l) {
  std::map<std::string, const JobRecord*> m;
  for (const auto& j : l.jobs) m[j.spec.key()] = &j;
  return m;
}

// The rows of `batchcut export LEDGER [extra]` as read back by the CSV reader, by column name.
std::vector<std::map<std::string, std::string>> export_rows(const std::filesystem::path& ledger,
                                                            std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"export", ledger.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  const auto r = run_process(BATCHCUT_BINARY, args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  CsvReader reader(r.out);
  CsvRow header, row;
  std::vector<std::map<std::string, std::string>> rows;
  if (!reader.next(header)) return rows;
  while (reader.next(row)) {
    auto& m = rows.emplace_back();
    for (std::size_t i = 0; i < header.fields.size() && i < row.fields.size(); ++i) m[header.fields[i]] = row.fields[i];
  }
  return rows;
}

}  // namespace

// ---- 1. A crash, then a resume that stops before it reads the in-flight cuts back ----

class CrashThenEarlyStop : public ::testing::TestWithParam<std::string> {};

TEST_P(CrashThenEarlyStop, TheNextRunReadsTheStreamsBackAndCutsNothingTwice) {
  const std::string stop = GetParam();
  TempDir dir;
  auto o = tls_options(dir, 40);
  o.faults.latency = std::chrono::milliseconds(400);  // cuts are made at once, answered late
  SignalledRun run;
  o.on_request = [&](std::uint64_t n, std::string_view) { run.on_request(n); };
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "jobs.csv", manifest_csv(40));
  const auto args = run_args("run", dir / "jobs.csv", emulator, dir, {"--concurrency", "8"});

  // Run 1 is killed while cuts are in flight.
  run.at = 12;
  run.signals = {SIGKILL};
  ASSERT_EQ(run.run(args, dir).exit_code, 128 + SIGKILL);
  std::size_t in_flight = 0;
  for (const auto& j : read_ledger(ledger_of(dir)).jobs) in_flight += j.life.request_out();
  ASSERT_GE(in_flight, 1u) << "the kill came with nothing in flight: the test shows nothing";

  // Run 2 stops before the read-backs are due (they wait --reconcile-delay 5 s).
  const auto seen = emulator.stats().requests;
  auto early = args;
  early.insert(early.end(), {"--reconcile-delay", "5"});
  if (stop == "deadline") {
    early.insert(early.end(), {"--deadline", "1s"});
    EXPECT_EQ(run_process(BATCHCUT_BINARY, early, key_env).exit_code, 4);
  } else if (stop == "signal") {
    run.at = seen + 1;
    run.signals = {SIGTERM};
    EXPECT_EQ(run.run(early, dir).exit_code, 143);
  } else {  // the key was revoked overnight
    EXPECT_EQ(run_process(BATCHCUT_BINARY, early, {"VP_API_KEY=revoked"}).exit_code, 3);
  }
  for (const auto& j : read_ledger(ledger_of(dir)).jobs)
    EXPECT_FALSE(j.life.state == JobState::pending && !j.life.doubt && j.life.attempts > 0 &&
                 j.life.http_status == 0)
        << j.spec.key() << ": a cut of unknown fate is no longer in doubt: " << describe(j.life);

  // Run 3 finishes the batch: everything that may have been cut is read back first.
  run.signals = {};
  const auto last = run_process(BATCHCUT_BINARY, args, key_env);
  EXPECT_TRUE(last.exit_code == 0 || last.exit_code == 1) << last.out << last.err;
  EXPECT_EQ(emulator.stats().repeated_cuts, 0u);
  expect_nothing_lost_nothing_twice(emulator, ledger_of(dir), 40, true);
}

INSTANTIATE_TEST_SUITE_P(Holes, CrashThenEarlyStop, ::testing::Values("deadline", "signal", "unauthorized"));

TEST(Holes, ACutLeftInFlightByACrashThatLaterGetsA400IsInDoubtNotFailed) {
  TempDir dir;
  auto o = tls_options(dir, 20);
  o.faults.latency = std::chrono::milliseconds(400);
  SignalledRun run;
  o.on_request = [&](std::uint64_t n, std::string_view) { run.on_request(n); };
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "jobs.csv", manifest_csv(20));
  const auto args = run_args("run", dir / "jobs.csv", emulator, dir, {"--concurrency", "4"});
  run.at = 3;
  run.signals = {SIGKILL};
  ASSERT_EQ(run.run(args, dir).exit_code, 128 + SIGKILL);
  // Sent again without a look (--no-reconcile): the stream is stopped, so the API says 400.
  auto blind = args;
  blind.push_back("--no-reconcile");
  run_process(BATCHCUT_BINARY, blind, key_env);
  const auto ledger = read_ledger(ledger_of(dir));
  std::size_t in_doubt = 0;
  for (const auto& j : ledger.jobs) {
    EXPECT_NE(j.life.state, JobState::failed) << j.spec.key() << ": " << j.life.error;
    in_doubt += j.life.state == JobState::in_doubt;
  }
  EXPECT_GE(in_doubt, 1u);
  for (const auto& v : emulator.videos()) {
    if (v.cut_count > 0) {
      EXPECT_NE(by_key(ledger).at("proj1/" + v.live_video_id)->life.state, JobState::failed);
    }
  }
}

// ---- 3. A ledger remembers where it was made ----

TEST(Holes, ResumeAndReplayGoWhereTheLedgerWasMadeAndAnotherBaseUrlIsRefused) {
  TempDir dir;
  auto o = tls_options(dir, 5);
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "jobs.csv", manifest_csv(5));
  // A wrong key: every job stays pending.
  ASSERT_EQ(run_process(BATCHCUT_BINARY, run_args("run", dir / "jobs.csv", emulator, dir), {"VP_API_KEY=wrong"}).exit_code, 3);

  // A replay with no --base-url (nor --ca-file) goes to the emulator, not to production.
  const auto replay = run_process(BATCHCUT_BINARY, {"replay", ledger_of(dir).string()}, key_env);
  EXPECT_EQ(replay.exit_code, 0) << replay.out << replay.err;
  EXPECT_EQ(emulator.stats().cuts_made, 5u);

  // Another base URL is refused, naming both.
  const auto requests = emulator.stats().requests;
  const auto other = run_process(BATCHCUT_BINARY,
                                 {"run", (dir / "jobs.csv").string(), "--base-url", "https://127.0.0.1:9"}, key_env);
  EXPECT_EQ(other.exit_code, 2);
  EXPECT_NE(other.err.find(emulator.base_url()), std::string::npos) << other.err;
  EXPECT_NE(other.err.find("https://127.0.0.1:9"), std::string::npos) << other.err;
  EXPECT_NE(other.err.find("--retarget"), std::string::npos) << other.err;
  EXPECT_EQ(emulator.stats().requests, requests);
  const auto status = run_process(BATCHCUT_BINARY, {"status", ledger_of(dir).string()});
  EXPECT_NE(status.out.find("sent to " + emulator.base_url()), std::string::npos) << status.out;
}

// ---- 5. A ledger write failure ----

TEST(Holes, ALedgerWriteFailureExitsThreeWithTheSummaryAndEveryUnrecordedId) {
  TempDir dir;
  auto o = tls_options(dir, 60);
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "jobs.csv", manifest_csv(60));
  // The ledger may grow to 16 kB: its 60 job records fit (about 12 kB), then a write fails
  // partway through the run, after cuts were made.
  auto args = run_args("run", dir / "jobs.csv", emulator, dir, {"--concurrency", "4"});
  args.insert(args.begin(), {"--fsize=16000", BATCHCUT_BINARY});
  const auto r = run_process("/usr/bin/prlimit", args, key_env);
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("batchcut: 60 jobs:"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("ledger write failed"), std::string::npos) << r.err;
  emulator.stop();
  EXPECT_GT(emulator.stats().cuts_made, 0u);
  const auto ledger = read_ledger(ledger_of(dir));
  ASSERT_TRUE(ledger.errors.empty()) << ledger.errors.front().to_string();
  const auto jobs = by_key(ledger);
  std::size_t unrecorded = 0;
  for (const auto& v : emulator.videos()) {
    if (!v.id_delivered) continue;
    const auto it = jobs.find("proj1/" + v.live_video_id);
    if (it != jobs.end() && it->second->life.video_public_id == v.video_public_id) continue;
    ++unrecorded;
    EXPECT_NE(r.err.find("NOT RECORDED: proj1/" + v.live_video_id + " succeeded with videoPublicId " + v.video_public_id),
              std::string::npos)
        << v.live_video_id << "'s id is neither in the ledger nor on stderr:\n" << r.err;
  }
  EXPECT_GT(unrecorded, 0u) << "the ledger failed before any id was at stake";
}

// ---- 6. A crafted ledger ----

TEST(Holes, ReplayRefusesALedgerWhoseIdsCouldEscapeTheRequestPath) {
  TempDir dir;
  auto o = tls_options(dir, 5);
  Emulator emulator(o);
  emulator.start();
  for (const std::string id : {R"(../../admin?x=)", R"(lv1\r\nX-Evil: 1)"}) {
    write_file(ledger_of(dir),
               R"({"type":"run","format":2,"baseUrl":")" + emulator.base_url() + R"(","authScheme":"bearer","caFile":")" +
                   (dir / "ca.pem").string() + R"("})" "\n" +
                   R"({"type":"job","projectId":"proj1","liveVideoId":")" + id +
                   R"(","videoVisibilityOptionId":1,"fromMilisecond":null,"toMilisecond":null,"dateTimeFrom":null,"dateTimeTo":null,"label":""})" "\n");
    const auto r = run_process(BATCHCUT_BINARY, {"replay", ledger_of(dir).string()}, key_env);
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_NE(r.err.find(ledger_of(dir).string() + ":2: liveVideoId: must be"), std::string::npos) << r.err;
  }
  EXPECT_EQ(emulator.stats().requests, 0u);
}

// ---- 7. Large response headers ----

TEST(Holes, AnswersWithACdnSizedHeaderStillYieldTheirIds) {
  TempDir dir;
  auto o = tls_options(dir, 20);
  o.faults.extra_header_bytes = 40 * 1024;
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "jobs.csv", manifest_csv(20));
  const auto r = run_process(BATCHCUT_BINARY, run_args("run", dir / "jobs.csv", emulator, dir), key_env);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_nothing_lost_nothing_twice(emulator, ledger_of(dir), 20, false);
  EXPECT_EQ(count_state(read_ledger(ledger_of(dir)), JobState::succeeded), 20u);
}

// ---- 8. Dates the time type cannot hold ----

TEST(Holes, ADateAfter2262IsRefusedNotWrapped) {
  TempDir dir;
  write_file(dir / "jobs.csv",
             "projectId,liveVideoId,videoVisibilityOptionId,dateTimeFrom,dateTimeTo\n"
             "p,lv1,1,2924-05-23T19:00:00Z,2924-05-23T20:00:00Z\n");
  const auto r = run_process(BATCHCUT_BINARY, {"validate", (dir / "jobs.csv").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("jobs.csv:2: dateTimeFrom: must be between 1970-01-01T00:00:00Z and 2261-12-31T23:59:59.9999999Z"),
            std::string::npos)
      << r.err;
}

// ---- 9. --no-reconcile never calls a job that may have been cut retry_exhausted ----

TEST(Holes, WithoutReadBacksAJobAnEarlierAttemptMayHaveCutIsInDoubtNotRetryExhausted) {
  TempDir dir;
  auto o = tls_options(dir, 200);
  o.faults.seed = 9;
  o.faults.p503 = 0.5;            // the proxy refuses: no cut
  o.faults.p500_after_cut = 0.4;  // the backend cuts, then answers 500
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "jobs.csv", manifest_csv(200));
  run_process(BATCHCUT_BINARY,
              run_args("run", dir / "jobs.csv", emulator, dir,
                       {"--no-reconcile", "--max-attempts", "2", "--backoff-base", "0.01", "--backoff-cap", "0.05"}),
              key_env);
  emulator.stop();
  const auto ledger = read_ledger(ledger_of(dir));
  const auto jobs = by_key(ledger);
  std::size_t cut_then_refused = 0;
  for (const auto& v : emulator.videos()) {
    const JobRecord* j = jobs.at("proj1/" + v.live_video_id);
    if (v.cut_count == 0) continue;
    EXPECT_TRUE(j->life.state == JobState::succeeded || j->life.state == JobState::in_doubt)
        << v.live_video_id << " was cut but ended " << to_string(j->life.state) << ": " << j->life.error;
    cut_then_refused += j->life.state == JobState::in_doubt && j->life.http_status == 503;
  }
  EXPECT_GT(cut_then_refused, 0u) << "no job met a 500-after-cut and then a 503: the test shows nothing";
}

// ---- 10, 11. Guards before anything is sent ----

TEST(Holes, TheClearTextGuardResolvesTheHostInsteadOfMatchingText) {
  TempDir dir;
  write_file(dir / "jobs.csv", manifest_csv(1));
  const auto r = run_process(BATCHCUT_BINARY,
                             {"run", (dir / "jobs.csv").string(), "--base-url", "http://127.attacker.example:8080"}, key_env);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("clear text"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(ledger_of(dir)));
}

TEST(Holes, AnUnknownLogLevelIsAUsageErrorNotSilence) {
  TempDir dir;
  auto o = tls_options(dir, 1);
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "jobs.csv", manifest_csv(1));
  auto env = key_env;
  env.push_back("BATCHCUT_LOG=verbose");
  const auto r = run_process(BATCHCUT_BINARY, run_args("run", dir / "jobs.csv", emulator, dir), env);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("BATCHCUT_LOG=verbose: unknown log level"), std::string::npos) << r.err;
  EXPECT_EQ(emulator.stats().requests, 0u);
  EXPECT_FALSE(std::filesystem::exists(ledger_of(dir)));
}

// ---- 12. Smaller holes ----

TEST(Holes, ASecondYamlDocumentIsAnErrorNotIgnored) {
  TempDir dir;
  write_file(dir / "jobs.yaml",
             "jobs:\n  - {projectId: p, liveVideoId: lv1, videoVisibilityOptionId: 1}\n"
             "---\njobs:\n  - {projectId: p, liveVideoId: lv2, videoVisibilityOptionId: 1}\n");
  const auto r = run_process(BATCHCUT_BINARY, {"validate", (dir / "jobs.yaml").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("jobs.yaml:3: the manifest holds 2 YAML documents"), std::string::npos) << r.err;
}

TEST(Holes, AClosedStdoutAndStderrDoNotKillARun) {
  TempDir dir;
  auto o = tls_options(dir, 30);
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "jobs.csv", manifest_csv(30));
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[0]);  // nobody will ever read: every write to the pipe is EPIPE / SIGPIPE
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  std::vector<std::string> args = run_args("run", dir / "jobs.csv", emulator, dir);
  args.insert(args.begin(), BATCHCUT_BINARY);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string key = key_env.front();
  char* envp[] = {key.data(), const_cast<char*>("BATCHCUT_LOG=debug"), nullptr};  // plenty to write
  pid_t pid = 0;
  ASSERT_EQ(::posix_spawn(&pid, BATCHCUT_BINARY, &actions, nullptr, argv.data(), envp), 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  ProcessResult r;
  r.exit_code = Child{pid, {}, {}}.wait(120).exit_code;
  EXPECT_EQ(r.exit_code, 0) << "killed by signal " << r.exit_code - 128;
  EXPECT_EQ(count_state(read_ledger(ledger_of(dir)), JobState::succeeded), 30u);
}

TEST(Holes, TheCsvExportGuardsFreeTextAgainstSpreadsheetFormulas) {
  TempDir dir;
  auto o = tls_options(dir, 2);
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "jobs.csv",
             "projectId,liveVideoId,videoVisibilityOptionId,label\n"
             "proj1,lv0,1,\"=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\"\nproj1,lv1,1,@SUM(A1)\n");
  ASSERT_EQ(run_process(BATCHCUT_BINARY, run_args("run", dir / "jobs.csv", emulator, dir), key_env).exit_code, 0);
  const auto rows = export_rows(ledger_of(dir));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].at("label"), "'=HYPERLINK(\"http://evil\",\"x\")");
  EXPECT_EQ(rows[1].at("label"), "'@SUM(A1)");
  EXPECT_EQ(rows[0].at("liveVideoId"), "lv0");
}

// ---- 13. Export and status tell the truth ----

TEST(Holes, AnInDoubtRowShowsTheCutsAnswerNotTheReadBacks) {
  TempDir dir;
  auto o = tls_options(dir, 3);
  o.faults.p500_after_cut = 1.0;
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "jobs.csv", manifest_csv(3));
  // With the manage API out of reach, the stopped streams' VODs cannot be looked up.
  EXPECT_EQ(run_process(BATCHCUT_BINARY,
                        run_args("run", dir / "jobs.csv", emulator, dir,
                                 {"--reconcile-delay", "0.1", "--max-attempts", "1", "--manage-base-url", "https://127.0.0.1:1"}),
                        key_env).exit_code, 1);
  const auto rows = export_rows(ledger_of(dir));
  ASSERT_EQ(rows.size(), 3u);
  for (const auto& row : rows) {
    EXPECT_EQ(row.at("state"), "in_doubt");
    EXPECT_EQ(row.at("httpStatus"), "500");  // not the read-back's 200
    EXPECT_EQ(row.at("attempts"), "1");
    EXPECT_EQ(row.at("recovered"), "false");
    EXPECT_NE(row.at("error").find("stream already stopped"), std::string::npos) << row.at("error");
    EXPECT_NE(row.at("error").find("could not be looked up"), std::string::npos) << row.at("error");
  }
  // With it (the emulator serves both), the lookup finds each VOD: succeeded, recovered,
  // and the row still shows the cut's own 500.
  TempDir again;
  auto o2 = tls_options(again, 3);
  o2.faults.p500_after_cut = 1.0;
  Emulator second(o2);
  second.start();
  write_file(again / "jobs.csv", manifest_csv(3));
  EXPECT_EQ(run_process(BATCHCUT_BINARY, run_args("run", again / "jobs.csv", second, again, {"--reconcile-delay", "0.1"}),
                        key_env).exit_code, 0);
  for (const auto& row : export_rows(ledger_of(again))) {
    EXPECT_EQ(row.at("state"), "succeeded");
    EXPECT_EQ(row.at("httpStatus"), "500");
    EXPECT_EQ(row.at("recovered"), "true");
    EXPECT_FALSE(row.at("videoPublicId").empty());
  }
}

TEST(Holes, PendingRowsKeepTheirLastErrorAndAttemptsCountOnlyRequestsSent) {
  TempDir dir;
  auto o = tls_options(dir, 30);
  o.faults.latency = std::chrono::milliseconds(300);
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "jobs.csv", manifest_csv(30));
  // A deadline half a second in: two requests finish, the dispatches written ahead are withdrawn.
  EXPECT_EQ(run_process(BATCHCUT_BINARY,
                        run_args("run", dir / "jobs.csv", emulator, dir, {"--concurrency", "2", "--deadline", "500ms"}),
                        key_env).exit_code, 4);
  std::size_t attempts = 0;
  for (const auto& row : export_rows(ledger_of(dir))) attempts += std::stoul(row.at("attempts"));
  EXPECT_EQ(attempts, emulator.stats().requests);
  // A revoked key: the job that met the 401 keeps it as its error.
  EXPECT_EQ(run_process(BATCHCUT_BINARY, run_args("run", dir / "jobs.csv", emulator, dir, {"--concurrency", "1"}),
                        {"VP_API_KEY=revoked"}).exit_code, 3);
  std::size_t with_401 = 0;
  for (const auto& row : export_rows(ledger_of(dir), {"--states", "pending"})) {
    EXPECT_EQ(row.at("state"), "pending");
    with_401 += row.at("error").find("HTTP 401") != std::string::npos;
  }
  EXPECT_EQ(with_401, 1u);
}

TEST(Holes, ExportStatesFiltersRowsToo) {
  TempDir dir;
  auto o = tls_options(dir, 3);  // lv3, lv4 do not exist: 404
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "jobs.csv", manifest_csv(5));
  EXPECT_EQ(run_process(BATCHCUT_BINARY, run_args("run", dir / "jobs.csv", emulator, dir), key_env).exit_code, 1);
  const auto failed = export_rows(ledger_of(dir), {"--states", "failed"});
  ASSERT_EQ(failed.size(), 2u);
  for (const auto& row : failed) EXPECT_EQ(row.at("state"), "failed");
  EXPECT_EQ(export_rows(ledger_of(dir)).size(), 5u);
}

TEST(Holes, ADryRunDecidesExactlyAsARunWouldAboutChangedJobs) {
  TempDir dir;
  auto o = tls_options(dir, 3);
  o.faults.p503 = 1.0;  // nothing succeeds: every job stays unsettled
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "jobs.csv", manifest_csv(3));
  run_process(BATCHCUT_BINARY, run_args("run", dir / "jobs.csv", emulator, dir, {"--max-attempts", "1"}), key_env);
  write_file(dir / "jobs.csv", "projectId,liveVideoId,videoVisibilityOptionId,fromMilisecond,toMilisecond\n"
                               "proj1,lv0,2,0,60000\nproj1,lv1,2,7,70\nproj1,lv2,2,2,60002\n");
  auto dry = run_args("run", dir / "jobs.csv", emulator, dir, {"--dry-run"});
  const auto refused = run_process(BATCHCUT_BINARY, dry, key_env);
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find("jobs.csv:3: job proj1/lv1 differs"), std::string::npos) << refused.err;
  dry.push_back("--allow-changed");
  const auto allowed = run_process(BATCHCUT_BINARY, dry, key_env);
  EXPECT_EQ(allowed.exit_code, 0) << allowed.err;
  EXPECT_NE(allowed.err.find("3 jobs would be sent"), std::string::npos) << allowed.err;
  EXPECT_NE(allowed.err.find("1 changed"), std::string::npos) << allowed.err;
}

TEST(Holes, StatusOnALedgerARunHoldsSaysSoInsteadOfCallingItLeftOver) {
  TempDir dir;
  auto o = tls_options(dir, 3);
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "jobs.csv", manifest_csv(3));
  ASSERT_EQ(run_process(BATCHCUT_BINARY, run_args("run", dir / "jobs.csv", emulator, dir), key_env).exit_code, 0);
  const auto before = run_process(BATCHCUT_BINARY, {"status", ledger_of(dir).string()});
  EXPECT_EQ(before.out.find("holds this ledger"), std::string::npos) << before.out;
  auto holder = LedgerWriter::open(ledger_of(dir), LedgerSync::none);  // as a live run does
  const auto during = run_process(BATCHCUT_BINARY, {"status", ledger_of(dir).string()});
  EXPECT_EQ(during.exit_code, 0);
  EXPECT_NE(during.out.find("a batchcut run holds this ledger now"), std::string::npos) << during.out;
}
