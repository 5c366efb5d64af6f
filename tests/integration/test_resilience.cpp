// Issue 3's guarantees, proven against the emulator: nothing lost, nothing cut twice,
// through faults, kill -9, a second writer, an outage, and replay.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <boost/json.hpp>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "batchcut/emulator/emulator.hpp"
#include "batchcut/ledger/writer.hpp"
#include "emulated.hpp"
#include "support.hpp"

using namespace batchcut;
using namespace batchcut::test;
namespace json = boost::json;

TEST(Resilience, HeavyFaultsEndSucceededOrInDoubtAndNeverCutTwice) {
  TempDir dir;
  auto o = tls_options(dir, 2000);
  o.faults.seed = 3;
  o.faults.p503 = 0.30;
  o.faults.p500 = 0.10;
  o.faults.p429 = 0.05;
  o.faults.p_cut_drop = 0.05;
  o.faults.retry_after_seconds = 0;
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "jobs.csv", manifest_csv(2000));
  // Default retry settings (backoff, reconciliation, retry budget), unlimited rate, and
  // enough attempts for a 45 % fault rate.
  const auto r = run_process(BATCHCUT_BINARY,
                             run_args("run", dir / "jobs.csv", emulator, dir, {"--max-attempts", "20", "--concurrency", "32"}),
                             key_env, 600);
  EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.out << r.err;
  emulator.stop();  // settles the counts
  const auto stats = emulator.stats();
  EXPECT_GT(stats.dropped_connections, 50u) << "the cut-then-drop fault did not fire";
  expect_nothing_lost_nothing_twice(emulator, dir / "jobs.ledger.jsonl", 2000, false);
  // The dropped cuts were in doubt, read back as stopped, and their VODs found by a lookup:
  // they are exactly the recovered jobs, and none is left in doubt.
  const auto ledger = read_ledger(dir / "jobs.ledger.jsonl");
  std::size_t in_doubt = 0, recovered = 0;
  for (const auto& j : ledger.jobs) {
    in_doubt += j.life.state == JobState::in_doubt;
    recovered += j.life.recovered;
  }
  EXPECT_EQ(recovered, stats.dropped_connections);
  EXPECT_EQ(in_doubt, 0u);
}

TEST(Resilience, KilledTenTimesAndRerunEndsWithTheSameGuarantees) {
  TempDir dir;
  auto o = tls_options(dir, 400);
  o.faults.seed = 11;
  o.faults.p503 = 0.10;
  o.faults.p500 = 0.05;
  o.faults.p_cut_drop = 0.03;
  o.faults.latency = std::chrono::milliseconds(2);
  o.faults.latency_jitter = std::chrono::milliseconds(8);
  // The kill comes from the emulator's thread as request number `kill_at` arrives: a
  // random moment in the client's life, chosen as an event rather than a sleep.
  std::atomic<int> child_pid{-1};
  std::atomic<std::uint64_t> kill_at{0};
  o.on_request = [&](std::uint64_t n, std::string_view) {
    if (n == kill_at.load()) {
      const int pid = child_pid.load();
      if (pid > 0) ::kill(pid, SIGKILL);
    }
  };
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "jobs.csv", manifest_csv(400));
  const auto args = run_args("run", dir / "jobs.csv", emulator, dir,
                             {"--concurrency", "8", "--max-attempts", "30", "--backoff-base", "0.01",
                              "--backoff-cap", "0.1"});
  std::mt19937_64 rng(2026);
  int killed = 0;
  for (int round = 0; round < 10; ++round) {
    const auto seen = emulator.stats().requests;
    kill_at = seen + 1 + rng() % 60;
    auto child = start_process(BATCHCUT_BINARY, args, key_env, dir.path());
    child_pid = child.pid;
    const auto r = child.wait(240);
    child_pid = -1;
    ASSERT_NE(r.exit_code, -2) << "hung";
    if (r.exit_code == 128 + SIGKILL) {
      ++killed;
    } else {
      ASSERT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.out << r.err;  // finished first
    }
  }
  EXPECT_GE(killed, 5);
  kill_at = 0;
  const auto last = run_process(BATCHCUT_BINARY, args, key_env, 240);
  EXPECT_TRUE(last.exit_code == 0 || last.exit_code == 1) << last.out << last.err;
  expect_nothing_lost_nothing_twice(emulator, dir / "jobs.ledger.jsonl", 400, true);
}

