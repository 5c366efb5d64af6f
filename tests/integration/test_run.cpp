// The real `batchcut` binary against the real emulator on 127.0.0.1:0, over TLS.
// Each run is a child process with a hang guard (run_process kills it past its bound).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <set>
#include <sstream>

#include "batchcut/net/api.hpp"
#include "batchcut/emulator/emulator.hpp"
#include "batchcut/ledger/ledger.hpp"
#include "batchcut/manifest/manifest.hpp"
#include "support.hpp"

using namespace batchcut;
using namespace batchcut::test;
namespace json = boost::json;

namespace {

constexpr const char* api_key = "it-secret-key-1234";

// A manifest of `n` jobs over videos lv0.. of project `proj1`, cycling the range kinds.
std::string csv_manifest(int n, int first = 0) {
  std::string s = "projectId,liveVideoId,videoVisibilityOptionId,fromMilisecond,toMilisecond,dateTimeFrom,dateTimeTo,label\n";
  for (int i = first; i < first + n; ++i) {
    s += "proj1,lv" + std::to_string(i) + "," + std::to_string(1 + i % 3) + ",";
    switch (i % 3) {
      case 0: s += std::to_string(i * 1000) + "," + std::to_string(i * 1000 + 5000) + ",,,"; break;
      case 1: s += ",,2026-11-25T20:00:00.1234567+01:00,2026-11-25T20:30:00Z,"; break;
      default: s += ",,,,"; break;
    }
    s += "\"clip " + std::to_string(i) + ", take one\"\n";
  }
  return s;
}

struct Fixture {
  TempDir dir;
  std::unique_ptr<Emulator> emulator;
  std::filesystem::path ca = dir / "ca.pem";
  std::filesystem::path record = dir / "record.jsonl";

  explicit Fixture(EmulatorFaults faults = {}, int videos = 1000) {
    EmulatorOptions o;
    o.api_key = api_key;
    o.projects = {"proj1", "proj2"};
    o.videos_per_project = videos;
    o.tls = EmulatorTls::self_signed;
    o.ca_out = ca;
    o.record = record;
    o.threads = 2;
    o.faults = faults;
    emulator = std::make_unique<Emulator>(o);
    emulator->start();
  }

  ProcessResult batchcut(std::vector<std::string> args, std::vector<std::string> env = {}) {
    if (env.empty()) env.push_back(std::string("VP_API_KEY=") + api_key);
    return run_process(BATCHCUT_BINARY, args, env, 240);
  }

  std::vector<std::string> run_args(const std::filesystem::path& manifest, int concurrency = 16) {
    return {"run", manifest.string(), "--base-url", emulator->base_url(), "--ca-file", ca.string(),
            "--rate", "0", "--concurrency", std::to_string(concurrency), "--seed", "7"};
  }

  std::vector<json::object> records() {
    emulator->stop();  // the record is complete once stopped
    std::vector<json::object> out;
    std::istringstream in(read_file(record));
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.push_back(json::parse(line).as_object());
    return out;
  }
};

std::map<std::string, const JobRecord*> by_key(const LedgerContents& l) {
  std::map<std::string, const JobRecord*> m;
  for (const auto& j : l.jobs) m[j.spec.key()] = &j;
  return m;
}

}  // namespace

