// The ledger, format 3 (ledger/ledger.hpp): the records the runner writes (append_run,
// append_job, append_event), folding them back through the lifecycle, corruption reports,
// torn tails, the writer (locking, group commit, failures) and the exports.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstring>
#include <fstream>
#include <future>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "batchcut/job/validate.hpp"
#include "batchcut/ledger/export.hpp"
#include "batchcut/ledger/ledger.hpp"
#include "batchcut/ledger/writer.hpp"
#include "batchcut/manifest/csv.hpp"
#include "batchcut/manifest/manifest.hpp"
#include "batchcut/util/time_util.hpp"

using namespace batchcut;
namespace fs = std::filesystem;

namespace {

// How long a test waits for the writer's thread before calling it a hang.
constexpr auto kHangGuard = std::chrono::seconds(20);

const RunTarget kTarget{"https://api.example.test/v1", "bearer", std::nullopt};

constexpr const char* kStoppedAlready =
    "stream already stopped, probably by an earlier attempt; videoPublicId unknown";

// A fresh directory under the system temp dir, removed with everything in it.
struct TempDir {
  fs::path path;
  TempDir() {
    static std::atomic<int> counter{0};
    std::random_device rd;
    path = fs::temp_directory_path() / ("batchcut-ledger-test-" + std::to_string(::getpid()) + "-" +
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

std::set<std::string> keys_of(const boost::json::object& o) {
  std::set<std::string> out;
  for (const auto& kv : o) out.insert(std::string(kv.key()));
  return out;
}

std::vector<std::string> error_strings(const LedgerContents& c) {
  std::vector<std::string> out;
  for (const auto& d : c.errors) out.push_back(d.to_string());
  return out;
}

// What Boost.JSON says about text that is not JSON; the reader reports it after this prefix.
std::string not_json(std::string_view text) {
  boost::json::error_code ec;
  boost::json::parse(text, ec);
  EXPECT_TRUE(ec) << text;
  return "not valid JSON: " + ec.message();
}

JobSpec whole_job(std::string project, std::string video, std::string label = "") {
  JobSpec j;
  j.project_id = std::move(project);
  j.live_video_id = std::move(video);
  j.label = std::move(label);
  return j;
}

JobSpec ms_job(std::string project, std::string video, std::int32_t from, std::int32_t to) {
  JobSpec j = whole_job(std::move(project), std::move(video), "ms clip");
  j.range = RangeKind::ms;
  j.from_ms = from;
  j.to_ms = to;
  j.visibility = Visibility::private_;
  return j;
}

JobSpec dt_job(std::string project, std::string video, std::string_view from, std::string_view to) {
  JobSpec j = whole_job(std::move(project), std::move(video), "dt clip");
  j.range = RangeKind::datetime;
  auto f = parse_iso8601(from);
  auto t = parse_iso8601(to);
  EXPECT_TRUE(f && t);
  j.from_time = f.value_or(utc_time{});
  j.to_time = t.value_or(utc_time{});
  return j;
}

// A ledger in memory, for tests that need no file.
class MemoryLog final : public LedgerLog {
 public:
  Seq append(std::string_view line) override {
    text += line;
    return ++seq_;
  }
  void when_durable(Seq, std::function<void()> done) override { done(); }
  void flush() override {}
  std::optional<std::string> failure() const override { return std::nullopt; }

  std::string text;

 private:
  Seq seq_ = 0;
};

// A job as the runner holds it: its spec and its lifecycle.
struct Job {
  explicit Job(JobSpec s) : spec(std::move(s)) {}
  JobSpec spec;
  Lifecycle life;
};

// Steps the job and records the event with the state it leaves, as the runner does.
LedgerLog::Seq record(LedgerLog& log, Job& job, const Event& e) {
  step(job.life, e);
  return append_event(log, job.spec, e, job.life.state);
}

// A new run takes the ledger over: its run record first; whatever the last run still had out,
// it never saw the answer to (the runner applies Interrupted; the fold does the same).
void new_run(LedgerLog& log, std::initializer_list<Job*> jobs, const RunTarget& target = kTarget) {
  append_run(log, target);
  for (Job* j : jobs) step(j->life, Interrupted{});
}

Dispatch cut(int attempt, bool blind = false) { return Dispatch{Op::cut, attempt, blind}; }
Dispatch read_back() { return Dispatch{Op::read, 1, false}; }
Dispatch lookup() { return Dispatch{Op::lookup, 1, false}; }

LookupAnswer lookup_answer(LookupVerdict v, std::string error, std::string id = "", int candidates = 0) {
  LookupAnswer a;
  a.verdict = v;
  a.http_status = 200;
  a.error = std::move(error);
  a.video_public_id = std::move(id);
  a.candidates = candidates;
  a.elapsed_ms = 9;
  return a;
}

CutAnswer answer(int attempt, CutVerdict v, int status, std::string error, std::string id = "",
                 std::vector<std::string> messages = {}) {
  CutAnswer a;
  a.attempt = attempt;
  a.verdict = v;
  a.http_status = status;
  a.error = std::move(error);
  a.video_public_id = std::move(id);
  a.messages = std::move(messages);
  a.elapsed_ms = 42;
  return a;
}

ReadAnswer read_answer(ReadVerdict v, int status = 200, std::string error = "") {
  ReadAnswer a;
  a.verdict = v;
  a.http_status = status;
  a.error = std::move(error);
  a.elapsed_ms = 7;
  return a;
}

// Every field of two folds, for "the same contents".
void expect_same_contents(const LedgerContents& a, const LedgerContents& b) {
  EXPECT_EQ(error_strings(a), error_strings(b));
  EXPECT_EQ(a.target, b.target);
  EXPECT_EQ(a.runs, b.runs);
  EXPECT_EQ(a.torn_tail, b.torn_tail);
  EXPECT_EQ(a.torn_tail_offset, b.torn_tail_offset);
  ASSERT_EQ(a.jobs.size(), b.jobs.size());
  for (std::size_t i = 0; i < a.jobs.size(); ++i) {
    const JobRecord& x = a.jobs[i];
    const JobRecord& y = b.jobs[i];
    SCOPED_TRACE(x.spec.key());
    EXPECT_EQ(x.spec.key(), y.spec.key());
    EXPECT_TRUE(x.spec.same_request(y.spec));
    EXPECT_EQ(x.spec.label, y.spec.label);
    EXPECT_EQ(x.life.phase, y.life.phase);
    EXPECT_EQ(x.life.state, y.life.state);
    EXPECT_EQ(x.life.doubt, y.life.doubt);
    EXPECT_EQ(x.life.ever_doubt, y.life.ever_doubt);
    EXPECT_EQ(x.life.attempts, y.life.attempts);
    EXPECT_EQ(x.life.http_status, y.life.http_status);
    EXPECT_EQ(x.life.video_public_id, y.life.video_public_id);
    EXPECT_EQ(x.life.error, y.life.error);
    EXPECT_EQ(x.life.messages, y.life.messages);
    EXPECT_EQ(x.life.kind, y.life.kind);
    EXPECT_EQ(x.life.stopped, y.life.stopped);
    EXPECT_EQ(x.life.live_title, y.life.live_title);
    EXPECT_EQ(x.life.first_cut_at_ms, y.life.first_cut_at_ms);
    EXPECT_EQ(x.life.recovered, y.life.recovered);
  }
}

}  // namespace

// ---- names and paths ----

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
  EXPECT_EQ(c.runs, 0u);
  EXPECT_FALSE(c.target);
  EXPECT_EQ(c.find("p", "v"), nullptr);
}

// ---- what is written, and that it reads back ----

TEST(LedgerRoundTrip, EveryRecordTypeHasTheDocumentedShape) {
  TempDir dir;
  Job a{ms_job("p1", "lv1", 1000, 61000)}, b{whole_job("p1", "lv2")};
  const RunTarget target{"https://vp.example/api", "raw", "/etc/ssl/vp-ca.pem"};
  {
    auto w = LedgerWriter::open(dir.file(), LedgerSync::group_commit);
    append_run(*w, target);
    append_job(*w, a.spec);
    append_job(*w, b.spec);
    record(*w, a, cut(1));
    record(*w, a,
           answer(1, CutVerdict::retry_in_doubt, 503, "HTTP 503", "", {"Backend", "fetch failed"}));
    record(*w, a, cut(2, true));
    record(*w, a, Withdraw{2});
    record(*w, a, read_back());
    record(*w, a, read_answer(ReadVerdict::can_stop));
    record(*w, a, cut(2));
    record(*w, a, answer(2, CutVerdict::success, 201, "", "vod-abc"));
    record(*w, b, GiveUp{"out of attempts"});
    record(*w, b, Reopen{});
    w->flush();
  }
  auto lines = lines_of(slurp(dir.file()));
  ASSERT_EQ(lines.size(), 13u);
  std::regex ts_re(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  std::vector<boost::json::object> o;
  for (const auto& l : lines) {
    auto v = boost::json::parse(l);
    ASSERT_TRUE(v.is_object()) << l;
    o.push_back(v.as_object());
    EXPECT_TRUE(std::regex_match(std::string(o.back().at("ts").as_string()), ts_re)) << l;
    if (o.size() > 1) {
      EXPECT_EQ(o.back().at("projectId").as_string(), "p1");
    }
  }
  const std::set<std::string> common = {"type", "ts", "projectId", "liveVideoId"};
  auto with = [&](std::initializer_list<const char*> more) {
    std::set<std::string> s = common;
    s.insert(more.begin(), more.end());
    return s;
  };

  EXPECT_EQ(keys_of(o[0]), (std::set<std::string>{"type", "ts", "format", "baseUrl", "authScheme",
                                                  "caFile", "tool"}));
  EXPECT_EQ(o[0].at("type").as_string(), "run");
  EXPECT_EQ(o[0].at("format").as_int64(), 3);
  EXPECT_EQ(o[0].at("baseUrl").as_string(), "https://vp.example/api");
  EXPECT_EQ(o[0].at("authScheme").as_string(), "raw");
  EXPECT_EQ(o[0].at("caFile").as_string(), "/etc/ssl/vp-ca.pem");
  EXPECT_EQ(o[0].at("tool").as_string(), "batchcut " BATCHCUT_VERSION);

  EXPECT_EQ(keys_of(o[1]), with({"videoVisibilityOptionId", "fromMilisecond", "toMilisecond",
                                 "dateTimeFrom", "dateTimeTo", "label"}));
  EXPECT_EQ(o[1].at("type").as_string(), "job");
  EXPECT_EQ(o[1].at("liveVideoId").as_string(), "lv1");
  EXPECT_EQ(o[1].at("videoVisibilityOptionId").as_int64(), 2);
  EXPECT_EQ(o[1].at("fromMilisecond").as_int64(), 1000);
  EXPECT_EQ(o[1].at("toMilisecond").as_int64(), 61000);
  EXPECT_TRUE(o[1].at("dateTimeFrom").is_null());
  EXPECT_TRUE(o[1].at("dateTimeTo").is_null());
  EXPECT_EQ(o[1].at("label").as_string(), "ms clip");

  EXPECT_EQ(keys_of(o[3]), with({"op", "attempt"}));  // no "state": a dispatch settles nothing
  EXPECT_EQ(o[3].at("type").as_string(), "dispatch");
  EXPECT_EQ(o[3].at("op").as_string(), "cut");
  EXPECT_EQ(o[3].at("attempt").as_int64(), 1);

  EXPECT_EQ(keys_of(o[4]), with({"op", "attempt", "verdict", "videoPublicId", "httpStatus", "error",
                                 "elapsedMs", "messages", "state"}));
  EXPECT_EQ(o[4].at("type").as_string(), "answer");
  EXPECT_EQ(o[4].at("verdict").as_string(), "retry_in_doubt");
  EXPECT_TRUE(o[4].at("videoPublicId").is_null());
  EXPECT_EQ(o[4].at("httpStatus").as_int64(), 503);
  EXPECT_EQ(o[4].at("error").as_string(), "HTTP 503");
  EXPECT_EQ(o[4].at("elapsedMs").as_int64(), 42);
  EXPECT_EQ(o[4].at("messages").as_array(), (boost::json::array{"Backend", "fetch failed"}));
  EXPECT_EQ(o[4].at("state").as_string(), "pending");

  EXPECT_EQ(keys_of(o[5]), with({"op", "attempt", "blind"}));
  EXPECT_EQ(o[5].at("blind").as_bool(), true);
  EXPECT_EQ(o[5].at("attempt").as_int64(), 2);

  EXPECT_EQ(keys_of(o[6]), with({"op", "attempt"}));
  EXPECT_EQ(o[6].at("type").as_string(), "withdraw");
  EXPECT_EQ(o[6].at("op").as_string(), "cut");
  EXPECT_EQ(o[6].at("attempt").as_int64(), 2);

  EXPECT_EQ(o[7].at("type").as_string(), "dispatch");
  EXPECT_EQ(o[7].at("op").as_string(), "read");

  EXPECT_EQ(keys_of(o[8]),
            with({"op", "attempt", "verdict", "httpStatus", "error", "elapsedMs", "state"}));
  EXPECT_EQ(o[8].at("op").as_string(), "read");
  EXPECT_EQ(o[8].at("verdict").as_string(), "can_stop");
  EXPECT_EQ(o[8].at("httpStatus").as_int64(), 200);

  // The id is in the same line as the verdict that says it exists.
  EXPECT_EQ(o[10].at("verdict").as_string(), "success");
  EXPECT_EQ(o[10].at("videoPublicId").as_string(), "vod-abc");
  EXPECT_EQ(o[10].at("state").as_string(), "succeeded");

  EXPECT_EQ(keys_of(o[11]), with({"error", "state"}));
  EXPECT_EQ(o[11].at("type").as_string(), "giveup");
  EXPECT_EQ(o[11].at("error").as_string(), "out of attempts");
  EXPECT_EQ(o[11].at("state").as_string(), "retry_exhausted");

  EXPECT_EQ(keys_of(o[12]), common);
  EXPECT_EQ(o[12].at("type").as_string(), "reopen");

  LedgerContents c = read_ledger(dir.file());
  EXPECT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  EXPECT_EQ(c.runs, 1u);
  EXPECT_EQ(c.target, target);
  ASSERT_EQ(c.jobs.size(), 2u);
  const JobRecord* r = c.find("p1", "lv1");
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(r->spec.same_request(a.spec));
  EXPECT_EQ(r->spec.label, "ms clip");
  EXPECT_EQ(r->life.state, JobState::succeeded);
  EXPECT_EQ(r->life.video_public_id, "vod-abc");
  EXPECT_EQ(r->life.attempts, 2);
  EXPECT_EQ(r->life.http_status, 201);
  EXPECT_TRUE(r->life.ever_doubt);
  EXPECT_FALSE(r->life.request_out());
  r = c.find(b.spec);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->life.phase, Phase::idle);
  EXPECT_EQ(r->life.state, JobState::pending);
  EXPECT_EQ(r->life.error, "out of attempts");
}

TEST(LedgerRoundTrip, WholeAndMillisecondRanges) {
  TempDir dir;
  JobSpec whole = whole_job("p", "whole", "all of it");
  whole.visibility = Visibility::password;
  JobSpec ms = ms_job("p", "ms", 0, 2'147'483'647);
  {
    auto w = LedgerWriter::open(dir.file(), LedgerSync::none);
    append_run(*w, kTarget);
    append_job(*w, whole);
    append_job(*w, ms);
  }
  auto lines = lines_of(slurp(dir.file()));
  ASSERT_EQ(lines.size(), 3u);
  auto o = boost::json::parse(lines[1]).as_object();
  EXPECT_TRUE(o.at("fromMilisecond").is_null());
  EXPECT_TRUE(o.at("toMilisecond").is_null());
  EXPECT_TRUE(o.at("dateTimeFrom").is_null());
  EXPECT_TRUE(o.at("dateTimeTo").is_null());
  EXPECT_EQ(o.at("videoVisibilityOptionId").as_int64(), 3);
  EXPECT_EQ(boost::json::parse(lines[2]).as_object().at("toMilisecond").as_int64(), 2'147'483'647);

  LedgerContents c = read_ledger(dir.file());
  EXPECT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  ASSERT_EQ(c.jobs.size(), 2u);
  EXPECT_EQ(c.jobs[0].spec.key(), "p/whole");  // first-seen order
  EXPECT_EQ(c.jobs[0].spec.range, RangeKind::whole);
  EXPECT_EQ(c.jobs[0].spec.visibility, Visibility::password);
  EXPECT_TRUE(c.jobs[0].spec.same_request(whole));
  EXPECT_EQ(c.jobs[0].spec.label, "all of it");
  EXPECT_EQ(c.jobs[1].spec.range, RangeKind::ms);
  EXPECT_EQ(c.jobs[1].spec.from_ms, 0);
  EXPECT_EQ(c.jobs[1].spec.to_ms, 2'147'483'647);
  EXPECT_TRUE(c.jobs[1].spec.same_request(ms));
  EXPECT_EQ(c.jobs[0].life.state, JobState::pending);
  EXPECT_EQ(c.jobs[0].life.phase, Phase::idle);
  EXPECT_EQ(c.jobs[0].life.attempts, 0);
}

TEST(LedgerRoundTrip, DateTimeRangeKeepsFullPrecision) {
  TempDir dir;
  // 7 fractional digits (100 ns), and an offset that moves the date.
  JobSpec j = dt_job("p", "dt", "2024-05-23T20:09:29.8106349", "2024-05-24T01:00:00+02:00");
  {
    auto w = LedgerWriter::open(dir.file(), LedgerSync::group_commit);
    append_run(*w, kTarget);
    append_job(*w, j);
  }
  auto o = boost::json::parse(lines_of(slurp(dir.file())).at(1)).as_object();
  EXPECT_EQ(o.at("dateTimeFrom").as_string(), "2024-05-23T20:09:29.8106349Z");
  EXPECT_EQ(o.at("dateTimeTo").as_string(), "2024-05-23T23:00:00Z");
  EXPECT_TRUE(o.at("fromMilisecond").is_null());
  EXPECT_TRUE(o.at("toMilisecond").is_null());

  LedgerContents c = read_ledger(dir.file());
  EXPECT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  ASSERT_EQ(c.jobs.size(), 1u);
  EXPECT_EQ(c.jobs[0].spec.range, RangeKind::datetime);
  EXPECT_EQ(c.jobs[0].spec.from_time, j.from_time);
  EXPECT_EQ(c.jobs[0].spec.to_time, j.to_time);
  EXPECT_EQ((c.jobs[0].spec.from_time - *parse_iso8601("2024-05-23T20:09:29Z")).count(),
            810'634'900);
  EXPECT_TRUE(c.jobs[0].spec.same_request(j));
}

TEST(LedgerRoundTrip, WeirdTextSurvivesByteForByte) {
  TempDir dir;
  static constexpr char kControls[] = "nul\0byte and \x01\x1f controls \x7f";
  const std::vector<std::string> texts = {
      "say \"hi\"",
      "back\\slash \\\" \\n literally",
      "two\nlines\r\nand\ttab",
      std::string(kControls, sizeof kControls - 1),
      "Ünïcödé — 日本語 🎬 \u2028 sep",
      "",
      "{\"type\":\"run\"}",
      "not utf-8: \xff\xfe\xc3",  // last: the lines below check the others are standard JSON
  };
  const RunTarget weird_target{"https://h/\xff\"\n", "bearer", std::string("ca\0\x01\xfe", 5)};
  {
    auto w = LedgerWriter::open(dir.file(), LedgerSync::group_commit);
    append_run(*w, weird_target);
    for (std::size_t i = 0; i < texts.size(); ++i) {
      Job failed{whole_job("p", "f" + std::to_string(i), texts[i])};
      append_job(*w, failed.spec);
      record(*w, failed, cut(1));
      record(*w, failed, answer(1, CutVerdict::refused, 400, texts[i], "", {texts[i], "x"}));
      Job ok{whole_job("p", "s" + std::to_string(i))};
      append_job(*w, ok.spec);
      record(*w, ok, cut(1));
      record(*w, ok, answer(1, CutVerdict::success, 201, "", "vod " + texts[i]));
      Job gave{whole_job("p", "g" + std::to_string(i))};
      append_job(*w, gave.spec);
      record(*w, gave, GiveUp{texts[i]});
    }
  }
  const std::string text = slurp(dir.file());
  auto lines = lines_of(text);
  EXPECT_EQ(lines.size(), 1 + texts.size() * 8);  // no raw newline leaked into a line
  LedgerContents c = read_ledger(dir.file());
  EXPECT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  EXPECT_EQ(c.target, weird_target);
  ASSERT_EQ(c.jobs.size(), texts.size() * 3);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    SCOPED_TRACE(i);
    const JobRecord* f = c.find("p", "f" + std::to_string(i));
    ASSERT_TRUE(f);
    EXPECT_EQ(f->spec.label, texts[i]);
    EXPECT_EQ(f->life.state, JobState::failed);
    EXPECT_EQ(f->life.error, texts[i]);
    EXPECT_EQ(f->life.messages, (std::vector<std::string>{texts[i], "x"}));
    EXPECT_EQ(c.find("p", "s" + std::to_string(i))->life.video_public_id, "vod " + texts[i]);
    EXPECT_EQ(c.find("p", "g" + std::to_string(i))->life.error, texts[i]);
  }
  // Lines holding only valid UTF-8 are standard JSON any tool reads.
  for (std::size_t i = 1; i < lines.size() - 8; ++i) {
    boost::json::error_code ec;
    auto v = boost::json::parse(lines[i], ec);
    ASSERT_FALSE(ec) << i << ": " << lines[i];
    if (v.as_object().at("type").as_string() == "job" &&
        v.as_object().at("liveVideoId").as_string().starts_with("f")) {
      EXPECT_EQ(v.as_object().at("label").as_string(), texts[(i - 1) / 8]);
    }
  }
}

// ---- reading: any valid spelling, and exact reports of anything else ----

TEST(LedgerRead, AcceptsAnyValidJsonSpellingOfARecord) {
  // Escaped keys and values, members in any order, extra members (nested), odd whitespace,
  // no "ts", a repeated key (the last one wins).
  const std::string text =
      R"( {"caFile" : null, "authScheme":"raw", "type":"run", "format":2, "baseUrl":"https:\/\/h", "x":[{}]} )"
      "\n"
      R"( { "type" : "job", "extra": {"label": "not this", "a": [1, {"b": null}]},)"
      R"( "projectId":"p", "liveVideoId":"v\u0031", "videoVisibilityOptionId":2,)"
      R"( "fromMilisecond":null,"toMilisecond":null,"dateTimeFrom":null,"dateTimeTo":null,)"
      R"( "l\u0061bel":"tab\there \"q\" \u00fc \ud83c\udfac" } )"
      "\n"
      R"({"attempt":1,"blind":false,"op":"cut","liveVideoId":"v1","projectId":"p","type":"dispatch"})"
      "\n"
      R"({"type":"answer","projectId":"p","liveVideoId":"v1","op":"cut","attempt":1,"verdict":"refused",)"
      R"("httpStatus":400,"videoPublicId":null,"error":"e","elapsedMs":5,"messages":["old"],"state":"failed",)"
      R"("messages":["a\nb","c"],"note":{"messages":["not these"]}})"
      "\r\n";
  LedgerContents c = read_ledger_text(text, "m.jsonl");
  ASSERT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  EXPECT_EQ(c.target, (RunTarget{"https://h", "raw", std::nullopt}));
  const JobRecord* r = c.find("p", "v1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->spec.label, "tab\there \"q\" \u00fc \U0001F3AC");
  EXPECT_EQ(r->spec.visibility, Visibility::private_);
  EXPECT_EQ(r->life.state, JobState::failed);
  EXPECT_EQ(r->life.messages, (std::vector<std::string>{"a\nb", "c"}));
}

TEST(LedgerRead, MessagesMustBeStringsAndNumbersIntegers) {
  const std::string text =
      R"({"type":"run","format":2,"baseUrl":"https://h","authScheme":"bearer","caFile":null})"
      "\n"
      R"({"type":"job","projectId":"p","liveVideoId":"v","videoVisibilityOptionId":1,)"
      R"("fromMilisecond":1.5,"toMilisecond":2,"dateTimeFrom":null,"dateTimeTo":null,"label":""})"
      "\n"
      R"({"type":"job","projectId":"p","liveVideoId":"w","videoVisibilityOptionId":1,)"
      R"("fromMilisecond":null,"toMilisecond":null,"dateTimeFrom":null,"dateTimeTo":null,"label":""})"
      "\n"
      R"({"type":"dispatch","projectId":"p","liveVideoId":"w","op":"cut","attempt":1})"
      "\n"
      R"({"type":"answer","projectId":"p","liveVideoId":"w","op":"cut","attempt":-1,"verdict":"refused",)"
      R"("httpStatus":1000,"videoPublicId":null,"error":"e","elapsedMs":-5,"messages":[],"state":"failed"})"
      "\n"
      R"({"type":"answer","projectId":"p","liveVideoId":"w","op":"cut","attempt":1,"verdict":"refused",)"
      R"("httpStatus":400,"videoPublicId":7,"error":"e","elapsedMs":5,"messages":["a",["b"]],"state":"failed"})"
      "\n"
      R"({"type":"answer","projectId":"p","liveVideoId":"w","op":"cut","attempt":1,"verdict":"refused",)"
      R"("httpStatus":400,"videoPublicId":null,"error":"e","elapsedMs":5,"messages":"a","state":"failed"})"
      "\n"
      R"({"type":"answer","projectId":"p","liveVideoId":"w","op":"cut","attempt":18446744073709551615,)"
      R"("verdict":"refused","httpStatus":400,"videoPublicId":null,"error":"e","elapsedMs":5,"messages":[],"state":"failed"})"
      "\n";
  LedgerContents c = read_ledger_text(text, "l.jsonl");
  EXPECT_EQ(error_strings(c), (std::vector<std::string>{
                                  "l.jsonl:2: fromMilisecond: must be an integer",
                                  "l.jsonl:5: attempt: out of range (1..2147483647)",
                                  "l.jsonl:5: httpStatus: out of range (0..999)",
                                  "l.jsonl:5: elapsedMs: out of range (0..9223372036854775807)",
                                  "l.jsonl:6: videoPublicId: must be a string or null",
                                  "l.jsonl:6: messages: must be an array of strings",
                                  "l.jsonl:7: messages: must be an array of strings",
                                  "l.jsonl:8: attempt: out of range (1..2147483647)",
                              }));
  EXPECT_EQ(c.find("p", "v"), nullptr);  // a job record with a bad field is not taken
  const JobRecord* w = c.find("p", "w");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->life.phase, Phase::cut_out);  // none of the bad answers was applied
  EXPECT_EQ(w->life.attempts, 1);
}

TEST(LedgerRead, TheFirstRecordMustBeARunRecord) {
  const std::string not_v2 =
      "not a batchcut ledger of format 3: its first record must be a 'run' record (ledgers of "
      "batchcut 0.1 "
      "cannot be resumed by this version)";
  const std::string job =
      R"({"type":"job","projectId":"p","liveVideoId":"v","videoVisibilityOptionId":1,)"
      R"("fromMilisecond":null,"toMilisecond":null,"dateTimeFrom":null,"dateTimeTo":null,"label":""})";
  const std::string run =
      R"({"type":"run","format":2,"baseUrl":"https://h","authScheme":"bearer","caFile":null})";

  // A ledger of batchcut 0.1: one error, and nothing after it is folded (nor reported).
  const std::string v1 =
      job + "\n" +
      R"({"type":"dispatch","projectId":"p","liveVideoId":"v","attempt":1,"op":"cut"})"
      "\n" +
      R"({"type":"state","projectId":"p","liveVideoId":"v","state":"succeeded"})"
      "\n" +
      run + "\n" + job + "\n";
  LedgerContents c = read_ledger_text(v1, "old.jsonl");
  EXPECT_EQ(error_strings(c), std::vector<std::string>{"old.jsonl:1: type: " + not_v2});
  EXPECT_TRUE(c.jobs.empty());
  EXPECT_EQ(c.runs, 0u);
  EXPECT_FALSE(c.target);
  EXPECT_FALSE(c.torn_tail);

  // Any other first record: the same.
  c = read_ledger_text(
      R"({"type":"dispatch","projectId":"p","liveVideoId":"v","attempt":1,"op":"cut"})"
      "\n" +
          run + "\n" + job + "\n",
      "l");
  EXPECT_EQ(error_strings(c), std::vector<std::string>{"l:1: type: " + not_v2});
  EXPECT_TRUE(c.jobs.empty());

  // A run record of another format, or one that cannot be read: refused, nothing after it read.
  c = read_ledger_text(
      R"({"type":"run","format":1,"baseUrl":"https://h","authScheme":"bearer","caFile":null})"
      "\n" +
          job + "\n",
      "l");
  EXPECT_EQ(error_strings(c), std::vector<std::string>{
                                  "l:1: format: ledger format 1 is not one this batchcut reads (2 to 3)"});
  EXPECT_TRUE(c.jobs.empty());
  EXPECT_EQ(c.runs, 0u);
  c = read_ledger_text(R"({"type":"run","format":2,"authScheme":"bearer","caFile":null})"
                       "\n" +
                           job + "\n",
                       "l");
  EXPECT_EQ(error_strings(c), std::vector<std::string>{"l:1: baseUrl: missing"});
  EXPECT_TRUE(c.jobs.empty());

  // An empty ledger is not an error: there is nothing to refuse.
  c = read_ledger_text("", "l");
  EXPECT_TRUE(c.errors.empty());
  EXPECT_FALSE(c.torn_tail);
}

TEST(LedgerRead, RunRecordsGiveTheTargetAndAreCounted) {
  MemoryLog log;
  const RunTarget first{"https://one.example", "bearer", std::nullopt};
  const RunTarget second{"https://two.example:8443/base", "raw", "certs/ca.pem"};
  append_run(log, first);
  LedgerContents c = read_ledger_text(log.text, "l");
  EXPECT_EQ(c.runs, 1u);
  EXPECT_EQ(c.target, first);
  append_job(log, whole_job("p", "v"));
  append_run(log, second);
  // A run record that is wrong is reported, and neither counted nor taken as the target.
  log.text +=
      R"({"type":"run","format":2,"baseUrl":"https://three.example","authScheme":"basic","caFile":null})"
      "\n";
  c = read_ledger_text(log.text, "l");
  EXPECT_EQ(error_strings(c), std::vector<std::string>{"l:4: authScheme: must be bearer or raw"});
  EXPECT_EQ(c.runs, 2u);
  EXPECT_EQ(c.target, second);
  EXPECT_EQ(c.jobs.size(), 1u);
}

// ---- folding through the lifecycle ----

TEST(LedgerFold, ASuccessFoldsWithItsIdFromTheSameLine) {
  MemoryLog log;
  Job j{whole_job("p", "v")};
  append_run(log, kTarget);
  append_job(log, j.spec);
  record(log, j, cut(1));
  record(log, j, answer(1, CutVerdict::success, 201, "", "vod-1", {"Stopped and cut"}));
  const auto last = boost::json::parse(lines_of(log.text).back()).as_object();
  EXPECT_EQ(last.at("verdict").as_string(), "success");
  EXPECT_EQ(last.at("videoPublicId").as_string(), "vod-1");

  LedgerContents c = read_ledger_text(log.text, "l");
  ASSERT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  const JobRecord* r = c.find(j.spec);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->life.phase, Phase::done);
  EXPECT_EQ(r->life.state, JobState::succeeded);
  EXPECT_EQ(r->life.video_public_id, "vod-1");
  EXPECT_EQ(r->life.http_status, 201);
  EXPECT_EQ(r->life.attempts, 1);
  EXPECT_EQ(r->life.messages, std::vector<std::string>{"Stopped and cut"});
  EXPECT_FALSE(r->life.request_out());