TEST(Resilience, ASecondRunOnTheSameLedgerIsRefusedAndChangesNothing) {
  TempDir dir;
  auto o = tls_options(dir, 10);
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "jobs.csv", manifest_csv(5));
  const auto args = run_args("run", dir / "jobs.csv", emulator, dir);
  ASSERT_EQ(run_process(BATCHCUT_BINARY, args, key_env).exit_code, 0);
  const std::string before = read_file(dir / "jobs.ledger.jsonl");
  {
    // Another run holds the ledger (the same lock a running batchcut holds).
    auto holder = LedgerWriter::open(dir / "jobs.ledger.jsonl", LedgerSync::group_commit);
    const auto r = run_process(BATCHCUT_BINARY, args, key_env);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("in use"), std::string::npos) << r.err;
    EXPECT_EQ(read_file(dir / "jobs.ledger.jsonl"), before);
  }
  EXPECT_EQ(emulator.stats().requests, 5u);
}

TEST(Resilience, AnOutageTripsTheHaltAndLeavesACleanReplaySet) {
  TempDir dir;
  auto o = tls_options(dir, 300);
  o.faults.outage_duration = std::chrono::hours(1);  // every request: 503
  auto outage = std::make_unique<Emulator>(o);
  outage->start();
  write_file(dir / "jobs.csv", manifest_csv(300));
  const auto r = run_process(
      BATCHCUT_BINARY,
      run_args("run", dir / "jobs.csv", *outage, dir,
               {"--concurrency", "4", "--halt-after-failure-rate", "50%", "--halt-window", "20",
                "--backoff-base", "0.01", "--backoff-cap", "0.05"}),
      key_env, 120);
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("halted"), std::string::npos) << r.out;
  const auto cut_attempts = [&] {
    std::size_t n = 0;
    for (const auto& v : read_ledger(dir / "jobs.ledger.jsonl").jobs) n += v.life.attempts;
    return n;
  }();
  EXPECT_LE(cut_attempts, 20u + 4u) << "the halt let the outage burn through the jobs";
  EXPECT_EQ(outage->stats().cuts_made, 0u);
  const auto port = outage->port();
  outage.reset();

  // Every job is pending: nothing failed for good, nothing is in doubt.
  auto ledger = read_ledger(dir / "jobs.ledger.jsonl");
  ASSERT_EQ(ledger.jobs.size(), 300u);
  for (const auto& j : ledger.jobs) EXPECT_EQ(j.life.state, JobState::pending) << j.spec.key();

  // The API comes back: the default replay set finishes the batch.
  o.faults = {};
  o.listen_port = port;
  Emulator healthy(o);
  healthy.start();
  const auto replay = run_process(BATCHCUT_BINARY, run_args("replay", dir / "jobs.ledger.jsonl", healthy, dir), key_env, 120);
  EXPECT_EQ(replay.exit_code, 0) << replay.out << replay.err;
  expect_nothing_lost_nothing_twice(healthy, dir / "jobs.ledger.jsonl", 300, false);
}

