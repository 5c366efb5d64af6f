// Clips in a manifest (issue 9): kind, title and clipId, in YAML and CSV, with the exact
// FILE:LINE: field: message of every rule.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "batchcut/job/validate.hpp"
#include "batchcut/manifest/manifest.hpp"

using namespace batchcut;

namespace {

std::vector<std::string> texts(const Diagnostics& d) {
  std::vector<std::string> out;
  for (const auto& x : d) out.push_back(x.to_string());
  return out;
}

Manifest yaml(const std::string& jobs) {
  return parse_manifest("defaults: {projectId: p, videoVisibilityOptionId: 1}\njobs:\n" + jobs, ManifestFormat::yaml,
                        "m.yaml");
}

const std::string kCsvHeader = "projectId,liveVideoId,videoVisibilityOptionId,kind,clipId,title,fromMilisecond,toMilisecond\n";

Manifest csv(const std::string& rows) { return parse_manifest(kCsvHeader + rows, ManifestFormat::csv, "m.csv"); }

}  // namespace

TEST(ClipManifest, ClipsAndAFinalStopParseWithTheirKindTitleAndClipId) {
  const Manifest m = yaml(
      "  - {liveVideoId: lv1, kind: clip, clipId: g-1, title: \"First goal ⚽\", fromMilisecond: 10, toMilisecond: 20}\n"
      "  - {liveVideoId: lv1, kind: clip, title: Interview, fromMilisecond: 30, toMilisecond: 40}\n"
      "  - {liveVideoId: lv1, kind: stop-and-cut}\n"
      "  - {liveVideoId: lv2}\n");
  ASSERT_TRUE(m.ok()) << texts(m.errors).front();
  ASSERT_EQ(m.jobs.size(), 4u);
  EXPECT_EQ(m.jobs[0].kind, JobKind::clip);
  EXPECT_EQ(m.jobs[0].clip_id, "g-1");
  EXPECT_EQ(m.jobs[0].title, "First goal ⚽");
  EXPECT_EQ(m.jobs[0].key(), "p/lv1 clip g-1");
  EXPECT_EQ(m.jobs[1].key(), "p/lv1 clip \"Interview\"");
  EXPECT_EQ(m.jobs[2].kind, JobKind::stop_and_cut);
  EXPECT_EQ(m.jobs[3].kind, JobKind::stop_and_cut);
  EXPECT_TRUE(m.warnings.empty());
}

TEST(ClipManifest, EachClipRuleHasItsOwnMessageInYaml) {
  const Manifest m = yaml(
      "  - {liveVideoId: lv1, kind: clip, fromMilisecond: 10, toMilisecond: 20}\n"                    // 3
      "  - {liveVideoId: lv1, kind: clip, title: \"  \", fromMilisecond: 10, toMilisecond: 20}\n"     // 4
      "  - {liveVideoId: lv1, kind: clip, title: a, clipId: \"a b\", fromMilisecond: 1, toMilisecond: 2}\n"  // 5
      "  - {liveVideoId: lv1, kind: clip, title: b}\n"                                                // 6
      "  - {liveVideoId: lv1, kind: clip, title: c, dateTimeFrom: \"2026-01-01T00:00:00Z\", dateTimeTo: \"2026-01-01T00:01:00Z\"}\n"  // 7
      "  - {liveVideoId: lv1, kind: clips, title: d}\n"                                               // 8
      "  - {liveVideoId: lv2, title: e}\n"                                                            // 9
      "  - {liveVideoId: lv3, clipId: f}\n"                                                           // 10
      "  - {liveVideoId: lv4, kind: clip, title: \"" + std::string(257, 'x') + "\", fromMilisecond: 1, toMilisecond: 2}\n");  // 11
  EXPECT_EQ(texts(m.errors),
            (std::vector<std::string>{
                "m.yaml:3: title: a clip needs a title: required field is missing",
                "m.yaml:4: title: a clip needs a title: it must not be empty",
                "m.yaml:5: clipId: must be 1-128 characters from A-Z, a-z, 0-9, '.', '_', ':' and '-', got \"a b\"",
                "m.yaml:6: fromMilisecond: a clip needs fromMilisecond and toMilisecond",
                "m.yaml:7: dateTimeFrom: a clip takes fromMilisecond and toMilisecond: date-times are not documented for "
                "cut-and-publish",
                "m.yaml:8: kind: must be stop-and-cut or clip, got \"clips\" (did you mean 'clip'?)",
                "m.yaml:9: title: title is only for kind: clip (a stop-and-cut's VOD is named after the live video)",
                "m.yaml:10: clipId: clipId is only for kind: clip (a stop-and-cut's VOD is named after the live video)",
                "m.yaml:11: title: must be at most 256 characters, got 257",
            }));
}