  // A success without its id cannot be folded: the id is the point of the record.
  std::string bad = log.text;
  const std::string id = R"("videoPublicId":"vod-1")";
  bad.replace(bad.find(id), id.size(), R"("videoPublicId":null)");
  c = read_ledger_text(bad, "l");
  EXPECT_EQ(error_strings(c),
            std::vector<std::string>{"l:4: videoPublicId: a success must carry its videoPublicId"});
  EXPECT_EQ(c.find(j.spec)->life.phase, Phase::cut_out);
}

TEST(LedgerFold, ARefusalAfterAnyDoubtFoldsToInDoubt) {
  MemoryLog log;
  Job plain{whole_job("p", "plain")}, blind{whole_job("p", "blind")}, read{whole_job("p", "read")},
      crashed{whole_job("p", "crashed")};
  append_run(log, kTarget);
  for (Job* j : {&plain, &blind, &read, &crashed}) append_job(log, j->spec);
  record(log, plain, cut(1));
  record(log, plain, answer(1, CutVerdict::refused, 404, "HTTP 404"));
  // An ambiguous answer, then a cut sent without reading (--no-reconcile), refused.
  record(log, blind, cut(1));
  record(log, blind, answer(1, CutVerdict::retry_in_doubt, 503, "HTTP 503"));
  record(log, blind, cut(2, true));
  record(log, blind,
         answer(2, CutVerdict::refused, 400, "HTTP 400", "", {"Live video cannot be stopped"}));
  // An ambiguous answer, a read that says it can still be cut, then a 403.
  record(log, read, cut(1));
  record(log, read, answer(1, CutVerdict::retry_in_doubt, 0, "timeout after sending"));
  record(log, read, read_back());
  record(log, read, read_answer(ReadVerdict::can_stop));
  record(log, read, cut(2));
  record(log, read, answer(2, CutVerdict::refused, 403, "HTTP 403"));
  // A cut whose answer the crashed run never saw counts as a doubt too.
  record(log, crashed, cut(1));
  new_run(log, {&plain, &blind, &read, &crashed});
  record(log, crashed, read_back());
  record(log, crashed, read_answer(ReadVerdict::can_stop));
  record(log, crashed, cut(2));
  record(log, crashed, answer(2, CutVerdict::refused, 404, "HTTP 404"));

  LedgerContents c = read_ledger_text(log.text, "l");
  ASSERT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  EXPECT_EQ(c.find(plain.spec)->life.state, JobState::failed);
  EXPECT_EQ(c.find(plain.spec)->life.error, "HTTP 404");
  for (const Job* j : {&blind, &read, &crashed}) {
    const JobRecord* r = c.find(j->spec);
    SCOPED_TRACE(j->spec.key());
    EXPECT_EQ(r->life.state, JobState::in_doubt);
    EXPECT_EQ(r->life.attempts, 2);
    EXPECT_TRUE(r->life.error.starts_with(kStoppedAlready)) << r->life.error;
  }
  EXPECT_EQ(c.find(blind.spec)->life.error, std::string(kStoppedAlready) + " (then: HTTP 400)");
  EXPECT_EQ(c.find(blind.spec)->life.messages,
            std::vector<std::string>{"Live video cannot be stopped"});
  EXPECT_EQ(c.find(read.spec)->life.http_status, 403);
}

