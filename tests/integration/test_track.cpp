// `batchcut track` (and `run --wait-ready`) against the real emulator over TLS: the manage
// API's GET /api/projects/{p}/videos/{id}, its encode time and its failures.
// Against the emulator's manage API (VOD by id: Processing for --encode-time, then Ready or Failed).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <sstream>

#include "batchcut/emulator/emulator.hpp"
#include "batchcut/ledger/ledger.hpp"
#include "support.hpp"

using namespace batchcut;
using namespace batchcut::test;
namespace fs = std::filesystem;

namespace {

constexpr const char* api_key = "track-secret-key-5678";

struct TrackFixture {
  TempDir dir;
  std::unique_ptr<Emulator> emulator;
  fs::path ca = dir / "ca.pem";
  fs::path record = dir / "record.jsonl";
  fs::path manifest = dir / "jobs.csv";
  fs::path ledger = dir / "jobs.ledger.jsonl";

  explicit TrackFixture(EmulatorOptions o = {}) {
    o.api_key = api_key;
    o.projects = {"proj1"};
    o.videos_per_project = 10;
    o.tls = EmulatorTls::self_signed;
    o.ca_out = ca;
    o.record = record;
    o.threads = 1;
    emulator = std::make_unique<Emulator>(o);
    emulator->start();
    // Three 5 s cuts.
    std::string csv = "projectId,liveVideoId,videoVisibilityOptionId,fromMilisecond,toMilisecond,label\n";
    for (int i = 0; i < 3; ++i)
      csv += "proj1,lv" + std::to_string(i) + ",1," + std::to_string(i * 1000) + "," + std::to_string(i * 1000 + 5000) + ",\n";
    write_file(manifest, csv);
  }

  ProcessResult batchcut(std::vector<std::string> args, std::string key = api_key) {
    return run_process(BATCHCUT_BINARY, args, {"VP_API_KEY=" + key}, 120);
  }

  ProcessResult run() {
    return batchcut({"run", manifest.string(), "--base-url", emulator->base_url(), "--ca-file", ca.string(),
                     "--rate", "0", "--seed", "7"});
  }

  std::vector<std::string> track_args(std::vector<std::string> more = {}) {
    std::vector<std::string> a{"track", ledger.string(), "--manage-base-url", emulator->base_url(),
                               "--poll-interval", "0.2", "--timeout", "30s", "--rate", "0"};
    a.insert(a.end(), more.begin(), more.end());
    return a;
  }

  std::size_t vod_records() {
    std::size_t n = 0;
    std::istringstream in(read_file(ledger));
    for (std::string line; std::getline(in, line);) n += line.find("\"type\":\"vod\"") != std::string::npos;
    return n;
  }
};

}  // namespace

