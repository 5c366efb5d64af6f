// Sharding (run/shard.hpp): the split by job identity, --shard/--shards/$JOB_COMPLETION_INDEX,
// the shard in the ledger's run record, a ledger of another shard refused, and status/export
// reading several ledgers as one.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "batchcut/app/app.hpp"
#include "batchcut/ledger/ledger.hpp"
#include "batchcut/ledger/writer.hpp"
#include "batchcut/run/shard.hpp"

using namespace batchcut;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    static std::atomic<int> counter{0};
    std::random_device rd;
    path = fs::temp_directory_path() / ("batchcut-shard-test-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(counter++) + "-" + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void spit(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

JobSpec job(const std::string& project, const std::string& live) {
  JobSpec s;
  s.project_id = project;
  s.live_video_id = live;
  s.visibility = Visibility::private_;
  return s;
}

std::vector<JobSpec> many_jobs(int n) {
  std::vector<JobSpec> jobs;
  for (int i = 0; i < n; ++i) jobs.push_back(job("proj" + std::to_string(i % 7), "lv" + std::to_string(i)));
  return jobs;
}

std::string parse_error(const std::string& text) {
  std::string error;
  EXPECT_FALSE(parse_shard(text, error)) << text;
  return error;
}

ShardChoice resolve(std::optional<std::string> flag, std::optional<std::string> count,
                    std::optional<std::string> env) {
  return resolve_shard(flag, count, env);
}

}  // namespace

// ---- the split ----

TEST(Shard, FnvIsTheStandardFnv1a64) {
  // The published FNV-1a 64 test vectors: the split cannot differ between platforms or builds.
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ULL);
  // Bytes >= 0x80 are taken unsigned (a signed char would change the hash on some platforms).
  EXPECT_NE(fnv1a64("\xff"), fnv1a64("\x7f"));
  EXPECT_EQ(shard_of("proj1/lv1", 4), 0xa34e5cde2e442003ULL % 4);
}

TEST(Shard, EveryJobIsInExactlyOneShardWhateverTheManifestOrder) {
  const auto jobs = many_jobs(4000);
  for (std::uint32_t n : {1u, 2u, 3u, 4u, 7u, 16u}) {
    std::map<std::string, std::uint32_t> owner;
    std::vector<std::size_t> sizes(n);
    for (const auto& j : jobs) {
      int owners = 0;
      for (std::uint32_t k = 0; k < n; ++k) {
        if (!in_shard(j, Shard{k, n})) continue;
        ++owners;
        owner[j.key()] = k;
        ++sizes[k];
      }
      ASSERT_EQ(owners, 1) << j.key() << " with N=" << n;
    }
    // Roughly balanced: each shard within 20 % of an even split (4000 keys).
    for (std::uint32_t k = 0; k < n; ++k)
      EXPECT_NEAR(static_cast<double>(sizes[k]), 4000.0 / n, 0.2 * 4000.0 / n) << "shard " << k << "/" << n;
    // The same split from the manifest in another order: a job's shard is its identity's.
    auto shuffled = jobs;
    std::mt19937 rng(n);
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    for (const auto& j : shuffled) EXPECT_EQ(shard_of(j.key(), n), owner[j.key()]);
  }
}

TEST(Shard, TheKeyIsTheIdentityNotTheRest) {
  auto a = job("p", "lv1");
  auto b = a;
  b.label = "another label";
  b.visibility = Visibility::password;
  b.line = 99;
  for (std::uint32_t n = 2; n < 10; ++n) EXPECT_EQ(shard_of(a.key(), n), shard_of(b.key(), n));
  // "p/lv1" and "p/lv10" differ in their last byte only: still a real hash, not a prefix.
  std::set<std::uint32_t> seen;
  for (int i = 0; i < 40; ++i) seen.insert(shard_of("p/lv" + std::to_string(i), 4));
  EXPECT_EQ(seen.size(), 4u);
}