TEST(LedgerFold, AReadThatCanStopSettlesTheDoubtAndNothingElseDoes) {
  MemoryLog log;
  Job settled{whole_job("p", "settled")}, unreadable{whole_job("p", "unreadable")},
      stopped{whole_job("p", "stopped")}, none{whole_job("p", "none")};
  append_run(log, kTarget);
  for (Job* j : {&settled, &unreadable, &stopped, &none}) {
    append_job(log, j->spec);
    record(log, *j, cut(1));
    record(log, *j, answer(1, CutVerdict::retry_in_doubt, 502, "HTTP 502"));
    record(log, *j, read_back());
  }
  record(log, settled, read_answer(ReadVerdict::can_stop));
  record(log, unreadable, read_answer(ReadVerdict::unreadable, 0, "timeout"));
  record(log, stopped, read_answer(ReadVerdict::stopped));
  record(log, none, read_answer(ReadVerdict::stopped));
  record(log, none, lookup());
  record(log, none, lookup_answer(LookupVerdict::none, "no VOD cut from none"));

  LedgerContents c = read_ledger_text(log.text, "l");
  ASSERT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  const Lifecycle& s = c.find(settled.spec)->life;
  EXPECT_EQ(s.phase, Phase::idle);
  EXPECT_FALSE(s.doubt);
  EXPECT_TRUE(s.ever_doubt);
  EXPECT_EQ(next_step(s, Budget{}), Next::cut);
  const Lifecycle& u = c.find(unreadable.spec)->life;
  EXPECT_EQ(u.phase, Phase::idle);
  EXPECT_TRUE(u.doubt);
  EXPECT_EQ(next_step(u, Budget{}), Next::read);
  EXPECT_EQ(u.http_status, 502);  // a read's status is not the cut's
  // Stopped: still pending and in doubt, its VOD looked up next.
  const Lifecycle& t = c.find(stopped.spec)->life;
  EXPECT_EQ(t.state, JobState::pending);
  EXPECT_TRUE(t.doubt);
  EXPECT_TRUE(t.stopped);
  EXPECT_EQ(next_step(t, Budget{}), Next::lookup);
  EXPECT_EQ(t.error, std::string(kStoppedAlready) + " (last cut answer: HTTP 502)");
  // Stopped, and no VOD of it found: in_doubt.
  const Lifecycle& n = c.find(none.spec)->life;
  EXPECT_EQ(n.state, JobState::in_doubt);
  EXPECT_TRUE(n.doubt);
  EXPECT_EQ(n.error, "stream already stopped, but no VOD of it was found: no VOD cut from none");
}

TEST(LedgerFold, AWithdrawUndoesItsDispatch) {
  MemoryLog log;
  Job j{whole_job("p", "v")};
  append_run(log, kTarget);
  append_job(log, j.spec);
  record(log, j, cut(1));
  record(log, j, answer(1, CutVerdict::retry, 429, "HTTP 429"));
  record(log, j, cut(2));
  record(log, j, Withdraw{2});
  LedgerContents c = read_ledger_text(log.text, "l");
  ASSERT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  const Lifecycle& l = c.find(j.spec)->life;
  EXPECT_EQ(l.phase, Phase::idle);
  EXPECT_FALSE(l.request_out());
  EXPECT_EQ(l.attempts, 1);
  EXPECT_FALSE(l.doubt);
  EXPECT_EQ(l.http_status, 429);
  EXPECT_EQ(l.error, "HTTP 429");

  // The next run sends attempt 2 again: the withdrawn one never left.
  new_run(log, {&j});
  record(log, j, cut(2));
  c = read_ledger_text(log.text, "l");
  ASSERT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  EXPECT_EQ(c.find(j.spec)->life.attempts, 2);
}

TEST(LedgerFold, GivingUpSettlesRetryExhaustedOrInDoubt) {
  MemoryLog log;
  Job clear{whole_job("p", "clear")}, doubt{whole_job("p", "doubt")};
  append_run(log, kTarget);
  append_job(log, clear.spec);
  append_job(log, doubt.spec);
  record(log, clear, cut(1));
  record(log, clear, answer(1, CutVerdict::retry, 429, "HTTP 429"));
  record(log, clear, GiveUp{"3 attempts made"});
  record(log, doubt, cut(1));
  record(log, doubt, answer(1, CutVerdict::retry_in_doubt, 503, "HTTP 503"));
  record(log, doubt, GiveUp{"3 reads made"});
  EXPECT_NE(log.text.find(R"("error":"3 reads made","state":"in_doubt")"), std::string::npos);
  LedgerContents c = read_ledger_text(log.text, "l");
  ASSERT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  EXPECT_EQ(c.find(clear.spec)->life.state, JobState::retry_exhausted);
  EXPECT_EQ(c.find(clear.spec)->life.error, "3 attempts made");
  EXPECT_EQ(c.find(clear.spec)->life.http_status, 429);
  EXPECT_EQ(c.find(doubt.spec)->life.state, JobState::in_doubt);
  EXPECT_EQ(c.find(doubt.spec)->life.error, "3 reads made");
}

TEST(LedgerFold, AReopenTakesUpFailedInDoubtAndRetryExhaustedJobs) {
  MemoryLog log;
  Job failed{whole_job("p", "failed")}, doubt{whole_job("p", "doubt")},
      exhausted{whole_job("p", "exhausted")};
  append_run(log, kTarget);
  for (Job* j : {&failed, &doubt, &exhausted}) append_job(log, j->spec);
  record(log, failed, cut(1));
  record(log, failed, answer(1, CutVerdict::refused, 409, "HTTP 409"));
  record(log, doubt, cut(1));
  record(log, doubt, answer(1, CutVerdict::retry_in_doubt, 503, "HTTP 503"));
  record(log, doubt, GiveUp{"out of reads"});
  record(log, exhausted, cut(1));
  record(log, exhausted, answer(1, CutVerdict::retry, 429, "HTTP 429"));
  record(log, exhausted, GiveUp{"out of attempts"});
  new_run(log, {&failed, &doubt, &exhausted});
  for (Job* j : {&failed, &doubt, &exhausted}) record(log, *j, Reopen{});

  LedgerContents c = read_ledger_text(log.text, "l");
  ASSERT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  EXPECT_EQ(c.runs, 2u);
  for (const Job* j : {&failed, &doubt, &exhausted}) {
    const Lifecycle& l = c.find(j->spec)->life;
    SCOPED_TRACE(j->spec.key());
    EXPECT_EQ(l.phase, Phase::idle);
    EXPECT_EQ(l.state, JobState::pending);
    EXPECT_EQ(l.attempts, 1);
  }
  EXPECT_FALSE(c.find(failed.spec)->life.doubt);
  EXPECT_FALSE(c.find(exhausted.spec)->life.doubt);
  EXPECT_TRUE(c.find(doubt.spec)->life.doubt);  // read before anything is sent again
  EXPECT_EQ(next_step(c.find(doubt.spec)->life, Budget{}), Next::read);

  // And they go on from there: attempt 2, or a read first.
  record(log, failed, cut(2));
  record(log, failed, answer(2, CutVerdict::success, 201, "", "vod-f"));
  record(log, doubt, read_back());
  record(log, doubt, read_answer(ReadVerdict::can_stop));
  record(log, exhausted, cut(2));
  c = read_ledger_text(log.text, "l");
  ASSERT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  EXPECT_EQ(c.find(failed.spec)->life.video_public_id, "vod-f");
  EXPECT_FALSE(c.find(doubt.spec)->life.doubt);
  EXPECT_EQ(c.find(exhausted.spec)->life.phase, Phase::cut_out);
}

