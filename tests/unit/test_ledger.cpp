#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <future>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "batchcut/manifest/csv.hpp"
#include "batchcut/ledger/ledger.hpp"
#include "batchcut/util/time_util.hpp"

using namespace batchcut;
namespace fs = std::filesystem;

namespace {

constexpr auto kHangGuard = std::chrono::seconds(20);

// A fresh directory under the system temp dir, removed with everything in it.
struct TempDir {
  fs::path path;
  TempDir() {
    static std::atomic<int> counter{0};
    std::random_device rd;
    path = fs::temp_directory_path() /
           ("batchcut-ledger-test-" + std::to_string(::getpid()) + "-" +
            std::to_string(counter++) + "-" + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path file(const std::string& name = "jobs.ledger.jsonl") const { return path / name; }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    out.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

JobSpec whole_job(std::string project, std::string video, std::string label = "") {
  JobSpec j;
  j.project_id = std::move(project);
  j.live_video_id = std::move(video);
  j.label = std::move(label);
  return j;
}

JobSpec ms_job(std::string project, std::string video, std::int64_t from, std::int64_t to) {
  JobSpec j = whole_job(std::move(project), std::move(video), "ms clip");
  j.range = RangeKind::ms;
  j.from_ms = from;
  j.to_ms = to;
  j.visibility = Visibility::private_;
  return j;
}

JobRecord final_state(const JobSpec& spec, JobState s, int attempts, int status = 0,
                      std::string id = "", std::string error = "",
                      std::vector<std::string> messages = {}) {
  JobRecord r;
  r.spec = spec;
  r.state = s;
  r.attempts = attempts;
  r.http_status = status;
  r.video_public_id = std::move(id);
  r.error = std::move(error);
  r.messages = std::move(messages);
  return r;
}

std::vector<std::string> error_strings(const LedgerContents& c) {
  std::vector<std::string> out;
  for (const auto& d : c.errors) out.push_back(d.to_string());
  return out;
}

}  // namespace

TEST(LedgerNames, StatesRoundTrip) {
  for (JobState s : {JobState::pending, JobState::succeeded, JobState::failed,
                     JobState::retry_exhausted, JobState::in_doubt}) {
    EXPECT_EQ(parse_job_state(to_string(s)), s);
  }
  EXPECT_STREQ(to_string(JobState::pending), "pending");
  EXPECT_STREQ(to_string(JobState::succeeded), "succeeded");
  EXPECT_STREQ(to_string(JobState::failed), "failed");
  EXPECT_STREQ(to_string(JobState::retry_exhausted), "retry_exhausted");
  EXPECT_STREQ(to_string(JobState::in_doubt), "in_doubt");
  EXPECT_FALSE(parse_job_state("done"));
  EXPECT_FALSE(parse_job_state(""));
}

TEST(LedgerNames, DefaultPathSitsBesideTheManifest) {
  EXPECT_EQ(default_ledger_path("dir/jobs.yaml"), fs::path("dir/jobs.ledger.jsonl"));
  EXPECT_EQ(default_ledger_path("jobs.csv"), fs::path("jobs.ledger.jsonl"));
  EXPECT_EQ(default_ledger_path("/a/b/night.run.yaml"), fs::path("/a/b/night.run.ledger.jsonl"));
}

TEST(LedgerRead, MissingFileIsAnEmptyLedger) {
  TempDir dir;
  LedgerContents c = read_ledger(dir.file("nope.jsonl"));
  EXPECT_TRUE(c.jobs.empty());
  EXPECT_TRUE(c.errors.empty());
  EXPECT_FALSE(c.torn_tail);
  EXPECT_EQ(c.find("p/v"), nullptr);
}

TEST(LedgerRoundTrip, EveryRecordTypeHasTheDocumentedShape) {
  TempDir dir;
  JobSpec a = ms_job("p1", "lv1", 1000, 61000);
  {
    auto w = LedgerWriter::open(dir.file(), LedgerSync::group_commit);
    w->append_job(a);
    w->append_dispatch(a, 1, "cut");
    w->append_outcome(a, 1, "cut", 201, "", "success", 42);
    w->append_state(final_state(a, JobState::succeeded, 1, 201, "vod-abc"));
    w->flush();
  }
  auto lines = lines_of(slurp(dir.file()));
  ASSERT_EQ(lines.size(), 4u);
  std::regex ts_re(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  std::vector<boost::json::object> objs;
  for (const auto& l : lines) {
    auto v = boost::json::parse(l);
    ASSERT_TRUE(v.is_object()) << l;
    objs.push_back(v.as_object());
    EXPECT_TRUE(std::regex_match(std::string(objs.back().at("ts").as_string()), ts_re)) << l;
    EXPECT_EQ(objs.back().at("projectId").as_string(), "p1");
    EXPECT_EQ(objs.back().at("liveVideoId").as_string(), "lv1");
  }
  const auto& job = objs[0];
  EXPECT_EQ(job.at("type").as_string(), "job");
  EXPECT_EQ(job.at("videoVisibilityOptionId").as_int64(), 2);
  EXPECT_EQ(job.at("fromMilisecond").as_int64(), 1000);
  EXPECT_EQ(job.at("toMilisecond").as_int64(), 61000);
  EXPECT_TRUE(job.at("dateTimeFrom").is_null());
  EXPECT_TRUE(job.at("dateTimeTo").is_null());
  EXPECT_EQ(job.at("label").as_string(), "ms clip");

  EXPECT_EQ(objs[1].at("type").as_string(), "dispatch");
  EXPECT_EQ(objs[1].at("attempt").as_int64(), 1);
  EXPECT_EQ(objs[1].at("op").as_string(), "cut");

  EXPECT_EQ(objs[2].at("type").as_string(), "outcome");
  EXPECT_EQ(objs[2].at("attempt").as_int64(), 1);
  EXPECT_EQ(objs[2].at("op").as_string(), "cut");
  EXPECT_EQ(objs[2].at("httpStatus").as_int64(), 201);
  EXPECT_EQ(objs[2].at("verdict").as_string(), "success");
  EXPECT_EQ(objs[2].at("elapsedMs").as_int64(), 42);
  EXPECT_EQ(objs[2].at("error").as_string(), "");

  EXPECT_EQ(objs[3].at("type").as_string(), "state");
  EXPECT_EQ(objs[3].at("state").as_string(), "succeeded");
  EXPECT_EQ(objs[3].at("videoPublicId").as_string(), "vod-abc");
  EXPECT_EQ(objs[3].at("attempts").as_int64(), 1);
  EXPECT_EQ(objs[3].at("httpStatus").as_int64(), 201);
  EXPECT_EQ(objs[3].at("error").as_string(), "");
  EXPECT_TRUE(objs[3].at("messages").as_array().empty());

  LedgerContents c = read_ledger(dir.file());
  EXPECT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  ASSERT_EQ(c.jobs.size(), 1u);
  const JobRecord* r = c.find("p1/lv1");
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(r->spec.same_request(a));
  EXPECT_EQ(r->spec.label, "ms clip");
  EXPECT_EQ(r->state, JobState::succeeded);
  EXPECT_EQ(r->video_public_id, "vod-abc");
  EXPECT_EQ(r->attempts, 1);
  EXPECT_EQ(r->http_status, 201);
  EXPECT_TRUE(r->has_final);
  EXPECT_FALSE(r->in_flight);
}

TEST(LedgerRoundTrip, WholeAndMillisecondRanges) {
  TempDir dir;
  JobSpec whole = whole_job("p", "whole", "all of it");
  whole.visibility = Visibility::password;
  JobSpec ms = ms_job("p", "ms", 0, 2'147'483'647);
  {
    auto w = LedgerWriter::open(dir.file(), LedgerSync::none);
    w->append_job(whole);
    w->append_job(ms);
  }
  auto lines = lines_of(slurp(dir.file()));
  ASSERT_EQ(lines.size(), 2u);
  auto o = boost::json::parse(lines[0]).as_object();
  EXPECT_TRUE(o.at("fromMilisecond").is_null());
  EXPECT_TRUE(o.at("toMilisecond").is_null());
  EXPECT_TRUE(o.at("dateTimeFrom").is_null());
  EXPECT_TRUE(o.at("dateTimeTo").is_null());
  EXPECT_EQ(o.at("videoVisibilityOptionId").as_int64(), 3);

  LedgerContents c = read_ledger(dir.file());
  EXPECT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  ASSERT_EQ(c.jobs.size(), 2u);
  EXPECT_EQ(c.jobs[0].spec.key(), "p/whole");  // first-seen order
  EXPECT_EQ(c.jobs[0].spec.range, RangeKind::whole);
  EXPECT_EQ(c.jobs[0].spec.visibility, Visibility::password);
  EXPECT_TRUE(c.jobs[0].spec.same_request(whole));
  EXPECT_EQ(c.jobs[1].spec.range, RangeKind::ms);
  EXPECT_EQ(c.jobs[1].spec.to_ms, 2'147'483'647);
  EXPECT_TRUE(c.jobs[1].spec.same_request(ms));
  EXPECT_EQ(c.jobs[0].state, JobState::pending);
  EXPECT_FALSE(c.jobs[0].has_final);
  EXPECT_EQ(c.index.at("p/ms"), 1u);
}

TEST(LedgerRoundTrip, DateTimeRangeKeepsFullPrecision) {
  TempDir dir;
  JobSpec j = whole_job("p", "dt", "dt clip");
  j.range = RangeKind::datetime;
  auto from = parse_iso8601("2024-05-23T20:09:29.8106349");
  auto to = parse_iso8601("2024-05-23T21:00:00Z");
  ASSERT_TRUE(from && to);
  j.from_time = *from;
  j.to_time = *to;
  {
    auto w = LedgerWriter::open(dir.file(), LedgerSync::group_commit);
    w->append_job(j);
  }
  auto o = boost::json::parse(lines_of(slurp(dir.file())).at(0)).as_object();
  EXPECT_EQ(o.at("dateTimeFrom").as_string(), "2024-05-23T20:09:29.8106349Z");
  EXPECT_EQ(o.at("dateTimeTo").as_string(), "2024-05-23T21:00:00Z");
  EXPECT_TRUE(o.at("fromMilisecond").is_null());
  EXPECT_TRUE(o.at("toMilisecond").is_null());

  LedgerContents c = read_ledger(dir.file());
  EXPECT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  ASSERT_EQ(c.jobs.size(), 1u);
  EXPECT_EQ(c.jobs[0].spec.range, RangeKind::datetime);
  EXPECT_EQ(c.jobs[0].spec.from_time, *from);
  EXPECT_EQ(c.jobs[0].spec.to_time, *to);
  EXPECT_TRUE(c.jobs[0].spec.same_request(j));
}

TEST(LedgerRoundTrip, WeirdTextSurvivesByteForByte) {
  TempDir dir;
  const std::vector<std::string> labels = {
      "say \"hi\"",
      "back\\slash \\\" \\n literally",
      "two\nlines\r\nand\ttab",
      std::string("nul\0byte and \x01\x1f controls \x7f", 31),
      "Ünïcödé — 日本語 🎬 \u2028 sep",
      "",
      "{\"type\":\"state\"}",
      "not utf-8: \xff\xfe\xc3",
  };
  {
    auto w = LedgerWriter::open(dir.file(), LedgerSync::group_commit);
    for (std::size_t i = 0; i < labels.size(); ++i) {
      JobSpec j = whole_job("p", "v" + std::to_string(i), labels[i]);
      w->append_job(j);
      w->append_outcome(j, 1, "cut", 400, labels[i], "permanent", 1);
      w->append_state(final_state(j, JobState::failed, 1, 400, "", labels[i], {labels[i], "x"}));
    }
  }
  std::string text = slurp(dir.file());
  auto lines = lines_of(text);
  EXPECT_EQ(lines.size(), labels.size() * 3);  // no raw newline leaked into a line
  LedgerContents c = read_ledger(dir.file());
  EXPECT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  ASSERT_EQ(c.jobs.size(), labels.size());
  for (std::size_t i = 0; i < labels.size(); ++i) {
    EXPECT_EQ(c.jobs[i].spec.label, labels[i]) << i;
    EXPECT_EQ(c.jobs[i].error, labels[i]) << i;
    ASSERT_EQ(c.jobs[i].messages.size(), 2u);
    EXPECT_EQ(c.jobs[i].messages[0], labels[i]) << i;
  }
  // Lines of valid UTF-8 text are standard JSON any tool can read.
  for (std::size_t i = 0; i + 3 < lines.size(); ++i) {
    boost::json::error_code ec;
    auto v = boost::json::parse(lines[i], ec);
    ASSERT_FALSE(ec) << i << ": " << lines[i];
    if (v.as_object().at("type").as_string() == "job") {
      EXPECT_EQ(v.as_object().at("label").as_string(), labels[i / 3]);
    }
  }
}

TEST(LedgerRead, AcceptsAnyValidJsonSpellingOfARecord) {
  TempDir dir;
  // Escaped keys and values, extra members (nested), odd whitespace, a repeated key.
  spit(dir.file(),
       R"( { "type" : "job", "extra": {"label": "not this", "a": [1, {"b": null}]},)"
       R"( "projectId":"p", "liveVideoId":"v\u0031", "videoVisibilityOptionId":2,)"
       R"( "fromMilisecond":null,"toMilisecond":null,"dateTimeFrom":null,"dateTimeTo":null,)"
       R"( "l\u0061bel":"tab\there \"q\" \u00fc \ud83c\udfac" } )"
       "\n"
       R"({"type":"state","projectId":"p","liveVideoId":"v1","state":"failed","videoPublicId":null,)"
       R"("attempts":1,"httpStatus":400,"error":"e","messages":["old"],"messages":["a\nb","c"]})"
       "\n");
  LedgerContents c = read_ledger(dir.file());
  ASSERT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  const JobRecord* r = c.find("p/v1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->spec.label, "tab\there \"q\" \u00fc \U0001F3AC");
  EXPECT_EQ(r->spec.visibility, Visibility::private_);
  EXPECT_EQ(r->messages, (std::vector<std::string>{"a\nb", "c"}));
}

TEST(LedgerRead, MessagesMustBeStringsAndNumbersIntegers) {
  TempDir dir;
  std::string job = R"({"type":"job","projectId":"p","liveVideoId":"v","videoVisibilityOptionId":1,)"
                    R"("fromMilisecond":1.5,"toMilisecond":2,"dateTimeFrom":null,"dateTimeTo":null,"label":""})";
  spit(dir.file(),
       job + "\n" +
           R"({"type":"state","projectId":"p","liveVideoId":"v","state":"failed","videoPublicId":7,)"
           R"("attempts":-1,"httpStatus":400,"error":"e","messages":["a",["b"]]})" "\n");
  LedgerContents c = read_ledger(dir.file());
  std::string f = dir.file().string();
  EXPECT_EQ(error_strings(c), (std::vector<std::string>{
                                  f + ":1: fromMilisecond: must be an integer",
                                  f + ":2: videoPublicId: must be a string or null",
                                  f + ":2: attempts: out of range (0..2147483647)",
                                  f + ":2: messages: must be an array of strings",
                              }));
}

TEST(LedgerFold, ResumeSeesSucceededFailedInFlightAndPending) {
  TempDir dir;
  JobSpec ok = whole_job("p", "ok"), bad = whole_job("p", "bad"), crashed = whole_job("p", "crashed"),
          retrying = whole_job("p", "retrying"), fresh = whole_job("q", "fresh"),
          reconciled = whole_job("p", "reconciled");
  {
    auto w = LedgerWriter::open(dir.file(), LedgerSync::group_commit);
    for (auto* j : {&ok, &bad, &crashed, &retrying, &fresh, &reconciled}) w->append_job(*j);
    w->append_dispatch(ok, 1, "cut");
    w->append_dispatch(bad, 1, "cut");
    w->append_dispatch(crashed, 1, "cut");
    w->append_dispatch(retrying, 1, "cut");
    w->append_outcome(retrying, 1, "cut", 503, "Backend fetch failed", "retry", 30000);
    w->append_dispatch(retrying, 2, "cut");
    w->append_outcome(retrying, 2, "cut", 0, "timeout", "retry", 30000);
    w->append_outcome(ok, 1, "cut", 200, "", "success", 10);
    w->append_state(final_state(ok, JobState::succeeded, 1, 200, "vod-1"));
    w->append_outcome(bad, 1, "cut", 400, "bad request", "permanent", 5);
    w->append_state(final_state(bad, JobState::failed, 1, 400, "", "bad request",
                                {"Live video cannot be stopped", "second"}));
    // A cut that crashed mid-flight, then a reconcile of it that also crashed: still in flight.
    w->append_dispatch(reconciled, 1, "cut");
    w->append_dispatch(reconciled, 1, "reconcile");
    w->append_outcome(reconciled, 1, "reconcile", 200, "", "success", 3);
  }
  LedgerContents c = read_ledger(dir.file());
  ASSERT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  ASSERT_EQ(c.jobs.size(), 6u);

  const JobRecord* r = c.find("p/ok");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->state, JobState::succeeded);
  EXPECT_EQ(r->video_public_id, "vod-1");
  EXPECT_TRUE(r->has_final);
  EXPECT_FALSE(r->in_flight);

  r = c.find("p/bad");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->state, JobState::failed);
  EXPECT_EQ(r->http_status, 400);
  EXPECT_EQ(r->error, "bad request");
  EXPECT_EQ(r->messages, (std::vector<std::string>{"Live video cannot be stopped", "second"}));
  EXPECT_TRUE(r->video_public_id.empty());
  EXPECT_TRUE(r->has_final);

  r = c.find("p/crashed");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->in_flight);
  EXPECT_FALSE(r->has_final);
  EXPECT_EQ(r->attempts, 1);
  EXPECT_EQ(r->state, JobState::pending);

