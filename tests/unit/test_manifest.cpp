#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "batchcut/manifest/manifest.hpp"
#include "batchcut/util/time_util.hpp"

using namespace batchcut;
using Lines = std::vector<std::string>;

namespace {

Lines diags(const Manifest& m) {
  Lines out;
  for (const auto& d : m.errors) out.push_back(d.to_string());
  return out;
}

Manifest yaml(std::string_view text) { return parse_manifest(text, ManifestFormat::yaml, "m.yaml"); }
Manifest csv(std::string_view text) { return parse_manifest(text, ManifestFormat::csv, "m.csv"); }

batchcut::utc_time iso(const char* text) {
  auto t = parse_iso8601(text);
  EXPECT_TRUE(t) << text;
  return t.value_or(batchcut::utc_time{});
}

constexpr const char* kVis = "must be 1 (Public), 2 (Private) or 3 (Password Protected), got ";
constexpr const char* kId = "must be 1-128 characters from A-Z, a-z, 0-9, '_' and '-', got ";
constexpr const char* kMs = "must be a non-negative integer number of milliseconds, got ";
constexpr const char* kDate = "must be an ISO 8601 date-time such as 2024-05-23T20:09:29.810Z, got ";

}  // namespace

// ---- format selection ----

TEST(ManifestFormatName, ParsesNamesAndExtensions) {
  EXPECT_EQ(parse_manifest_format("yaml"), ManifestFormat::yaml);
  EXPECT_EQ(parse_manifest_format("yml"), ManifestFormat::yaml);
  EXPECT_EQ(parse_manifest_format(".YML"), ManifestFormat::yaml);
  EXPECT_EQ(parse_manifest_format("csv"), ManifestFormat::csv);
  EXPECT_EQ(parse_manifest_format(".CSV"), ManifestFormat::csv);
  EXPECT_FALSE(parse_manifest_format("json"));
  EXPECT_FALSE(parse_manifest_format(""));
}

TEST(ManifestFormatName, DetectsFromTheFileName) {
  const char* csv_text = "projectId,liveVideoId,videoVisibilityOptionId\np,v,1\n";
  EXPECT_TRUE(parse_manifest(csv_text, ManifestFormat::detect, "dir/jobs.csv").ok());
  EXPECT_TRUE(parse_manifest("jobs:\n  - {projectId: p, liveVideoId: v, videoVisibilityOptionId: 1}\n",
                             ManifestFormat::detect, "jobs.yml")
                  .ok());
  EXPECT_EQ(diags(parse_manifest(csv_text, ManifestFormat::detect, "jobs.txt")),
            Lines{"jobs.txt: cannot tell the manifest format from the extension '.txt'; use .yaml, .yml or "
                  ".csv, or give the format explicitly"});
  // An explicit format wins over the extension.
  EXPECT_TRUE(parse_manifest(csv_text, ManifestFormat::csv, "jobs.txt").ok());
}

// ---- YAML: the happy paths ----

TEST(ManifestYaml, ThreeRangeKinds) {
  auto m = yaml(R"(# a comment
jobs:
  - projectId: p1
    liveVideoId: lv1
    videoVisibilityOptionId: 1
  - projectId: p1
    liveVideoId: lv-2_x
    videoVisibilityOptionId: "2"
    fromMilisecond: 1000
    toMilisecond: 5000
    label: intro, part 1
  - projectId: p1
    liveVideoId: lv3
    videoVisibilityOptionId: 3
    dateTimeFrom: 2024-05-23T20:09:29.8106349
    dateTimeTo: "2024-05-23T22:00:00+01:00"
)");
  ASSERT_TRUE(m.ok()) << diags(m)[0];
  ASSERT_EQ(m.jobs.size(), 3u);

  EXPECT_EQ(m.jobs[0].key(), "p1/lv1");
  EXPECT_EQ(m.jobs[0].visibility, Visibility::public_);
  EXPECT_EQ(m.jobs[0].range, RangeKind::whole);
  EXPECT_EQ(m.jobs[0].line, 3u);

  EXPECT_EQ(m.jobs[1].live_video_id, "lv-2_x");
  EXPECT_EQ(m.jobs[1].visibility, Visibility::private_);
  EXPECT_EQ(m.jobs[1].range, RangeKind::ms);
  EXPECT_EQ(m.jobs[1].from_ms, 1000);
  EXPECT_EQ(m.jobs[1].to_ms, 5000);
  EXPECT_EQ(m.jobs[1].label, "intro, part 1");
  EXPECT_EQ(m.jobs[1].line, 6u);

  EXPECT_EQ(m.jobs[2].visibility, Visibility::password);
  EXPECT_EQ(m.jobs[2].range, RangeKind::datetime);
  EXPECT_EQ(m.jobs[2].from_time, iso("2024-05-23T20:09:29.8106349Z"));
  EXPECT_EQ(m.jobs[2].to_time, iso("2024-05-23T21:00:00Z"));
  EXPECT_EQ(m.jobs[2].line, 12u);
}