TEST(LedgerFold, ARequestLeftOutStaysOutUntilALaterRunRecordInterruptsIt) {
  MemoryLog log;
  Job cut_left{whole_job("p", "cut")}, read_left{whole_job("p", "read")},
      answered{whole_job("p", "answered")}, untouched{whole_job("p", "untouched")};
  append_run(log, kTarget);
  for (Job* j : {&cut_left, &read_left, &answered, &untouched}) append_job(log, j->spec);
  record(log, cut_left, cut(1));
  record(log, read_left, cut(1));
  record(log, read_left, answer(1, CutVerdict::retry_in_doubt, 503, "HTTP 503"));
  record(log, read_left, read_back());
  record(log, answered, cut(1));
  record(log, answered, answer(1, CutVerdict::retry, 429, "HTTP 429"));

  // At the end of the file the reader does not guess: the run may still be going.
  LedgerContents c = read_ledger_text(log.text, "l");
  ASSERT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  const Lifecycle* l = &c.find(cut_left.spec)->life;
  EXPECT_EQ(l->phase, Phase::cut_out);
  EXPECT_TRUE(l->request_out());
  EXPECT_FALSE(l->doubt);
  EXPECT_FALSE(l->ever_doubt);
  EXPECT_EQ(l->error, "");
  EXPECT_EQ(next_step(*l, Budget{}), Next::none);
  EXPECT_EQ(c.find(read_left.spec)->life.phase, Phase::read_out);
  EXPECT_TRUE(c.find(read_left.spec)->life.request_out());

  // A later run record says that run is over: what it had out was never answered.
  new_run(log, {&cut_left, &read_left, &answered, &untouched});
  c = read_ledger_text(log.text, "l");
  ASSERT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  l = &c.find(cut_left.spec)->life;
  EXPECT_EQ(l->phase, Phase::idle);
  EXPECT_FALSE(l->request_out());
  EXPECT_TRUE(l->doubt);
  EXPECT_TRUE(l->ever_doubt);
  EXPECT_EQ(l->attempts, 1);
  EXPECT_EQ(l->error, "the run ended before the answer to cut attempt 1 was seen");
  EXPECT_EQ(next_step(*l, Budget{}), Next::read);
  l = &c.find(read_left.spec)->life;
  EXPECT_EQ(l->phase, Phase::idle);
  EXPECT_TRUE(l->doubt);  // still in doubt
  EXPECT_EQ(l->error, "HTTP 503");
  l = &c.find(answered.spec)->life;
  EXPECT_EQ(l->phase, Phase::idle);
  EXPECT_FALSE(l->doubt);
  EXPECT_EQ(c.find(untouched.spec)->life.attempts, 0);
  EXPECT_FALSE(c.find(untouched.spec)->life.doubt);

  // What the next run records from there agrees with the fold (a read first, not a cut).
  record(log, cut_left, read_back());
  record(log, cut_left, read_answer(ReadVerdict::stopped));
  record(log, cut_left, lookup());
  record(log, cut_left, lookup_answer(LookupVerdict::several, "2 VODs", "", 2));
  c = read_ledger_text(log.text, "l");
  ASSERT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  EXPECT_EQ(c.find(cut_left.spec)->life.state, JobState::in_doubt);
  EXPECT_EQ(c.find(cut_left.spec)->life.http_status, 0);
}

TEST(LedgerFold, ALaterJobRecordReplacesTheSpecAndKeepsTheLifecycle) {
  MemoryLog log;
  Job first{ms_job("p", "v", 0, 1000)};
  JobSpec second = ms_job("p", "v", 5000, 9000);
  second.label = "changed";
  append_run(log, kTarget);
  append_job(log, first.spec);
  append_job(log, whole_job("p", "other"));
  record(log, first, cut(1));
  record(log, first, answer(1, CutVerdict::refused, 400, "HTTP 400"));
  append_job(log, second);
  LedgerContents c = read_ledger_text(log.text, "l");
  ASSERT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  ASSERT_EQ(c.jobs.size(), 2u);
  EXPECT_EQ(c.jobs[0].spec.key(), "p/v");  // keeps its first-seen position
  EXPECT_TRUE(c.jobs[0].spec.same_request(second));
  EXPECT_EQ(c.jobs[0].spec.label, "changed");
  EXPECT_EQ(c.jobs[0].life.state, JobState::failed);
  EXPECT_EQ(c.jobs[0].life.attempts, 1);
  EXPECT_EQ(c.jobs[1].spec.key(), "p/other");
}

TEST(LedgerFold, NothingInALedgerTurnsASucceededJobBack) {
  MemoryLog log;
  Job j{whole_job("p", "v")};
  append_run(log, kTarget);
  append_job(log, j.spec);
  record(log, j, cut(1));
  record(log, j, answer(1, CutVerdict::success, 201, "", "vod-first"));
  append_run(log, kTarget);
  log.text += R"({"type":"reopen","projectId":"p","liveVideoId":"v"})"
              "\n";  // 6
  log.text += R"({"type":"dispatch","projectId":"p","liveVideoId":"v","op":"cut","attempt":2})"
              "\n";
  log.text += R"({"type":"dispatch","projectId":"p","liveVideoId":"v","op":"read","attempt":1})"
              "\n";
  log.text +=
      R"({"type":"answer","projectId":"p","liveVideoId":"v","op":"cut","attempt":1,"verdict":"refused",)"
      R"("httpStatus":400,"videoPublicId":null,"error":"HTTP 400","elapsedMs":1,"messages":[],"state":"failed"})"
      "\n";
  log.text +=
      R"({"type":"giveup","projectId":"p","liveVideoId":"v","error":"x","state":"retry_exhausted"})"
      "\n";
  log.text += R"({"type":"withdraw","projectId":"p","liveVideoId":"v","op":"cut","attempt":1})"
              "\n";                                     // 11
  append_job(log, whole_job("p", "v", "a new label"));  // a spec may change; the state may not

  const std::string succeeded = "is impossible while the job is succeeded after 1 cut attempt(s)";
  LedgerContents c = read_ledger_text(log.text, "l");
  EXPECT_EQ(error_strings(c), (std::vector<std::string>{
                                  "l:6: type: reopen: reopening " + succeeded,
                                  "l:7: type: dispatch: a dispatch " + succeeded,
                                  "l:8: type: dispatch: a dispatch " + succeeded,
                                  "l:9: type: answer: an answer to cut attempt 1 " + succeeded,
                                  "l:10: type: giveup: giving up " + succeeded,
                                  "l:11: type: withdraw: withdrawing cut attempt 1 " + succeeded,
                              }));
  const JobRecord* r = c.find(j.spec);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->life.state, JobState::succeeded);
  EXPECT_EQ(r->life.video_public_id, "vod-first");
  EXPECT_EQ(r->life.http_status, 201);
  EXPECT_EQ(r->life.attempts, 1);
  EXPECT_EQ(r->spec.label, "a new label");
}

// ---- corruption ----

TEST(LedgerRead, RecordsTheLifecycleCannotHaveProducedAreCorruption) {
  MemoryLog log;
  append_run(log, kTarget);
  for (const char* v : {"a", "b", "c", "d"}) append_job(log, whole_job("p", v));
  auto line = [&](const std::string& s) { log.text += s + "\n"; };
  const std::string cut_answer_tail =
      R"(,"httpStatus":429,"videoPublicId":null,"error":"HTTP 429","elapsedMs":1,"messages":[],"state":"pending"})";
  line(
      R"({"type":"answer","projectId":"p","liveVideoId":"a","op":"cut","attempt":1,"verdict":"retry")" +
      cut_answer_tail);                                                                     // 6
  line(R"({"type":"dispatch","projectId":"p","liveVideoId":"b","op":"cut","attempt":1})");  // 7
  line(
      R"({"type":"answer","projectId":"p","liveVideoId":"b","op":"cut","attempt":1,"verdict":"retry_in_doubt")" +
      cut_answer_tail);                                                                      // 8
  line(R"({"type":"dispatch","projectId":"p","liveVideoId":"b","op":"cut","attempt":2})");   // 9
  line(R"({"type":"dispatch","projectId":"p","liveVideoId":"c","op":"cut","attempt":1})");   // 10
  line(R"({"type":"dispatch","projectId":"p","liveVideoId":"c","op":"cut","attempt":2})");   // 11
  line(R"({"type":"dispatch","projectId":"p","liveVideoId":"c","op":"read","attempt":1})");  // 12
  line(
      R"({"type":"giveup","projectId":"p","liveVideoId":"c","error":"x","state":"retry_exhausted"})");  // 13
  line(
      R"({"type":"answer","projectId":"p","liveVideoId":"d","op":"read","attempt":1,"verdict":"can_stop",)"
      R"("httpStatus":200,"error":"","elapsedMs":1,"state":"pending"})");                    // 14
  line(R"({"type":"dispatch","projectId":"p","liveVideoId":"d","op":"read","attempt":1})");  // 15
  line(R"({"type":"dispatch","projectId":"p","liveVideoId":"d","op":"cut","attempt":1})");   // 16
  line(
      R"({"type":"answer","projectId":"p","liveVideoId":"d","op":"cut","attempt":2,"verdict":"retry")" +
      cut_answer_tail);                                                                     // 17
  line(R"({"type":"withdraw","projectId":"p","liveVideoId":"d","op":"cut","attempt":2})");  // 18
  // The state a record claims must be the one its job's records make.
  line(
      R"({"type":"answer","projectId":"p","liveVideoId":"d","op":"cut","attempt":1,"verdict":"success",)"
      R"("httpStatus":201,"videoPublicId":"vod-d","error":"","elapsedMs":1,"messages":[],"state":"pending"})");  // 19
  line(R"({"type":"dispatch","projectId":"p","liveVideoId":"b","op":"read","attempt":1})");  // 20
  line(
      R"({"type":"answer","projectId":"p","liveVideoId":"b","op":"read","attempt":1,"verdict":"stopped",)"
      R"("httpStatus":200,"error":"","elapsedMs":1,"state":"failed"})");  // 21
  line(
      R"({"type":"giveup","projectId":"p","liveVideoId":"c","error":"x","state":"in_doubt"})");  // 22

  const std::string idle0 = "is impossible while the job is idle after 0 cut attempt(s)";
  const std::string b_doubt =
      "is impossible while the job is idle after 1 cut attempt(s), in doubt (a cut may be out)";
  const std::string c_out = "is impossible while the job is cut_out after 1 cut attempt(s)";
  LedgerContents c = read_ledger_text(log.text, "l");
  EXPECT_EQ(
      error_strings(c),
      (std::vector<std::string>{
          "l:6: type: answer: an answer to cut attempt 1 " + idle0,
          "l:9: type: dispatch: a cut before the doubt is settled " + b_doubt,
          "l:11: type: dispatch: a dispatch " + c_out,
          "l:12: type: dispatch: a dispatch " + c_out,
          "l:13: type: giveup: giving up " + c_out,
          "l:14: type: answer: an answer to a read-back " + idle0,
          "l:15: type: dispatch: a read-back with nothing in doubt " + idle0,
          "l:17: type: answer: an answer to cut attempt 2 " +
              std::string("is impossible while the job is ") + "cut_out after 1 cut attempt(s)",
          "l:18: type: withdraw: withdrawing cut attempt 2 is impossible while the job is cut_out "
          "after 1 cut "
          "attempt(s)",
          "l:19: state: the record says pending, but the job's records make it succeeded",
          "l:21: state: the record says failed, but the job's records make it pending",
          "l:22: type: giveup: giving up " + c_out,
      }));
  // What the good lines made of each job; a bad line changed nothing.
  EXPECT_EQ(c.find("p", "a")->life.attempts, 0);
  EXPECT_EQ(c.find("p", "a")->life.phase, Phase::idle);
  EXPECT_EQ(c.find("p", "c")->life.phase, Phase::cut_out);
  EXPECT_EQ(c.find("p", "c")->life.attempts, 1);
  EXPECT_EQ(c.find("p", "d")->life.state, JobState::succeeded);
  EXPECT_EQ(c.find("p", "d")->life.video_public_id, "vod-d");
  EXPECT_EQ(c.find("p", "b")->life.state, JobState::pending);  // applied, and reported
  EXPECT_TRUE(c.find("p", "b")->life.stopped);
}

TEST(LedgerRead, AJobRecordGoesThroughTheManifestValidator) {
  MemoryLog log;
  append_run(log, kTarget);
  // Ids and a visibility a JobSpec can hold but a manifest would refuse, written as the runner
  // would.
  for (const char* id : {"a/b", "..", "v?x", "v\r\nx", "v x"})
    append_job(log, whole_job("p", id));   // 2-6
  append_job(log, whole_job("p/q", "v"));  // 7
  JobSpec seven = whole_job("p", "vis");
  seven.visibility = static_cast<Visibility>(7);
  append_job(log, seven);                      // 8
  append_job(log, ms_job("p", "same", 5, 5));  // 9
  append_job(log, dt_job("p", "dt-same-ms", "2024-01-01T00:00:00.0001Z",
                         "2024-01-01T00:00:00.0009Z"));  // 10
  // Values a JobSpec cannot even hold, by hand.
  auto job = [&](const std::string& id, const std::string& from_ms, const std::string& to_ms,
                 const std::string& dt_from, const std::string& dt_to) {
    log.text += R"({"type":"job","projectId":"p","liveVideoId":")" + id +
                R"(","videoVisibilityOptionId":1,"fromMilisecond":)" + from_ms +
                R"(,"toMilisecond":)" + to_ms + R"(,"dateTimeFrom":)" + dt_from +
                R"(,"dateTimeTo":)" + dt_to +
                R"(,"label":""})"
                "\n";
  };
  job("big", "0", "2147483648", "null", "null");                                           // 11
  job("neg", "-1", "10", "null", "null");                                                  // 12
  job("half-to", "5", "null", "null", "null");                                             // 13
  job("half-from", "null", "5", "null", "null");                                           // 14
  job("half-dt", "null", "null", R"("2024-01-01T00:00:00Z")", "null");                     // 15
  job("both", "0", "5", R"("2024-01-01T00:00:00Z")", R"("2024-01-01T01:00:00Z")");         // 16
  job("far", "null", "null", R"("2024-01-01T00:00:00Z")", R"("2924-01-01T00:00:00Z")");    // 17
  job("early", "null", "null", R"("1969-12-31T23:59:59Z")", R"("2024-01-01T00:00:00Z")");  // 18
  job("text", "null", "null", R"("yesterday")", R"("2024-01-01T00:00:00Z")");              // 19
  job("good", "null", "null", "null", "null");                                             // 20

  auto at = [](int line, std::string_view field, const std::string& message) {
    return "l:" + std::to_string(line) + ": " + std::string(field) + ": " + message;
  };
  const RangeNames names;
  const std::vector<std::string> want = {
      at(2, "liveVideoId", *check_id("a/b")),
      at(3, "liveVideoId", *check_id("..")),
      at(4, "liveVideoId", *check_id("v?x")),
      at(5, "liveVideoId", *check_id("v\r\nx")),
      at(6, "liveVideoId", *check_id("v x")),
      at(7, "projectId", *check_id("p/q")),
      at(8, "videoVisibilityOptionId", check_visibility(7).error),
      at(9, "toMilisecond", check_ms_order(5, 5)->message),
      at(10, "dateTimeTo",
         check_date_time_order(*parse_iso8601("2024-01-01T00:00:00.0001Z"),
                               *parse_iso8601("2024-01-01T00:00:00.0009Z"))
             ->message),
      at(11, "toMilisecond", check_offset_ms(std::int64_t{1} << 31).error),
      at(12, "fromMilisecond", check_offset_ms(-1).error),
      at(13, "toMilisecond",
         check_range_shape({true, false, false, false}, names).problem->message),
      at(14, "fromMilisecond",
         check_range_shape({false, true, false, false}, names).problem->message),
      at(15, "dateTimeTo", check_range_shape({false, false, true, false}, names).problem->message),
      at(16, "dateTimeFrom", check_range_shape({true, true, true, true}, names).problem->message),
      at(17, "dateTimeTo", parse_date_time("2924-01-01T00:00:00Z").error),
      at(18, "dateTimeFrom", parse_date_time("1969-12-31T23:59:59Z").error),
      at(19, "dateTimeFrom", parse_date_time("yesterday").error),
  };
  LedgerContents c = read_ledger_text(log.text, "l");
  EXPECT_EQ(error_strings(c), want);
  // The validator's words, as a person reads them (control characters shown escaped).
  EXPECT_EQ(
      want[3],
      R"(l:5: liveVideoId: must be 1-128 characters from A-Z, a-z, 0-9, '_' and '-', got "v\r\nx")");
  EXPECT_EQ(
      want[6],
      R"(l:8: videoVisibilityOptionId: must be 1 (Public), 2 (Private) or 3 (Password Protected), got "7")");
  EXPECT_EQ(want[9], R"(l:11: toMilisecond: must be below 2147483648, got "2147483648")");
  EXPECT_EQ(want[11], "l:13: toMilisecond: required when fromMilisecond is given");
  EXPECT_EQ(want[14],
            "l:16: dateTimeFrom: use either fromMilisecond/toMilisecond or "
            "dateTimeFrom/dateTimeTo, not both");
  EXPECT_EQ(
      want[15],
      R"(l:17: dateTimeTo: must be between 1970-01-01T00:00:00Z and 2261-12-31T23:59:59.9999999Z, got "2924-01-01T00:00:00Z")");
  // None of them became a job; the good one did.
  ASSERT_EQ(c.jobs.size(), 1u);
  EXPECT_EQ(c.jobs[0].spec.key(), "p/good");
}