  r = c.find("p/retrying");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->in_flight);
  EXPECT_FALSE(r->has_final);
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(r->http_status, 0);
  EXPECT_EQ(r->error, "timeout");

  r = c.find("q/fresh");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->attempts, 0);
  EXPECT_FALSE(r->in_flight);
  EXPECT_FALSE(r->has_final);
  EXPECT_EQ(r->state, JobState::pending);

  r = c.find("p/reconciled");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->in_flight);
  EXPECT_EQ(r->attempts, 1);
}

TEST(LedgerFold, LastStateWinsAfterALaterDispatch) {
  TempDir dir;
  JobSpec j = whole_job("p", "v");
  {
    auto w = LedgerWriter::open(dir.file(), LedgerSync::none);
    w->append_job(j);
    w->append_dispatch(j, 1, "cut");
    w->append_state(final_state(j, JobState::in_doubt, 1, 503, "", "503"));
    w->append_dispatch(j, 2, "cut");  // a replay of the in-doubt job
    w->append_state(final_state(j, JobState::retry_exhausted, 2, 500, "", "500"));
  }
  LedgerContents c = read_ledger(dir.file());
  ASSERT_TRUE(c.errors.empty());
  const JobRecord* r = c.find("p/v");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->state, JobState::retry_exhausted);
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(r->http_status, 500);
  EXPECT_FALSE(r->in_flight);
  EXPECT_TRUE(r->has_final);
}