// A stream's clips go where its stop-and-cut goes: only there can they be settled first.
TEST(Shard, AStreamsClipsAreInItsStopAndCutsShard) {
  for (int i = 0; i < 40; ++i) {
    const auto stop = job("p", "lv" + std::to_string(i));
    for (const char* title : {"First goal", "Interview", "x"}) {
      auto clip = stop;
      clip.kind = JobKind::clip;
      clip.title = title;
      clip.clip_id = i % 2 ? "" : std::string("c-") + title[0];
      ASSERT_NE(clip.key(), stop.key());
      for (std::uint32_t n = 2; n < 7; ++n)
        for (std::uint32_t k = 0; k < n; ++k) EXPECT_EQ(in_shard(clip, Shard{k, n}), in_shard(stop, Shard{k, n}));
    }
  }
}

// ---- parsing and where the index comes from ----

TEST(Shard, ParsesKOfNZeroBased) {
  std::string error;
  EXPECT_EQ(parse_shard("0/4", error), (Shard{0, 4}));
  EXPECT_EQ(parse_shard("3/4", error), (Shard{3, 4}));
  EXPECT_EQ(parse_shard("0/1", error), (Shard{0, 1}));
  EXPECT_EQ(to_string(Shard{2, 5}), "2/5");
  const auto too_big = parse_error("4/4");
  EXPECT_NE(too_big.find("0-based"), std::string::npos) << too_big;
  EXPECT_NE(too_big.find("3/4"), std::string::npos) << too_big;  // the last valid one
  for (const char* bad : {"", "1", "1/", "/4", "1/0", "-1/4", "1/-4", "+1/4", " 1/4", "1/4 ", "a/b", "1/4/5",
                          "1.0/4", "0/100001", "0/99999999999999999999"}) {
    const auto e = parse_error(bad);
    EXPECT_NE(e.find("0 <= K < N"), std::string::npos) << bad << ": " << e;
  }
}

TEST(Shard, TheIndexComesFromTheFlagOrFromJobCompletionIndexWithShards) {
  // --shard alone; the environment is not looked at.
  EXPECT_EQ(resolve("1/3", std::nullopt, "2").shard, (Shard{1, 3}));
  // --shards N with $JOB_COMPLETION_INDEX.
  auto k8s = resolve(std::nullopt, "4", "3");
  ASSERT_TRUE(k8s.ok()) << k8s.error;
  EXPECT_EQ(k8s.shard, (Shard{3, 4}));
  // Nothing: not sharded, and JOB_COMPLETION_INDEX alone changes nothing.
  auto none = resolve(std::nullopt, std::nullopt, "2");
  EXPECT_TRUE(none.ok());
  EXPECT_FALSE(none.shard);
}

TEST(Shard, BadShardingIsAnErrorNamingWhatToDo) {
  auto missing = resolve(std::nullopt, "4", std::nullopt);
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.error.find("JOB_COMPLETION_INDEX"), std::string::npos) << missing.error;
  EXPECT_NE(missing.error.find("--shard K/N"), std::string::npos) << missing.error;
  auto beyond = resolve(std::nullopt, "4", "4");
  EXPECT_FALSE(beyond.ok());
  EXPECT_NE(beyond.error.find("JOB_COMPLETION_INDEX=4 is not below --shards 4"), std::string::npos) << beyond.error;
  EXPECT_NE(beyond.error.find("0-based"), std::string::npos) << beyond.error;
  for (const char* bad : {"", "x", "-1", "1 "}) EXPECT_FALSE(resolve(std::nullopt, "4", bad).ok()) << bad;
  for (const char* bad : {"0", "", "x", "-2", "100001"}) EXPECT_FALSE(resolve(std::nullopt, bad, "0").ok()) << bad;
  auto both = resolve("1/4", "4", "1");
  EXPECT_FALSE(both.ok());
  EXPECT_NE(both.error.find("do not go together"), std::string::npos) << both.error;
  auto flag = resolve("4/4", std::nullopt, std::nullopt);
  EXPECT_EQ(flag.error.rfind("--shard '4/4'", 0), 0u) << flag.error;
}