TEST(LedgerRead, CorruptLinesAreAllReportedWithFileLineAndField) {
  TempDir dir;
  Job j{whole_job("p", "v")};
  {
    auto w = LedgerWriter::open(dir.file(), LedgerSync::none);
    append_run(*w, kTarget);
    append_job(*w, j.spec);
  }
  std::string text = slurp(dir.file());
  text += "this is not json\n";  // 3
  text += R"({"type":"dispatch","projectId":"p","liveVideoId":"v","op":"cut"})"
          "\n";  // 4
  text += R"({"type":"dispatch","projectId":"p","liveVideoId":"v","attempt":"1","op":"cut"})"
          "\n";  // 5
  text += R"({"type":"bogus","projectId":"p","liveVideoId":"v"})"
          "\n";  // 6
  text +=
      R"({"type":"answer","projectId":"p","liveVideoId":"v","op":"cut","attempt":1,"verdict":"retry",)"
      R"("httpStatus":429,"videoPublicId":null,"error":"","elapsedMs":1,"messages":[],"state":"done"})"
      "\n";  // 7
  text += R"({"type":"dispatch","projectId":"p","liveVideoId":"ghost","attempt":1,"op":"cut"})"
          "\n";       // 8
  text += "[1,2]\n";  // 9
  text += R"({"type":"dispatch","projectId":"p","liveVideoId":"v","attempt":1,"op":"cut"})"
          "\n";  // 10 ok
  text +=
      R"({"type":"job","projectId":"p","liveVideoId":"w","videoVisibilityOptionId":7,"fromMilisecond":5,)"
      R"("toMilisecond":null,"dateTimeFrom":null,"dateTimeTo":null,"label":""})"
      "\n";  // 11
  text += R"({"type":"withdraw","ts":5,"projectId":"p","liveVideoId":"v","op":"cut","attempt":1})"
          "\n";  // 12
  text +=
      R"({"type":"answer","projectId":"p","liveVideoId":"v","op":"cut","attempt":1,"verdict":"permanent",)"
      R"("httpStatus":400,"videoPublicId":null,"error":"","elapsedMs":1,"messages":[],"state":"failed"})"
      "\n";  // 13
  text += R"({"type":"withdraw","projectId":"p","liveVideoId":"v","op":"read","attempt":1})"
          "\n";  // 14
  text +=
      R"({"type":"dispatch","projectId":"p","liveVideoId":"v","op":"snip","attempt":2,"blind":"yes"})"
      "\n";      // 15
  text += "\n";  // 16
  text +=
      R"({"type":"job","projectId":"","liveVideoId":"w","videoVisibilityOptionId":1,"fromMilisecond":null,)"
      R"("toMilisecond":null,"dateTimeFrom":null,"dateTimeTo":null,"label":""})"
      "\n";  // 17
  text += R"({"type":"giveup","projectId":"p","liveVideoId":"v","state":"in_doubt"})"
          "\n";  // 18
  text +=
      R"({"type":"answer","projectId":"p","liveVideoId":"v","op":"read","attempt":1,"verdict":"maybe",)"
      R"("httpStatus":200,"error":"","elapsedMs":1,"state":"pending"})"
      "\n";  // 19
  text += R"({"projectId":"p","liveVideoId":"v"})"
          "\n";  // 20
  spit(dir.file(), text);

  LedgerContents c = read_ledger(dir.file());
  const std::string f = dir.file().string() + ":";
  EXPECT_EQ(
      error_strings(c),
      (std::vector<std::string>{
          f + "3: " + not_json("this is not json"),
          f + "4: attempt: missing",
          f + "5: attempt: must be an integer",
          f + "6: type: unknown record type 'bogus'",
          f + "7: state: unknown state 'done'",
          f + "8: liveVideoId: dispatch record for job p/ghost, which has no job record before it",
          f + "9: not a JSON object",
          f + "11: videoVisibilityOptionId: " + check_visibility(7).error,
          f + "12: ts: must be a string",
          f + "13: verdict: unknown cut verdict 'permanent'",
          f + "14: op: unknown op 'read' (expected cut)",
          f + "15: op: unknown op 'snip' (expected cut, read or lookup)",
          f + "15: blind: must be true or false",
          f + "16: " + not_json(""),
          f + "17: projectId: must not be empty",
          f + "18: error: missing",
          f + "19: verdict: unknown read verdict 'maybe'",
          f + "20: type: missing",
      }));
  // Good lines around the bad ones still count.
  ASSERT_EQ(c.jobs.size(), 1u);
  EXPECT_EQ(c.jobs[0].life.attempts, 1);
  EXPECT_EQ(c.jobs[0].life.phase, Phase::cut_out);
  EXPECT_FALSE(c.torn_tail);
  EXPECT_EQ(c.runs, 1u);
}

// ---- the last line: kept when whole, torn when cut short ----

TEST(LedgerRead, AWholeRecordMissingOnlyItsNewlineIsKept) {
  TempDir dir;
  Job j{whole_job("p", "v")};
  {
    auto w = LedgerWriter::open(dir.file(), LedgerSync::group_commit);
    append_run(*w, kTarget);
    append_job(*w, j.spec);
    record(*w, j, cut(1));
    record(*w, j, answer(1, CutVerdict::success, 201, "", "vod-kept"));
  }
  std::string text = slurp(dir.file());
  ASSERT_EQ(text.back(), '\n');
  text.pop_back();  // the answer's newline never reached the disk
  spit(dir.file(), text);
  LedgerContents c = read_ledger(dir.file());
  EXPECT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  EXPECT_FALSE(c.torn_tail);
  EXPECT_EQ(c.find(j.spec)->life.state, JobState::succeeded);
  EXPECT_EQ(c.find(j.spec)->life.video_public_id, "vod-kept");  // the id is not thrown away

  // The next writer ends that line before it appends.
  {
    auto w = LedgerWriter::open(dir.file(), LedgerSync::group_commit);
    append_run(*w, kTarget);
  }
  LedgerContents after = read_ledger(dir.file());
  EXPECT_TRUE(after.errors.empty()) << ::testing::PrintToString(error_strings(after));
  EXPECT_EQ(after.runs, 2u);
  EXPECT_EQ(after.find(j.spec)->life.video_public_id, "vod-kept");
  EXPECT_EQ(slurp(dir.file()).substr(0, text.size() + 1), text + "\n");
}

TEST(LedgerRead, ACutShortTailIsTornWhereverItWasCut) {
  MemoryLog log;
  Job j{whole_job("p", "v")};
  append_run(log, kTarget);
  append_job(log, j.spec);
  record(log, j, cut(1));
  const std::string good = log.text;
  record(log, j, answer(1, CutVerdict::success, 201, "", "vod-9", {"m"}));
  const std::string line = log.text.substr(good.size());
  ASSERT_EQ(line.back(), '\n');
  // Every prefix of the record short of the whole of it is torn: ignored, not an error.
  for (std::size_t n = 1; n + 1 < line.size(); ++n) {
    LedgerContents c = read_ledger_text(good + line.substr(0, n), "l");
    ASSERT_TRUE(c.errors.empty()) << n << ": " << ::testing::PrintToString(error_strings(c));
    ASSERT_TRUE(c.torn_tail) << n;
    ASSERT_EQ(c.torn_tail_offset, good.size()) << n;
    ASSERT_EQ(c.find(j.spec)->life.phase, Phase::cut_out) << n;
  }
  LedgerContents whole = read_ledger_text(good + line.substr(0, line.size() - 1), "l");
  EXPECT_FALSE(whole.torn_tail);
  EXPECT_EQ(whole.find(j.spec)->life.video_public_id, "vod-9");
  // A torn first line is torn at offset 0.
  LedgerContents first = read_ledger_text(good.substr(0, 20), "l");
  EXPECT_TRUE(first.errors.empty());
  EXPECT_TRUE(first.torn_tail);
  EXPECT_EQ(first.torn_tail_offset, 0u);
  EXPECT_EQ(first.runs, 0u);
}

// A crash can only leave a prefix of a line, and no proper prefix of a record is JSON: a
// last line that parses is whole, and is checked like any other, not cut off as torn.
TEST(LedgerRead, AWholeLastRecordThatIsWrongIsReportedNotTorn) {
  MemoryLog log;
  Job j{whole_job("p", "v")};
  append_run(log, kTarget);
  append_job(log, j.spec);
  record(log, j, cut(1));
  const std::string good = log.text;
  struct Case {
    std::string last;
    std::string error;
  };
  const std::vector<Case> cases = {
      // Folded, then found to disagree: the fold holds the success, so it must not be cut.
      {R"({"type":"answer","projectId":"p","liveVideoId":"v","op":"cut","attempt":1,"verdict":"success",)"
       R"("httpStatus":201,"videoPublicId":"vod-1","error":"","elapsedMs":1,"messages":[],"state":"pending"})",
       "l:4: state: the record says pending, but the job's records make it succeeded"},
      {R"({"type":"answer","projectId":"p","liveVideoId":"v","op":"cut","attempt":2,"verdict":"retry",)"
       R"("httpStatus":429,"videoPublicId":null,"error":"","elapsedMs":1,"messages":[],"state":"pending"})",
       "l:4: type: answer: an answer to cut attempt 2 is impossible while the job is cut_out after "
       "1 cut attempt(s)"},
      {R"({"type":"dispatch","projectId":"p","liveVideoId":"ghost","op":"cut","attempt":1})",
       "l:4: liveVideoId: dispatch record for job p/ghost, which has no job record before it"},
      {"[1,2]", "l:4: not a JSON object"},
  };
  for (const Case& k : cases) {
    LedgerContents c = read_ledger_text(good + k.last, "l");
    EXPECT_EQ(error_strings(c), std::vector<std::string>{k.error}) << k.last;
    EXPECT_FALSE(c.torn_tail) << k.last;
  }
  // A batchcut 0.1 ledger of one record without its newline is refused, not cut to nothing.
  const std::string old =
      R"({"type":"job","projectId":"p","liveVideoId":"v","videoVisibilityOptionId":1,)"
      R"("fromMilisecond":null,"toMilisecond":null,"dateTimeFrom":null,"dateTimeTo":null,"label":""})";
  LedgerContents c = read_ledger_text(old, "l");
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0].line, 1u);
  EXPECT_EQ(c.errors[0].field, "type");
  EXPECT_FALSE(c.torn_tail);
}

TEST(LedgerWriter, LockThenReadThenCutTheTornTail) {
  TempDir dir;
  Job j{whole_job("p", "v")};
  {
    auto w = LedgerWriter::open(dir.file(), LedgerSync::group_commit);
    append_run(*w, kTarget);
    append_job(*w, j.spec);
    record(*w, j, cut(1));
  }
  const std::string good = slurp(dir.file());
  const std::string torn =
      R"({"type":"answer","ts":"2026-01-01T00:00:00.000Z","projectId":"p","liveVideoId":"v","op)";
  spit(dir.file(), good + torn);

  auto w = LedgerWriter::open(dir.file(), LedgerSync::group_commit);
  LedgerContents c = read_ledger(dir.file());
  EXPECT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  ASSERT_TRUE(c.torn_tail);
  EXPECT_EQ(c.torn_tail_offset, good.size());
  EXPECT_TRUE(c.find(j.spec)->life.request_out());
  // An offset that is not where the torn line starts would cut complete records: refused.
  const std::size_t last_line = good.rfind('\n', good.size() - 2) + 1;
  for (std::size_t wrong :
       {std::size_t{0}, last_line, good.size() - 1, good.size() + 1, good.size() + 1000}) {
    EXPECT_THROW(w->truncate_torn_tail(wrong), LedgerError) << wrong;
  }
  EXPECT_EQ(slurp(dir.file()), good + torn);
  w->truncate_torn_tail(c.torn_tail_offset);
  EXPECT_EQ(slurp(dir.file()), good);
  record(*w, j, answer(1, CutVerdict::success, 201, "", "vod-9"));
  EXPECT_THROW(w->truncate_torn_tail(good.size()), LedgerError);  // only before appends
  w->flush();
  c = read_ledger(dir.file());
  EXPECT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  EXPECT_FALSE(c.torn_tail);
  EXPECT_EQ(c.find(j.spec)->life.video_public_id, "vod-9");
}