TEST(LedgerFold, ANonSucceededStateNeverErasesAVideoPublicId) {
  TempDir dir;
  JobSpec j = whole_job("p", "v");
  {
    auto w = LedgerWriter::open(dir.file(), LedgerSync::group_commit);
    w->append_job(j);
    w->append_state(final_state(j, JobState::succeeded, 1, 201, "vod-first"));
    w->append_dispatch(j, 2, "cut");
    w->append_state(final_state(j, JobState::failed, 2, 400, "", "cannot be stopped"));
    w->append_state(final_state(j, JobState::in_doubt, 2));
    w->append_state(final_state(j, JobState::pending, 2));
    w->append_state(final_state(j, JobState::succeeded, 3, 200, "vod-second"));
  }
  LedgerContents c = read_ledger(dir.file());
  ASSERT_TRUE(c.errors.empty());
  const JobRecord* r = c.find("p/v");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->state, JobState::succeeded);
  EXPECT_EQ(r->video_public_id, "vod-first");
  EXPECT_EQ(r->http_status, 201);
  EXPECT_FALSE(r->in_flight);
  EXPECT_EQ(r->attempts, 3);
}

TEST(LedgerFold, ALaterJobRecordReplacesTheSpec) {
  TempDir dir;
  JobSpec first = ms_job("p", "v", 0, 1000);
  JobSpec second = ms_job("p", "v", 5000, 9000);
  second.label = "changed";
  {
    auto w = LedgerWriter::open(dir.file(), LedgerSync::none);
    w->append_job(first);
    w->append_job(whole_job("p", "other"));
    w->append_dispatch(first, 1, "cut");
    w->append_state(final_state(first, JobState::failed, 1, 400));
    w->append_job(second);
  }
  LedgerContents c = read_ledger(dir.file());
  ASSERT_TRUE(c.errors.empty());
  ASSERT_EQ(c.jobs.size(), 2u);
  EXPECT_EQ(c.jobs[0].spec.key(), "p/v");  // keeps its first-seen position
  EXPECT_TRUE(c.jobs[0].spec.same_request(second));
  EXPECT_EQ(c.jobs[0].spec.label, "changed");
  EXPECT_EQ(c.jobs[0].state, JobState::failed);
  EXPECT_EQ(c.index.at("p/other"), 1u);
}

