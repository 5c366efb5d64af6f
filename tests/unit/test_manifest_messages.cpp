// The common manifest mistakes, each with its own message: a CSV from a spreadsheet with
// another separator, a UTF-16 file, near-miss field names and date-times, and the warning
// for a date-time finer than the API takes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "batchcut/manifest/manifest.hpp"
#include "batchcut/util/plural.hpp"

using namespace batchcut;
using Lines = std::vector<std::string>;

namespace {

Lines lines(const Diagnostics& ds) {
  Lines out;
  for (const auto& d : ds) out.push_back(d.to_string());
  return out;
}

Manifest yaml(std::string_view text) { return parse_manifest(text, ManifestFormat::yaml, "m.yaml"); }
Manifest csv(std::string_view text) { return parse_manifest(text, ManifestFormat::csv, "m.csv"); }

constexpr const char* kSemicolon =
    "this file uses ';' as separator; a manifest CSV separates its columns with ',' (save or export it as "
    "comma-separated)";
constexpr const char* kTabs =
    "this file uses tabs as separator; a manifest CSV separates its columns with ',' (save or export it as "
    "comma-separated)";
constexpr const char* kUtf16 = "UTF-16 is not supported: save the file as UTF-8";

// `text` in UTF-16 (ASCII only), little or big endian, with or without a BOM.
std::string utf16(std::string_view text, bool little, bool bom) {
  std::string out;
  if (bom) out += little ? "\xFF\xFE" : "\xFE\xFF";
  for (char c : text) {
    if (little) out += c, out += '\0';
    else out += '\0', out += c;
  }
  return out;
}

}  // namespace

// ---- separators ----

TEST(ManifestMessages, SemicolonSeparatedCsvIsNamedOnceAtTheHeader) {
  auto m = csv("projectId;liveVideoId;videoVisibilityOptionId\np;v;1\np;w;2\n");
  EXPECT_EQ(lines(m.errors), Lines{std::string("m.csv:1: ") + kSemicolon});
  // Quoted names (which would be a CSV syntax error), CRLF, a BOM, blank lines first, and
  // commas in the rows (a label): still the separator.
  m = csv("\xEF\xBB\xBF\r\n\r\n\"projectId\";\"liveVideoId\";\"videoVisibilityOptionId\";\"label\"\r\np;v;1;\"a, b\"\r\n");
  EXPECT_EQ(lines(m.errors), Lines{std::string("m.csv:3: ") + kSemicolon});
}

TEST(ManifestMessages, TabSeparatedCsvIsNamed) {
  auto m = csv("projectId\tliveVideoId\tvideoVisibilityOptionId\np\tv\t1\n");
  EXPECT_EQ(lines(m.errors), Lines{std::string("m.csv:1: ") + kTabs});
}

TEST(ManifestMessages, ASemicolonInACommaSeparatedFileIsNoSeparator) {
  auto m = csv("projectId,liveVideoId,videoVisibilityOptionId,label\np,v,1,a;b\n");
  EXPECT_TRUE(m.ok()) << lines(m.errors)[0];
  m = csv("projectId,liveVideoId,video;VisibilityOptionId\np,v,1\n");
  EXPECT_EQ(lines(m.errors), (Lines{"m.csv:1: video;VisibilityOptionId: unknown column (did you mean "
                                    "'videoVisibilityOptionId'?)",
                                    "m.csv:1: videoVisibilityOptionId: required column is missing"}));
}

// ---- encodings ----

TEST(ManifestMessages, Utf16IsRefusedWithOrWithoutABom) {
  const std::string text = "projectId,liveVideoId,videoVisibilityOptionId\np,v,1\n";
  for (bool little : {true, false})
    for (bool bom : {true, false}) {
      EXPECT_EQ(lines(csv(utf16(text, little, bom)).errors), Lines{std::string("m.csv:1: ") + kUtf16})
          << little << bom;
      EXPECT_EQ(lines(yaml(utf16("jobs:\n  - {projectId: p}\n", little, bom)).errors),
                Lines{std::string("m.yaml:1: ") + kUtf16})
          << little << bom;
    }
}