TEST(ManifestYaml, FlowStyleJobs) {
  auto m = yaml("jobs: [{projectId: p, liveVideoId: a, videoVisibilityOptionId: 1},\n"
                "       {projectId: p, liveVideoId: b, videoVisibilityOptionId: 2}]\n");
  ASSERT_TRUE(m.ok()) << diags(m)[0];
  ASSERT_EQ(m.jobs.size(), 2u);
  EXPECT_EQ(m.jobs[1].line, 2u);
}

TEST(ManifestYaml, DefaultsAreInheritedAndOverridden) {
  auto m = yaml(R"(defaults:
  projectId: proj
  videoVisibilityOptionId: 2
  label: nightly
jobs:
  - liveVideoId: a
  - liveVideoId: b
    videoVisibilityOptionId: 3
    label: special
  - liveVideoId: c
    projectId: other
    label: null
)");
  ASSERT_TRUE(m.ok()) << diags(m)[0];
  ASSERT_EQ(m.jobs.size(), 3u);
  EXPECT_EQ(m.jobs[0].key(), "proj/a");
  EXPECT_EQ(m.jobs[0].visibility, Visibility::private_);
  EXPECT_EQ(m.jobs[0].label, "nightly");
  EXPECT_EQ(m.jobs[1].key(), "proj/b");
  EXPECT_EQ(m.jobs[1].visibility, Visibility::password);
  EXPECT_EQ(m.jobs[1].label, "special");
  EXPECT_EQ(m.jobs[2].key(), "other/c");
  EXPECT_EQ(m.jobs[2].label, "");  // an explicit null clears the default
}

TEST(ManifestYaml, DefaultRangeIsInheritedAndCanBeCleared) {
  auto m = yaml(R"(defaults:
  projectId: p
  videoVisibilityOptionId: 1
  fromMilisecond: 0
  toMilisecond: 60000
jobs:
  - liveVideoId: a
  - liveVideoId: b
    toMilisecond: 1000
  - liveVideoId: c
    fromMilisecond: ~
    toMilisecond: ~
)");
  ASSERT_TRUE(m.ok()) << diags(m)[0];
  EXPECT_EQ(m.jobs[0].range, RangeKind::ms);
  EXPECT_EQ(m.jobs[0].to_ms, 60000);
  EXPECT_EQ(m.jobs[1].to_ms, 1000);
  EXPECT_EQ(m.jobs[2].range, RangeKind::whole);
}

TEST(ManifestYaml, CorrectlySpelledMillisecondIsAnAlias) {
  auto m = yaml(R"(jobs:
  - projectId: p
    liveVideoId: v
    videoVisibilityOptionId: 1
    fromMillisecond: 5
    toMillisecond: 10
)");
  ASSERT_TRUE(m.ok()) << diags(m)[0];
  EXPECT_EQ(m.jobs[0].range, RangeKind::ms);
  EXPECT_EQ(m.jobs[0].from_ms, 5);
  EXPECT_EQ(m.jobs[0].to_ms, 10);
}

TEST(ManifestYaml, LargestOffsetAndLeadingZerosAreAccepted) {
  auto m = yaml(R"(jobs:
  - {projectId: p, liveVideoId: v, videoVisibilityOptionId: 1, fromMilisecond: 007, toMilisecond: 2147483647}
)");
  ASSERT_TRUE(m.ok()) << diags(m)[0];
  EXPECT_EQ(m.jobs[0].from_ms, 7);
  EXPECT_EQ(m.jobs[0].to_ms, 2147483647);
}

// ---- YAML: validation ----

TEST(ManifestYaml, ReportsEveryProblemInFileOrder) {
  auto m = yaml(R"(defaults:
  videoVisibilityOptionId: 7
jobs:
  - projectId: p
    liveVideoId: "a b"
    videoVisibilityOptionId: 1
    fromMilisecnd: 5
  - projectId: p
    liveVideoId: v2
    videoVisibilityOptionId: 1.0
    fromMilisecond: 10
    toMilisecond: 10
  - projectId: [x]
    liveVideoId: v3
    dateTimeFrom: 2024-02-30T00:00:00
    dateTimeTo: 2024-03-01T00:00:00
    label: {a: 1}
)");
  EXPECT_EQ(diags(m), (Lines{
                          std::string("m.yaml:2: videoVisibilityOptionId: ") + kVis + "\"7\"",
                          std::string("m.yaml:5: liveVideoId: ") + kId + "\"a b\"",
                          "m.yaml:7: fromMilisecnd: unknown field (did you mean 'fromMilisecond'?)",
                          std::string("m.yaml:10: videoVisibilityOptionId: ") + kVis + "\"1.0\"",
                          "m.yaml:12: toMilisecond: must be greater than fromMilisecond",
                          "m.yaml:13: projectId: must be an id, got a list",
                          std::string("m.yaml:15: dateTimeFrom: ") + kDate + "\"2024-02-30T00:00:00\"",
                          "m.yaml:17: label: must be text, got a mapping",
                      }));
  EXPECT_FALSE(m.ok());
}