TEST(LedgerRead, AWholeRecordMissingOnlyItsNewlineIsKept) {
  TempDir dir;
  JobSpec j = whole_job("p", "v");
  {
    auto w = LedgerWriter::open(dir.file(), LedgerSync::group_commit);
    w->append_job(j);
    w->append_dispatch(j, 1, "cut");
    w->append_state(final_state(j, JobState::succeeded, 1, 200, "vod-kept"));
  }
  std::string text = slurp(dir.file());
  ASSERT_EQ(text.back(), '\n');
  text.pop_back();  // the state line's newline never reached the disk
  spit(dir.file(), text);
  LedgerContents c = read_ledger(dir.file());
  EXPECT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  EXPECT_FALSE(c.torn_tail);
  EXPECT_EQ(c.find("p/v")->state, JobState::succeeded);
  EXPECT_EQ(c.find("p/v")->video_public_id, "vod-kept");  // the id is not thrown away

  {
    auto w = LedgerWriter::open(dir.file(), LedgerSync::group_commit);
    w->append_dispatch(whole_job("p", "v"), 2, "reconcile");
  }
  LedgerContents after = read_ledger(dir.file());
  EXPECT_TRUE(after.errors.empty()) << ::testing::PrintToString(error_strings(after));
  EXPECT_EQ(after.find("p/v")->video_public_id, "vod-kept");
  EXPECT_EQ(slurp(dir.file()).substr(0, text.size() + 1), text + "\n");
}

