// Sharding end to end: three real `batchcut run` processes at once, each on its own shard of
// one manifest and its own ledger, against one real emulator over TLS, cut every job exactly
// once; `status` reads the three ledgers as one, and `status --json` matches its schema.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>

#include "batchcut/run/shard.hpp"
#include "emulated.hpp"
#include "support.hpp"

using namespace batchcut;
using namespace batchcut::test;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

const fs::path kSchema = fs::path(BATCHCUT_SOURCE_DIR) / "config/schema/status.schema.json";

// Validates the JSON in `file` against the status schema with python3-jsonschema (Debian's,
// hence /usr/bin/python3). Returns the validator's exit code and its message.
ProcessResult validate_status_json(const fs::path& file) {
  return run_process("/usr/bin/python3",
                     {"-c",
                      "import json, sys, jsonschema\n"
                      "schema = json.load(open(sys.argv[2]))\n"
                      "jsonschema.Draft202012Validator.check_schema(schema)\n"
                      "jsonschema.Draft202012Validator(schema).validate(json.load(open(sys.argv[1])))\n",
                      file.string(), kSchema.string()},
                     {}, 60);
}

}  // namespace

TEST(Shard, ThreeShardsAtOnceCutEveryJobExactlyOnceAndStatusMergesTheirLedgers) {
  constexpr int jobs = 90;
  constexpr std::uint32_t shards = 3;
  TempDir dir;
  Emulator emulator(tls_options(dir, jobs));
  emulator.start();
  const auto manifest = dir / "jobs.csv";
  write_file(manifest, manifest_csv(jobs));

  // Shards 0 and 1 by --shard K/N; shard 2 as a Kubernetes Indexed Job would run it.
  std::vector<Child> children;
  for (std::uint32_t k = 0; k < shards; ++k) {
    auto env = key_env;
    std::vector<std::string> extra{"--shard", to_string(Shard{k, shards})};
    if (k == 2) {
      env.push_back("JOB_COMPLETION_INDEX=2");
      extra = {"--shards", "3"};
    }
    children.push_back(start_process(BATCHCUT_BINARY, run_args("run", manifest, emulator, dir, extra), env, dir.path()));
  }
  for (std::uint32_t k = 0; k < shards; ++k) {
    const auto r = children[k].wait(120);
    EXPECT_EQ(r.exit_code, 0) << "shard " << k << ":\n" << r.out << r.err;
  }

  // Each ledger holds its shard's jobs, all succeeded; together every job, once.
  std::vector<std::string> ledgers;
  std::set<std::string> keys;
  for (std::uint32_t k = 0; k < shards; ++k) {
    const Shard shard{k, shards};
    const auto path = sharded_ledger_path(manifest, shard);
    ledgers.push_back(path.string());
    const auto l = read_ledger(path);
    ASSERT_TRUE(l.errors.empty()) << l.errors.front().to_string();
    ASSERT_TRUE(l.target);
    EXPECT_EQ(l.target->shard, shard);
    EXPECT_GT(l.jobs.size(), 0u);
    for (const auto& j : l.jobs) {
      EXPECT_TRUE(in_shard(j.spec, shard)) << j.spec.key() << " in the ledger of shard " << k;
      EXPECT_EQ(j.life.state, JobState::succeeded) << j.spec.key();
      EXPECT_TRUE(keys.insert(j.spec.key()).second) << j.spec.key() << " in two ledgers";
    }
  }
  EXPECT_EQ(keys.size(), static_cast<std::size_t>(jobs));

  // A ledger run as another shard is refused before anything is sent.
  const auto before = emulator.stats().requests;
  const auto wrong = run_process(BATCHCUT_BINARY,
                                 run_args("run", manifest, emulator, dir, {"--shard", "1/3", "--ledger", ledgers[0]}),
                                 key_env);
  EXPECT_EQ(wrong.exit_code, 2) << wrong.err;
  EXPECT_NE(wrong.err.find("was made by a run of shard 0/3, not shard 1/3"), std::string::npos) << wrong.err;
  EXPECT_EQ(emulator.stats().requests, before);

  emulator.stop();  // settles the counts
  const auto stats = emulator.stats();
  EXPECT_EQ(stats.cuts_made, static_cast<std::uint64_t>(jobs));
  EXPECT_EQ(stats.repeated_cuts, 0u);
  for (const auto& v : emulator.videos()) EXPECT_EQ(v.cut_count, 1) << v.live_video_id;

  // status over the three ledgers: one count.
  std::vector<std::string> args{"status"};
  args.insert(args.end(), ledgers.begin(), ledgers.end());
  const auto status = run_process(BATCHCUT_BINARY, args);
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("3 ledgers: 90 jobs, sent to " + emulator.base_url() + "\n"), std::string::npos)
      << status.out;
  EXPECT_NE(status.out.find("succeeded       90\n"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find(ledgers[2] + ": "), std::string::npos) << status.out;
  EXPECT_EQ(status.err, "");  // no job in two ledgers

  // status --json: valid against the schema, and saying the same.
  args.push_back("--json");
  const auto as_json = run_process(BATCHCUT_BINARY, args);
  ASSERT_EQ(as_json.exit_code, 0) << as_json.err;
  write_file(dir / "status.json", as_json.out);
  const auto valid = validate_status_json(dir / "status.json");
  EXPECT_EQ(valid.exit_code, 0) << valid.err << "\n" << as_json.out;
  const auto o = json::parse(as_json.out).as_object();
  EXPECT_EQ(o.at("total").as_int64(), jobs);
  EXPECT_EQ(o.at("states").at("succeeded").as_int64(), jobs);
  EXPECT_EQ(o.at("duplicates").as_int64(), 0);
  EXPECT_EQ(o.at("requestsOut").as_int64(), 0);
  EXPECT_FALSE(o.at("heldByRun").as_bool());
  ASSERT_EQ(o.at("baseUrls").as_array().size(), 1u);
  EXPECT_EQ(o.at("baseUrls").at(0).as_string(), emulator.base_url());
  ASSERT_EQ(o.at("ledgers").as_array().size(), shards);
  std::int64_t sum = 0;
  for (std::uint32_t k = 0; k < shards; ++k) {
    const auto& l = o.at("ledgers").at(k);
    EXPECT_EQ(l.at("path").as_string(), ledgers[k]);
    EXPECT_EQ(l.at("shard").as_string(), to_string(Shard{k, shards}));
    sum += l.at("jobs").as_int64();
  }
  EXPECT_EQ(sum, jobs);

  // The schema is a real check: the same object without a required field, or with a state
  // count that is not a count, does not pass.
  auto broken = o;
  broken.erase("total");
  write_file(dir / "broken.json", json::serialize(broken));
  EXPECT_NE(validate_status_json(dir / "broken.json").exit_code, 0);
  broken = o;
  broken["states"].as_object()["pending"] = -1;
  write_file(dir / "broken.json", json::serialize(broken));
  EXPECT_NE(validate_status_json(dir / "broken.json").exit_code, 0);
}