TEST(LedgerWriter, ACutAtTheEndOfAWholeUnterminatedRecordIsRefusedAndNothingIsGluedOnIt) {
  TempDir dir;
  Job j{whole_job("p", "v")};
  {
    auto w = LedgerWriter::open(dir.file(), LedgerSync::group_commit);
    append_run(*w, kTarget);
    append_job(*w, j.spec);
    record(*w, j, cut(1));
    record(*w, j, answer(1, CutVerdict::success, 201, "", "vod-kept"));
  }
  std::string text = slurp(dir.file());
  text.pop_back();  // the success is whole; only its newline is missing
  spit(dir.file(), text);
  {
    auto w = LedgerWriter::open(dir.file(), LedgerSync::group_commit);
    // Nothing torn starts at the end of the file: a stale or wrong offset.
    EXPECT_THROW(w->truncate_torn_tail(text.size()), LedgerError);
    EXPECT_EQ(slurp(dir.file()), text);
    append_run(*w, kTarget);  // still starts on a line of its own
  }
  LedgerContents c = read_ledger(dir.file());
  EXPECT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  EXPECT_EQ(c.runs, 2u);
  EXPECT_EQ(c.find(j.spec)->life.video_public_id, "vod-kept");

  // At the end of a file that ends with a newline there is nothing to cut: a no-op.
  auto w = LedgerWriter::open(dir.file(), LedgerSync::group_commit);
  const std::string before = slurp(dir.file());
  EXPECT_NO_THROW(w->truncate_torn_tail(before.size()));
  EXPECT_EQ(slurp(dir.file()), before);
}

TEST(LedgerWriter, ATornFirstLineIsCutToAnEmptyFile) {
  TempDir dir;
  spit(dir.file(), R"({"type":"ru)");
  LedgerContents c = read_ledger(dir.file());
  EXPECT_TRUE(c.errors.empty());
  EXPECT_TRUE(c.torn_tail);
  EXPECT_EQ(c.torn_tail_offset, 0u);
  {
    auto w = LedgerWriter::open(dir.file(), LedgerSync::none);
    EXPECT_THROW(w->truncate_torn_tail(999), LedgerError);
    EXPECT_THROW(w->truncate_torn_tail(3), LedgerError);
    w->truncate_torn_tail(0);
    EXPECT_EQ(fs::file_size(dir.file()), 0u);
    append_run(*w, kTarget);
  }
  c = read_ledger(dir.file());
  EXPECT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  EXPECT_FALSE(c.torn_tail);
  EXPECT_EQ(c.runs, 1u);
  EXPECT_EQ(lines_of(slurp(dir.file())).size(), 1u);
}

TEST(LedgerWriter, AnUncutTornTailIsTerminatedNotGluedOnto) {
  TempDir dir;
  Job j{whole_job("p", "v")};
  {
    auto w = LedgerWriter::open(dir.file(), LedgerSync::group_commit);
    append_run(*w, kTarget);
    append_job(*w, j.spec);
  }
  const std::string torn = R"({"type":"dis)";
  spit(dir.file(), slurp(dir.file()) + torn);
  {
    auto w = LedgerWriter::open(dir.file(), LedgerSync::group_commit);
    record(*w, j, cut(1));
  }
  LedgerContents c = read_ledger(dir.file());
  EXPECT_EQ(error_strings(c),
            std::vector<std::string>{dir.file().string() + ":3: " + not_json(torn)});
  EXPECT_FALSE(c.torn_tail);
  EXPECT_TRUE(c.find(j.spec)->life.request_out());  // the new record survived intact
}

// ---- the writer ----

TEST(LedgerWriter, ASecondWriterIsLockedOutUntilTheFirstIsGone) {
  TempDir dir;
  EXPECT_FALSE(ledger_in_use(dir.file()));  // no file: nobody writes it
  auto first = LedgerWriter::open(dir.file(), LedgerSync::group_commit);
  EXPECT_TRUE(ledger_in_use(dir.file()));
  try {
    LedgerWriter::open(dir.file(), LedgerSync::group_commit);
    FAIL() << "second open succeeded";
  } catch (const LedgerError& e) {
    EXPECT_EQ(std::string(e.what()),
              "ledger " + dir.file().string() + " is in use by another batchcut run (locked)");
  }
  first.reset();
  EXPECT_FALSE(ledger_in_use(dir.file()));
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
  Job j{whole_job("p", "v")};
  constexpr int n = 200;
  std::vector<std::promise<std::size_t>> promises(n);
  std::vector<std::future<std::size_t>> futures;
  LedgerLog::Seq last = 0;
  for (int i = 0; i < n; ++i) {
    futures.push_back(promises[i].get_future());
    LedgerLog::Seq s = i == 0       ? append_run(*w, kTarget)
                       : i == 1     ? append_job(*w, j.spec)
                       : i % 2 == 0 ? record(*w, j, cut(1))
                                    : record(*w, j, Withdraw{1});
    EXPECT_EQ(s, last + 1);  // 1, 2, 3, ...
    last = s;
    // When it runs, the record must already be in the file.
    w->when_durable(s,
                    [&dir, p = &promises[i]] { p->set_value(lines_of(slurp(dir.file())).size()); });
  }
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(futures[i].wait_for(kHangGuard), std::future_status::ready) << i;
    EXPECT_GE(futures[i].get(), static_cast<std::size_t>(i + 1)) << i;
  }
  // Already durable: called at once, on this thread.
  bool called = false;
  w->when_durable(1, [&] { called = true; });
  EXPECT_TRUE(called);
  EXPECT_FALSE(w->failure());
  LedgerContents c = read_ledger(dir.file());
  EXPECT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  // 99 dispatches, each withdrawn by the record after it.
  EXPECT_EQ(c.find(j.spec)->life.phase, Phase::idle);
  EXPECT_EQ(c.find(j.spec)->life.attempts, 0);
}

TEST(LedgerWriter, FlushMakesEverythingVisibleAndTheDestructorFlushesToo) {
  TempDir dir;
  auto w = LedgerWriter::open(dir.file(), LedgerSync::group_commit);
  Job j{whole_job("p", "v")};
  append_run(*w, kTarget);
  append_job(*w, j.spec);
  for (int i = 1; i <= 25; ++i) {
    record(*w, j, cut(i));
    record(*w, j, answer(i, CutVerdict::retry, 429, "HTTP 429"));
  }
  w->flush();
  EXPECT_EQ(lines_of(slurp(dir.file())).size(), 52u);
  EXPECT_EQ(read_ledger(dir.file()).find(j.spec)->life.attempts, 25);
  for (int i = 26; i <= 30; ++i) {
    record(*w, j, cut(i));
    record(*w, j, answer(i, CutVerdict::retry, 429, "HTTP 429"));
  }
  w.reset();
  LedgerContents c = read_ledger(dir.file());
  EXPECT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  EXPECT_EQ(c.find(j.spec)->life.attempts, 30);
}

TEST(LedgerWriter, SyncNoneStillWritesEverything) {
  TempDir dir;
  auto w = LedgerWriter::open(dir.file(), LedgerSync::none);
  Job j{whole_job("p", "v")};
  std::promise<void> done;
  append_run(*w, kTarget);
  append_job(*w, j.spec);
  w->when_durable(record(*w, j, cut(1)), [&] { done.set_value(); });
  ASSERT_EQ(done.get_future().wait_for(kHangGuard), std::future_status::ready);
  EXPECT_EQ(lines_of(slurp(dir.file())).size(), 3u);
  EXPECT_TRUE(read_ledger(dir.file()).find(j.spec)->life.request_out());
}

TEST(LedgerWriter, ConcurrentAppendsAllLandAsWholeLines) {
  TempDir dir;
  auto w = LedgerWriter::open(dir.file(), LedgerSync::group_commit);
  append_run(*w, kTarget);
  constexpr int threads = 4, per_thread = 2000;
  std::vector<std::thread> ts;
  std::vector<std::vector<LedgerLog::Seq>> seqs(threads);
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        Job j{whole_job("p" + std::to_string(t), "v" + std::to_string(i), "label, \"x\"\n")};
        seqs[t].push_back(append_job(*w, j.spec));
        seqs[t].push_back(record(*w, j, cut(1)));
      }
    });
  }
  for (auto& t : ts) t.join();
  w->flush();
  std::set<LedgerLog::Seq> all;
  for (auto& v : seqs) {
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));
    all.insert(v.begin(), v.end());
  }
  EXPECT_EQ(all.size(), std::size_t{threads * per_thread * 2});
  EXPECT_EQ(*all.begin(), 2u);
  EXPECT_EQ(*all.rbegin(), std::size_t{threads * per_thread * 2 + 1});
  LedgerContents c = read_ledger(dir.file());
  EXPECT_TRUE(c.errors.empty()) << c.errors.size();
  EXPECT_EQ(c.jobs.size(), std::size_t{threads * per_thread});
  for (auto& r : c.jobs) {
    EXPECT_TRUE(r.life.request_out());
    EXPECT_EQ(r.spec.label, "label, \"x\"\n");
  }
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
  Job j{whole_job("p", "v")};
  std::promise<void> done;
  append_run(*w, kTarget);
  w->when_durable(append_job(*w, j.spec), [&] { done.set_value(); });
  ASSERT_EQ(done.get_future().wait_for(kHangGuard), std::future_status::ready);
  EXPECT_THROW(w->flush(), LedgerError);
  ASSERT_TRUE(w->failure());
  EXPECT_EQ(*w->failure(), "ledger /dev/full: write failed: " + std::string(std::strerror(ENOSPC)));
  // Later appends are dropped, and their callbacks still run.
  std::promise<void> later;
  w->when_durable(record(*w, j, cut(1)), [&] { later.set_value(); });
  EXPECT_EQ(later.get_future().wait_for(kHangGuard), std::future_status::ready);
  EXPECT_THROW(w->flush(), LedgerError);
}

// ---- exports ----

namespace {

// One job in each state, with free text that a spreadsheet would run as a formula.
LedgerContents export_sample() {
  MemoryLog log;
  Job ok{whole_job("-p", "ok", "=SUM(A1)")}, bad{whole_job("-p", "bad", "@me")},
      doubt{whole_job("-p", "doubt", "plain")}, pend{whole_job("-p", "pend", "\tTAB")},
      gave{whole_job("-p", "gave", "")};
  append_run(log, kTarget);
  for (Job* j : {&ok, &bad, &doubt, &pend, &gave}) append_job(log, j->spec);
  record(log, ok, cut(1));
  record(log, ok, answer(1, CutVerdict::success, 201, "", "+vod-1"));
  record(log, bad, cut(1));
  record(log, bad, answer(1, CutVerdict::refused, 400, "-bad request"));
  record(log, doubt, cut(1));
  record(log, doubt, answer(1, CutVerdict::retry_in_doubt, 503, "HTTP 503"));
  record(log, doubt, read_back());
  record(log, doubt, read_answer(ReadVerdict::stopped, 200));
  record(log, doubt, lookup());
  record(log, doubt, lookup_answer(LookupVerdict::none, "no VOD cut from doubt"));
  record(log, pend, cut(1));
  record(log, pend, answer(1, CutVerdict::retry, 429, "HTTP 429"));
  record(log, pend, cut(2));
  record(log, pend, Withdraw{2});
  record(log, gave, cut(1));
  record(log, gave, answer(1, CutVerdict::retry, 429, "HTTP 429"));
  record(log, gave, GiveUp{"\rno more"});
  LedgerContents c = read_ledger_text(log.text, "export.jsonl");
  EXPECT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  return c;
}

std::string csv_of(const LedgerContents& c, const std::set<JobState>& states = {}) {
  std::ostringstream out;
  export_csv(c, states, out);
  return out.str();
}

std::vector<CsvRow> read_csv(const std::string& text) {
  CsvReader reader(text);
  CsvRow row;
  std::vector<CsvRow> rows;
  while (reader.next(row)) rows.push_back(row);
  EXPECT_FALSE(reader.error()) << reader.error()->message;
  return rows;
}

}  // namespace

TEST(LedgerExport, CsvRowsSayWhereEachJobIsAndGuardFreeText) {
  const LedgerContents c = export_sample();
  const std::string csv = csv_of(c);
  // attempts: cuts not withdrawn; httpStatus: the last cut's answer (not the read's 200);
  // error: why the job is there (for pending, its last error). Free text beginning with
  // = + - @ TAB or CR gets a leading '; ids are validated and written as they are.
  EXPECT_EQ(csv,
            "projectId,liveVideoId,label,state,videoPublicId,attempts,httpStatus,error,kind,title,clipId,publishStatus,"
            "duration,durationMismatch,recovered\n"
            "-p,ok,'=SUM(A1),succeeded,'+vod-1,1,201,,stop-and-cut,,,,,,false\n"
            "-p,bad,'@me,failed,,1,400,'-bad request,stop-and-cut,,,,,,false\n"
            "-p,doubt,plain,in_doubt,,1,503,"
            "\"stream already stopped, but no VOD of it was found: no VOD cut from doubt\",stop-and-cut,,,,,,false\n"
            "-p,pend,'\tTAB,pending,,1,429,HTTP 429,stop-and-cut,,,,,,false\n"
            "-p,gave,,retry_exhausted,,1,429,\"'\rno more\",stop-and-cut,,,,,,false\n");
  const auto rows = read_csv(csv);
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[0].fields,
            (std::vector<std::string>{"projectId", "liveVideoId", "label", "state", "videoPublicId",
                                      "attempts", "httpStatus", "error", "kind", "title", "clipId",
                                      "publishStatus", "duration", "durationMismatch", "recovered"}));
  EXPECT_EQ(rows[1].fields, (std::vector<std::string>{"-p", "ok", "'=SUM(A1)", "succeeded",
                                                      "'+vod-1", "1", "201", "", "stop-and-cut", "", "",
                                                      "", "", "", "false"}));
  EXPECT_EQ(rows[3].fields.at(7), "stream already stopped, but no VOD of it was found: no VOD cut from doubt");
  EXPECT_EQ(rows[4].fields.at(2), "'\tTAB");
  EXPECT_EQ(rows[5].fields.at(7), "'\rno more");
  EXPECT_EQ(rows[5].line, 6u);
}

