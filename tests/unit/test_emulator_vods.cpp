// The emulator's clips and the manage API's VODs (issue 9): cut-and-publish, the VOD by id
// and the video list, encoding over (passed-in) time, and the record's kinds. No sockets.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "batchcut/emulator/emulator.hpp"

using namespace batchcut;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

using clock_type = EmulatorCore::clock;
const clock_type::time_point t0{};
constexpr std::string_view auth = "Bearer k";

EmulatorOptions options() {
  EmulatorOptions o;
  o.projects = {"p1"};
  o.videos_per_project = 5;
  o.api_key = "k";
  o.faults.encode_time = 2000ms;
  return o;
}

std::string clip_body(std::string_view title, int from = 1000, int to = 31000) {
  return json::serialize(json::object{
      {"title", title}, {"fromMilisecond", from}, {"toMilisecond", to}, {"videoVisibilityOptionId", 1}});
}

EmulatorResponse clip(EmulatorCore& core, std::string_view video, const std::string& body,
                      clock_type::time_point now = t0) {
  const std::string target = "/api/v2/p1/live-videos/" + std::string(video) + "/cut-and-publish";
  return core.handle({"POST", target, auth, "application/json", body}, now);
}

EmulatorResponse get(EmulatorCore& core, const std::string& target, clock_type::time_point now = t0) {
  return core.handle({"GET", target, auth, "", ""}, now);
}

json::object result_of(const EmulatorResponse& r) { return json::parse(r.body).at("result").as_object(); }

}  // namespace

TEST(EmulatorClips, EveryCallMakesANewClipEvenOfAStoppedStreamAndARepeatIsCounted) {
  EmulatorCore core(options(), t0);
  const auto a = clip(core, "lv1", clip_body("Goal"));
  ASSERT_EQ(a.status, 200) << a.body;
  const auto ra = result_of(a);
  EXPECT_EQ(ra.at("name").as_string(), "Goal");
  EXPECT_TRUE(ra.at("originalFile").is_null());
  const std::string id_a(ra.at("videoPublicId").as_string());
  // Stop the stream, then clip it again with the same title: a second clip, counted.
  const auto stop = core.handle({"POST", "/api/v2/p1/live-videos/lv1/stop-and-cut", auth, "application/json",
                                 R"({"fromMilisecond":null,"toMilisecond":null,"dateTimeFrom":null,"dateTimeTo":null,"videoVisibilityOptionId":1})"},
                                t0);
  ASSERT_EQ(stop.status, 200);
  const auto b = clip(core, "lv1", clip_body("Goal"));
  ASSERT_EQ(b.status, 200) << b.body;
  EXPECT_NE(std::string(result_of(b).at("videoPublicId").as_string()), id_a);
  const auto st = core.stats();
  EXPECT_EQ(st.clips_made, 2u);
  EXPECT_EQ(st.repeated_clips, 1u);
  EXPECT_EQ(st.cuts_made, 1u);
  ASSERT_EQ(core.vods().size(), 3u);
  EXPECT_TRUE(core.vods()[0].clip);
  EXPECT_FALSE(core.vods()[1].clip);
  EXPECT_EQ(core.vods()[1].title, "Live stream lv1");
  EXPECT_DOUBLE_EQ(core.vods()[0].duration_s, 30.0);
  // The live video says clips can still be made.
  EXPECT_TRUE(result_of(get(core, "/api/v1/p1/live-videos/lv1")).at("canCutAndPublish").as_bool());
}

TEST(EmulatorClips, ABadClipIsA400AndMakesNothing) {
  EmulatorCore core(options(), t0);
  for (const std::string& body :
       {clip_body(""), clip_body("x", 5000, 5000), std::string(R"({"title":"x","videoVisibilityOptionId":1})"),
        std::string(R"({"title":"x","fromMilisecond":-1,"toMilisecond":5,"videoVisibilityOptionId":1})"),
        std::string(R"({"title":"x","fromMilisecond":1,"toMilisecond":5,"videoVisibilityOptionId":9})"),
        std::string("not json")}) {
    SCOPED_TRACE(body);
    EXPECT_EQ(clip(core, "lv1", body).status, 400);
  }
  EXPECT_EQ(clip(core, "nope", clip_body("x")).status, 404);
  EXPECT_EQ(core.stats().clips_made, 0u);
  EXPECT_TRUE(core.vods().empty());
}