TEST(LedgerRead, ACutShortTailIsTornAndRepairedOnOpen) {
  TempDir dir;
  JobSpec j = whole_job("p", "v");
  {
    auto w = LedgerWriter::open(dir.file(), LedgerSync::group_commit);
    w->append_job(j);
    w->append_dispatch(j, 1, "cut");
  }
  std::string good = slurp(dir.file());
  spit(dir.file(), good + R"({"type":"state","ts":"2026-01-01T00:00:00.000Z","projectId":"p","liveVideoId":"v","sta)");
  LedgerContents c = read_ledger(dir.file());
  EXPECT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  EXPECT_TRUE(c.torn_tail);
  EXPECT_EQ(c.torn_tail_offset, good.size());
  EXPECT_TRUE(c.find("p/v")->in_flight);

  {
    auto w = LedgerWriter::open(dir.file(), LedgerSync::group_commit, c.torn_tail_offset);
    w->append_state(final_state(j, JobState::succeeded, 1, 201, "vod-9"));
    w->flush();
  }
  LedgerContents after = read_ledger(dir.file());
  EXPECT_TRUE(after.errors.empty()) << ::testing::PrintToString(error_strings(after));
  EXPECT_FALSE(after.torn_tail);
  ASSERT_EQ(after.jobs.size(), 1u);
  EXPECT_EQ(after.jobs[0].video_public_id, "vod-9");
  EXPECT_EQ(slurp(dir.file()).substr(0, good.size()), good);
}

TEST(LedgerRead, TornGarbageTailAndTruncateBeyondEndRefused) {
  TempDir dir;
  spit(dir.file(), "{\"type\":\"jo");
  LedgerContents c = read_ledger(dir.file());
  EXPECT_TRUE(c.errors.empty());
  EXPECT_TRUE(c.torn_tail);
  EXPECT_EQ(c.torn_tail_offset, 0u);
  EXPECT_THROW(LedgerWriter::open(dir.file(), LedgerSync::none, std::size_t{999}), LedgerError);
  {
    auto w = LedgerWriter::open(dir.file(), LedgerSync::none, std::size_t{0});
    w->append_job(whole_job("p", "v"));
  }
  c = read_ledger(dir.file());
  EXPECT_TRUE(c.errors.empty());
  EXPECT_FALSE(c.torn_tail);
  EXPECT_EQ(c.jobs.size(), 1u);
}

TEST(LedgerWriter, LockThenReadThenCutTheTornTail) {
  TempDir dir;
  JobSpec j = whole_job("p", "v");
  {
    auto w = LedgerWriter::open(dir.file(), LedgerSync::group_commit);
    w->append_job(j);
  }
  std::string good = slurp(dir.file());
  const std::string torn = "{\"type\":\"dispatch\",\"proj";
  spit(dir.file(), good + torn);

  auto w = LedgerWriter::open(dir.file(), LedgerSync::group_commit);
  LedgerContents c = read_ledger(dir.file());
  ASSERT_TRUE(c.torn_tail);
  // An offset that is not where the torn line starts would cut complete records: refused.
  EXPECT_THROW(w->truncate_torn_tail(0), LedgerError);
  EXPECT_THROW(w->truncate_torn_tail(good.size() + 1), LedgerError);
  EXPECT_THROW(w->truncate_torn_tail(good.size() + 1000), LedgerError);
  EXPECT_EQ(slurp(dir.file()), good + torn);
  w->truncate_torn_tail(c.torn_tail_offset);
  EXPECT_EQ(slurp(dir.file()), good);
  w->append_dispatch(j, 1, "cut");
  EXPECT_THROW(w->truncate_torn_tail(good.size()), LedgerError);  // only before appends
  w->flush();
  c = read_ledger(dir.file());
  EXPECT_TRUE(c.errors.empty());
  EXPECT_FALSE(c.torn_tail);
  EXPECT_TRUE(c.jobs.at(0).in_flight);
}