TEST(ManifestYaml, WrongTypesForIntegers) {
  auto m = yaml(R"(jobs:
  - projectId: p
    liveVideoId: v
    videoVisibilityOptionId: true
    fromMilisecond: -5
    toMilisecond: 1e3
  - projectId: p
    liveVideoId: w
    videoVisibilityOptionId: [1]
    fromMilisecond: 0x10
    toMilisecond: 2147483648
  - projectId: p
    liveVideoId: x
    videoVisibilityOptionId: one
    fromMilisecond: " 12"
    toMilisecond: 99999999999999999999999
)");
  EXPECT_EQ(diags(m), (Lines{
                          std::string("m.yaml:4: videoVisibilityOptionId: ") + kVis + "\"true\"",
                          std::string("m.yaml:5: fromMilisecond: ") + kMs + "\"-5\"",
                          std::string("m.yaml:6: toMilisecond: ") + kMs + "\"1e3\"",
                          "m.yaml:9: videoVisibilityOptionId: must be 1 (Public), 2 (Private) or 3 (Password "
                          "Protected), got a list",
                          std::string("m.yaml:10: fromMilisecond: ") + kMs + "\"0x10\"",
                          "m.yaml:11: toMilisecond: must be below 2147483648, got \"2147483648\"",
                          std::string("m.yaml:14: videoVisibilityOptionId: ") + kVis + "\"one\"",
                          std::string("m.yaml:15: fromMilisecond: ") + kMs + "\" 12\"",
                          "m.yaml:16: toMilisecond: must be below 2147483648, got \"99999999999999999999999\"",
                      }));
}

TEST(ManifestYaml, MissingFieldsAndRangeRules) {
  auto m = yaml(R"(jobs:
  - label: nothing else
  - projectId: p
    liveVideoId: a
    videoVisibilityOptionId: 0
    fromMilisecond: 10
  - projectId: p
    liveVideoId: b
    videoVisibilityOptionId: 1
    dateTimeTo: 2024-01-01T00:00:00Z
  - projectId: p
    liveVideoId: c
    videoVisibilityOptionId: 1
    fromMilisecond: 1
    toMilisecond: 2
    dateTimeFrom: 2024-01-01T00:00:00Z
  - projectId: p
    liveVideoId: d
    videoVisibilityOptionId: 1
    dateTimeFrom: 2024-01-01T01:00:00+01:00
    dateTimeTo: 2024-01-01T00:00:00Z
  - projectId: p
    liveVideoId: e
    videoVisibilityOptionId: 1
    fromMilisecond: 20
    toMilisecond: 10
)");
  EXPECT_EQ(diags(m), (Lines{
                          "m.yaml:2: projectId: required field is missing",
                          "m.yaml:2: liveVideoId: required field is missing",
                          "m.yaml:2: videoVisibilityOptionId: required field is missing",
                          "m.yaml:3: toMilisecond: required when fromMilisecond is given",
                          std::string("m.yaml:5: videoVisibilityOptionId: ") + kVis + "\"0\"",
                          "m.yaml:7: dateTimeFrom: required when dateTimeTo is given",
                          "m.yaml:16: dateTimeFrom: use either fromMilisecond/toMilisecond or "
                          "dateTimeFrom/dateTimeTo, not both",
                          "m.yaml:21: dateTimeTo: must be after dateTimeFrom",
                          "m.yaml:26: toMilisecond: must be greater than fromMilisecond",
                      }));
}

TEST(ManifestYaml, BothSpellingsOfOneFieldIsAnError) {
  auto m = yaml(R"(jobs:
  - projectId: p
    liveVideoId: v
    videoVisibilityOptionId: 1
    fromMilisecond: 1
    fromMillisecond: 1
    toMilisecond: 2
    toMilisecond: 3
)");
  EXPECT_EQ(diags(m), (Lines{
                          "m.yaml:6: fromMillisecond: same field as fromMilisecond (line 5); give only one spelling",
                          "m.yaml:8: toMilisecond: given twice (first at line 7)",
                      }));
}

TEST(ManifestYaml, ABadDefaultIsReportedOnceNotPerJob) {
  auto m = yaml(R"(defaults:
  projectId: "bad id"
  fromMilisecond: x
  colour: red
jobs:
  - {liveVideoId: a, videoVisibilityOptionId: 1, toMilisecond: 5}
  - {liveVideoId: b, videoVisibilityOptionId: 1, toMilisecond: 5}
)");
  EXPECT_EQ(diags(m), (Lines{
                          std::string("m.yaml:2: projectId: ") + kId + "\"bad id\"",
                          std::string("m.yaml:3: fromMilisecond: ") + kMs + "\"x\"",
                          "m.yaml:4: colour: unknown field",
                      }));
}

TEST(ManifestYaml, InheritedValuesAreCheckedInTheJob) {
  auto m = yaml(R"(defaults:
  projectId: p
  videoVisibilityOptionId: 1
  fromMilisecond: 5000
jobs:
  - liveVideoId: a
    toMilisecond: 9000
  - liveVideoId: b
    toMilisecond: 1000
  - liveVideoId: c
)");
  EXPECT_EQ(diags(m), (Lines{
                          "m.yaml:9: toMilisecond: must be greater than fromMilisecond",
                          "m.yaml:10: toMilisecond: required when fromMilisecond is given",
                      }));
}