TEST(EmulatorClips, ClipsGetTheSameFaultsAsCutsAndADroppedOneIsStillMade) {
  auto o = options();
  o.faults.p_cut_drop = 1.0;
  EmulatorCore core(o, t0);
  const auto r = clip(core, "lv2", clip_body("Dropped"));
  EXPECT_TRUE(r.drop);
  EXPECT_EQ(std::string(r.fault), "cut_drop");
  EXPECT_EQ(core.stats().clips_made, 1u);
  EXPECT_EQ(std::string(r.kind), "cut-and-publish");
  const std::string line = EmulatorCore::record_line({"POST", "/x", auth, "", ""}, r, 0, std::chrono::system_clock::now());
  const auto rec = json::parse(line).as_object();
  EXPECT_EQ(rec.at("kind").as_string(), "cut-and-publish");
  EXPECT_EQ(rec.at("liveVideoId").as_string(), "lv2");
  EXPECT_EQ(rec.at("title").as_string(), "Dropped");
  EXPECT_TRUE(rec.at("made").as_bool());
}

TEST(EmulatorVods, AVodIsNotFoundThenProcessingThenReadyOrFailed) {
  auto o = options();
  EXPECT_EQ(get(*std::make_unique<EmulatorCore>(o, t0), "/api/projects/p1/videos/vjsnothing").status, 404);
  EmulatorCore core(o, t0);
  const std::string id(result_of(clip(core, "lv1", clip_body("A"))).at("videoPublicId").as_string());
  const auto early = get(core, "/api/projects/p1/videos/" + id, t0 + 1999ms);
  ASSERT_EQ(early.status, 200) << early.body;
  const auto r = result_of(early);
  EXPECT_EQ(r.at("publishStatusId").as_int64(), 1);
  EXPECT_EQ(r.at("publishStatusName").as_string(), "Processing");
  EXPECT_EQ(r.at("parentVideoId").as_string(), "lv1");
  EXPECT_DOUBLE_EQ(r.at("duration").as_double(), 30.0);
  // .NET style: 7 fractional digits, no zone.
  const std::string inserted(r.at("insertDate").as_string());
  EXPECT_EQ(inserted.size(), 27u) << inserted;
  EXPECT_EQ(inserted.find('Z'), std::string::npos);
  EXPECT_EQ(result_of(get(core, "/api/projects/p1/videos/" + id, t0 + 2000ms)).at("publishStatusId").as_int64(), 2);
  EXPECT_EQ(get(core, "/api/projects/p2/videos/" + id).status, 403);  // not the key's project

  o.faults.p_encode_fail = 1.0;
  o.faults.p_short_duration = 1.0;
  EmulatorCore failing(o, t0);
  const std::string bad(result_of(clip(failing, "lv1", clip_body("B"))).at("videoPublicId").as_string());
  const auto later = result_of(get(failing, "/api/projects/p1/videos/" + bad, t0 + 5s));
  EXPECT_EQ(later.at("publishStatusId").as_int64(), 4);
  EXPECT_EQ(later.at("publishStatusName").as_string(), "Failed");
  EXPECT_DOUBLE_EQ(later.at("duration").as_double(), 15.0);
  EXPECT_EQ(failing.stats().vod_reads, 1u);
}

TEST(EmulatorVods, TheListSearchesTitlesFiltersByParentPagesAndMayOmitTheParent) {
  auto o = options();
  EmulatorCore core(o, t0);
  for (const char* t : {"Goal one", "Goal two", "Interview"}) ASSERT_EQ(clip(core, "lv1", clip_body(t)).status, 200);
  ASSERT_EQ(clip(core, "lv2", clip_body("goal three")).status, 200);
  auto list = [&](EmulatorCore& c, const std::string& query) { return result_of(get(c, "/api/projects/p1/videos" + query)); };
  const auto all_goals = list(core, "?search=goal&page=1&take=100");  // case-insensitive substring
  EXPECT_EQ(all_goals.at("totalCount").as_int64(), 3);
  const auto lv1_goals = list(core, "?search=Goal+one&parentVideoId=lv1");
  ASSERT_EQ(lv1_goals.at("items").as_array().size(), 1u);
  EXPECT_EQ(lv1_goals.at("items").as_array()[0].at("title").as_string(), "Goal one");
  EXPECT_EQ(list(core, "?search=Goal%20two").at("items").as_array().size(), 1u);
  const auto page2 = list(core, "?parentVideoId=lv1&page=2&take=2");
  EXPECT_EQ(page2.at("totalCount").as_int64(), 3);
  EXPECT_EQ(page2.at("totalPages").as_int64(), 2);
  ASSERT_EQ(page2.at("items").as_array().size(), 1u);
  EXPECT_EQ(page2.at("items").as_array()[0].at("title").as_string(), "Goal one");  // newest first

  o.faults.list_omits_parent = true;
  EmulatorCore quiet(o, t0);
  ASSERT_EQ(clip(quiet, "lv1", clip_body("X")).status, 200);
  ASSERT_EQ(clip(quiet, "lv2", clip_body("X")).status, 200);
  const auto both = list(quiet, "?search=X&parentVideoId=lv1");
  ASSERT_EQ(both.at("items").as_array().size(), 2u);  // the filter is ignored...
  EXPECT_FALSE(both.at("items").as_array()[0].as_object().contains("parentVideoId"));  // ...and not answered
}