TEST(Shard, EachShardHasItsOwnDefaultLedger) {
  EXPECT_EQ(sharded_ledger_path("night/jobs.yaml", Shard{1, 3}), fs::path("night/jobs.shard-1-of-3.ledger.jsonl"));
  EXPECT_EQ(sharded_ledger_path("jobs.csv", Shard{0, 12}), fs::path("jobs.shard-0-of-12.ledger.jsonl"));
  EXPECT_NE(sharded_ledger_path("jobs.csv", Shard{0, 2}), sharded_ledger_path("jobs.csv", Shard{1, 2}));
  EXPECT_NE(sharded_ledger_path("jobs.csv", Shard{0, 2}), default_ledger_path("jobs.csv"));
}

// ---- the shard in the ledger ----

namespace {

const RunTarget kTarget{"https://api.example.test", "bearer", std::nullopt, std::nullopt};

// A ledger at `path` whose jobs end in the given states (succeeded, failed or pending).
void write_ledger(const fs::path& path, const RunTarget& target,
                  const std::vector<std::pair<JobSpec, JobState>>& jobs) {
  auto w = LedgerWriter::open(path, LedgerSync::none);
  append_run(*w, target);
  for (const auto& [spec, state] : jobs) {
    append_job(*w, spec);
    if (state == JobState::pending) continue;
    Lifecycle life;
    auto record = [&](const Event& e) {
      step(life, e);
      append_event(*w, spec, e, life.state);
    };
    record(Dispatch{Op::cut, 1, false});
    CutAnswer a;
    if (state == JobState::succeeded) {
      a.verdict = CutVerdict::success;
      a.http_status = 200;
      a.video_public_id = "vjs" + spec.live_video_id;
    } else {
      a.verdict = CutVerdict::refused;
      a.http_status = 404;
      a.error = "HTTP 404";
    }
    record(a);
    ASSERT_EQ(life.state, state);
  }
}

}  // namespace

TEST(Shard, TheRunRecordKeepsTheShardAndAnUnshardedOneStaysAsItWas) {
  TempDir dir;
  RunTarget sharded = kTarget;
  sharded.shard = Shard{2, 5};
  write_ledger(dir.path / "a.jsonl", sharded, {{job("p", "lv1"), JobState::succeeded}});
  const auto a = read_ledger(dir.path / "a.jsonl");
  ASSERT_TRUE(a.errors.empty()) << a.errors.front().to_string();
  EXPECT_EQ(a.target, sharded);
  write_ledger(dir.path / "b.jsonl", kTarget, {{job("p", "lv1"), JobState::succeeded}});
  const auto b = read_ledger(dir.path / "b.jsonl");
  ASSERT_TRUE(b.errors.empty());
  EXPECT_EQ(b.target, kTarget);
  std::ifstream in(dir.path / "b.jsonl");
  std::string first;
  std::getline(in, first);
  EXPECT_EQ(first.find("shard"), std::string::npos) << first;
}

TEST(Shard, ABadShardInARunRecordIsAnErrorNamingTheLine) {
  for (const char* bad : {"\"3/3\"", "\"x\"", "7"}) {
    const std::string text =
        std::string("{\"type\":\"run\",\"ts\":\"2026-12-01T00:00:00Z\",\"format\":2,\"baseUrl\":\"https://h\","
                    "\"authScheme\":\"bearer\",\"caFile\":null,\"tool\":\"batchcut 0.2.0\",\"shard\":") +
        bad + "}\n";
    const auto l = read_ledger_text(text, "l.jsonl");
    ASSERT_EQ(l.errors.size(), 1u) << bad;
    EXPECT_EQ(l.errors[0].to_string().rfind("l.jsonl:1: shard: ", 0), 0u) << l.errors[0].to_string();
  }
}