TEST(LedgerWriter, AnUncutTornTailIsTerminatedNotGluedOnto) {
  TempDir dir;
  JobSpec j = whole_job("p", "v");
  {
    auto w = LedgerWriter::open(dir.file(), LedgerSync::group_commit);
    w->append_job(j);
  }
  spit(dir.file(), slurp(dir.file()) + "{\"type\":\"dis");
  {
    auto w = LedgerWriter::open(dir.file(), LedgerSync::group_commit);
    w->append_dispatch(j, 1, "cut");
  }
  LedgerContents c = read_ledger(dir.file());
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0].line, 2u);
  EXPECT_FALSE(c.torn_tail);
  EXPECT_TRUE(c.jobs.at(0).in_flight);  // the new record survived intact
}

TEST(LedgerRead, CorruptLinesAreAllReportedWithFileLineAndField) {
  TempDir dir;
  JobSpec j = whole_job("p", "v");
  {
    auto w = LedgerWriter::open(dir.file(), LedgerSync::none);
    w->append_job(j);
  }
  std::string text = slurp(dir.file());
  text += "this is not json\n";                                                       // 2
  text += R"({"type":"dispatch","projectId":"p","liveVideoId":"v","op":"cut"})" "\n";  // 3
  text += R"({"type":"dispatch","projectId":"p","liveVideoId":"v","attempt":"1","op":"cut"})" "\n";
  text += R"({"type":"bogus","projectId":"p","liveVideoId":"v"})" "\n";  // 5
  text += R"({"type":"state","projectId":"p","liveVideoId":"v","state":"done","videoPublicId":null,"attempts":1,"httpStatus":0,"error":"","messages":[]})" "\n";
  text += R"({"type":"dispatch","projectId":"p","liveVideoId":"ghost","attempt":1,"op":"cut"})" "\n";
  text += "[1,2]\n";                                                                        // 8
  text += R"({"type":"dispatch","projectId":"p","liveVideoId":"v","attempt":2,"op":"cut"})" "\n";  // 9 ok
  text += R"({"type":"job","projectId":"p","liveVideoId":"w","videoVisibilityOptionId":7,"fromMilisecond":5,"toMilisecond":null,"dateTimeFrom":null,"dateTimeTo":null,"label":""})" "\n";
  spit(dir.file(), text);

  LedgerContents c = read_ledger(dir.file());
  std::string f = dir.file().string();
  auto errs = error_strings(c);
  EXPECT_EQ(errs.size(), 9u) << ::testing::PrintToString(errs);
  auto has = [&](const std::string& s) {
    return std::find(errs.begin(), errs.end(), s) != errs.end();
  };
  auto has_prefix = [&](const std::string& s) {
    return std::any_of(errs.begin(), errs.end(), [&](auto& e) { return e.rfind(s, 0) == 0; });
  };
  EXPECT_TRUE(has_prefix(f + ":2: not valid JSON")) << ::testing::PrintToString(errs);
  EXPECT_TRUE(has(f + ":3: attempt: missing"));
  EXPECT_TRUE(has(f + ":4: attempt: must be an integer"));
  EXPECT_TRUE(has(f + ":5: type: unknown record type 'bogus'"));
  EXPECT_TRUE(has(f + ":6: state: unknown state 'done'"));
  EXPECT_TRUE(has_prefix(f + ":7: liveVideoId: dispatch record for job p/ghost"));
  EXPECT_TRUE(has(f + ":8: not a JSON object"));
  EXPECT_TRUE(has_prefix(f + ":10: videoVisibilityOptionId: out of range"));
  EXPECT_TRUE(has(f + ":10: toMilisecond: must be set together with fromMilisecond"));
  // Good lines around the bad ones still count.
  ASSERT_EQ(c.jobs.size(), 1u);
  EXPECT_EQ(c.jobs[0].attempts, 2);
  EXPECT_TRUE(c.jobs[0].in_flight);
  EXPECT_FALSE(c.torn_tail);
}