TEST(LedgerExport, CsvQuotesPerRfc4180AndReadsBack) {
  MemoryLog log;
  Job j{whole_job("p", "v1", "a, \"quoted\"\nlabel")};
  append_run(log, kTarget);
  append_job(log, j.spec);
  record(log, j, cut(1));
  record(log, j, answer(1, CutVerdict::retry, 0, "timeout\r"));
  const std::string csv = csv_of(read_ledger_text(log.text, "l"));
  EXPECT_EQ(csv,
            "projectId,liveVideoId,label,state,videoPublicId,attempts,httpStatus,error,kind,title,clipId,publishStatus,"
            "duration,durationMismatch,recovered\n"
            "p,v1,\"a, \"\"quoted\"\"\nlabel\",pending,,1,,\"timeout\r\",stop-and-cut,,,,,,false\n");
  const auto rows = read_csv(csv);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].fields.at(2), "a, \"quoted\"\nlabel");
  EXPECT_EQ(rows[1].fields.at(6), "");  // no HTTP answer
  EXPECT_EQ(rows[1].fields.at(7), "timeout\r");
}

TEST(LedgerExport, TheStatesFilterAppliesToEveryExport) {
  const LedgerContents c = export_sample();
  auto keys = [](const std::vector<CsvRow>& rows) {
    std::vector<std::string> out;
    for (std::size_t i = 1; i < rows.size(); ++i) out.push_back(rows[i].fields.at(1));
    return out;
  };
  EXPECT_EQ(keys(read_csv(csv_of(c, {JobState::in_doubt, JobState::pending}))),
            (std::vector<std::string>{"doubt", "pend"}));
  EXPECT_EQ(keys(read_csv(csv_of(c, {JobState::retry_exhausted}))),
            std::vector<std::string>{"gave"});
  EXPECT_EQ(keys(read_csv(csv_of(c))).size(), 5u);

  std::ostringstream jsonl;
  export_jsonl(c, {JobState::succeeded, JobState::failed}, jsonl);
  auto lines = lines_of(jsonl.str());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(boost::json::parse(lines[0]).as_object().at("liveVideoId").as_string(), "ok");
  EXPECT_EQ(boost::json::parse(lines[1]).as_object().at("liveVideoId").as_string(), "bad");

  std::ostringstream manifest_csv;
  export_manifest_csv(c, {JobState::in_doubt, JobState::retry_exhausted}, manifest_csv);
  EXPECT_EQ(keys(read_csv(manifest_csv.str())), (std::vector<std::string>{"doubt", "gave"}));

  std::ostringstream yaml;
  export_manifest_yaml(c, {JobState::failed}, yaml);
  Manifest m = parse_manifest(yaml.str(), ManifestFormat::yaml, "again.yaml");
  ASSERT_TRUE(m.ok()) << ::testing::PrintToString(m.errors.empty() ? "" : m.errors[0].to_string())
                      << yaml.str();
  ASSERT_EQ(m.jobs.size(), 1u);
  EXPECT_EQ(m.jobs[0].key(), "-p/bad");
  EXPECT_NE(yaml.str().find("# was failed: -bad request"), std::string::npos) << yaml.str();
}

TEST(LedgerExport, JsonlHasOneObjectPerJobWithNulls) {
  const LedgerContents c = export_sample();
  std::ostringstream out;
  export_jsonl(c, {}, out);
  auto lines = lines_of(out.str());
  ASSERT_EQ(lines.size(), 5u);
  auto o = boost::json::parse(lines[0]).as_object();
  EXPECT_EQ(keys_of(o),
            (std::set<std::string>{"projectId", "liveVideoId", "label", "state", "videoPublicId",
                                   "attempts", "httpStatus", "error", "kind", "title", "clipId",
                                   "publishStatus", "duration", "durationMismatch", "recovered"}));
  EXPECT_EQ(o.at("projectId").as_string(), "-p");
  EXPECT_EQ(o.at("label").as_string(), "=SUM(A1)");  // JSON needs no formula guard
  EXPECT_EQ(o.at("state").as_string(), "succeeded");
  EXPECT_EQ(o.at("videoPublicId").as_string(), "+vod-1");
  EXPECT_EQ(o.at("attempts").as_int64(), 1);
  EXPECT_EQ(o.at("httpStatus").as_int64(), 201);
  EXPECT_EQ(o.at("error").as_string(), "");
  auto d = boost::json::parse(lines[2]).as_object();
  EXPECT_TRUE(d.at("videoPublicId").is_null());
  EXPECT_EQ(d.at("httpStatus").as_int64(), 503);
  EXPECT_EQ(d.at("state").as_string(), "in_doubt");
  auto p = boost::json::parse(lines[3]).as_object();
  EXPECT_EQ(p.at("attempts").as_int64(), 1);
  EXPECT_EQ(p.at("error").as_string(), "HTTP 429");

  MemoryLog fresh;
  append_run(fresh, kTarget);
  append_job(fresh, whole_job("p", "new"));
  std::ostringstream none;
  export_jsonl(read_ledger_text(fresh.text, "l"), {}, none);
  auto n = boost::json::parse(lines_of(none.str()).at(0)).as_object();
  EXPECT_TRUE(n.at("httpStatus").is_null());
  EXPECT_EQ(n.at("attempts").as_int64(), 0);
  std::ostringstream empty;
  export_jsonl(LedgerContents{}, {}, empty);
  EXPECT_EQ(empty.str(), "");
}

TEST(LedgerExport, ManifestExportsRunAgainAsTheSameJobs) {
  MemoryLog log;
  Job ms{ms_job("p", "ms", 1000, 61000)},
      dt{dt_job("p", "dt", "2024-05-23T20:09:29.8106349Z", "2024-05-23T21:00:00Z")},
      whole{whole_job("p", "whole", "say \"hi\", twice")}, done{whole_job("p", "done")};
  whole.spec.visibility = Visibility::password;
  append_run(log, kTarget);
  for (Job* j : {&ms, &dt, &whole, &done}) append_job(log, j->spec);
  for (Job* j : {&ms, &dt, &whole}) {
    record(log, *j, cut(1));
    record(log, *j, answer(1, CutVerdict::retry_in_doubt, 503, "HTTP 503"));
    record(log, *j, GiveUp{"out of reads"});
  }
  record(log, done, cut(1));
  record(log, done, answer(1, CutVerdict::success, 201, "", "vod"));
  const LedgerContents c = read_ledger_text(log.text, "l");
  ASSERT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));

  std::ostringstream csv, yaml;
  export_manifest_csv(c, {JobState::in_doubt}, csv);
  export_manifest_yaml(c, {JobState::in_doubt}, yaml);
  EXPECT_EQ(csv.str(),
            "projectId,liveVideoId,videoVisibilityOptionId,fromMilisecond,toMilisecond,"
            "dateTimeFrom,dateTimeTo,label,kind,title,clipId\n"
            "p,ms,2,1000,61000,,,ms clip,stop-and-cut,,\n"
            "p,dt,1,,,2024-05-23T20:09:29.8106349Z,2024-05-23T21:00:00Z,dt clip,stop-and-cut,,\n"
            "p,whole,3,,,,,\"say \"\"hi\"\", twice\",stop-and-cut,,\n");
  EXPECT_NE(yaml.str().find("# was in_doubt: out of reads"), std::string::npos) << yaml.str();
  for (const auto& [text, format] :
       {std::pair{csv.str(), ManifestFormat::csv}, std::pair{yaml.str(), ManifestFormat::yaml}}) {
    Manifest m = parse_manifest(text, format, "again");
    ASSERT_TRUE(m.ok()) << m.errors[0].to_string() << "\n" << text;
    ASSERT_EQ(m.jobs.size(), 3u) << text;
    const Job* want[] = {&ms, &dt, &whole};
    for (std::size_t i = 0; i < 3; ++i) {
      EXPECT_TRUE(m.jobs[i].same_request(want[i]->spec)) << i << "\n" << text;
      EXPECT_EQ(m.jobs[i].label, want[i]->spec.label) << i;
    }
  }
}

// ---- the two readers ----

TEST(LedgerRead, TextAndFileGiveTheSameContents) {
  TempDir dir;
  std::string text;
  {
    MemoryLog log;
    Job a{whole_job("p", "a")}, b{ms_job("p", "b", 0, 10)},
        big{whole_job("p", "big", std::string(max_ledger_line - 1024, 'x'))};
    append_run(log, kTarget);
    append_job(log, a.spec);
    append_job(log, b.spec);
    // The longest line a reader takes, and enough lines to cross the file reader's first
    // buffer (8 MiB) more than once.
    append_job(log, big.spec);
    record(log, a, cut(1));
    new_run(log, {&a, &b}, RunTarget{"https://two", "raw", "ca.pem"});
    for (int i = 0; i < 3000; ++i) {
      Job j{whole_job("q", "j" + std::to_string(i), std::string(6000, 'y'))};
      append_job(log, j.spec);
      record(log, j, cut(1));
      if (i % 3) record(log, j, answer(1, CutVerdict::retry_in_doubt, 503, "HTTP 503"));
    }
    record(log, b, cut(1));
    record(log, b, answer(1, CutVerdict::success, 201, "", "vod-b"));
    log.text += "garbage\n";
    log.text += R"({"type":"answer","projectId":"p","liveVideoId":"b")";  // torn
    text = log.text;
  }
  spit(dir.file(), text);
  const LedgerContents from_file = read_ledger(dir.file());
  const LedgerContents from_text = read_ledger_text(text, dir.file().string());
  expect_same_contents(from_file, from_text);
  // And they are what the records say.
  EXPECT_EQ(error_strings(from_text).size(), 1u);
  EXPECT_TRUE(from_text.torn_tail);
  EXPECT_EQ(from_text.torn_tail_offset, text.rfind('\n') + 1);
  EXPECT_EQ(from_text.runs, 2u);
  EXPECT_EQ(from_text.jobs.size(), 3003u);
  EXPECT_EQ(from_text.find("p", "big")->spec.label.size(), max_ledger_line - 1024);
  EXPECT_TRUE(from_text.find("p", "a")->life.doubt);
  EXPECT_EQ(from_text.find("p", "b")->life.video_public_id, "vod-b");
  EXPECT_TRUE(
      from_text.find("q", "j0")->life.request_out());  // after the last run record: not interrupted
  EXPECT_TRUE(from_text.find("q", "j1")->life.doubt);
}

// ---- format 3: clips, lookups, vod records ----

namespace {

JobSpec clip_job(std::string video, std::string title, std::string clip_id = "") {
  JobSpec j = ms_job("p", std::move(video), 1000, 61000);
  j.kind = JobKind::clip;
  j.title = std::move(title);
  j.clip_id = std::move(clip_id);
  return j;
}

Job clip(JobSpec spec) {
  Job j{std::move(spec)};
  j.life.kind = JobKind::clip;
  return j;
}

// Every field of a folded lifecycle against the one the runner stepped.
void expect_same_life(const Lifecycle& got, const Lifecycle& want, const std::string& where) {
  SCOPED_TRACE(where);
  EXPECT_EQ(got.kind, want.kind);
  EXPECT_EQ(got.phase, want.phase);
  EXPECT_EQ(got.state, want.state);
  EXPECT_EQ(got.doubt, want.doubt);
  EXPECT_EQ(got.ever_doubt, want.ever_doubt);
  EXPECT_EQ(got.attempts, want.attempts);
  EXPECT_EQ(got.http_status, want.http_status);
  EXPECT_EQ(got.video_public_id, want.video_public_id);
  EXPECT_EQ(got.error, want.error);
  EXPECT_EQ(got.messages, want.messages);
  EXPECT_EQ(got.stopped, want.stopped);
  EXPECT_EQ(got.live_title, want.live_title);
  EXPECT_EQ(got.first_cut_at_ms, want.first_cut_at_ms);
  EXPECT_EQ(got.recovered, want.recovered);
}

// A cut that left at a known instant (ms precision: the "ts" keeps milliseconds).
Dispatch cut_at(int attempt, std::int64_t at_ms) { return Dispatch{Op::cut, attempt, false, at_ms}; }

constexpr std::int64_t kFirstCut = 1'716'494'969'810;  // 2024-05-23T20:09:29.810Z

}  // namespace

