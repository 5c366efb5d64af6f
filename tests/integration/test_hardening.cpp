// Hostile input against the real binary (issue "Hardening"): files it must not destroy,
// inputs that must cost bounded memory, time and output, and a key file others could read.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>

#include "batchcut/emulator/emulator.hpp"
#include "batchcut/ledger/ledger.hpp"
#include "emulated.hpp"
#include "support.hpp"

using namespace batchcut;
using namespace batchcut::test;
namespace fs = std::filesystem;

namespace {

#if defined(BATCHCUT_SANITIZED)  // set by -DBATCHCUT_SANITIZE=...
constexpr bool kSanitized = true;  // a sanitizer reserves terabytes of address space: no cap
#else
constexpr bool kSanitized = false;
#endif

// The binary under an address-space cap of `cap_mb` (ulimit -v): past it, an allocation
// fails (bad_alloc, SIGABRT), which the test would see. Its peak RSS is checked too.
ProcessResult run_capped(long cap_mb, const std::vector<std::string>& args, int timeout_seconds = 120,
                         bool drop_stdout = false) {
  const std::string exec = std::string("exec \"$0\" \"$@\"") + (drop_stdout ? " >/dev/null" : "");
  std::vector<std::string> sh{"-c", kSanitized ? exec : "ulimit -v " + std::to_string(cap_mb * 1024) + " && " + exec,
                              BATCHCUT_BINARY};
  sh.insert(sh.end(), args.begin(), args.end());
  return run_process("/bin/sh", sh, {}, timeout_seconds);
}

boost::json::object load_json(const fs::path& p) { return boost::json::parse(read_file(p)).as_object(); }

std::size_t count_lines(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

TEST(Hardening, ASymlinkedLedgerIsRefusedAndItsTargetLeftAlone) {
  TempDir dir;
  write_file(dir / "jobs.csv", manifest_csv(3));
  // The report's cases: a link to a one-line file without its newline (once "repaired" to
  // nothing and overwritten), and a link to an empty file (once appended to). The server is
  // unreachable: nothing may happen to either file all the same.
  write_file(dir / "precious.txt", "do not truncate me");
  write_file(dir / "empty.txt", "");
  for (const char* target : {"precious.txt", "empty.txt"}) {
    const fs::path link = dir / (std::string(target) + ".ledger.jsonl");
    fs::create_symlink(dir / target, link);
    const std::string before = read_file(dir / target);
    const auto r = run_process(BATCHCUT_BINARY,
                               {"run", (dir / "jobs.csv").string(), "--ledger", link.string(), "--base-url",
                                "https://127.0.0.1:9", "--rate", "0"},
                               key_env);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("is a symbolic link"), std::string::npos) << r.err;
    EXPECT_EQ(read_file(dir / target), before) << target;
  }
  // Without a link, the same one-line file given as the ledger: not provably a ledger, so
  // its unfinished line is not cut either.
  write_file(dir / "notes.jsonl", "my notes");
  const auto r = run_process(BATCHCUT_BINARY,
                             {"run", (dir / "jobs.csv").string(), "--ledger", (dir / "notes.jsonl").string(),
                              "--base-url", "https://127.0.0.1:9", "--rate", "0"},
                             key_env);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("does not begin with a batchcut ledger header"), std::string::npos) << r.err;
  EXPECT_EQ(read_file(dir / "notes.jsonl"), "my notes");
}