TEST(ManifestYaml, UnknownFieldSuggestions) {
  auto m = yaml(R"(jobs:
  - projectID: p
    live_video_id: v
    videoVisibilityOptionId: 1
    completelyDifferent: 1
)");
  EXPECT_EQ(diags(m), (Lines{
                          "m.yaml:2: projectID: unknown field (did you mean 'projectId'?)",
                          "m.yaml:2: projectId: required field is missing",
                          "m.yaml:2: liveVideoId: required field is missing",
                          "m.yaml:3: live_video_id: unknown field (did you mean 'liveVideoId'?)",
                          "m.yaml:5: completelyDifferent: unknown field",
                      }));
}

TEST(ManifestYaml, DuplicateJobsNameBothLines) {
  auto m = yaml(R"(defaults: {projectId: p, videoVisibilityOptionId: 1}
jobs:
  - liveVideoId: a
  - liveVideoId: b
  - liveVideoId: a
    label: again
  - {projectId: q, liveVideoId: a}
)");
  EXPECT_EQ(diags(m), Lines{"m.yaml:5: duplicate job: the same live video as line 3"});
}

TEST(ManifestYaml, StructureErrors) {
  EXPECT_EQ(diags(yaml("")), Lines{"m.yaml: no jobs (the manifest is empty)"});
  EXPECT_EQ(diags(yaml("# only a comment\n")), Lines{"m.yaml: no jobs (the manifest is empty)"});
  EXPECT_EQ(diags(yaml("defaults: {projectId: p}\n")), Lines{"m.yaml: no jobs (the manifest has no 'jobs' list)"});
  EXPECT_EQ(diags(yaml("\njobs:\n")), Lines{"m.yaml:2: jobs: no jobs (the list is empty)"});
  EXPECT_EQ(diags(yaml("jobs: []\n")), Lines{"m.yaml:1: jobs: no jobs (the list is empty)"});
  EXPECT_EQ(diags(yaml("- projectId: p\n")),
            Lines{"m.yaml:1: the top level must be a mapping with a 'jobs' list, got a list"});
  EXPECT_EQ(diags(yaml("just text\n")),
            Lines{"m.yaml:1: the top level must be a mapping with a 'jobs' list, got a single value"});
  EXPECT_EQ(diags(yaml("jobs:\n  projectId: p\n")), Lines{"m.yaml:2: jobs: must be a list of jobs, got a mapping"});
  EXPECT_EQ(diags(yaml("defaults: [1]\njobs:\n  - {projectId: p, liveVideoId: v, videoVisibilityOptionId: 1}\n")),
            Lines{"m.yaml:1: defaults: must be a mapping of job fields, got a list"});
}

TEST(ManifestYaml, AJobThatIsNotAMappingAndOtherJobsStillChecked) {
  auto m = yaml(R"(jobs:
  - just-an-id
  - [p, v]
  - projectId: p
    liveVideoId: v
    videoVisibilityOptionId: 9
)");
  EXPECT_EQ(diags(m), (Lines{
                          "m.yaml:2: a job must be a mapping of fields, got a single value",
                          "m.yaml:3: a job must be a mapping of fields, got a list",
                          std::string("m.yaml:6: videoVisibilityOptionId: ") + kVis + "\"9\"",
                      }));
}

TEST(ManifestYaml, UnknownTopLevelKey) {
  auto m = yaml("job:\n  - {projectId: p, liveVideoId: v, videoVisibilityOptionId: 1}\nprojectId: p\n");
  EXPECT_EQ(diags(m), (Lines{
                          "m.yaml: no jobs (the manifest has no 'jobs' list)",
                          "m.yaml:1: job: unknown top-level key (did you mean 'jobs'?)",
                          "m.yaml:3: projectId: unknown top-level key (job fields go under 'defaults' or in each "
                          "item of 'jobs')",
                      }));
}

TEST(ManifestYaml, SyntaxErrorHasItsLine) {
  auto m = yaml("jobs:\n  - projectId: p\n    liveVideoId: [unclosed\n    label: x\n");
  ASSERT_EQ(m.errors.size(), 1u);
  EXPECT_EQ(m.errors[0].field, "");
  EXPECT_EQ(m.errors[0].message.rfind("YAML syntax error: ", 0), 0u) << m.errors[0].message;
  EXPECT_GE(m.errors[0].line, 3u);

  auto tab = yaml("jobs:\n  - projectId: p\n\tliveVideoId: v\n");
  ASSERT_EQ(tab.errors.size(), 1u);
  EXPECT_EQ(tab.errors[0].line, 3u) << tab.errors[0].to_string();
}

TEST(ManifestYaml, QuotedNumbersAreFineButNotFloats) {
  auto m = yaml(R"(jobs:
  - {projectId: "123", liveVideoId: '456', videoVisibilityOptionId: "1", fromMilisecond: "0", toMilisecond: '10'}
)");
  ASSERT_TRUE(m.ok()) << diags(m)[0];
  EXPECT_EQ(m.jobs[0].key(), "123/456");
  EXPECT_EQ(m.jobs[0].to_ms, 10);
}