TEST(LedgerWriter, ASecondWriterIsLockedOutUntilTheFirstIsGone) {
  TempDir dir;
  auto first = LedgerWriter::open(dir.file(), LedgerSync::group_commit);
  try {
    LedgerWriter::open(dir.file(), LedgerSync::group_commit);
    FAIL() << "second open succeeded";
  } catch (const LedgerError& e) {
    EXPECT_NE(std::string(e.what()).find("in use by another batchcut run (locked)"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find(dir.file().string()), std::string::npos);
  }
  first.reset();
  EXPECT_NO_THROW(LedgerWriter::open(dir.file(), LedgerSync::group_commit));
}

TEST(LedgerWriter, OpenCreatesOnlyTheFileNotDirectories) {
  TempDir dir;
  EXPECT_THROW(LedgerWriter::open(dir.path / "missing" / "l.jsonl", LedgerSync::none), LedgerError);
  EXPECT_FALSE(fs::exists(dir.path / "missing"));
  auto w = LedgerWriter::open(dir.file(), LedgerSync::none);
  EXPECT_TRUE(fs::exists(dir.file()));
  EXPECT_EQ(fs::file_size(dir.file()), 0u);
}

TEST(LedgerWriter, WhenDurableCallbacksFireOnceTheRecordIsInTheFile) {
  TempDir dir;
  auto w = LedgerWriter::open(dir.file(), LedgerSync::group_commit);
  JobSpec j = whole_job("p", "v");
  constexpr int n = 200;
  std::vector<std::promise<std::size_t>> promises(n);
  std::vector<std::future<std::size_t>> futures;
  LedgerWriter::Seq last = 0;
  for (int i = 0; i < n; ++i) {
    futures.push_back(promises[i].get_future());
    LedgerWriter::Seq s = i == 0 ? w->append_job(j) : w->append_dispatch(j, i, "cut");
    EXPECT_GT(s, last);  // monotonically increasing
    last = s;
    // When it runs, the record must already be in the file.
    w->when_durable(s, [&, p = &promises[i]] { p->set_value(lines_of(slurp(dir.file())).size()); });
  }
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(futures[i].wait_for(kHangGuard), std::future_status::ready) << i;
    EXPECT_GE(futures[i].get(), static_cast<std::size_t>(i + 1));
  }
  // Already durable: called at once.
  bool called = false;
  w->when_durable(1, [&] { called = true; });
  EXPECT_TRUE(called);
  EXPECT_FALSE(w->failure());
}

TEST(LedgerWriter, FlushMakesEverythingVisibleAndTheDestructorFlushesToo) {
  TempDir dir;
  auto w = LedgerWriter::open(dir.file(), LedgerSync::group_commit);
  JobSpec j = whole_job("p", "v");
  w->append_job(j);
  for (int i = 1; i <= 50; ++i) w->append_dispatch(j, i, "cut");
  w->flush();
  EXPECT_EQ(lines_of(slurp(dir.file())).size(), 51u);
  EXPECT_EQ(read_ledger(dir.file()).jobs.at(0).attempts, 50);
  for (int i = 51; i <= 60; ++i) w->append_dispatch(j, i, "cut");
  w.reset();
  EXPECT_EQ(read_ledger(dir.file()).jobs.at(0).attempts, 60);
}

TEST(LedgerWriter, SyncNoneStillWritesEverything) {
  TempDir dir;
  auto w = LedgerWriter::open(dir.file(), LedgerSync::none);
  JobSpec j = whole_job("p", "v");
  std::promise<void> done;
  w->append_job(j);
  w->when_durable(w->append_dispatch(j, 1, "cut"), [&] { done.set_value(); });
  ASSERT_EQ(done.get_future().wait_for(kHangGuard), std::future_status::ready);
  EXPECT_EQ(lines_of(slurp(dir.file())).size(), 2u);
}

TEST(LedgerWriter, ConcurrentAppendsAllLandAsWholeLines) {
  TempDir dir;
  auto w = LedgerWriter::open(dir.file(), LedgerSync::group_commit);
  constexpr int threads = 4, per_thread = 2000;
  std::vector<std::thread> ts;
  std::vector<std::vector<LedgerWriter::Seq>> seqs(threads);
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        JobSpec j = whole_job("p" + std::to_string(t), "v" + std::to_string(i), "label, \"x\"");
        seqs[t].push_back(w->append_job(j));
        seqs[t].push_back(w->append_dispatch(j, 1, "cut"));
      }
    });
  }
  for (auto& t : ts) t.join();
  w->flush();
  std::set<LedgerWriter::Seq> all;
  for (auto& v : seqs) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), std::size_t{threads * per_thread * 2});
  LedgerContents c = read_ledger(dir.file());
  EXPECT_TRUE(c.errors.empty()) << c.errors.size();
  EXPECT_EQ(c.jobs.size(), std::size_t{threads * per_thread});
  for (auto& r : c.jobs) EXPECT_TRUE(r.in_flight);
}

TEST(LedgerWriter, AWriteErrorIsReportedAndCallbacksStillRun) {
  // /dev/full accepts open and flock but fails every write with ENOSPC.
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  std::unique_ptr<LedgerWriter> w;
  try {
    w = LedgerWriter::open("/dev/full", LedgerSync::group_commit);
  } catch (const LedgerError& e) {
    GTEST_SKIP() << e.what();
  }
  JobSpec j = whole_job("p", "v");
  std::promise<void> done;
  w->when_durable(w->append_job(j), [&] { done.set_value(); });
  ASSERT_EQ(done.get_future().wait_for(kHangGuard), std::future_status::ready);
  EXPECT_THROW(w->flush(), LedgerError);
  ASSERT_TRUE(w->failure());
  EXPECT_NE(w->failure()->find("write failed"), std::string::npos) << *w->failure();
  // Later appends are dropped, and their callbacks still run.
  std::promise<void> later;
  w->when_durable(w->append_dispatch(j, 1, "cut"), [&] { later.set_value(); });
  EXPECT_EQ(later.get_future().wait_for(kHangGuard), std::future_status::ready);
}