TEST(ManifestMessages, Utf8WithABomStillWorks) {
  auto m = csv("\xEF\xBB\xBFprojectId,liveVideoId,videoVisibilityOptionId\r\np,v,1\r\n");
  ASSERT_TRUE(m.ok()) << lines(m.errors)[0];
  ASSERT_EQ(m.jobs.size(), 1u);
  EXPECT_EQ(m.jobs[0].project_id, "p");
  m = yaml("\xEF\xBB\xBFjobs:\n  - {projectId: p, liveVideoId: v, videoVisibilityOptionId: 1}\n");
  ASSERT_TRUE(m.ok()) << lines(m.errors)[0];
  EXPECT_EQ(m.jobs.size(), 1u);
}

// A NUL later in a UTF-8 file is no sign of UTF-16: it is reported where it is.
TEST(ManifestMessages, ANulAfterTheFirstLineIsNotUtf16) {
  const char text[] = "projectId,liveVideoId,videoVisibilityOptionId\np,v\0,1\n";
  auto m = csv(std::string_view(text, sizeof text - 1));
  ASSERT_EQ(m.errors.size(), 1u);
  EXPECT_EQ(m.errors[0].line, 2u);
  EXPECT_EQ(m.errors[0].field, "liveVideoId");
}

// ---- field names ----

TEST(ManifestMessages, NearMissNamesGetASuggestionInYaml) {
  auto m = yaml(R"(jobs:
  - projectID: p
    Live_Video_Id: v
    visibility: 1
    from: 0
    to: 1000
    start: 0
    video-visibility: 1
    dateTimeFrom: 2026-05-23T20:00:00Z
)");
  EXPECT_EQ(lines(m.errors),
            (Lines{
                "m.yaml:2: projectID: unknown field (did you mean 'projectId'?)",
                "m.yaml:2: projectId: required field is missing",
                "m.yaml:2: liveVideoId: required field is missing",
                "m.yaml:2: videoVisibilityOptionId: required field is missing",
                "m.yaml:2: dateTimeTo: required when dateTimeFrom is given",
                "m.yaml:3: Live_Video_Id: unknown field (did you mean 'liveVideoId'?)",
                "m.yaml:4: visibility: unknown field (did you mean 'videoVisibilityOptionId'?)",
                "m.yaml:5: from: unknown field (did you mean 'fromMilisecond' (an offset in ms) or 'dateTimeFrom' "
                "(a date-time)?)",
                "m.yaml:6: to: unknown field (did you mean 'toMilisecond' (an offset in ms) or 'dateTimeTo' "
                "(a date-time)?)",
                "m.yaml:7: start: unknown field (did you mean 'fromMilisecond' (an offset in ms) or 'dateTimeFrom' "
                "(a date-time)?)",
                "m.yaml:8: video-visibility: unknown field (did you mean 'videoVisibilityOptionId'?)",
            }));
}

TEST(ManifestMessages, NearMissNamesGetASuggestionInCsvHeaders) {
  auto m = csv("project_id,live_video_id,Visibility,FROM_MS,to,date_time_from,Label\np,v,1,0,10,,x\n");
  EXPECT_EQ(lines(m.errors),
            (Lines{
                "m.csv:1: project_id: unknown column (did you mean 'projectId'?)",
                "m.csv:1: live_video_id: unknown column (did you mean 'liveVideoId'?)",
                "m.csv:1: Visibility: unknown column (did you mean 'videoVisibilityOptionId'?)",
                "m.csv:1: FROM_MS: unknown column (did you mean 'fromMilisecond'?)",
                "m.csv:1: to: unknown column (did you mean 'toMilisecond' (an offset in ms) or 'dateTimeTo' (a "
                "date-time)?)",
                "m.csv:1: date_time_from: unknown column (did you mean 'dateTimeFrom'?)",
                "m.csv:1: Label: unknown column (did you mean 'label'?)",
                "m.csv:1: projectId: required column is missing",
                "m.csv:1: liveVideoId: required column is missing",
                "m.csv:1: videoVisibilityOptionId: required column is missing",
            }));
}

// ---- date-times ----