TEST(ManifestYaml, IdLengthLimit) {
  const std::string ok_id(128, 'a');
  const std::string long_id(129, 'a');
  auto m = yaml("jobs:\n  - {projectId: " + ok_id + ", liveVideoId: v, videoVisibilityOptionId: 1}\n"
                "  - {projectId: " + long_id + ", liveVideoId: v, videoVisibilityOptionId: 1}\n"
                "  - {projectId: \"\", liveVideoId: v, videoVisibilityOptionId: 1}\n");
  ASSERT_EQ(m.errors.size(), 2u);
  EXPECT_EQ(m.errors[0].line, 3u);
  EXPECT_EQ(m.errors[0].field, "projectId");
  EXPECT_EQ(m.errors[0].message, std::string(kId) + "\"" + std::string(60, 'a') + "...\"");
  EXPECT_EQ(m.errors[1].to_string(), std::string("m.yaml:4: projectId: ") + kId + "\"\"");
  EXPECT_TRUE(valid_job_id(ok_id));
  EXPECT_FALSE(valid_job_id(long_id));
  EXPECT_FALSE(valid_job_id("a.b"));
  EXPECT_TRUE(valid_job_id("A-z_09"));
}

// ---- CSV: the happy paths ----

TEST(ManifestCsv, ThreeRangeKindsColumnsInAnyOrder) {
  auto m = csv("label,liveVideoId,projectId,videoVisibilityOptionId,toMilisecond,fromMilisecond,dateTimeFrom,"
               "dateTimeTo\n"
               ",a,p,1,,,,\n"
               "clip,b,p,2,5000,1000,,\n"
               "day,c,p,3,,,2024-05-23T20:09:29.8106349,2024-05-23T21:00:00Z\n");
  ASSERT_TRUE(m.ok()) << diags(m)[0];
  ASSERT_EQ(m.jobs.size(), 3u);
  EXPECT_EQ(m.jobs[0].key(), "p/a");
  EXPECT_EQ(m.jobs[0].range, RangeKind::whole);
  EXPECT_EQ(m.jobs[0].label, "");
  EXPECT_EQ(m.jobs[0].line, 2u);
  EXPECT_EQ(m.jobs[1].range, RangeKind::ms);
  EXPECT_EQ(m.jobs[1].from_ms, 1000);
  EXPECT_EQ(m.jobs[1].to_ms, 5000);
  EXPECT_EQ(m.jobs[1].visibility, Visibility::private_);
  EXPECT_EQ(m.jobs[1].label, "clip");
  EXPECT_EQ(m.jobs[2].range, RangeKind::datetime);
  EXPECT_EQ(m.jobs[2].from_time, iso("2024-05-23T20:09:29.8106349Z"));
  EXPECT_EQ(m.jobs[2].to_time, iso("2024-05-23T21:00:00Z"));
  EXPECT_EQ(m.jobs[2].visibility, Visibility::password);
}

TEST(ManifestCsv, BomCrlfQuotesAndBlankLines) {
  auto m = csv("\xEF\xBB\xBFprojectId,liveVideoId,videoVisibilityOptionId,label\r\n"
               "\r\n"
               "p,a,1,\"Hello, \"\"world\"\"\"\r\n"
               "p,b,1,\"two\r\nlines\"\r\n"
               "\r\n"
               "\"p\",\"c\",\"1\",plain\r\n");
  ASSERT_TRUE(m.ok()) << diags(m)[0];
  ASSERT_EQ(m.jobs.size(), 3u);
  EXPECT_EQ(m.jobs[0].label, "Hello, \"world\"");
  EXPECT_EQ(m.jobs[0].line, 3u);
  EXPECT_EQ(m.jobs[1].label, "two\r\nlines");
  EXPECT_EQ(m.jobs[1].line, 4u);
  EXPECT_EQ(m.jobs[2].key(), "p/c");
  EXPECT_EQ(m.jobs[2].line, 7u);
}

TEST(ManifestCsv, AliasColumns) {
  auto m = csv("projectId,liveVideoId,videoVisibilityOptionId,fromMillisecond,toMillisecond\np,v,1,0,1\n");
  ASSERT_TRUE(m.ok()) << diags(m)[0];
  EXPECT_EQ(m.jobs[0].range, RangeKind::ms);
  EXPECT_EQ(m.jobs[0].to_ms, 1);
}

// ---- CSV: validation ----

TEST(ManifestCsv, ReportsEveryProblemWithRowLines) {
  auto m = csv("projectId,liveVideoId,videoVisibilityOptionId,fromMilisecond,toMilisecond,lable\n"
               "p,v1,1,10,5,x\n"
               "p,v2,2,,,\"multi\n"
               "line, with \"\"quotes\"\"\"\n"
               "p,v3,4,,,\n"
               "p,v1,1,,,\n"
               "p,v4,1\n"
               "\n"
               "p,v5,1,10,,\n"
               "p,v 6,1.5,,7,\n");
  EXPECT_EQ(diags(m), (Lines{
                          "m.csv:1: lable: unknown column (did you mean 'label'?)",
                          "m.csv:2: toMilisecond: must be greater than fromMilisecond",
                          std::string("m.csv:5: videoVisibilityOptionId: ") + kVis + "\"4\"",
                          "m.csv:6: duplicate job: the same live video as line 2",
                          "m.csv:7: row has 3 cells, the header has 6",
                          "m.csv:9: toMilisecond: required when fromMilisecond is given",
                          std::string("m.csv:10: liveVideoId: ") + kId + "\"v 6\"",
                          std::string("m.csv:10: videoVisibilityOptionId: ") + kVis + "\"1.5\"",
                          "m.csv:10: fromMilisecond: required when toMilisecond is given",
                      }));
}

