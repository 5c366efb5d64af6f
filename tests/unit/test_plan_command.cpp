// `batchcut plan`: the same decisions as a run, an estimate, and the deadline verdict.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <unistd.h>

#include "batchcut/app/app.hpp"
#include "batchcut/ledger/writer.hpp"

using namespace batchcut;
namespace fs = std::filesystem;

namespace {

struct PlanDir {
  fs::path path;
  PlanDir() {
    static std::atomic<int> counter{0};
    path = fs::temp_directory_path() /
           ("batchcut-plan-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
            std::to_string(std::random_device{}()));
    fs::create_directories(path);
  }
  ~PlanDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

fs::path write_manifest(const fs::path& dir, int jobs) {
  const fs::path m = dir / "jobs.csv";
  std::ofstream out(m);
  out << "projectId,liveVideoId,videoVisibilityOptionId\n";
  for (int i = 1; i <= jobs; ++i) out << "p1,lv" << i << ",1\n";
  return m;
}

// A ledger as an earlier run left it: `succeeded` jobs cut, `in_doubt` ones with a 503 after
// their cut, and `changed` ones cut with another visibility than the manifest's.
void write_ledger(const fs::path& manifest, const fs::path& ledger, int succeeded, int in_doubt, int changed) {
  const Manifest m = load_manifest(manifest, ManifestFormat::detect);
  ASSERT_TRUE(m.ok());
  auto log = LedgerWriter::open(ledger, LedgerSync::none);
  RunTarget target;
  target.base_url = "https://livestream.vp.gjirafa.tech";
  append_run(*log, target);
  std::size_t i = 0;
  auto cut = [&](JobSpec spec, CutVerdict verdict) {
    append_job(*log, spec);
    Lifecycle life;
    const Event dispatch = Dispatch{Op::cut, 1};
    step(life, dispatch);
    append_event(*log, spec, dispatch, life.state);
    const Event answer = CutAnswer{1, verdict, verdict == CutVerdict::success ? 200 : 503,
                                   verdict == CutVerdict::success ? "vjs" + std::to_string(i) : "",
                                   "", {}, 0};
    step(life, answer);
    append_event(*log, spec, answer, life.state);
  };
  for (int k = 0; k < succeeded; ++k) cut(m.jobs.at(i++), CutVerdict::success);
  for (int k = 0; k < in_doubt; ++k) cut(m.jobs.at(i++), CutVerdict::retry_in_doubt);
  for (int k = 0; k < changed; ++k) {
    JobSpec spec = m.jobs.at(i++);
    spec.visibility = Visibility::private_;
    cut(spec, CutVerdict::success);
  }
  log->flush();
}

struct Result {
  int status;
  std::string out, err;
};

Result plan(const fs::path& manifest, double rate, int concurrency, double latency,
            std::optional<std::string> deadline = std::nullopt) {
  RunCommand c;
  c.plan_only = true;
  c.manifest = manifest;
  c.rate = rate;
  c.concurrency = concurrency;
  c.expected_latency_seconds = latency;
  c.reconcile_delay_seconds = 2;
  c.deadline = deadline;
  std::ostringstream out, err;
  const int status = run_command(c, out, err);
  return {status, out.str(), err.str()};
}

}  // namespace

TEST(PlanCommand, CountsWhatARunWouldSendSkipAndReadBackAndEstimatesAtTheRate) {
  PlanDir dir;
  const fs::path m = write_manifest(dir.path, 600);
  write_ledger(m, dir.path / "jobs.ledger.jsonl", 40, 10, 0);
  // 550 unsettled (10 of them read back first), 40 skipped; 560 requests at min(10/s, 8/0.5 s)
  // = 10/s is 57 s, plus one round trip and the settle delay: 59.5 s.
  const Result r = plan(m, 10, 8, 0.5);
  EXPECT_EQ(r.status, exit_ok) << r.err;
  EXPECT_NE(r.out.find("send     560  (0 changed since the ledger recorded them, 10 read back first)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("skip     40  (settled in the ledger already: 40 succeeded)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("estimate 1m00s for 570 requests at 10/s (the --rate"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir.path / "jobs.ledger.jsonl.lock")) << "a plan locks nothing";
}

TEST(PlanCommand, ConcurrencyBindsWhenRoundTripsAreSlow) {
  PlanDir dir;
  const fs::path m = write_manifest(dir.path, 100);
  // 4 in flight over 2 s round trips is 2/s, slower than --rate 10: 100 / 2 + 2 = 52 s.
  const Result r = plan(m, 10, 4, 2);
  EXPECT_EQ(r.status, exit_ok) << r.err;
  EXPECT_NE(r.out.find("estimate 52s for 100 requests at 2/s (--concurrency 4 over a 2.00 s round trip"), std::string::npos) << r.out;
}

TEST(PlanCommand, SaysWhetherTheDeadlineFitsAndByHowMuchItMisses) {
  PlanDir dir;
  const fs::path m = write_manifest(dir.path, 600);
  const Result fits = plan(m, 10, 8, 0.5, "2h");
  EXPECT_EQ(fits.status, exit_ok) << fits.out;
  EXPECT_NE(fits.out.find("deadline fits: "), std::string::npos) << fits.out;

  const Result misses = plan(m, 10, 8, 0.5, "30s");  // 61 s of work in 30 s
  EXPECT_EQ(misses.status, exit_some_failed) << misses.out;
  EXPECT_NE(misses.out.find("deadline MISSED by 31s"), std::string::npos) << misses.out;
  EXPECT_NE(misses.out.find("--rate 21 and --concurrency 11"), std::string::npos) << misses.out;
}

TEST(PlanCommand, RefusesChangedJobsExactlyAsARunDoes) {
  PlanDir dir;
  const fs::path m = write_manifest(dir.path, 20);
  write_ledger(m, dir.path / "jobs.ledger.jsonl", 0, 0, 2);  // cut already, now with another visibility
  const Result r = plan(m, 10, 8, 0.5);
  EXPECT_EQ(r.status, exit_usage);
  EXPECT_NE(r.out.find("refuse   2"), std::string::npos) << r.out;

  RunCommand run;
  run.manifest = m;
  run.dry_run = true;
  std::ostringstream out, err;
  EXPECT_EQ(run_command(run, out, err), exit_usage);
  // The same two jobs, with the same messages.
  EXPECT_EQ(err.str().substr(0, err.str().find("batchcut: nothing sent")), r.err) << err.str() << "\n---\n" << r.err;
}