TEST(Shard, ShardsWithoutAnIndexIsRefusedAndTheIndexAloneShardsNothing) {
  TempDir dir;
  write_file(dir / "jobs.csv", manifest_csv(4));
  const auto no_index = run_process(
      BATCHCUT_BINARY, {"run", (dir / "jobs.csv").string(), "--dry-run", "--base-url", "https://127.0.0.1:9", "--shards", "3"});
  EXPECT_EQ(no_index.exit_code, 2);
  EXPECT_NE(no_index.err.find("$JOB_COMPLETION_INDEX"), std::string::npos) << no_index.err;
  const auto index_only = run_process(
      BATCHCUT_BINARY, {"run", (dir / "jobs.csv").string(), "--dry-run", "--base-url", "https://127.0.0.1:9"},
      {"JOB_COMPLETION_INDEX=1"});
  EXPECT_EQ(index_only.exit_code, 0) << index_only.err;
  EXPECT_NE(index_only.err.find("dry run: 4 jobs would be sent"), std::string::npos) << index_only.err;
  const auto beyond = run_process(
      BATCHCUT_BINARY, {"run", (dir / "jobs.csv").string(), "--dry-run", "--base-url", "https://127.0.0.1:9", "--shards", "3"},
      {"JOB_COMPLETION_INDEX=3"});
  EXPECT_EQ(beyond.exit_code, 2);
  EXPECT_NE(beyond.err.find("JOB_COMPLETION_INDEX=3 is not below --shards 3"), std::string::npos) << beyond.err;
}