TEST(ManifestCsv, MissingRequiredColumnIsReportedOnceAtTheHeader) {
  auto m = csv("projectId,liveVideoId\np,a\np,b\n");
  EXPECT_EQ(diags(m), Lines{"m.csv:1: videoVisibilityOptionId: required column is missing"});
}

TEST(ManifestCsv, EmptyCellOfARequiredColumnIsMissing) {
  auto m = csv("projectId,liveVideoId,videoVisibilityOptionId\np,,1\n,b,\n");
  EXPECT_EQ(diags(m), (Lines{
                          "m.csv:2: liveVideoId: required field is missing",
                          "m.csv:3: projectId: required field is missing",
                          "m.csv:3: videoVisibilityOptionId: required field is missing",
                      }));
}

TEST(ManifestCsv, HeaderProblems) {
  auto m = csv("projectId,liveVideoId,videoVisibilityOptionId,,projectId,Label\np,v,1,,p,x\n");
  EXPECT_EQ(diags(m), (Lines{
                          "m.csv:1: column 4 has no name",
                          "m.csv:1: projectId: duplicate column (also column 1)",
                          "m.csv:1: Label: unknown column (did you mean 'label'?)",
                      }));
}

TEST(ManifestCsv, BothSpellingsFilledInOneRow) {
  auto m = csv("projectId,liveVideoId,videoVisibilityOptionId,fromMilisecond,fromMillisecond,toMilisecond\n"
               "p,a,1,0,,5\n"
               "p,b,1,,0,5\n"
               "p,c,1,0,0,5\n");
  EXPECT_EQ(diags(m), Lines{"m.csv:4: fromMillisecond: same field as fromMilisecond; fill only one of the two columns"});
}

TEST(ManifestCsv, BothRangesAndBadDates) {
  auto m = csv("projectId,liveVideoId,videoVisibilityOptionId,fromMilisecond,toMilisecond,dateTimeFrom,dateTimeTo\n"
               "p,a,1,0,5,2024-01-01T00:00:00Z,\n"
               "p,b,1,,,2024-13-01T00:00:00Z,2024-01-01T00:00:00Z\n"
               "p,c,1,,,2024-01-01T00:00:00Z,2024-01-01T00:00:00Z\n");
  EXPECT_EQ(diags(m), (Lines{
                          "m.csv:2: dateTimeFrom: use either fromMilisecond/toMilisecond or dateTimeFrom/dateTimeTo, "
                          "not both",
                          std::string("m.csv:3: dateTimeFrom: ") + kDate + "\"2024-13-01T00:00:00Z\"",
                          "m.csv:4: dateTimeTo: must be after dateTimeFrom",
                      }));
}

TEST(ManifestCsv, EmptyManifests) {
  EXPECT_EQ(diags(csv("")), Lines{"m.csv: no jobs (the file is empty)"});
  EXPECT_EQ(diags(csv("\xEF\xBB\xBF\r\n\r\n")), Lines{"m.csv: no jobs (the file is empty)"});
  EXPECT_EQ(diags(csv("projectId,liveVideoId,videoVisibilityOptionId\r\n\r\n")),
            Lines{"m.csv: no jobs (only a header row)"});
}

TEST(ManifestCsv, SyntaxErrorKeepsEarlierDiagnostics) {
  auto m = csv("projectId,liveVideoId,videoVisibilityOptionId\np,a,5\np,b,\"1\n");
  EXPECT_EQ(diags(m), (Lines{
                          std::string("m.csv:2: videoVisibilityOptionId: ") + kVis + "\"5\"",
                          "m.csv:3: CSV syntax error: unterminated quoted field",
                      }));
}

TEST(ManifestCsv, ManyJobsWithADuplicateAtTheEnd) {
  std::string text = "projectId,liveVideoId,videoVisibilityOptionId,fromMilisecond,toMilisecond\n";
  const int n = 50000;
  for (int i = 0; i < n; ++i)
    text += "proj" + std::to_string(i % 7) + ",live-video-" + std::to_string(i) + ",1,0,1000\n";
  auto ok = csv(text);
  ASSERT_TRUE(ok.ok()) << diags(ok)[0];
  EXPECT_EQ(ok.jobs.size(), static_cast<std::size_t>(n));
  EXPECT_EQ(ok.jobs.back().line, static_cast<std::size_t>(n) + 1);

  text += "proj3,live-video-1234,2,,\n";  // 1234 % 7 == 2, so proj3 is a different job
  text += "proj2,live-video-1234,2,,\n";
  auto dup = csv(text);
  EXPECT_EQ(diags(dup), Lines{"m.csv:" + std::to_string(n + 3) + ": duplicate job: the same live video as line 1236"});
}