TEST(Integration, ThousandJobsWithFaultsAllSucceedOnceEach) {
  EmulatorFaults faults;
  faults.seed = 99;
  faults.p500 = 0.05;  // no cut made: a retry is safe and must succeed
  faults.p503 = 0.05;
  faults.p429 = 0.05;
  faults.retry_after_seconds = 0;
  faults.latency_jitter = std::chrono::milliseconds(3);
  Fixture f(faults);
  const auto manifest = f.dir / "jobs.csv";
  write_file(manifest, csv_manifest(1000));

  auto args = f.run_args(manifest);
  args.insert(args.end(), {"--max-attempts", "12"});
  const auto r = f.batchcut(args);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("1000 succeeded"), std::string::npos) << r.out;

  // The ledger holds every job as succeeded, with the id the emulator made for it.
  const auto ledger = read_ledger(f.dir / "jobs.ledger.jsonl");
  ASSERT_TRUE(ledger.errors.empty());
  ASSERT_EQ(ledger.jobs.size(), 1000u);
  const auto jobs = by_key(ledger);
  const auto stats = f.emulator->stats();
  EXPECT_EQ(stats.cuts_made, 1000u);
  EXPECT_EQ(stats.repeated_cuts, 0u);
  EXPECT_GT(stats.requests_by_status.count(503) + stats.requests_by_status.count(500), 0u)
      << "faults did not fire; the test proves nothing";
  for (const auto& v : f.emulator->videos()) {
    if (v.project_id != "proj1") continue;
    EXPECT_LE(v.cut_count, 1) << v.live_video_id << " was cut twice";
    auto it = jobs.find(v.project_id + "/" + v.live_video_id);
    ASSERT_NE(it, jobs.end());
    EXPECT_EQ(it->second->life.state, JobState::succeeded) << it->first;
    EXPECT_EQ(it->second->life.video_public_id, v.video_public_id) << it->first;
  }

  // The emulator's record: the right path, auth header and body for each job.
  const Manifest m = load_manifest(manifest, ManifestFormat::detect);
  ASSERT_TRUE(m.ok());
  std::map<std::string, std::string> expected_body;
  for (const auto& j : m.jobs)
    expected_body["/api/v2/" + j.project_id + "/live-videos/" + j.live_video_id + "/stop-and-cut"] =
        stop_and_cut_body(j);
  std::set<std::string> cut_targets;
  const auto recs = f.records();
  ASSERT_GE(recs.size(), 1000u);
  std::size_t reads = 0;
  for (const auto& rec : recs) {
    const std::string target(rec.at("target").as_string());
    EXPECT_TRUE(rec.at("authorized").as_bool());
    EXPECT_EQ(rec.at("authScheme").as_string(), "bearer");
    if (rec.at("method").as_string() == "GET") {  // reading the state after an in-doubt answer
      ++reads;
      EXPECT_TRUE(expected_body.count("/api/v2" + target.substr(7) + "/stop-and-cut")) << target;
      continue;
    }
    ASSERT_EQ(rec.at("method").as_string(), "POST");
    ASSERT_TRUE(expected_body.count(target)) << target;
    EXPECT_EQ(rec.at("contentType").as_string(), "application/json");
    EXPECT_EQ(json::parse(rec.at("body").as_string()), json::parse(expected_body[target])) << target;
    if (rec.at("status").as_int64() == 200) {
      EXPECT_TRUE(cut_targets.insert(target).second) << target;
    }
  }
  EXPECT_EQ(cut_targets.size(), 1000u);
  EXPECT_GT(reads, 0u);  // every 500/503 was followed by a read of the video's state

  // The key appears nowhere but where it belongs.
  EXPECT_EQ(read_file(f.dir / "jobs.ledger.jsonl").find(api_key), std::string::npos);
  EXPECT_EQ(read_file(f.record).find(api_key), std::string::npos);
  EXPECT_EQ((r.out + r.err).find(api_key), std::string::npos);
}