TEST(Resilience, ReplaySendsExactlyTheSelectedJobs) {
  TempDir dir;
  auto o = tls_options(dir, 7);  // lv0..lv6 exist; lv7..lv9 are 404s
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "jobs.csv", manifest_csv(10));
  const auto ledger = dir / "jobs.ledger.jsonl";

  // A wrong key: the first 401 stops the run, and every job stays pending.
  auto first = run_process(BATCHCUT_BINARY, run_args("run", dir / "jobs.csv", emulator, dir, {"--concurrency", "1"}),
                           {"VP_API_KEY=wrong"});
  ASSERT_EQ(first.exit_code, 3) << first.out << first.err;

  // Replay the default set (pending): all ten are sent once.
  auto second = run_process(BATCHCUT_BINARY, run_args("replay", ledger, emulator, dir), key_env);
  EXPECT_EQ(second.exit_code, 1) << second.out << second.err;  // three 404s

  // Replay only the failed ones: exactly lv7..lv9 go out again.
  auto third = run_process(BATCHCUT_BINARY, run_args("replay", ledger, emulator, dir, {"--states", "failed"}), key_env);
  EXPECT_EQ(third.exit_code, 1) << third.out << third.err;

  // Nothing left in the default set: replay sends nothing.
  auto fourth = run_process(BATCHCUT_BINARY, run_args("replay", ledger, emulator, dir), key_env);
  EXPECT_EQ(fourth.exit_code, 0) << fourth.out << fourth.err;

  emulator.stop();
  std::map<std::string, int> posts;
  std::istringstream in(read_file(dir / "record.jsonl"));
  for (std::string line; std::getline(in, line);) {
    auto rec = json::parse(line).as_object();
    if (rec.at("method").as_string() == "POST") ++posts[std::string(rec.at("target").as_string())];
  }
  for (int i = 0; i < 10; ++i) {
    const auto target = "/api/v2/proj1/live-videos/lv" + std::to_string(i) + "/stop-and-cut";
    const int expected = (i == 0 ? 1 : 0) /* the 401 */ + 1 /* replay pending */ + (i >= 7 ? 1 : 0);
    EXPECT_EQ(posts[target], expected) << target;
  }
  EXPECT_EQ(posts.size(), 10u);
  // The failed ones, as a manifest for a person to edit: it validates and holds just them.
  for (const std::string format : {"yaml", "csv"}) {
    const auto exported = run_process(BATCHCUT_BINARY, {"export", ledger.string(), "--manifest", "--states", "failed", "--format", format});
    ASSERT_EQ(exported.exit_code, 0) << exported.err;
    const auto path = dir / ("failed." + format);
    write_file(path, exported.out);
    const auto validated = run_process(BATCHCUT_BINARY, {"validate", path.string()});
    EXPECT_EQ(validated.exit_code, 0) << exported.out << validated.err;
    EXPECT_NE(validated.out.find("3 jobs valid (3 ms, 0 datetime, 0 whole)"), std::string::npos) << validated.out;
    EXPECT_NE(exported.out.find("lv8"), std::string::npos);
    EXPECT_EQ(exported.out.find("lv1\n"), std::string::npos);
  }

  const auto final_ledger = read_ledger(ledger);
  for (const auto& j : final_ledger.jobs) {
    const bool missing = j.spec.live_video_id >= "lv7";
    EXPECT_EQ(j.life.state, missing ? JobState::failed : JobState::succeeded) << j.spec.key();
    if (missing) {
      EXPECT_EQ(j.life.http_status, 404);
    }
  }
}

