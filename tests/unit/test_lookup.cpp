// Finding the VOD a lost answer made (vod/lookup.hpp): the query a job's lifecycle gives, the
// request target, and which items of the video list can be ours.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <string>

#include "batchcut/util/time_util.hpp"
#include "batchcut/vod/lookup.hpp"

using namespace batchcut;
namespace json = boost::json;

namespace {

// Unix ms of an ISO 8601 text (the test's own dates, all valid).
std::int64_t ms(std::string_view iso) {
  const auto t = parse_iso8601(iso);
  EXPECT_TRUE(t) << iso;
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.value_or(utc_time{}).time_since_epoch()).count();
}

LookupQuery clip_query(std::string title = "First goal") {
  LookupQuery q;
  q.kind = JobKind::clip;
  q.project_id = "proj";
  q.live_video_id = "lv1";
  q.title = std::move(title);
  q.since_ms = ms("2024-05-23T20:00:00Z");
  return q;
}

LookupQuery stop_query(std::string live_title = "Match day") {
  LookupQuery q = clip_query(std::move(live_title));
  q.kind = JobKind::stop_and_cut;
  return q;
}

// One item of the list; "" for a member means: leave it out.
json::object item(std::string id, std::string title, std::string parent = "lv1",
                  std::string inserted = "2024-05-23T20:05:00.1234567") {
  json::object o;
  o["publicId"] = id;
  if (!title.empty()) o["title"] = title;
  if (!parent.empty()) o["parentVideoId"] = parent;
  if (!inserted.empty()) o["insertDate"] = inserted;
  o["liveCutStartDate"] = "2024-05-23T19:00:00";
  return o;
}

std::string body(const json::array& items, std::optional<std::int64_t> total = std::nullopt) {
  json::object result;
  result["currentPage"] = 1;
  result["pageSize"] = lookup_page_size;
  result["totalCount"] = total.value_or(static_cast<std::int64_t>(items.size()));
  result["items"] = items;
  return json::serialize(json::object{{"success", true}, {"result", result}});
}

}  // namespace

TEST(LookupMatch, ExactlyOneMatchIsFound) {
  const LookupResult r = match_lookup(200, body({item("vod-1", "First goal")}), clip_query());
  EXPECT_EQ(r.verdict, LookupVerdict::found);
  EXPECT_EQ(r.video_public_id, "vod-1");
  EXPECT_EQ(r.candidates, 1);
  EXPECT_NE(r.error.find("vod-1"), std::string::npos) << r.error;
}

TEST(LookupMatch, NoMatchIsNone) {
  for (const std::string& b : {body({}), body({item("vod-1", "Second goal")})}) {
    const LookupResult r = match_lookup(200, b, clip_query());
    EXPECT_EQ(r.verdict, LookupVerdict::none) << b;
    EXPECT_EQ(r.video_public_id, "");
    EXPECT_EQ(r.candidates, 0);
  }
}

TEST(LookupMatch, SeveralMatchesAreSeveralAndListTheirIds) {
  const LookupResult r =
      match_lookup(200, body({item("vod-1", "First goal"), item("vod-2", "First goal")}), clip_query());
  EXPECT_EQ(r.verdict, LookupVerdict::several);
  EXPECT_EQ(r.video_public_id, "");
  EXPECT_EQ(r.candidates, 2);
  EXPECT_NE(r.error.find("vod-1, vod-2"), std::string::npos) << r.error;
}

TEST(LookupMatch, TheTitleMustMatchExactlyNotAsTheSearchesSubstring) {
  // The API's search answers substrings (and may ignore case): only the exact title is ours.
  const LookupResult r = match_lookup(
      200,
      body({item("vod-1", "First goal (replay)"), item("vod-2", "first goal"), item("vod-3", "First goal"),
            item("vod-4", " First goal")}),
      clip_query());
  EXPECT_EQ(r.verdict, LookupVerdict::found);
  EXPECT_EQ(r.video_public_id, "vod-3");
  // A non-ASCII title matches byte for byte.
  const LookupResult u =
      match_lookup(200, body({item("vod-5", "Tor für \"Köln\""), item("vod-6", "Tor fur \"Koln\"")}),
                   clip_query("Tor für \"Köln\""));
  EXPECT_EQ(u.verdict, LookupVerdict::found);
  EXPECT_EQ(u.video_public_id, "vod-5");
}