TEST(LedgerClip, ClipsByClipIdAndByTitleSurviveWriteAndReadWithTheirIdentity) {
  TempDir dir;
  // Three jobs on one live video: the stream's stop-and-cut and two clips of it, one known by
  // its clipId, one by a title with quotes, a backslash and non-ASCII letters.
  Job stop{whole_job("p", "lv1")};
  Job by_id = clip(clip_job("lv1", "Tor für \"Köln\" – 1:0", "goal-1"));
  Job by_title = clip(clip_job("lv1", "Tor für \"Köln\" \\ 2:0 ⚽"));
  {
    auto w = LedgerWriter::open(dir.file(), LedgerSync::none);
    append_run(*w, kTarget);
    for (Job* j : {&stop, &by_id, &by_title}) append_job(*w, j->spec);
    record(*w, by_id, cut_at(1, kFirstCut));
    record(*w, by_id, answer(1, CutVerdict::success, 200, "", "vod-1"));
    record(*w, by_title, cut_at(1, kFirstCut + 5));
    record(*w, by_title, answer(1, CutVerdict::retry_in_doubt, 504, "HTTP 504"));
    record(*w, by_title, lookup());
    record(*w, by_title, lookup_answer(LookupVerdict::found, "the one VOD is vod-2", "vod-2", 1));
    record(*w, stop, cut_at(1, kFirstCut + 9));
    record(*w, stop, answer(1, CutVerdict::refused, 400, "HTTP 400"));
    w->flush();
  }
  // Every record of a clip names it, and the title is written as it is (UTF-8 verbatim).
  const std::string text = slurp(dir.file());
  for (const std::string& l : lines_of(text)) {
    if (l.find("\"type\":\"run\"") != std::string::npos) continue;
    const auto o = boost::json::parse(l).as_object();
    if (!o.contains("kind")) {
      EXPECT_FALSE(o.contains("clipId") || o.contains("title")) << l;
      continue;
    }
    EXPECT_EQ(o.at("kind").as_string(), "clip") << l;
    EXPECT_TRUE(o.contains("clipId") || o.contains("title")) << l;
  }
  EXPECT_NE(text.find(R"("title":"Tor für \"Köln\" \\ 2:0 ⚽")"), std::string::npos) << text;

  const LedgerContents c = read_ledger(dir.file());
  ASSERT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  ASSERT_EQ(c.jobs.size(), 3u);
  for (const Job* j : {&stop, &by_id, &by_title}) {
    const JobRecord* r = c.find(j->spec);
    ASSERT_TRUE(r) << j->spec.key();
    EXPECT_EQ(r->spec.kind, j->spec.kind);
    EXPECT_EQ(r->spec.title, j->spec.title);
    EXPECT_EQ(r->spec.clip_id, j->spec.clip_id);
    EXPECT_TRUE(r->spec.same_request(j->spec));
    expect_same_life(r->life, j->life, j->spec.key());
  }
  EXPECT_EQ(c.find(by_id.spec)->life.video_public_id, "vod-1");
  EXPECT_EQ(c.find(by_title.spec)->life.video_public_id, "vod-2");
  EXPECT_TRUE(c.find(by_title.spec)->life.recovered);
  EXPECT_EQ(c.find(stop.spec)->life.state, JobState::failed);
  EXPECT_EQ(c.find("p", "lv1"), c.find(stop.spec));
}

TEST(LedgerClip, LookupAnswersFoldToWhatStepMade) {
  MemoryLog log;
  Job found{whole_job("p", "found")}, none{whole_job("p", "none")}, several = clip(clip_job("v", "Goal"));
  Job again = clip(clip_job("v", "Again", "again-1")), unreadable = clip(clip_job("v", "Unreadable"));
  Job left = clip(clip_job("v", "Left"));
  append_run(log, kTarget);
  for (Job* j : {&found, &none, &several, &again, &unreadable, &left}) {
    append_job(log, j->spec);
    record(log, *j, cut_at(1, kFirstCut));
    record(log, *j, answer(1, CutVerdict::retry_in_doubt, 503, "HTTP 503"));
  }
  for (Job* j : {&found, &none}) {
    record(log, *j, read_back());
    ReadAnswer stopped = read_answer(ReadVerdict::stopped);
    stopped.live_title = "Match \"day\" ü";
    record(log, *j, stopped);
    record(log, *j, lookup());
  }
  record(log, found, lookup_answer(LookupVerdict::found, "the one VOD cut from found is vod-f", "vod-f", 1));
  record(log, none, lookup_answer(LookupVerdict::none, "no VOD cut from none"));
  record(log, several, lookup());
  record(log, several, lookup_answer(LookupVerdict::several, "2 VODs: a, b", "", 2));
  record(log, again, lookup());
  record(log, again, lookup_answer(LookupVerdict::none, "no VOD titled \"Again\""));
  record(log, again, cut_at(2, kFirstCut + 60'000));
  record(log, again, answer(2, CutVerdict::success, 200, "", "vod-a"));
  record(log, unreadable, lookup());
  record(log, unreadable, lookup_answer(LookupVerdict::unreadable, "HTTP 500"));
  record(log, left, lookup());
  // The run ends with a lookup out: the next run's record folds it as Interrupted.
  new_run(log, {&left});

  const LedgerContents c = read_ledger_text(log.text, "l");
  ASSERT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  for (const Job* j : {&found, &none, &several, &again, &unreadable, &left})
    expect_same_life(c.find(j->spec)->life, j->life, j->spec.key());
  // And they are what the lifecycle promises.
  EXPECT_EQ(c.find(found.spec)->life.state, JobState::succeeded);
  EXPECT_TRUE(c.find(found.spec)->life.recovered);
  EXPECT_EQ(c.find(found.spec)->life.live_title, "Match \"day\" ü");
  EXPECT_EQ(c.find(none.spec)->life.state, JobState::in_doubt);
  EXPECT_EQ(c.find(several.spec)->life.state, JobState::in_doubt);
  EXPECT_EQ(c.find(again.spec)->life.state, JobState::succeeded);
  EXPECT_FALSE(c.find(again.spec)->life.recovered);
  EXPECT_TRUE(c.find(unreadable.spec)->life.doubt);
  EXPECT_EQ(next_step(c.find(unreadable.spec)->life, Budget{}), Next::lookup);
  EXPECT_EQ(c.find(left.spec)->life.phase, Phase::idle);
  EXPECT_EQ(next_step(c.find(left.spec)->life, Budget{}), Next::lookup);
  // A lookup answer's record has the documented shape.
  for (const std::string& l : lines_of(log.text)) {
    if (l.find("\"op\":\"lookup\"") == std::string::npos || l.find("\"type\":\"answer\"") == std::string::npos)
      continue;
    const auto o = boost::json::parse(l).as_object();
    for (const char* k : {"verdict", "videoPublicId", "candidates", "httpStatus", "error", "elapsedMs", "state"})
      EXPECT_TRUE(o.contains(k)) << k << " in " << l;
  }
}

TEST(LedgerClip, ACutDispatchsTsIsWhenItLeftAndTheFirstCutsIsWhereALookupStarts) {
  MemoryLog log;
  Job j = clip(clip_job("v", "Goal"));
  append_run(log, kTarget);
  append_job(log, j.spec);
  record(log, j, cut_at(1, kFirstCut));
  record(log, j, answer(1, CutVerdict::retry, 429, "HTTP 429"));
  record(log, j, cut_at(2, kFirstCut + 61'001));
  EXPECT_NE(log.text.find(R"("ts":"2024-05-23T20:09:29.810Z")"), std::string::npos) << log.text;
  EXPECT_NE(log.text.find(R"("ts":"2024-05-23T20:10:30.811Z")"), std::string::npos) << log.text;
  const LedgerContents c = read_ledger_text(log.text, "l");
  ASSERT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  EXPECT_EQ(c.find(j.spec)->life.first_cut_at_ms, kFirstCut);
  EXPECT_EQ(j.life.first_cut_at_ms, kFirstCut);
}

TEST(LedgerClip, AFormat2LedgerStillReads) {
  const std::string text =
      R"({"type":"run","ts":"2024-05-01T10:00:00.000Z","format":2,"baseUrl":"https://h","authScheme":"bearer","caFile":null,"tool":"batchcut 0.1.9"})"
      "\n"
      R"({"type":"job","ts":"2024-05-01T10:00:00.001Z","projectId":"p","liveVideoId":"v","videoVisibilityOptionId":1,)"
      R"("fromMilisecond":null,"toMilisecond":null,"dateTimeFrom":null,"dateTimeTo":null,"label":"old"})"
      "\n"
      R"({"type":"dispatch","ts":"2024-05-01T10:00:01.500Z","projectId":"p","liveVideoId":"v","op":"cut","attempt":1})"
      "\n"
      R"({"type":"answer","ts":"2024-05-01T10:00:02.000Z","projectId":"p","liveVideoId":"v","op":"cut","attempt":1,)"
      R"("verdict":"retry_in_doubt","httpStatus":503,"videoPublicId":null,"error":"HTTP 503","messages":[],)"
      R"("elapsedMs":5,"state":"pending"})"
      "\n"
      R"({"type":"dispatch","ts":"2024-05-01T10:00:03.000Z","projectId":"p","liveVideoId":"v","op":"read","attempt":1})"
      "\n"
      R"({"type":"answer","ts":"2024-05-01T10:00:03.100Z","projectId":"p","liveVideoId":"v","op":"read","attempt":1,)"
      R"("verdict":"stopped","httpStatus":200,"error":"","elapsedMs":1,"state":"pending"})"
      "\n";
  const LedgerContents c = read_ledger_text(text, "old.jsonl");
  ASSERT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  ASSERT_EQ(c.jobs.size(), 1u);
  const JobRecord* r = c.find("p", "v");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->spec.kind, JobKind::stop_and_cut);
  EXPECT_EQ(r->spec.label, "old");
  EXPECT_EQ(r->life.kind, JobKind::stop_and_cut);
  EXPECT_TRUE(r->life.doubt);
  EXPECT_TRUE(r->life.stopped);
  EXPECT_EQ(r->life.live_title, "");  // format 2 never recorded it
  EXPECT_EQ(r->life.first_cut_at_ms, 1'714'557'601'500);
  EXPECT_EQ(next_step(r->life, Budget{}), Next::lookup);
}

TEST(LedgerVod, AVodRecordSetsTheJobsVodAndOnlyForItsOwnSucceededVod) {
  MemoryLog log;
  Job ok{whole_job("p", "ok")}, pend{whole_job("p", "pend")};
  append_run(log, kTarget);
  append_job(log, ok.spec);
  append_job(log, pend.spec);
  record(log, ok, cut(1));
  record(log, ok, answer(1, CutVerdict::success, 201, "", "vod-ok"));
  record(log, pend, cut(1));
  record(log, pend, answer(1, CutVerdict::retry, 429, "HTTP 429"));
  VodObservation v;
  v.video_public_id = "vod-ok";
  v.status = PublishStatus::processing;
  v.http_status = 200;
  append_vod(log, ok.spec, v);  // 8
  v.status = PublishStatus::ready;
  v.duration_s = 60.5;
  v.expected_s = 60.0;
  append_vod(log, ok.spec, v);  // 9: the latest is what counts
  LedgerContents c = read_ledger_text(log.text, "l");
  ASSERT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  const JobRecord* r = c.find(ok.spec);
  ASSERT_TRUE(r->vod);
  EXPECT_EQ(r->vod->video_public_id, "vod-ok");
  EXPECT_EQ(r->vod->status, PublishStatus::ready);
  EXPECT_EQ(r->vod->duration_s, 60.5);
  EXPECT_EQ(r->vod->expected_s, 60.0);
  EXPECT_EQ(r->vod->http_status, 200);
  EXPECT_FALSE(r->vod->ts.empty());
  EXPECT_EQ(r->life.state, JobState::succeeded);  // a vod record changes no state
  EXPECT_FALSE(c.find(pend.spec)->vod);

  // A vod record for a job that is not succeeded, or of another VOD: an error, not taken.
  v.video_public_id = "vod-ok";
  append_vod(log, pend.spec, v);  // 10
  v.video_public_id = "vod-other";
  v.status = PublishStatus::failed;
  append_vod(log, ok.spec, v);  // 11
  c = read_ledger_text(log.text, "l");
  EXPECT_EQ(error_strings(c),
            (std::vector<std::string>{
                "l:10: videoPublicId: a vod record for " + pend.spec.key() + ", whose job has no VOD (pending)",
                "l:11: videoPublicId: a vod record for " + ok.spec.key() + ", whose job has the VOD vod-ok",
            }));
  EXPECT_FALSE(c.find(pend.spec)->vod);
  EXPECT_EQ(c.find(ok.spec)->vod->status, PublishStatus::ready);
}

TEST(LedgerClip, AClipRecordWithABadTitleOrClipIdIsRefusedWithFileAndLine) {
  const std::string run = R"({"type":"run","format":3,"baseUrl":"https://h","authScheme":"bearer","caFile":null})";
  const std::string job_head =
      R"({"type":"job","projectId":"p","liveVideoId":"v","videoVisibilityOptionId":1,"fromMilisecond":0,)"
      R"("toMilisecond":1000,"dateTimeFrom":null,"dateTimeTo":null,"label":"",)";
  const std::string long_title(1025, 'x');
  const std::string long_id(129, 'c');
  const std::string text = run + "\n" +
                           job_head + R"("kind":"clip"})" + "\n" +                          // 2: no name
                           job_head + R"("kind":"clip","clipId":")" + long_id + R"(","title":"t"})" + "\n" +  // 3
                           job_head + R"("kind":"clip","clipId":"c1","title":")" + long_title + R"("})" + "\n" +  // 4
                           job_head + R"("kind":"clip","clipId":"c2"})" + "\n" +             // 5: no title
                           job_head + R"("kind":"movie","title":"t"})" + "\n" +              // 6
                           job_head + R"("title":"t"})" + "\n" +                             // 7: not a clip
                           job_head + R"("kind":"clip","title":"ok"})" + "\n";               // 8: good
  const LedgerContents c = read_ledger_text(text, "bad.jsonl");
  EXPECT_EQ(error_strings(c),
            (std::vector<std::string>{
                "bad.jsonl:2: title: a clip's record must name it by clipId or title",
                // The manifest's own rules and messages (job/validate.hpp).
                "bad.jsonl:3: clipId: " + *check_clip_id(long_id),
                "bad.jsonl:4: title: must be at most 256 characters, got 1025",
                "bad.jsonl:5: title: a clip needs a title: it must not be empty",
                "bad.jsonl:6: kind: unknown kind 'movie' (expected stop-and-cut or clip)",
                "bad.jsonl:7: title: only a clip has a title",
            }));
  ASSERT_EQ(c.jobs.size(), 1u);
  EXPECT_EQ(c.jobs[0].spec.title, "ok");
}

// A failed or in-doubt clip exported as a manifest comes back as the same clip: run as a
// stop-and-cut, it would stop a stream that was only to be clipped.
TEST(LedgerExport, AManifestExportKeepsAClipAClip) {
  MemoryLog log;
  Job by_id = clip(clip_job("lv1", "Tor für \"Köln\", 1:0", "goal-1"));
  Job by_title = clip(clip_job("lv2", "Interview"));
  append_run(log, kTarget);
  for (Job* j : {&by_id, &by_title}) {
    append_job(log, j->spec);
    record(log, *j, cut(1));
    record(log, *j, answer(1, CutVerdict::refused, 400, "HTTP 400"));
  }
  const LedgerContents c = read_ledger_text(log.text, "l");
  ASSERT_TRUE(c.errors.empty()) << ::testing::PrintToString(error_strings(c));
  std::ostringstream csv, yaml;
  export_manifest_csv(c, {JobState::failed}, csv);
  export_manifest_yaml(c, {JobState::failed}, yaml);
  for (const auto& [text, format] :
       {std::pair{csv.str(), ManifestFormat::csv}, std::pair{yaml.str(), ManifestFormat::yaml}}) {
    const Manifest m = parse_manifest(text, format, "again");
    ASSERT_TRUE(m.ok()) << m.errors[0].to_string() << "\n" << text;
    ASSERT_EQ(m.jobs.size(), 2u) << text;
    const Job* want[] = {&by_id, &by_title};
    for (std::size_t i = 0; i < 2; ++i) {
      EXPECT_EQ(m.jobs[i].kind, JobKind::clip) << text;
      EXPECT_TRUE(m.jobs[i].identity() == want[i]->spec.identity()) << i << "\n" << text;
      EXPECT_TRUE(m.jobs[i].same_request(want[i]->spec)) << i << "\n" << text;
    }
  }
}