TEST(Integration, PermanentErrorsAreRecordedAndNotRetried) {
  Fixture f;
  // lv5 is stopped before the run, so its cut gets a 400.
  const auto first = f.dir / "first.yaml";
  write_file(first, "jobs:\n  - {projectId: proj1, liveVideoId: lv5, videoVisibilityOptionId: 1}\n");
  ASSERT_EQ(f.batchcut(f.run_args(first)).exit_code, 0);

  const auto manifest = f.dir / "jobs.yaml";
  write_file(manifest,
             "defaults: {videoVisibilityOptionId: 2}\n"
             "jobs:\n"
             "  - {projectId: proj1, liveVideoId: lv1}\n"
             "  - {projectId: proj1, liveVideoId: lv5}\n"         // 400: already stopped
             "  - {projectId: proj1, liveVideoId: nosuchvideo}\n" // 404
             "  - {projectId: otherproj, liveVideoId: lv1}\n"     // 403
             "  - {projectId: proj1, liveVideoId: lv2}\n");
  const auto r = f.batchcut(f.run_args(manifest));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const auto ledger = read_ledger(f.dir / "jobs.ledger.jsonl");
  const auto jobs = by_key(ledger);
  ASSERT_EQ(jobs.size(), 5u);
  EXPECT_EQ(jobs.at("proj1/lv1")->life.state, JobState::succeeded);
  EXPECT_EQ(jobs.at("proj1/lv2")->life.state, JobState::succeeded);
  for (auto [key, status] : {std::pair{"proj1/lv5", 400}, {"proj1/nosuchvideo", 404}, {"otherproj/lv1", 403}}) {
    EXPECT_EQ(jobs.at(key)->life.state, JobState::failed) << key;
    EXPECT_EQ(jobs.at(key)->life.http_status, status) << key;
    EXPECT_EQ(jobs.at(key)->life.attempts, 1) << key;
    EXPECT_FALSE(jobs.at(key)->life.error.empty()) << key;
  }
  std::map<std::string, int> sent;
  for (const auto& rec : f.records()) ++sent[std::string(rec.at("target").as_string())];
  EXPECT_EQ(sent["/api/v2/proj1/live-videos/lv5/stop-and-cut"], 2);  // one per run
  EXPECT_EQ(sent["/api/v2/proj1/live-videos/nosuchvideo/stop-and-cut"], 1);
  EXPECT_EQ(sent["/api/v2/otherproj/live-videos/lv1/stop-and-cut"], 1);

  // Resume: nothing final is sent again.
  const auto again = f.batchcut(f.run_args(manifest));
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.out.find("5 of them were settled in the ledger already"), std::string::npos) << again.out;
}

TEST(Integration, UnauthorizedStopsTheRunAndLeavesTheRestPending) {
  Fixture f;
  const auto manifest = f.dir / "jobs.csv";
  write_file(manifest, csv_manifest(50));
  const auto r = f.batchcut(f.run_args(manifest, 1), {"VP_API_KEY=wrong-key"});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_EQ(f.emulator->stats().requests, 1u);  // nothing after the 401
  EXPECT_EQ(f.emulator->stats().cuts_made, 0u);
  const auto ledger = read_ledger(f.dir / "jobs.ledger.jsonl");
  ASSERT_EQ(ledger.jobs.size(), 50u);
  for (const auto& j : ledger.jobs) EXPECT_EQ(j.life.state, JobState::pending) << j.spec.key();
  EXPECT_EQ((r.out + r.err).find("wrong-key"), std::string::npos);
}

TEST(Integration, RawAuthSchemeIsSentAsIs) {
  EmulatorOptions o;
  o.api_key = api_key;
  o.auth_scheme = AuthScheme::raw;
  o.videos_per_project = 10;
  Emulator emulator(o);  // plain HTTP this time
  emulator.start();
  TempDir dir;
  write_file(dir / "j.csv", csv_manifest(3));
  const std::string key_env = std::string("VP_API_KEY=") + api_key;
  auto bearer = run_process(BATCHCUT_BINARY, {"run", (dir / "j.csv").string(), "--base-url", emulator.base_url(), "--ledger", (dir / "a.jsonl").string()}, {key_env});
  EXPECT_EQ(bearer.exit_code, 3) << bearer.err;  // 401: the emulator wants the raw form
  auto raw = run_process(BATCHCUT_BINARY, {"run", (dir / "j.csv").string(), "--base-url", emulator.base_url(), "--auth-scheme", "raw", "--ledger", (dir / "b.jsonl").string()}, {key_env});
  EXPECT_EQ(raw.exit_code, 0) << raw.out << raw.err;
  EXPECT_EQ(emulator.stats().cuts_made, 3u);
}