// ---- run --dry-run: the plan takes the shard; a ledger of another shard is refused ----

namespace {

RunCommand dry_run(const fs::path& manifest) {
  RunCommand c;
  c.manifest = manifest;
  c.base_url = "https://127.0.0.1:9";
  c.dry_run = true;
  c.handle_signals = false;
  c.api_key_override = "unused";
  return c;
}

std::string manifest_csv(int n) {
  std::string s = "projectId,liveVideoId,videoVisibilityOptionId\n";
  for (int i = 0; i < n; ++i) s += "proj1,lv" + std::to_string(i) + ",2\n";
  return s;
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST(Shard, ADryRunPlansOnlyItsShardsJobs) {
  TempDir dir;
  spit(dir.path / "jobs.csv", manifest_csv(30));
  std::size_t total = 0;
  std::set<std::string> seen;
  for (std::uint32_t k = 0; k < 3; ++k) {
    auto c = dry_run(dir.path / "jobs.csv");
    c.shard = to_string(Shard{k, 3});
    std::ostringstream out, err;
    ASSERT_EQ(run_command(c, out, err), exit_ok) << err.str();
    std::size_t expected = 0;
    for (int i = 0; i < 30; ++i) expected += in_shard(job("proj1", "lv" + std::to_string(i)), Shard{k, 3});
    EXPECT_EQ(count_of(out.str(), "POST "), expected) << out.str();
    EXPECT_NE(err.str().find("shard " + to_string(Shard{k, 3}) + " (0-based): " + std::to_string(expected) +
                             " of the 30 jobs"),
              std::string::npos)
        << err.str();
    for (int i = 0; i < 30; ++i) {
      if (out.str().find("/live-videos/lv" + std::to_string(i) + "/") == std::string::npos) continue;
      EXPECT_TRUE(seen.insert("lv" + std::to_string(i)).second) << "lv" << i << " in two shards";
    }
    total += expected;
  }
  EXPECT_EQ(total, 30u);
  EXPECT_EQ(seen.size(), 30u);
  EXPECT_FALSE(fs::exists(sharded_ledger_path(dir.path / "jobs.csv", Shard{0, 3})));  // a dry run writes nothing
}

TEST(Shard, ALedgerOfAnotherShardOrOfNoneIsRefused) {
  TempDir dir;
  spit(dir.path / "jobs.csv", manifest_csv(6));
  RunTarget t = kTarget;
  t.base_url = "https://127.0.0.1:9";
  t.shard = Shard{1, 4};
  write_ledger(dir.path / "s.jsonl", t, {});
  auto unsharded = t;
  unsharded.shard.reset();
  write_ledger(dir.path / "u.jsonl", unsharded, {});
  struct Case {
    fs::path ledger;
    std::optional<std::string> shard;
    std::string says;
  };
  for (const auto& [ledger, shard, says] : {Case{dir.path / "s.jsonl", "2/4", "shard 1/4, not shard 2/4"},
                                            Case{dir.path / "s.jsonl", "1/3", "shard 1/4, not shard 1/3"},
                                            Case{dir.path / "s.jsonl", std::nullopt, "shard 1/4, not no shard"},
                                            Case{dir.path / "u.jsonl", "1/4", "no shard, not shard 1/4"}}) {
    auto c = dry_run(dir.path / "jobs.csv");
    c.ledger = ledger;
    c.shard = shard;
    std::ostringstream out, err;
    EXPECT_EQ(run_command(c, out, err), exit_usage) << says;
    EXPECT_NE(err.str().find("was made by a run of " + says), std::string::npos) << err.str();
    EXPECT_EQ(out.str(), "");
  }
  // Its own shard goes ahead; so does a replay of the ledger, which keeps its shard.
  auto same = dry_run(dir.path / "jobs.csv");
  same.ledger = dir.path / "s.jsonl";
  same.shard = "1/4";
  std::ostringstream out, err;
  EXPECT_EQ(run_command(same, out, err), exit_ok) << err.str();
  RunCommand replay = dry_run({});
  replay.replay_ledger = dir.path / "s.jsonl";
  EXPECT_EQ(run_command(replay, out, err), exit_ok) << err.str();
}

// ---- status and export over several ledgers ----

TEST(Shard, StatusMergesLedgersAndCountsAJobInTwoOnceAsItsFurthestState) {
  TempDir dir;
  RunTarget t0 = kTarget, t1 = kTarget;
  t0.shard = Shard{0, 2};
  t1.shard = Shard{1, 2};
  const auto a = dir.path / "a.jsonl", b = dir.path / "b.jsonl";
  write_ledger(a, t0, {{job("p", "lv1"), JobState::succeeded},
                       {job("p", "lv2"), JobState::pending},
                       {job("p", "both1"), JobState::pending}});
  write_ledger(b, t1, {{job("p", "lv3"), JobState::failed},
                       {job("p", "both1"), JobState::succeeded},
                       {job("p", "lv4"), JobState::succeeded}});
  std::ostringstream out, err;
  ASSERT_EQ(status_command({a, b}, false, out, err), exit_ok) << err.str();
  EXPECT_NE(err.str().find("p/both1 is in both " + a.string() + " and " + b.string() +
                           "; counted once, as succeeded (from " + b.string() + ")"),
            std::string::npos)
      << err.str();
  EXPECT_NE(out.str().find("2 ledgers: 5 jobs, sent to https://api.example.test\n"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find(a.string() + ": 3 jobs (shard 0/2)"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("succeeded       3\n"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("failed          1\n"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("pending         1\n"), std::string::npos) << out.str();

  std::ostringstream js, jerr;
  ASSERT_EQ(status_command({a, b}, true, js, jerr), exit_ok);
  const auto o = json::parse(js.str()).as_object();
  EXPECT_EQ(o.at("total").as_int64(), 5);
  EXPECT_EQ(o.at("duplicates").as_int64(), 1);
  EXPECT_EQ(o.at("states").at("succeeded").as_int64(), 3);
  EXPECT_EQ(o.at("states").at("pending").as_int64(), 1);
  EXPECT_EQ(o.at("ledgers").as_array().size(), 2u);
  EXPECT_EQ(o.at("ledgers").at(1).at("shard").as_string(), "1/2");
  EXPECT_EQ(o.at("baseUrls").as_array().size(), 1u);

  // Export: the same jobs, the same rule.
  std::ostringstream csv, cerr_;
  ASSERT_EQ(export_command({b, a}, "csv", false, {}, csv, cerr_), exit_ok);
  EXPECT_EQ(count_of(csv.str(), "\n"), 6u) << csv.str();  // header + 5 jobs
  EXPECT_EQ(count_of(csv.str(), "p,both1,"), 1u) << csv.str();
  EXPECT_NE(csv.str().find("p,both1,,succeeded,vjsboth1"), std::string::npos) << csv.str();
  EXPECT_NE(cerr_.str().find("counted once, as succeeded (from " + b.string() + ")"), std::string::npos);
}

TEST(Shard, TheSameLedgerTwiceOrAMissingOneIsAnError) {
  TempDir dir;
  const auto a = dir.path / "a.jsonl";
  write_ledger(a, kTarget, {{job("p", "lv1"), JobState::succeeded}});
  std::ostringstream out, err;
  EXPECT_EQ(status_command({a, dir.path / "." / "a.jsonl"}, false, out, err), exit_usage);
  EXPECT_NE(err.str().find("is named twice"), std::string::npos) << err.str();
  EXPECT_EQ(status_command({a, dir.path / "nope.jsonl"}, true, out, err), exit_usage);
  EXPECT_NE(err.str().find("nope.jsonl: no such ledger"), std::string::npos) << err.str();
  EXPECT_EQ(out.str(), "");
}