// Works with or without the manage API in the emulator: ids it never made are 404 there, so
// they stay unknown until the timeout, and the exit status says not all are ready.
TEST(Track, VodsTheApiDoesNotKnowStayUnknownUntilTheTimeout) {
  TrackFixture f;
  ASSERT_EQ(f.run().exit_code, 0);
  std::string text = read_file(f.ledger);
  for (std::size_t at = 0; (at = text.find("\"videoPublicId\":\"vjs", at)) != std::string::npos;)
    text.replace(at + 17, 3, "nop");
  write_file(f.ledger, text);
  const auto r = f.batchcut(f.track_args({"--timeout", "1s"}));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("VODs: 0 ready, 0 processing, 0 failed, 3 unknown\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  unknown: proj1/lv0 (videoPublicId nop"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("not found (yet)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("run `batchcut track " + f.ledger.string() + "` again later"), std::string::npos) << r.out;
  EXPECT_EQ(f.vod_records(), 3u) << "an unchanged answer is recorded once";
  EXPECT_EQ(r.out.find(api_key), std::string::npos);
  EXPECT_EQ(r.err.find(api_key), std::string::npos);
  const auto status = f.batchcut({"status", f.ledger.string()});
  EXPECT_NE(status.out.find("  VODs: 0 ready, 0 processing, 0 failed, 3 unknown (0 not tracked)\n"), std::string::npos)
      << status.out;
}

// Encoding that fails, a VOD shorter than asked, and a timeout before one is ready: each
// state is right, the exit status is 1, and the summary names the failed ones.
TEST(Track, EncodeFailuresShortVodsAndATimeoutGiveTheirStatesAndExitOne) {
  EmulatorOptions o;
  o.faults.seed = 3;
  o.faults.p_encode_fail = 1.0;
  o.faults.p_short_duration = 1.0;
  o.faults.encode_time = std::chrono::milliseconds(0);
  TrackFixture failing(o);
  ASSERT_EQ(failing.run().exit_code, 0);
  const auto r = failing.batchcut(failing.track_args());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("VODs: 0 ready, 0 processing, 3 failed, 0 unknown\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  failed: proj1/lv0 (videoPublicId vjs"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("duration mismatch: proj1/lv1"), std::string::npos) << r.out;
  for (const auto& j : read_ledger(failing.ledger).jobs) {
    ASSERT_TRUE(j.vod);
    EXPECT_EQ(j.vod->status, PublishStatus::failed);
    EXPECT_TRUE(j.vod->duration_mismatch);
    EXPECT_DOUBLE_EQ(*j.vod->duration_s, 2.5);
  }
  const auto rows = failing.batchcut({"export", failing.ledger.string()});
  EXPECT_NE(rows.out.find(",failed,2.5,true,"), std::string::npos) << rows.out;

  EmulatorOptions slow;
  slow.faults.encode_time = std::chrono::hours(1);
  TrackFixture processing(slow);
  ASSERT_EQ(processing.run().exit_code, 0);
  const auto t = processing.batchcut(processing.track_args({"--timeout", "1s"}));
  EXPECT_EQ(t.exit_code, 1) << t.out << t.err;
  EXPECT_NE(t.out.find("VODs: 0 ready, 3 processing, 0 failed, 0 unknown\n"), std::string::npos) << t.out;
}

TEST(Track, BadUsageIsExit2AndSendsNothing) {
  TrackFixture f;
  ASSERT_EQ(f.run().exit_code, 0);
  EXPECT_EQ(f.batchcut(f.track_args({"--poll-interval", "soon"})).exit_code, 2);
  EXPECT_EQ(f.batchcut({"track", (f.dir / "none.jsonl").string()}).exit_code, 2);
  const auto insecure = f.batchcut({"track", f.ledger.string(), "--manage-base-url", "http://example.com"});
  EXPECT_EQ(insecure.exit_code, 2);
  EXPECT_NE(insecure.err.find("clear text"), std::string::npos) << insecure.err;
  EXPECT_EQ(f.vod_records(), 0u);
}

// GET /api/projects/{p}/videos/{id}: Processing for encode_time ms, then Ready.
TEST(Track, EveryVodIsFollowedUntilReady) {
  TrackFixture f;
  ASSERT_EQ(f.run().exit_code, 0);
  const auto r = f.batchcut(f.track_args());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("VODs: 3 ready, 0 processing, 0 failed, 0 unknown\n"), std::string::npos) << r.out;
  const auto ledger = read_ledger(f.ledger);
  ASSERT_TRUE(ledger.errors.empty());
  for (const auto& j : ledger.jobs) {
    ASSERT_TRUE(j.vod) << j.spec.key();
    EXPECT_EQ(j.vod->status, PublishStatus::ready) << j.spec.key();
    EXPECT_EQ(j.vod->video_public_id, j.life.video_public_id);
    EXPECT_DOUBLE_EQ(*j.vod->expected_s, 5.0);
  }
  // Nothing left to track: a second track sends nothing and says so.
  const auto again = f.batchcut(f.track_args());
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("no VOD left to track"), std::string::npos) << again.out;
  const auto status = f.batchcut({"status", f.ledger.string(), "--json"});
  const auto vods = boost::json::parse(status.out).at("vods").as_object();
  EXPECT_EQ(vods.at("ready").as_int64(), 3);
  EXPECT_EQ(vods.at("notTracked").as_int64(), 0);
}

// A refused key on the manage API is a 401.
TEST(Track, A401StopsTrackingWithExit2) {
  TrackFixture f;
  ASSERT_EQ(f.run().exit_code, 0);
  const auto r = f.batchcut(f.track_args(), "not-the-key");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("tracking stopped: HTTP 401 Unauthorized from the manage API: the API key was refused"),
            std::string::npos)
      << r.err;
}

TEST(Track, RunWaitReadyTracksAfterTheSummary) {
  TrackFixture f;
  const auto r = f.batchcut({"run", f.manifest.string(), "--base-url", f.emulator->base_url(), "--ca-file",
                             f.ca.string(), "--rate", "0", "--seed", "7", "--wait-ready", "--manage-base-url",
                             f.emulator->base_url(), "--poll-interval", "0.2", "--ready-timeout", "30s"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("VODs: 3 ready, 0 processing, 0 failed, 0 unknown\n"), std::string::npos) << r.out;
  // One record per change: Processing (when read before it encoded), then Ready.
  EXPECT_GE(f.vod_records(), 3u);
  EXPECT_LE(f.vod_records(), 6u);
}