TEST(ManifestMessages, NearMissDateTimesSayWhatIsWrong) {
  auto m = csv(
      "projectId,liveVideoId,videoVisibilityOptionId,dateTimeFrom,dateTimeTo\n"
      "p,a,1,2026-05-23T20:00:00.123456789Z,2026-05-23T21:00:00Z\n"
      "p,b,1,2026-05-23T20:00Z,2026-05-23T21:00:00Z\n"
      "p,c,1,2026-05-23T20:00:00+02,2026-05-23T21:00:00+02:00\n");
  EXPECT_EQ(lines(m.errors),
            (Lines{
                "m.csv:2: dateTimeFrom: at most 7 fractional digits are accepted (the API takes milliseconds), as "
                "in 2026-05-23T20:00:00.123Z, got \"2026-05-23T20:00:00.123456789Z\"",
                "m.csv:3: dateTimeFrom: the time must have seconds, HH:MM:SS, as in 2026-05-23T20:00:00Z, got "
                "\"2026-05-23T20:00Z\"",
                "m.csv:4: dateTimeFrom: the offset must be +HH:MM or -HH:MM, as in 2026-05-23T20:00:00+02:00, got "
                "\"2026-05-23T20:00:00+02\"",
            }));
}

TEST(ManifestMessages, SevenDigitFractionsAreTakenWithAWarningNamingFileLineAndField) {
  auto m = csv(
      "projectId,liveVideoId,videoVisibilityOptionId,dateTimeFrom,dateTimeTo\n"
      "p,a,1,2024-05-23T20:09:29.8106349,2024-05-23T21:00:00.000Z\n"
      "p,b,1,2024-05-23T20:09:29.810Z,2024-05-23T21:00:00.0000001Z\n");
  ASSERT_TRUE(m.ok()) << lines(m.errors)[0];
  ASSERT_EQ(m.jobs.size(), 2u);
  EXPECT_EQ(lines(m.warnings),
            (Lines{
                "m.csv:2: warning: dateTimeFrom: truncated to milliseconds, the finest the API takes: "
                "\"2024-05-23T20:09:29.8106349\" is sent as 2024-05-23T20:09:29.810Z",
                "m.csv:3: warning: dateTimeTo: truncated to milliseconds, the finest the API takes: "
                "\"2024-05-23T21:00:00.0000001Z\" is sent as 2024-05-23T21:00:00.000Z",
            }));
  for (const auto& w : m.warnings) EXPECT_EQ(w.severity, Severity::warning);
}

// A default is warned about once, where it is written, not again in every job.
TEST(ManifestMessages, AYamlDefaultIsWarnedAboutOnce) {
  auto m = yaml(R"(defaults:
  projectId: p
  videoVisibilityOptionId: 1
  dateTimeFrom: 2024-05-23T20:09:29.8106349Z
jobs:
  - {liveVideoId: a, dateTimeTo: "2024-05-23T21:00:00Z"}
  - {liveVideoId: b, dateTimeTo: "2024-05-23T21:00:00.12345Z"}
)");
  ASSERT_TRUE(m.ok()) << lines(m.errors)[0];
  EXPECT_EQ(lines(m.warnings),
            (Lines{
                "m.yaml:4: warning: dateTimeFrom: truncated to milliseconds, the finest the API takes: "
                "\"2024-05-23T20:09:29.8106349Z\" is sent as 2024-05-23T20:09:29.810Z",
                "m.yaml:7: warning: dateTimeTo: truncated to milliseconds, the finest the API takes: "
                "\"2024-05-23T21:00:00.12345Z\" is sent as 2024-05-23T21:00:00.123Z",
            }));
}

// ---- counts ----

TEST(Plural, OneIsSingularEverythingElsePlural) {
  EXPECT_EQ(counted(0, "job"), "0 jobs");
  EXPECT_EQ(counted(1, "job"), "1 job");
  EXPECT_EQ(counted(2, "job"), "2 jobs");
  EXPECT_EQ(counted(1, "problem"), "1 problem");
  EXPECT_EQ(counted(1, "retry", "retries"), "1 retry");
  EXPECT_EQ(counted(3, "retry", "retries"), "3 retries");
}