TEST(Resilience, ChangedJobIsRefusedUnlessAllowed) {
  TempDir dir;
  auto o = tls_options(dir, 10);
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "jobs.csv", manifest_csv(3));
  const auto args = run_args("run", dir / "jobs.csv", emulator, dir, {"--concurrency", "1"});
  ASSERT_EQ(run_process(BATCHCUT_BINARY, args, {"VP_API_KEY=wrong"}).exit_code, 3);  // all pending
  // Same live videos, another range.
  write_file(dir / "jobs.csv",
             "projectId,liveVideoId,videoVisibilityOptionId,fromMilisecond,toMilisecond\n"
             "proj1,lv0,2,0,60000\nproj1,lv1,2,5,10\nproj1,lv2,2,2,60002\n");
  const auto refused = run_process(BATCHCUT_BINARY, args, key_env);
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("jobs.csv:3: job proj1/lv1 differs"), std::string::npos) << refused.err;
  EXPECT_EQ(emulator.stats().requests, 1u);
  auto allowed_args = args;
  allowed_args.push_back("--allow-changed");
  EXPECT_EQ(run_process(BATCHCUT_BINARY, allowed_args, key_env).exit_code, 0);
  const auto ledger = read_ledger(dir / "jobs.ledger.jsonl");
  EXPECT_EQ(ledger.find("proj1", "lv1")->spec.to_ms, 10);

  // Once cut, a stream is never sent again, changed or not, allowed or not.
  write_file(dir / "jobs.csv",
             "projectId,liveVideoId,videoVisibilityOptionId,fromMilisecond,toMilisecond\n"
             "proj1,lv0,2,0,60000\nproj1,lv1,2,5,99\nproj1,lv2,2,2,60002\n");
  const auto recut = run_process(BATCHCUT_BINARY, allowed_args, key_env);
  EXPECT_EQ(recut.exit_code, 2);
  EXPECT_NE(recut.err.find("jobs.csv:3: job proj1/lv1 changed, but the ledger has it succeeded"), std::string::npos) << recut.err;
  const auto replay_done = run_process(BATCHCUT_BINARY, {"replay", (dir / "jobs.ledger.jsonl").string(), "--states", "succeeded"}, key_env);
  EXPECT_EQ(replay_done.exit_code, 2);
  EXPECT_EQ(emulator.stats().repeated_cuts, 0u);
  EXPECT_EQ(emulator.stats().cuts_made, 3u);
}

TEST(Resilience, SigtermDrainsInFlightRequestsAndLeavesTheRestPending) {
  TempDir dir;
  SignalledRun sig;
  sig.at = 10;
  sig.signals = {SIGTERM};
  auto o = tls_options(dir, 200);
  o.faults.latency = std::chrono::milliseconds(100);
  o.on_request = [&](std::uint64_t n, std::string_view) { sig.on_request(n); };
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "jobs.csv", manifest_csv(200));
  const auto args = run_args("run", dir / "jobs.csv", emulator, dir, {"--concurrency", "4"});
  const auto r = sig.run(args, dir);
  EXPECT_EQ(r.exit_code, 143) << r.out << r.err;
  EXPECT_NE(r.out.find("received SIGTERM"), std::string::npos) << r.out;

  // Everything sent was answered and recorded; the rest is pending.
  const auto ledger = read_ledger(dir / "jobs.ledger.jsonl");
  ASSERT_EQ(ledger.jobs.size(), 200u);
  for (const auto& j : ledger.jobs) EXPECT_FALSE(j.life.request_out()) << j.spec.key();
  const auto succeeded = count_state(ledger, JobState::succeeded);
  EXPECT_EQ(succeeded + count_state(ledger, JobState::pending), 200u);
  EXPECT_GE(succeeded, 10u);  // the ten in flight or done when the signal came
  EXPECT_LT(succeeded, 200u);
  EXPECT_EQ(emulator.stats().cuts_made, succeeded);

  // A rerun resumes exactly the pending rest.
  const auto again = run_process(BATCHCUT_BINARY, args, key_env, 120);
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  expect_nothing_lost_nothing_twice(emulator, dir / "jobs.ledger.jsonl", 200, false);
}