TEST(LedgerExport, CsvQuotesPerRfc4180) {
  LedgerContents c;
  JobRecord a;
  a.spec = whole_job("p", "v1", "a, \"quoted\"\nlabel");
  a.state = JobState::succeeded;
  a.video_public_id = "vod-1";
  a.attempts = 1;
  a.http_status = 201;
  JobRecord b;
  b.spec = whole_job("p", "v2", "plain");
  b.state = JobState::in_doubt;
  b.attempts = 3;
  b.error = "timeout\r";
  c.jobs = {a, b};
  std::string csv = export_csv(c);
  EXPECT_EQ(csv,
            "projectId,liveVideoId,label,state,videoPublicId,attempts,httpStatus,error\n"
            "p,v1,\"a, \"\"quoted\"\"\nlabel\",succeeded,vod-1,1,201,\n"
            "p,v2,plain,in_doubt,,3,,\"timeout\r\"\n");
  CsvReader reader(csv);
  CsvRow row;
  std::vector<CsvRow> rows;
  while (reader.next(row)) rows.push_back(row);
  EXPECT_FALSE(reader.error());
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].fields.at(2), "a, \"quoted\"\nlabel");
  EXPECT_EQ(rows[2].fields.at(7), "timeout\r");
}

TEST(LedgerExport, JsonlHasOneObjectPerJobWithNulls) {
  LedgerContents c;
  JobRecord a;
  a.spec = whole_job("p", "v1", "ü \"x\"");
  a.state = JobState::succeeded;
  a.video_public_id = "vod-1";
  a.attempts = 2;
  a.http_status = 200;
  JobRecord b;
  b.spec = whole_job("p", "v2");
  b.state = JobState::failed;
  b.error = "bad";
  c.jobs = {a, b};
  auto lines = lines_of(export_jsonl(c));
  ASSERT_EQ(lines.size(), 2u);
  auto o = boost::json::parse(lines[0]).as_object();
  EXPECT_EQ(o.size(), 8u);
  EXPECT_EQ(o.at("projectId").as_string(), "p");
  EXPECT_EQ(o.at("liveVideoId").as_string(), "v1");
  EXPECT_EQ(o.at("label").as_string(), "ü \"x\"");
  EXPECT_EQ(o.at("state").as_string(), "succeeded");
  EXPECT_EQ(o.at("videoPublicId").as_string(), "vod-1");
  EXPECT_EQ(o.at("attempts").as_int64(), 2);
  EXPECT_EQ(o.at("httpStatus").as_int64(), 200);
  EXPECT_EQ(o.at("error").as_string(), "");
  auto p = boost::json::parse(lines[1]).as_object();
  EXPECT_TRUE(p.at("videoPublicId").is_null());
  EXPECT_TRUE(p.at("httpStatus").is_null());
  EXPECT_EQ(p.at("state").as_string(), "failed");
  EXPECT_EQ(p.at("error").as_string(), "bad");
  EXPECT_EQ(export_jsonl(LedgerContents{}), "");
}

TEST(LedgerFold, AnInDoubtAttemptStaysUnsettledUntilAReadSaysTheStreamCanStillBeCut) {
  TempDir dir;
  JobSpec dropped = whole_job("p", "dropped"), settled = whole_job("p", "settled"),
          limited = whole_job("p", "limited");
  {
    auto w = LedgerWriter::open(dir.file(), LedgerSync::group_commit);
    for (auto* j : {&dropped, &settled, &limited}) w->append_job(*j);
    // A dropped connection after the request left, then a crash before the read.
    w->append_dispatch(dropped, 1, "cut");
    w->append_outcome(dropped, 1, "cut", 0, "closed", "retry_in_doubt", 12);
    // The same, but a read of the stream said it was not cut; then a 429 (not in doubt).
    w->append_dispatch(settled, 1, "cut");
    w->append_outcome(settled, 1, "cut", 503, "HTTP 503", "retry_in_doubt", 12);
    w->append_dispatch(settled, 1, "reconcile");
    w->append_outcome(settled, 1, "reconcile", 200, "", "can_stop", 3);
    w->append_dispatch(settled, 2, "cut");
    w->append_outcome(settled, 2, "cut", 429, "HTTP 429", "retry", 2);
    // A plain 429 never puts a job in doubt; a later pending state keeps what was known.
    w->append_dispatch(limited, 1, "cut");
    w->append_outcome(limited, 1, "cut", 429, "HTTP 429", "retry", 2);
    w->append_state(final_state(dropped, JobState::pending, 1, 0, ""));
  }
  const LedgerContents c = read_ledger(dir.file());
  ASSERT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  EXPECT_TRUE(c.find("p/dropped")->in_doubt_unresolved);
  EXPECT_TRUE(c.find("p/dropped")->ever_in_doubt);
  EXPECT_FALSE(c.find("p/dropped")->in_flight);
  EXPECT_FALSE(c.find("p/settled")->in_doubt_unresolved);
  EXPECT_TRUE(c.find("p/settled")->ever_in_doubt);  // a later 400 would still be in doubt
  EXPECT_FALSE(c.find("p/limited")->in_doubt_unresolved);
  EXPECT_FALSE(c.find("p/limited")->ever_in_doubt);
}

TEST(LedgerRead, MillisecondsOutsideTheManifestRangeAreCorruption) {
  TempDir dir;
  spit(dir.file(),
       R"({"type":"job","ts":"2026-01-01T00:00:00.000Z","projectId":"p","liveVideoId":"v","videoVisibilityOptionId":1,"fromMilisecond":0,"toMilisecond":9000000000,"dateTimeFrom":null,"dateTimeTo":null,"label":""})"
       "\n");
  const LedgerContents c = read_ledger(dir.file());
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0].line, 1u);
  EXPECT_EQ(c.errors[0].field, "toMilisecond");
}