TEST(Hardening, ANewLedgerIsTheUsersAlone) {
  TempDir dir;
  auto o = tls_options(dir, 3);
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "jobs.csv", manifest_csv(3));
  const auto r = run_process(BATCHCUT_BINARY, run_args("run", dir / "jobs.csv", emulator, dir, {}), key_env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  struct stat st {};
  ASSERT_EQ(::stat((dir / "jobs.ledger.jsonl").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(Hardening, AYamlAliasBombIsRefusedUnderAMemoryCap) {
  TempDir dir;
  // The report's file: a 10 MB label anchored once and used by 100,000 jobs (14 MB on disk,
  // a terabyte expanded).
  {
    std::ofstream out(dir / "bomb.yaml", std::ios::binary);
    out << "jobs:\n  - {projectId: p, liveVideoId: lv0, videoVisibilityOptionId: 1, label: &L "
        << std::string(10 << 20, 'L') << "}\n";
    for (int i = 1; i < 100'000; ++i)
      out << "  - {projectId: p, liveVideoId: lv" << i << ", videoVisibilityOptionId: 1, label: *L}\n";
  }
  const auto r = run_capped(1024, {"validate", (dir / "bomb.yaml").string()});
  EXPECT_EQ(r.exit_code, 2) << r.err.substr(0, 2000);
  EXPECT_NE(r.err.find("with its aliases (*name) expanded, the manifest holds more than 256 MiB"), std::string::npos)
      << r.err.substr(0, 2000);
  if (!kSanitized) EXPECT_LT(r.max_rss_kb, 1024 * 1024);  // a sanitizer's shadow memory is not ours
}

TEST(Hardening, AMillionInvalidRowsFinishInBoundedMemoryAndOutput) {
  TempDir dir;
  {
    std::ofstream out(dir / "bad.csv", std::ios::binary);
    out << "projectId,liveVideoId,videoVisibilityOptionId\n";
    for (int i = 0; i < 1'000'000; ++i) out << "p,bad id " << i << ",1\n";
  }
  const auto r = run_capped(1024, {"validate", (dir / "bad.csv").string()});
  EXPECT_EQ(r.exit_code, 2) << r.err.substr(0, 2000);
  EXPECT_LE(count_lines(r.err), 102u);
  EXPECT_NE(r.err.find("and 999900 more problems (only the first 100 are shown)"), std::string::npos)
      << r.err.substr(r.err.size() - std::min<std::size_t>(r.err.size(), 500));
  EXPECT_NE(r.err.find("1000000 problems; nothing sent"), std::string::npos);
  if (!kSanitized) EXPECT_LT(r.max_rss_kb, 300 * 1024);  // a sanitizer's shadow memory is not ours
}

TEST(Hardening, AValidManifestIsValidatedWithoutHoldingItsJobs) {
  TempDir dir;
  {
    std::ofstream out(dir / "big.csv", std::ios::binary);
    out << "projectId,liveVideoId,videoVisibilityOptionId,fromMilisecond,toMilisecond,label\n";
    for (int i = 0; i < 1'000'000; ++i)
      out << "project-" << i % 7 << ",live-video-" << i << ",1,0,60000,a label long enough to need the heap\n";
  }
  const auto r = run_capped(1024, {"validate", (dir / "big.csv").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err.substr(0, 2000);
  EXPECT_NE(r.out.find("1000000 jobs valid"), std::string::npos) << r.out;
  // A million JobSpecs with their strings alone would be ~200 MB; the duplicate check's
  // fingerprints are 24 MB.
  if (!kSanitized) EXPECT_LT(r.max_rss_kb, 100 * 1024);  // a sanitizer's shadow memory is not ours

  // A dry run reads it twice (to check and plan, then to print), holding none of it either.
  const auto dry = run_capped(1024, {"run", (dir / "big.csv").string(), "--dry-run", "--base-url", "https://127.0.0.1:9"},
                              120, true);
  ASSERT_EQ(dry.exit_code, 0) << dry.err.substr(0, 2000);
  EXPECT_NE(dry.err.find("dry run: 1000000 jobs would be sent"), std::string::npos) << dry.err;
  if (!kSanitized) EXPECT_LT(dry.max_rss_kb, 100 * 1024);  // a sanitizer's shadow memory is not ours
}

TEST(Hardening, ALedgerLineOfTwoGibibytesIsRefusedQuickly) {
  TempDir dir;
  write_file(dir / "l.jsonl",
             R"({"type":"run","ts":"2026-01-01T00:00:00Z","format":3,"baseUrl":"https://x","authScheme":"bearer","caFile":null,"tool":"t"})"
             "\n{\"type\":\"job\",\"label\":\"");
  ASSERT_EQ(::truncate((dir / "l.jsonl").c_str(), (off_t{2} << 30) + 10), 0);  // sparse: no disk
  const auto start = std::chrono::steady_clock::now();
  const auto r = run_capped(1024, {"status", (dir / "l.jsonl").string()}, 30);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("l.jsonl:2: a line longer than 1 MiB"), std::string::npos) << r.err;
  if (!kSanitized) EXPECT_LT(r.max_rss_kb, 200 * 1024);  // a sanitizer's shadow memory is not ours
}

TEST(Hardening, AKeyFileOthersCanReadIsRefusedAsSshDoes) {
  TempDir dir;
  auto o = tls_options(dir, 3);
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "jobs.csv", manifest_csv(3));
  write_file(dir / "key.txt", std::string(api_key) + "\n");
  for (auto mode : {fs::perms::owner_read | fs::perms::group_read,
                    fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read}) {
    fs::permissions(dir / "key.txt", mode);
    auto args = run_args("run", dir / "jobs.csv", emulator, dir, {"--api-key-file", (dir / "key.txt").string()});
    const auto r = run_process(BATCHCUT_BINARY, args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("can be read by group or others"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("chmod 600"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find(api_key), std::string::npos);
    EXPECT_EQ(emulator.stats().requests, 0u);
  }
  fs::permissions(dir / "key.txt", fs::perms::owner_read | fs::perms::owner_write);
  const auto ok = run_process(BATCHCUT_BINARY,
                              run_args("run", dir / "jobs.csv", emulator, dir, {"--api-key-file", (dir / "key.txt").string()}));
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

}  // namespace

TEST(Hardening, ARetryAfterOverTheCapIsAFailedAttemptNotAPause) {
  TempDir dir;
  auto o = tls_options(dir, 4);
  o.faults.seed = 5;
  o.faults.p429 = 1.0;                     // every answer: 429, come back in 31 years
  o.faults.retry_after_seconds = 999999999;
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "jobs.csv", manifest_csv(4));
  // Honoured, that answer would pause every worker for a day (the longest Retry-After read);
  // the hang guard (60 s) is the test's proof that it did not.
  const auto r = run_process(BATCHCUT_BINARY,
                             run_args("run", dir / "jobs.csv", emulator, dir,
                                      {"--max-attempts", "3", "--backoff-base", "0.01", "--backoff-cap", "0.02",
                                       "--summary-json", (dir / "run.json").string()}),
                             key_env, 60);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("longer than --max-retry-after (600 s): such answers count as failed attempts"),
            std::string::npos) << r.err;
  const auto doc = load_json(dir / "run.json");
  EXPECT_LT(doc.at("pausedSeconds").to_number<double>(), 1.0);
  EXPECT_EQ(emulator.stats().requests, 4u * 3u);  // each job: its three attempts, then given up
  EXPECT_EQ(emulator.stats().cuts_made, 0u);
  const auto ledger = read_ledger(dir / "jobs.ledger.jsonl");
  for (const auto& j : ledger.jobs) EXPECT_EQ(j.life.state, JobState::retry_exhausted) << j.spec.key();

  // The cap itself is checked before anything is sent.
  const auto bad = run_process(BATCHCUT_BINARY,
                               run_args("run", dir / "jobs.csv", emulator, dir, {"--max-retry-after", "-1"}), key_env);
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("--max-retry-after must be 0..86400 seconds"), std::string::npos) << bad.err;
}