TEST(Resilience, ASecondSignalStopsAtOnceAndTheLedgerStaysConsistent) {
  TempDir dir;
  SignalledRun sig;
  sig.at = 6;
  sig.signals = {SIGINT, SIGTERM};
  auto o = tls_options(dir, 50);
  o.faults.latency = std::chrono::milliseconds(3000);  // longer than anyone should wait
  o.on_request = [&](std::uint64_t n, std::string_view) { sig.on_request(n); };
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "jobs.csv", manifest_csv(50));
  const auto args = run_args("run", dir / "jobs.csv", emulator, dir, {"--concurrency", "8"});
  const auto r = sig.run(args, dir);
  // 128 + whichever of the two signals it handled first.
  EXPECT_TRUE(r.exit_code == 130 || r.exit_code == 143) << r.exit_code << r.out << r.err;
  EXPECT_NE(r.out.find("without draining"), std::string::npos) << r.out;
  const auto ledger = read_ledger(dir / "jobs.ledger.jsonl");
  ASSERT_TRUE(ledger.errors.empty());
  EXPECT_FALSE(ledger.torn_tail);
  std::size_t in_flight = 0;
  for (const auto& j : ledger.jobs) in_flight += j.life.request_out();
  EXPECT_GE(in_flight, 1u);  // abandoned mid-request: the next run reads their state first

  EXPECT_NE(r.out.find(std::to_string(in_flight) + " were left with a request out"), std::string::npos) << r.out;

  // The rerun reads the state of every abandoned job before sending anything for it (here
  // against a fast emulator, on the same address, that never saw the abandoned cuts, so all
  // of them go ahead).
  const auto port = emulator.port();
  emulator.stop();
  o.listen_port = port;
  o.faults.latency = std::chrono::milliseconds(0);
  o.on_request = nullptr;
  o.record.reset();
  Emulator fresh(o);
  fresh.start();
  const auto again = run_process(BATCHCUT_BINARY, run_args("run", dir / "jobs.csv", fresh, dir), key_env, 120);
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find(std::to_string(in_flight) + " state reads"), std::string::npos) << again.out;
}

TEST(Resilience, DeadlineStopsDispatchingAndExitsFour) {
  TempDir dir;
  auto o = tls_options(dir, 100);
  o.faults.latency = std::chrono::milliseconds(100);
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "jobs.csv", manifest_csv(100));
  // 100 jobs at 10/s take 10 s; the deadline comes after about one.
  const auto r = run_process(BATCHCUT_BINARY,
                             run_args("run", dir / "jobs.csv", emulator, dir, {"--rate", "10", "--deadline", "1s"}),
                             key_env, 120);
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  const auto ledger = read_ledger(dir / "jobs.ledger.jsonl");
  const auto succeeded = count_state(ledger, JobState::succeeded);
  EXPECT_GE(succeeded, 1u);
  EXPECT_LE(succeeded, 30u);
  EXPECT_EQ(succeeded + count_state(ledger, JobState::pending), 100u);
}

TEST(Resilience, ASlowCutThatOutlastsTheTimeoutIsReadBackNotRepeated) {
  TempDir dir;
  auto o = tls_options(dir, 60);
  o.faults.seed = 5;
  o.faults.p_slow_cut = 0.25;
  o.faults.slow_cut_delay = std::chrono::milliseconds(1500);
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "jobs.csv", manifest_csv(60));
  const auto r = run_process(BATCHCUT_BINARY,
                             run_args("run", dir / "jobs.csv", emulator, dir,
                                      {"--timeout", "0.5", "--reconcile-delay", "0.1"}),
                             key_env, 120);
  // The slow ones timed out after the cut was made: read back as stopped, and their VODs
  // found by a lookup.
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  emulator.stop();
  EXPECT_EQ(emulator.stats().repeated_cuts, 0u);
  const auto ledger = read_ledger(dir / "jobs.ledger.jsonl");
  std::size_t recovered = 0;
  for (const auto& j : ledger.jobs) {
    EXPECT_EQ(j.life.state, JobState::succeeded) << j.spec.key() << ": " << j.life.error;
    recovered += j.life.recovered;
  }
  EXPECT_GT(recovered, 5u);  // about a quarter timed out after the cut was made
  // A slow answer can reach the socket just as the client gives up on it: written, not read.
  expect_nothing_lost_nothing_twice(emulator, dir / "jobs.ledger.jsonl", 60, true);
}
