// Clips and lost answers, end to end (issue 9): the real batchcut binary against the real
// emulator over TLS. Cut-and-publish jobs, the order of a stream's clips and its stop, the
// lookups that recover ids a dropped connection lost, and the lookups that cannot decide.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <set>
#include <sstream>

#include "batchcut/ledger/ledger.hpp"
#include "emulated.hpp"
#include "support.hpp"

using namespace batchcut;
using namespace batchcut::test;
namespace json = boost::json;

namespace {

std::filesystem::path ledger_of(const TempDir& dir) { return dir / "jobs.ledger.jsonl"; }

// A post-event manifest: `clips` clips of each of lv0..lv{streams-1} (titles unique per
// stream unless `shared_title`), then the stream's stop-and-cut when `stop`.
std::string post_event(int streams, int clips, bool stop, const std::string& shared_title = "") {
  std::string m = "defaults: {projectId: proj1, videoVisibilityOptionId: 1}\njobs:\n";
  for (int s = 0; s < streams; ++s) {
    const std::string lv = "lv" + std::to_string(s);
    for (int c = 0; c < clips; ++c) {
      const std::string title = shared_title.empty() ? "Goal " + std::to_string(c) + " of " + lv : shared_title;
      m += "  - {liveVideoId: " + lv + ", kind: clip, " + (c % 2 ? "" : "clipId: " + lv + "-c" + std::to_string(c) + ", ") +
           "title: \"" + title + "\", fromMilisecond: " + std::to_string(1000 * c) +
           ", toMilisecond: " + std::to_string(1000 * c + 30000) + "}\n";
    }
    if (stop) m += "  - {liveVideoId: " + lv + "}\n";
  }
  return m;
}

std::vector<json::object> record(const TempDir& dir) {
  std::vector<json::object> out;
  std::istringstream in(read_file(dir / "record.jsonl"));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(json::parse(line).as_object());
  return out;
}

std::string str(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// Every succeeded job's id is a VOD the emulator made for exactly that job.
void expect_ids_are_their_own(Emulator& e, const LedgerContents& l) {
  std::map<std::string, EmulatedVod> by_id;
  for (const auto& v : e.vods()) by_id[v.video_public_id] = v;
  for (const auto& j : l.jobs) {
    if (j.life.state != JobState::succeeded) continue;
    SCOPED_TRACE(j.spec.key());
    ASSERT_TRUE(by_id.count(j.life.video_public_id)) << j.life.video_public_id;
    const EmulatedVod& v = by_id.at(j.life.video_public_id);
    EXPECT_EQ(v.live_video_id, j.spec.live_video_id);
    EXPECT_EQ(v.clip, j.spec.kind == JobKind::clip);
    if (v.clip) EXPECT_EQ(v.title, j.spec.title);
  }
}

}  // namespace

TEST(Clips, EachStreamsStopIsSentOnlyAfterItsClipsSettledAndStreamsRunSideBySide) {
  TempDir dir;
  auto o = tls_options(dir, 6);
  o.faults.latency_jitter = std::chrono::milliseconds(30);  // answers come back out of order
  o.faults.p503 = 0.2;                                      // and some clips are retried
  o.faults.retry_after_seconds = 0;
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "jobs.yaml", post_event(6, 3, true));
  const auto r = run_process(BATCHCUT_BINARY, run_args("run", dir / "jobs.yaml", emulator, dir), key_env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  emulator.stop();
  const LedgerContents l = read_ledger(ledger_of(dir));
  ASSERT_EQ(l.jobs.size(), 24u);
  EXPECT_EQ(count_state(l, JobState::succeeded), 24u);
  expect_ids_are_their_own(emulator, l);
  EXPECT_EQ(emulator.stats().clips_made, 18u);
  EXPECT_EQ(emulator.stats().repeated_clips, 0u);

  // In the order the emulator handled them: no clip of a stream after its stop-and-cut, and
  // every clip of it answered before the stop arrived.
  std::map<std::string, int> clips_ok;
  std::set<std::string> stopped;
  bool interleaved = false;  // some stream was stopped while another still had clips out
  for (const auto& line : record(dir)) {
    const std::string kind = str(line, "kind"), lv = str(line, "liveVideoId");
    if (kind == "cut-and-publish") {
      EXPECT_FALSE(stopped.count(lv)) << "a clip of " << lv << " after its stop-and-cut";
      if (line.at("status").as_int64() == 200) ++clips_ok[lv];
      if (!stopped.empty()) interleaved = true;
    } else if (kind == "stop-and-cut") {
      EXPECT_EQ(clips_ok[lv], 3) << lv << " was stopped before its clips were made";
      stopped.insert(lv);
    }
  }
  EXPECT_EQ(stopped.size(), 6u);
  EXPECT_TRUE(interleaved) << "streams ran one after another, not side by side";
}

TEST(Clips, ClipsWhoseAnswersAreLostAreFoundByALookupAndNeverMadeTwice) {
  TempDir dir;
  auto o = tls_options(dir, 8);
  o.faults.seed = 7;
  o.faults.p_cut_drop = 0.4;       // the clip is made, the connection drops
  o.faults.p500_after_cut = 0.2;   // the clip is made, then a 500
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "jobs.yaml", post_event(8, 3, false));
  const auto r = run_process(BATCHCUT_BINARY,
                             run_args("run", dir / "jobs.yaml", emulator, dir, {"--reconcile-delay", "0.2"}), key_env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  emulator.stop();
  const LedgerContents l = read_ledger(ledger_of(dir));
  ASSERT_EQ(l.jobs.size(), 24u);
  EXPECT_EQ(count_state(l, JobState::succeeded), 24u);
  EXPECT_EQ(emulator.stats().repeated_clips, 0u) << "a clip was made twice";
  EXPECT_EQ(emulator.stats().clips_made, 24u);
  std::size_t recovered = 0;
  for (const auto& j : l.jobs) recovered += j.life.recovered;
  EXPECT_GT(recovered, 5u);  // about 60 % of first attempts lost their answer
  expect_ids_are_their_own(emulator, l);
  EXPECT_NE(r.out.find("recovered"), std::string::npos) << r.out;
}

TEST(Clips, StopAndCutsWhoseAnswersAreLostAreRecoveredByTheLookup) {
  TempDir dir;
  auto o = tls_options(dir, 10);
  o.faults.p500_after_cut = 1.0;  // every stop is made, and answered 500
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "jobs.csv", manifest_csv(10));
  const auto r = run_process(BATCHCUT_BINARY,
                             run_args("run", dir / "jobs.csv", emulator, dir, {"--reconcile-delay", "0.1"}), key_env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  emulator.stop();
  const LedgerContents l = read_ledger(ledger_of(dir));
  ASSERT_EQ(l.jobs.size(), 10u);
  for (const auto& j : l.jobs) {
    EXPECT_EQ(j.life.state, JobState::succeeded) << j.spec.key() << ": " << j.life.error;
    EXPECT_TRUE(j.life.recovered);
    EXPECT_EQ(j.life.http_status, 500);  // the cut's own answer stays on record
  }
  for (const auto& v : emulator.videos()) EXPECT_LE(v.cut_count, 1) << v.live_video_id;
  expect_ids_are_their_own(emulator, l);
}

TEST(Clips, AnAmbiguousTitleEndsInDoubtAndTheClockSkewWindowDecides) {
  // A clip titled "Goal" of lv0 is made. A second clip job with the same title but its own
  // clipId then loses its answer: the lookup sees two VODs titled "Goal" since its first cut
  // (less the 60 s skew) and cannot tell which is its own. With no skew, only its own is new.
  TempDir dir;
  const auto o = tls_options(dir, 2);
  for (const bool narrow : {false, true}) {
    SCOPED_TRACE(narrow ? "--lookup-clock-skew 0" : "default skew");
    auto o2 = o;
    o2.faults.p_cut_drop = 1.0;  // every clip is made, and its answer lost
    o2.record = std::nullopt;
    Emulator second(o2);
    second.start();
    // The earlier "Goal" clip, made (its answer lost too, and found: the only one then).
    write_file(dir / "setup.yaml",
               "jobs:\n  - {projectId: proj1, liveVideoId: lv0, videoVisibilityOptionId: 1, kind: clip, clipId: a, "
               "title: Goal, fromMilisecond: 0, toMilisecond: 1000}\n");
    run_process(BATCHCUT_BINARY, run_args("run", dir / "setup.yaml", second, dir, {"--max-attempts", "1", "--reconcile-delay", "0.1"}), key_env);
    write_file(dir / "second.yaml",
               "jobs:\n  - {projectId: proj1, liveVideoId: lv0, videoVisibilityOptionId: 1, kind: clip, clipId: b, "
               "title: Goal, fromMilisecond: 5000, toMilisecond: 9000}\n");
    std::vector<std::string> extra{"--reconcile-delay", "0.1", "--max-attempts", "1"};
    if (narrow) extra.insert(extra.end(), {"--lookup-clock-skew", "0"});
    const auto r = run_process(BATCHCUT_BINARY, run_args("run", dir / "second.yaml", second, dir, extra), key_env);
    second.stop();
    const LedgerContents l = read_ledger(dir / "second.ledger.jsonl");
    ASSERT_EQ(l.jobs.size(), 1u);
    const Lifecycle& life = l.jobs[0].life;
    if (!narrow) {
      EXPECT_EQ(r.exit_code, 1) << r.err;
      EXPECT_EQ(life.state, JobState::in_doubt);
      EXPECT_NE(life.error.find("2 VODs titled \"Goal\""), std::string::npos) << life.error;
    } else {
      // Without the skew, only VODs inserted after its own first cut count: just its own.
      EXPECT_EQ(r.exit_code, 0) << r.err;
      EXPECT_EQ(life.state, JobState::succeeded) << life.error;
      EXPECT_TRUE(life.recovered);
    }
    EXPECT_EQ(second.stats().repeated_clips, 1u);  // the setup's and this job's: the title, not the job, repeats
    std::filesystem::remove(dir / "second.ledger.jsonl");
    std::filesystem::remove(dir / "setup.ledger.jsonl");
  }
}

TEST(Clips, AManageBaseUrlThatWouldLeakTheKeyOrIsMalformedIsRefusedBeforeAnythingIsSent) {
  TempDir dir;
  auto o = tls_options(dir, 2);
  Emulator emulator(o);
  emulator.start();
  write_file(dir / "jobs.yaml", post_event(1, 1, true));
  for (const char* url : {"http://example.com", "ftp://127.0.0.1"}) {
    SCOPED_TRACE(url);
    const auto r = run_process(BATCHCUT_BINARY, run_args("run", dir / "jobs.yaml", emulator, dir, {"--manage-base-url", url}),
                               key_env);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("--manage-base-url"), std::string::npos) << r.err;
  }
  emulator.stop();
  EXPECT_EQ(emulator.stats().requests, 0u);
}