TEST(LookupMatch, AnotherParentIsExcludedAndAnAbsentParentFallsBackToTheTitle) {
  // Clip: the title is required; a parent, when named, must be the live video.
  const LookupResult clip = match_lookup(
      200, body({item("vod-1", "First goal", "lv2"), item("vod-2", "First goal", "")}), clip_query());
  EXPECT_EQ(clip.verdict, LookupVerdict::found);
  EXPECT_EQ(clip.video_public_id, "vod-2");
  // Stop-and-cut: the parent decides when named (the VOD's title may differ from the live's)...
  const LookupResult parent =
      match_lookup(200, body({item("vod-1", "Match day (VOD)", "lv1"), item("vod-2", "Match day", "lv9")}),
                   stop_query());
  EXPECT_EQ(parent.verdict, LookupVerdict::found);
  EXPECT_EQ(parent.video_public_id, "vod-1");
  // ... and without one, the live video's title.
  const LookupResult title = match_lookup(
      200, body({item("vod-1", "Match day", ""), item("vod-2", "Match day (VOD)", "")}), stop_query());
  EXPECT_EQ(title.verdict, LookupVerdict::found);
  EXPECT_EQ(title.video_public_id, "vod-1");
}

TEST(LookupMatch, AStopAndCutWithNoLiveTitleAndItemsWithoutAParentIsUnreadable) {
  const LookupResult r = match_lookup(200, body({item("vod-1", "Match day", "")}), stop_query(""));
  EXPECT_EQ(r.verdict, LookupVerdict::unreadable);
  EXPECT_NE(r.error.find("title is unknown"), std::string::npos) << r.error;
  // Items that name their parent need no title.
  const LookupResult p = match_lookup(200, body({item("vod-1", "Match day", "lv1")}), stop_query(""));
  EXPECT_EQ(p.verdict, LookupVerdict::found);
}

TEST(LookupMatch, OnlyVodsInsertedSinceTheFirstCutAndDotNetDatesAreUtc) {
  LookupQuery q = clip_query();
  q.since_ms = ms("2024-05-23T20:09:29.810Z");
  // The API's .NET dates: 7 fractional digits, no zone, meaning UTC.
  const LookupResult r = match_lookup(
      200,
      body({item("old", "First goal", "lv1", "2024-05-23T20:09:29.8096349"),
            item("new", "First goal", "lv1", "2024-05-23T20:09:29.8100000"),
            item("older", "First goal", "lv1", "2024-05-23T19:09:29.9")}),
      q);
  EXPECT_EQ(r.verdict, LookupVerdict::found);
  EXPECT_EQ(r.video_public_id, "new");
  // An hour's offset is an hour: a zone, when given, counts.
  const LookupResult z =
      match_lookup(200, body({item("zoned", "First goal", "lv1", "2024-05-23T21:09:29.8100000+01:00")}), q);
  EXPECT_EQ(z.verdict, LookupVerdict::found);
  const LookupResult z2 =
      match_lookup(200, body({item("zoned", "First goal", "lv1", "2024-05-23T21:09:29.8000000+01:00")}), q);
  EXPECT_EQ(z2.verdict, LookupVerdict::none);
}

TEST(LookupMatch, AMatchWithoutAReadableInsertDateIsUnreadable) {
  for (const std::string& date : {std::string(""), std::string("yesterday"), std::string("2024-13-01T00:00:00")}) {
    const LookupResult r = match_lookup(200, body({item("vod-1", "First goal", "lv1", date)}), clip_query());
    EXPECT_EQ(r.verdict, LookupVerdict::unreadable) << date;
    EXPECT_NE(r.error.find("vod-1"), std::string::npos) << r.error;
  }
}