TEST(ClipManifest, CsvCarriesTheSameFieldsAndMessages) {
  const Manifest m = csv(
      "p,lv1,1,clip,c1,\"Goal, \"\"the\"\" best\",0,1000\n"  // 2
      "p,lv1,1,,,,,\n"                                     // 3: a stop-and-cut (empty kind)
      "p,lv2,1,clip,,,0,1000\n"                            // 4
      "p,lv2,1,cut,,x,0,1000\n");                          // 5
  EXPECT_EQ(texts(m.errors), (std::vector<std::string>{
                                 "m.csv:4: title: a clip needs a title: required field is missing",
                                 "m.csv:5: kind: must be stop-and-cut or clip, got \"cut\" (did you mean 'stop-and-cut'?)",
                             }));
  const Manifest ok = csv("p,lv1,1,clip,c1,\"Goal, \"\"the\"\" best\",0,1000\np,lv1,1,stop-and-cut,,,,\n");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.jobs[0].title, "Goal, \"the\" best");
  EXPECT_EQ(ok.jobs[1].kind, JobKind::stop_and_cut);
}

TEST(ClipManifest, ADuplicateClipIsRefusedByClipIdOrByTitleAndASharedTitleIsAWarning) {
  const Manifest m = yaml(
      "  - {liveVideoId: lv1, kind: clip, clipId: a, title: Goal, fromMilisecond: 1, toMilisecond: 2}\n"   // 3
      "  - {liveVideoId: lv1, kind: clip, clipId: a, title: Other, fromMilisecond: 1, toMilisecond: 2}\n"  // 4
      "  - {liveVideoId: lv1, kind: clip, title: Talk, fromMilisecond: 1, toMilisecond: 2}\n"              // 5
      "  - {liveVideoId: lv1, kind: clip, title: Talk, fromMilisecond: 3, toMilisecond: 4}\n"              // 6
      "  - {liveVideoId: lv1, kind: clip, clipId: b, title: Goal, fromMilisecond: 5, toMilisecond: 6}\n"   // 7
      "  - {liveVideoId: lv2, kind: clip, clipId: a, title: Goal, fromMilisecond: 1, toMilisecond: 2}\n"   // 8: another stream
      "  - {liveVideoId: lv1}\n");                                                                         // 9
  EXPECT_EQ(texts(m.errors), (std::vector<std::string>{
                                 "m.yaml:4: clipId: duplicate clip: the same live video and clipId as line 3",
                                 "m.yaml:6: title: duplicate clip: the same live video and title as line 5",
                             }));
  EXPECT_EQ(texts(m.warnings),
            (std::vector<std::string>{"m.yaml:7: warning: title: another clip of this live video has this title (line 3): if an "
                                      "answer is lost, the lookup, which searches by title, cannot tell them apart"}));
}

TEST(ClipManifest, TheExamplesInConfigAreValidPostEventManifests) {
  for (const char* name : {"post-event.yaml", "post-event.csv"}) {
    SCOPED_TRACE(name);
    const Manifest m = load_manifest(std::filesystem::path(BATCHCUT_SOURCE_DIR) / "config/examples" / name,
                                     ManifestFormat::detect);
    ASSERT_TRUE(m.ok()) << m.errors.front().to_string();
    std::map<std::string, int> clips, stops;
    for (const auto& j : m.jobs) ++(j.kind == JobKind::clip ? clips : stops)[j.live_video_id];
    EXPECT_EQ(clips, (std::map<std::string, int>{{"final", 3}, {"keynote", 3}, {"panel-b", 1}}));
    EXPECT_EQ(stops, (std::map<std::string, int>{{"final", 1}, {"keynote", 1}}));
  }
}

TEST(ClipManifest, TheTitleRuleCountsCharactersAndRefusesControlsAndBadUtf8) {
  EXPECT_EQ(check_title(std::string(256, 'x')), std::nullopt);
  std::string umlauts;
  for (int i = 0; i < 256; ++i) umlauts += "ü";  // 512 bytes, 256 characters
  EXPECT_EQ(check_title(umlauts), std::nullopt);
  EXPECT_EQ(check_title(umlauts + "ü"), "must be at most 256 characters, got 257");
  EXPECT_EQ(check_title("a\tb"), "must not contain control characters (tabs, line breaks, ...)");
  EXPECT_EQ(check_title("a\nb"), "must not contain control characters (tabs, line breaks, ...)");
  EXPECT_EQ(check_title("a\xff"), "must be valid UTF-8");
  EXPECT_EQ(check_title("a\xc3"), "must be valid UTF-8");
  EXPECT_EQ(check_clip_id(std::string(128, 'a')), std::nullopt);
  EXPECT_NE(check_clip_id(std::string(129, 'a')), std::nullopt);
  EXPECT_EQ(check_clip_id("goal-1.v2:final_x"), std::nullopt);
}