// ---- files ----

TEST(ManifestFile, LoadsByExtensionAndReportsIoErrors) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(testing::TempDir()) / "batchcut_manifest_test";
  fs::create_directories(dir);
  const fs::path file = dir / "jobs.yaml";
  std::ofstream(file) << "jobs:\n  - {projectId: p, liveVideoId: v, videoVisibilityOptionId: 2}\n";
  auto m = load_manifest(file, ManifestFormat::detect);
  ASSERT_TRUE(m.ok()) << diags(m)[0];
  EXPECT_EQ(m.jobs[0].visibility, Visibility::private_);

  const fs::path missing = dir / "nope.csv";
  EXPECT_EQ(diags(load_manifest(missing, ManifestFormat::detect)),
            Lines{missing.string() + ": cannot open: No such file or directory"});
  EXPECT_EQ(diags(load_manifest(dir, ManifestFormat::csv)), Lines{dir.string() + ": cannot read: Is a directory"});
  fs::remove_all(dir);
}

// A file bigger than the reader's release step: pages behind the reader are dropped while
// it parses, which must not change the result.
TEST(ManifestFile, LargeCsvFileGivesTheSameResultAsInMemory) {
  namespace fs = std::filesystem;
  std::string text = "\xEF\xBB\xBFprojectId,liveVideoId,videoVisibilityOptionId,fromMilisecond,toMilisecond,label\r\n";
  const int n = 300000;
  for (int i = 0; i < n; ++i) {
    text += "project-" + std::to_string(i % 13) + ",video-" + std::to_string(i) + ",2," + std::to_string(i) + "," +
            std::to_string(i + 1000) + ",\"clip, number " + std::to_string(i) + "\"\r\n";
    if (i == 200000) text += "project-1,bad id,2,,,\r\n";
  }
  text += "project-0,video-0,1,,,\r\n";
  ASSERT_GT(text.size(), std::size_t{16} << 20);
  const fs::path file = fs::path(testing::TempDir()) / "batchcut_big_manifest.csv";
  std::ofstream(file, std::ios::binary) << text;

  auto from_file = load_manifest(file, ManifestFormat::detect);
  auto in_memory = parse_manifest(text, ManifestFormat::csv, file.string());
  fs::remove(file);
  const std::string prefix = file.string() + ":";
  EXPECT_EQ(diags(from_file), (Lines{
                                  prefix + "200003: liveVideoId: " + kId + "\"bad id\"",
                                  prefix + std::to_string(n + 3) + ": duplicate job: the same live video as line 2",
                              }));
  EXPECT_EQ(diags(from_file), diags(in_memory));
  ASSERT_EQ(from_file.jobs.size(), static_cast<std::size_t>(n) + 2);
  EXPECT_EQ(from_file.jobs[n].label, "clip, number 299999");
  EXPECT_EQ(from_file.jobs[n].to_ms, 299999 + 1000);
  EXPECT_EQ(from_file.jobs[n].line, static_cast<std::size_t>(n) + 2);
}

TEST(ManifestFile, ExampleManifestsAreValid) {
  for (const char* name : {"jobs.yaml", "jobs.csv"}) {
    auto m = load_manifest(std::filesystem::path(BATCHCUT_SOURCE_DIR) / "config" / "examples" / name,
                           ManifestFormat::detect);
    EXPECT_TRUE(m.ok()) << name << ": " << (m.ok() ? "" : diags(m)[0]);
    EXPECT_GE(m.jobs.size(), 3u) << name;
  }
}

TEST(ManifestYaml, ADateRangeMustSpanAMillisecondAsTheApiSeesIt) {
  auto m = yaml(R"(jobs:
  - projectId: p
    liveVideoId: v
    videoVisibilityOptionId: 1
    dateTimeFrom: "2024-05-23T20:09:29.8106349"
    dateTimeTo: "2024-05-23T20:09:29.8106350"
  - projectId: p
    liveVideoId: w
    videoVisibilityOptionId: 1
    dateTimeFrom: "2024-05-23T20:09:29.8106349"
    dateTimeTo: "2024-05-23T20:09:29.811"
)");
  EXPECT_EQ(diags(m), (Lines{"m.yaml:6: dateTimeTo: must be after dateTimeFrom"}));
}