TEST(LookupMatch, ANullLiveCutStartDateIsNoCutOfAStream) {
  json::object upload = item("upload", "Match day", "");
  upload["liveCutStartDate"] = nullptr;
  json::object cut = item("cut", "Match day", "");
  const LookupResult r = match_lookup(200, body({upload, cut}), stop_query());
  EXPECT_EQ(r.verdict, LookupVerdict::found);
  EXPECT_EQ(r.video_public_id, "cut");
  // Without the key at all, nothing is known against it.
  json::object no_key = item("no-key", "Match day", "");
  no_key.erase("liveCutStartDate");
  EXPECT_EQ(match_lookup(200, body({upload, no_key}), stop_query()).video_public_id, "no-key");
}

TEST(LookupMatch, MoreResultsThanOnePageAreUnreadable) {
  const LookupResult r = match_lookup(200, body({item("vod-1", "First goal")}, 101), clip_query());
  EXPECT_EQ(r.verdict, LookupVerdict::unreadable);
  EXPECT_NE(r.error.find("101"), std::string::npos) << r.error;
}

TEST(LookupMatch, ANon200OrABodyOfTheWrongShapeIsUnreadable) {
  const std::string good = body({item("vod-1", "First goal")});
  for (int status : {0, 201, 404, 500}) {
    const LookupResult r = match_lookup(status, good, clip_query());
    EXPECT_EQ(r.verdict, LookupVerdict::unreadable) << status;
    EXPECT_NE(r.error.find(std::to_string(status)), std::string::npos) << r.error;
  }
  for (const std::string b : {"", "<html>502</html>", "{\"result\":", "[]", "{\"result\":{}}",
                              "{\"result\":{\"items\":{}}}", "{\"result\":{\"items\":[1]}}",
                              "{\"result\":{\"items\":[{\"title\":\"First goal\"}]}}"}) {
    EXPECT_EQ(match_lookup(200, b, clip_query()).verdict, LookupVerdict::unreadable) << b;
  }
  // mediaId stands in for a missing publicId.
  json::object media = item("x", "First goal");
  media.erase("publicId");
  media["mediaId"] = "vod-m";
  EXPECT_EQ(match_lookup(200, body({media}), clip_query()).video_public_id, "vod-m");
}

TEST(LookupTarget, PercentEncodesTheTitleAndTheIds) {
  BaseUrl manage;
  manage.host = "manage.example.test";
  manage.path_prefix = "/v2";
  LookupQuery q = clip_query("Goal & assist #1 für");
  q.project_id = "p/1";
  q.live_video_id = "lv 1";
  EXPECT_EQ(lookup_target(manage, q),
            "/v2/api/projects/p%2F1/videos?search=Goal%20%26%20assist%20%231%20f%C3%BCr&parentVideoId=lv%201"
            "&page=1&take=100");
  // No title known: no search, the parent alone.
  q.title.clear();
  EXPECT_EQ(lookup_target(manage, q), "/v2/api/projects/p%2F1/videos?parentVideoId=lv%201&page=1&take=100");
}

TEST(LookupQueryOf, AClipSearchesByItsTitleAStopAndCutByTheLiveTitleFromTheFirstCutLessTheSkew) {
  JobSpec clip;
  clip.kind = JobKind::clip;
  clip.project_id = "proj";
  clip.live_video_id = "lv1";
  clip.title = "First goal";
  Lifecycle life;
  life.kind = JobKind::clip;
  life.first_cut_at_ms = 1'000'000;
  life.live_title = "ignored for a clip";
  LookupQuery q = lookup_query(clip, life, std::chrono::milliseconds(30'000));
  EXPECT_EQ(q.kind, JobKind::clip);
  EXPECT_EQ(q.project_id, "proj");
  EXPECT_EQ(q.live_video_id, "lv1");
  EXPECT_EQ(q.title, "First goal");
  EXPECT_EQ(q.since_ms, 970'000);

  JobSpec stop;
  stop.project_id = "proj";
  stop.live_video_id = "lv1";
  life.kind = JobKind::stop_and_cut;
  life.live_title = "Match day";
  q = lookup_query(stop, life, std::chrono::milliseconds(0));
  EXPECT_EQ(q.kind, JobKind::stop_and_cut);
  EXPECT_EQ(q.title, "Match day");
  EXPECT_EQ(q.since_ms, 1'000'000);
}