TEST(Integration, BadManifestSendsNothing) {
  Fixture f;
  const auto manifest = f.dir / "bad.csv";
  write_file(manifest,
             "projectId,liveVideoId,videoVisibilityOptionId,fromMilisecond,toMilisecond\n"
             "proj1,lv1,1,0,1000\n"
             "proj1,lv2,4,0,1000\n"       // bad visibility
             "proj1,lv3,1,5000,1000\n");  // to <= from
  const auto r = f.batchcut(f.run_args(manifest));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("bad.csv:3: videoVisibilityOptionId"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("bad.csv:4: toMilisecond"), std::string::npos) << r.err;
  EXPECT_EQ(f.emulator->stats().requests, 0u);
  EXPECT_FALSE(std::filesystem::exists(f.dir / "bad.ledger.jsonl"));
}

TEST(Integration, UntrustedCertificateAbortsWithoutCutting) {
  Fixture f;
  const auto manifest = f.dir / "jobs.csv";
  write_file(manifest, csv_manifest(5));
  const auto r = f.batchcut({"run", manifest.string(), "--base-url", f.emulator->base_url()});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("tls_verify"), std::string::npos) << r.out;
  EXPECT_EQ(f.emulator->stats().cuts_made, 0u);
}

TEST(Integration, DryRunPrintsRequestsAndSendsNothing) {
  Fixture f;
  const auto manifest = f.dir / "jobs.csv";
  write_file(manifest, csv_manifest(3));
  auto args = f.run_args(manifest);
  args.push_back("--dry-run");
  const auto r = f.batchcut(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("POST " + f.emulator->base_url() + "/api/v2/proj1/live-videos/lv0/stop-and-cut"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"fromMilisecond\":0,\"toMilisecond\":5000"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(api_key), std::string::npos);
  EXPECT_EQ(f.emulator->stats().requests, 0u);
}

TEST(Integration, NoKeyIsAUsageError) {
  Fixture f;
  const auto manifest = f.dir / "jobs.csv";
  write_file(manifest, csv_manifest(2));
  const auto r = f.batchcut(f.run_args(manifest), {"VP_API_KEY="});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("VP_API_KEY"), std::string::npos);
  EXPECT_EQ(f.emulator->stats().requests, 0u);
}

TEST(Integration, ExportAndStatusReadTheLedger) {
  Fixture f;
  const auto manifest = f.dir / "jobs.csv";
  write_file(manifest, csv_manifest(4));
  ASSERT_EQ(f.batchcut(f.run_args(manifest)).exit_code, 0);
  const auto ledger = (f.dir / "jobs.ledger.jsonl").string();
  const auto status = f.batchcut({"status", ledger});
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_NE(status.out.find("succeeded"), std::string::npos);
  const auto csv = f.batchcut({"export", ledger});
  EXPECT_EQ(csv.exit_code, 0);
  EXPECT_EQ(csv.out.rfind("projectId,liveVideoId,label,state,videoPublicId,attempts,httpStatus,error", 0), 0u) << csv.out;
  EXPECT_NE(csv.out.find("\"clip 0, take one\",succeeded,vjs"), std::string::npos) << csv.out;
}

TEST(Integration, CredentialsInTheUrlAndClearTextKeysAreRefused) {
  TempDir dir;
  write_file(dir / "j.csv", csv_manifest(1));
  const std::vector<std::string> env{"VP_API_KEY=k"};
  auto r = run_process(BATCHCUT_BINARY, {"run", (dir / "j.csv").string(), "--base-url", "https://user:hunter2@example.com"}, env);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ((r.out + r.err).find("hunter2"), std::string::npos) << r.err;
  r = run_process(BATCHCUT_BINARY, {"run", (dir / "j.csv").string(), "--base-url", "http://example.com"}, env);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("clear text"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "j.ledger.jsonl"));
}