// A date utc_time cannot hold used to wrap: 2924 was accepted and sent as 1755.
TEST(ManifestYaml, DateTimesOutsideTheSupportedRange) {
  auto m = yaml(R"(defaults: {projectId: p, videoVisibilityOptionId: 1}
jobs:
  - liveVideoId: a
    dateTimeFrom: 2024-05-23T20:00:00Z
    dateTimeTo: 2924-05-23T20:00:00Z
  - liveVideoId: b
    dateTimeFrom: 1969-12-31T23:59:59Z
    dateTimeTo: 9999-12-31T23:59:59.9999999Z
  - liveVideoId: c
    dateTimeFrom: 2261-12-31T23:00:00Z
    dateTimeTo: 2261-12-31T23:30:00-01:00
  - liveVideoId: d
    dateTimeFrom: 1970-01-01T00:00:00Z
    dateTimeTo: 2261-12-31T23:59:59.9999999Z
)");
  const std::string range = "must be between 1970-01-01T00:00:00Z and 2261-12-31T23:59:59.9999999Z, got ";
  EXPECT_EQ(diags(m), (Lines{
                          "m.yaml:5: dateTimeTo: " + range + "\"2924-05-23T20:00:00Z\"",
                          "m.yaml:7: dateTimeFrom: " + range + "\"1969-12-31T23:59:59Z\"",
                          "m.yaml:8: dateTimeTo: " + range + "\"9999-12-31T23:59:59.9999999Z\"",
                          "m.yaml:11: dateTimeTo: " + range + "\"2261-12-31T23:30:00-01:00\"",
                      }));
  ASSERT_EQ(m.jobs.size(), 4u);
  EXPECT_EQ(m.jobs[3].range, RangeKind::datetime);
  EXPECT_EQ(format_api_time(m.jobs[3].to_time), "2261-12-31T23:59:59.999Z");
}

TEST(ManifestCsv, DateTimesOutsideTheSupportedRange) {
  auto m = csv("projectId,liveVideoId,videoVisibilityOptionId,dateTimeFrom,dateTimeTo\n"
               "p,a,1,2024-05-23T20:00:00Z,2924-05-23T20:00:00Z\n"
               "p,b,1,2024-05-23T20:00:00Z,2024-05-23T21:00:00Z\n");
  EXPECT_EQ(diags(m), Lines{"m.csv:2: dateTimeTo: must be between 1970-01-01T00:00:00Z and "
                            "2261-12-31T23:59:59.9999999Z, got \"2924-05-23T20:00:00Z\""});
}

// yaml-cpp's Load reads only the first document: the jobs after a '---' used to be
// dropped without a word.
TEST(ManifestYaml, MoreThanOneDocumentIsAnErrorAtTheSecondsStart) {
  const char* job_a = "  - {projectId: p, liveVideoId: a, videoVisibilityOptionId: 1}\n";
  const char* job_b = "  - {projectId: p, liveVideoId: b, videoVisibilityOptionId: 1}\n";
  const std::string two = std::string("jobs:\n") + job_a + "---\njobs:\n" + job_b;
  EXPECT_EQ(diags(yaml(two)),
            Lines{"m.yaml:3: the manifest holds 2 YAML documents; put every job in one 'jobs' list"});
  // Each document opened with '---'; the count covers them all.
  EXPECT_EQ(diags(yaml(std::string("---\njobs:\n") + job_a + "---\njobs:\n" + job_b + "--- # more\njobs:\n" + job_b)),
            Lines{"m.yaml:4: the manifest holds 3 YAML documents; put every job in one 'jobs' list"});
  // After a '...' end marker a document may start without '---': reported at its first line.
  EXPECT_EQ(diags(yaml(std::string("jobs:\n") + job_a + "...\n# next\njobs:\n" + job_b)),
            Lines{"m.yaml:5: the manifest holds 2 YAML documents; put every job in one 'jobs' list"});
  EXPECT_EQ(diags(yaml(std::string("jobs:\n") + job_a + "...\n---\njobs:\n" + job_b)),
            Lines{"m.yaml:4: the manifest holds 2 YAML documents; put every job in one 'jobs' list"});
  // An empty document is still a second document: the file says something other than
  // what it holds, so it is not guessed at.
  EXPECT_EQ(diags(yaml(std::string("jobs:\n") + job_a + "---\n")),
            Lines{"m.yaml:3: the manifest holds 2 YAML documents; put every job in one 'jobs' list"});
  EXPECT_EQ(diags(yaml(std::string("---\n---\njobs:\n") + job_a)),
            Lines{"m.yaml:2: the manifest holds 2 YAML documents; put every job in one 'jobs' list"});
}

TEST(ManifestYaml, OneDocumentWithMarkersIsFine) {
  const char* job = "  - {projectId: p, liveVideoId: a, videoVisibilityOptionId: 1}\n";
  for (const std::string& text : {std::string("---\njobs:\n") + job, std::string("jobs:\n") + job + "...\n",
                                  std::string("---\njobs:\n") + job + "...\n# trailing comment\n",
                                  std::string("# header comment\n--- # start\njobs:\n") + job,
                                  std::string("%YAML 1.2\n---\njobs:\n") + job}) {
    auto m = yaml(text);
    EXPECT_TRUE(m.ok()) << text << (m.ok() ? "" : diags(m)[0]);
    ASSERT_EQ(m.jobs.size(), 1u) << text;
    EXPECT_EQ(m.jobs[0].key(), "p/a");
  }
  EXPECT_EQ(yaml(std::string("# header comment\n--- # start\njobs:\n") + job).jobs[0].line, 4u);
  EXPECT_EQ(diags(yaml("---\n")), Lines{"m.yaml: no jobs (the manifest is empty)"});
  EXPECT_EQ(diags(yaml("---\n...\n")), Lines{"m.yaml: no jobs (the manifest is empty)"});
}
