// Reading a VOD on the manage API (vod/read_vod.hpp) and tracking VODs until they are final
// (vod/tracker.hpp), against a scripted transport on a simulated clock.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <algorithm>
#include <functional>
#include <map>
#include <sstream>

#include "batchcut/ledger/export.hpp"
#include "batchcut/ledger/writer.hpp"

#include "batchcut/run/clock.hpp"
#include "batchcut/vod/read_vod.hpp"
#include "batchcut/vod/tracker.hpp"

using namespace batchcut;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

JobSpec ms_job(std::int32_t from, std::int32_t to) {
  JobSpec j;
  j.project_id = "p";
  j.live_video_id = "lv";
  j.range = RangeKind::ms;
  j.from_ms = from;
  j.to_ms = to;
  return j;
}

std::string answer(int status_id, const std::string& duration = "60") {
  return R"({"success":true,"errors":[],"messages":[],"result":{"publicId":"v1","title":"t","duration":)" +
         duration + R"(,"insertDate":"2026-12-03T06:00:00Z","publishStatusId":)" + std::to_string(status_id) +
         R"(,"publishStatusName":"x","liveCutStartDate":null}})";
}

}  // namespace

TEST(ReadVod, TargetPercentEncodesEachSegment) {
  BaseUrl base = *parse_base_url("https://vp-api.gjirafa.tech/prefix");
  EXPECT_EQ(vod_target(base, "proj-1", "vid_2"), "/prefix/api/projects/proj-1/videos/vid_2");
  EXPECT_EQ(vod_target(base, "a/b", "c?d#e f"), "/prefix/api/projects/a%2Fb/videos/c%3Fd%23e%20f");
}

TEST(ReadVod, StatusIdsAndDuration) {
  auto o = parse_vod_answer(200, answer(2, "61.5"), "v1");
  EXPECT_EQ(o.status, PublishStatus::ready);
  ASSERT_TRUE(o.duration_s);
  EXPECT_DOUBLE_EQ(*o.duration_s, 61.5);
  EXPECT_EQ(o.http_status, 200);
  EXPECT_EQ(o.video_public_id, "v1");
  EXPECT_TRUE(o.error.empty());
  EXPECT_EQ(parse_vod_answer(200, answer(1), "v1").status, PublishStatus::processing);
  EXPECT_EQ(parse_vod_answer(200, answer(4), "v1").status, PublishStatus::failed);
  EXPECT_EQ(parse_vod_answer(200, answer(8), "v1").status, PublishStatus::reencoding);
  // A quoted number is read; null is "not known".
  o = parse_vod_answer(200, answer(2, "\"42.25\""), "v1");
  ASSERT_TRUE(o.duration_s);
  EXPECT_DOUBLE_EQ(*o.duration_s, 42.25);
  o = parse_vod_answer(200, answer(1, "null"), "v1");
  EXPECT_EQ(o.status, PublishStatus::processing);
  EXPECT_FALSE(o.duration_s);
}

TEST(ReadVod, UnknownStatusIdIsNamed) {
  const auto o = parse_vod_answer(200, answer(3), "v1");
  EXPECT_EQ(o.status, PublishStatus::unknown);
  EXPECT_EQ(o.error, "unknown publishStatusId 3");
}

TEST(ReadVod, NotFoundAndBadBodiesAreUnknownWithAReason) {
  auto o = parse_vod_answer(404, "", "v1");
  EXPECT_EQ(o.status, PublishStatus::unknown);
  EXPECT_EQ(o.error, "not found (yet)");
  EXPECT_EQ(o.http_status, 404);
  o = parse_vod_answer(200, "<html>hi</html>", "v1");
  EXPECT_EQ(o.status, PublishStatus::unknown);
  EXPECT_EQ(o.error, "HTTP 200: the body is not JSON");
  o = parse_vod_answer(200, R"({"result":[]})", "v1");
  EXPECT_EQ(o.error, "HTTP 200: the body has no result object");
  o = parse_vod_answer(200, R"({"result":{"publishStatusId":"2"}})", "v1");
  EXPECT_EQ(o.status, PublishStatus::unknown);
  EXPECT_EQ(o.error, "the result has no publishStatusId (a whole number)");
  o = parse_vod_answer(200, answer(2, "\"long\""), "v1");
  EXPECT_EQ(o.status, PublishStatus::unknown);
  EXPECT_EQ(o.error, "the result's duration is not a number of seconds");
  o = parse_vod_answer(500, "oops", "v1");
  EXPECT_EQ(o.error, "HTTP 500");
}

TEST(ReadVod, RequestedDuration) {
  EXPECT_DOUBLE_EQ(*requested_duration_s(ms_job(1000, 61500)), 60.5);
  JobSpec dt = ms_job(0, 0);
  dt.range = RangeKind::datetime;
  dt.from_time = utc_time{} + 10s;
  dt.to_time = utc_time{} + 3610s + 250ms;
  EXPECT_DOUBLE_EQ(*requested_duration_s(dt), 3600.25);
  JobSpec whole = ms_job(0, 0);
  whole.range = RangeKind::whole;
  EXPECT_FALSE(requested_duration_s(whole));
}

TEST(ReadVod, MismatchIsOverMaxOfTwoSecondsAndOnePercent) {
  // 60 s expected: the tolerance is 2 s.
  EXPECT_FALSE(duration_mismatch(62.0, 60.0));
  EXPECT_TRUE(duration_mismatch(62.01, 60.0));
  EXPECT_TRUE(duration_mismatch(57.9, 60.0));
  // 1000 s expected: 1 % is 10 s.
  EXPECT_FALSE(duration_mismatch(990.0, 1000.0));
  EXPECT_TRUE(duration_mismatch(989.9, 1000.0));
  // A tolerance given wins; nothing to compare: no mismatch.
  EXPECT_TRUE(duration_mismatch(60.6, 60.0, 0.5));
  EXPECT_FALSE(duration_mismatch(std::nullopt, 60.0));
  EXPECT_FALSE(duration_mismatch(60.0, std::nullopt));
}

// ---- the tracker ----

namespace {

// Answers each GET with what `script` says for (video, how many times it was asked before);
// records when every request arrived.
using Script = std::function<AttemptResult(const std::string& video, int nth)>;

struct Server {
  Script script;
  std::chrono::milliseconds handshake{0};  // a new connection's first request arrives this late
  std::vector<steady_time> times;
  std::map<std::string, std::vector<steady_time>> per_video;
};

class ScriptedConnection final : public Connection {
 public:
  explicit ScriptedConnection(Server& s) : s_(s) {}
  asio::awaitable<AttemptResult> round_trip(const HttpRequest& request, std::chrono::milliseconds) override {
    EXPECT_FALSE(request.post);
    if (!opened_ && s_.handshake.count() > 0) {  // the first request arrives after the handshake
      opened_ = true;
      RunTimer t(co_await asio::this_coro::executor);
      t.expires_after(s_.handshake);
      co_await t.wait();
    }
    const std::string video = request.target.substr(request.target.rfind('/') + 1);
    const auto now = RunClock::now();
    s_.times.push_back(now);
    auto& seen = s_.per_video[video];
    seen.push_back(now);
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    AttemptResult r = s_.script(video, static_cast<int>(seen.size()) - 1);
    r.request_sent = true;
    co_return r;
  }

 private:
  Server& s_;
  bool opened_ = false;
};

class ScriptedTransport final : public Transport {
 public:
  explicit ScriptedTransport(Server& s) : s_(s) {}
  std::unique_ptr<Connection> make_connection() override {
    ++opened_;
    return std::make_unique<ScriptedConnection>(s_);
  }
  std::size_t connections_opened() const override { return opened_; }

 private:
  Server& s_;
  std::size_t opened_ = 0;
};

AttemptResult http(int status, std::string body = "", std::string retry_after = "") {
  AttemptResult r;
  r.status = status;
  r.body = std::move(body);
  r.retry_after = std::move(retry_after);
  return r;
}

struct Tracked {
  std::optional<TrackSummary> summary;
  std::vector<std::pair<std::size_t, VodObservation>> seen;
};

Tracked track(Server& server, TrackOptions o, std::size_t n, std::int32_t to_ms = 60000) {
  SimulatedClock clock;
  asio::io_context io(1);
  ScriptedTransport transport(server);
  std::vector<TrackItem> items;
  for (std::size_t i = 0; i < n; ++i) items.push_back({ms_job(0, to_ms), "v" + std::to_string(i)});
  Tracked t;
  o.seed = 3;
  Tracker tracker(o, transport, [&](std::size_t i, const VodObservation& v) { t.seen.emplace_back(i, v); });
  tracker.start(io.get_executor(), std::move(items), [&](TrackSummary s) { t.summary = std::move(s); });
  const auto hang_guard = clock.now() + std::chrono::hours(10);
  while (!t.summary && clock.now() < hang_guard) {
    io.restart();
    if (io.poll_one() > 0) continue;
    if (clock.next_event() == steady_time::max()) break;
    clock.advance();
  }
  // Let the workers finish (a fatal stop leaves paced ones to wake and see it).
  while (clock.next_event() != steady_time::max() && clock.now() < hang_guard) {
    io.restart();
    if (io.poll() > 0) continue;
    clock.advance();
  }
  return t;
}

}  // namespace

TEST(Tracker, PollsUntilReadyAtThePollInterval) {
  Server server;
  server.script = [](const std::string&, int nth) {
    if (nth == 0) return http(404, R"({"success":false})");
    return http(200, answer(nth < 3 ? 1 : 2, "60.4"));
  };
  TrackOptions o;
  o.poll_interval = 30s;
  o.rate = 100;
  const auto t = track(server, o, 4);
  ASSERT_TRUE(t.summary);
  EXPECT_FALSE(t.summary->timed_out);
  EXPECT_FALSE(t.summary->fatal);
  EXPECT_EQ(t.summary->requests, 16u);
  for (const auto& v : t.summary->latest) {
    EXPECT_EQ(v.status, PublishStatus::ready);
    EXPECT_FALSE(v.duration_mismatch);
    EXPECT_DOUBLE_EQ(*v.expected_s, 60.0);
  }
  for (const auto& [video, times] : server.per_video) {
    ASSERT_EQ(times.size(), 4u) << video;
    for (std::size_t k = 1; k < times.size(); ++k) EXPECT_GE(times[k] - times[k - 1], 30s) << video;
  }
  // Every answer reaches the sink: 404 first, then processing twice, then ready.
  ASSERT_EQ(t.seen.size(), 16u);
  EXPECT_EQ(t.seen[0].second.error, "not found (yet)");
  EXPECT_EQ(t.seen.back().second.status, PublishStatus::ready);
}

TEST(Tracker, NeverMoreThanTheRateInAnySecond) {
  Server server;
  server.script = [](const std::string&, int nth) { return http(200, answer(nth < 2 ? 1 : 2)); };
  TrackOptions o;
  o.poll_interval = 2s;  // shorter than the queue takes: polls pile up behind the bucket
  o.rate = 5;
  o.concurrency = 16;
  const auto t = track(server, o, 40);
  ASSERT_TRUE(t.summary);
  ASSERT_EQ(server.times.size(), 120u);
  std::size_t worst = 0;
  for (std::size_t lo = 0, hi = 0; hi < server.times.size(); ++hi) {
    while (server.times[hi] - server.times[lo] >= 1s) ++lo;
    worst = std::max(worst, hi - lo + 1);
  }
  EXPECT_EQ(worst, 5u);
  // 120 requests at 5/s: 24 s less one interval, give or take.
  EXPECT_GE(server.times.back() - server.times.front(), 23s);
}

TEST(Tracker, BacksOffOnThrottlingAndHonoursRetryAfter) {
  Server server;
  server.script = [](const std::string&, int nth) {
    if (nth == 0) return http(429, "", "7");
    if (nth == 1) return http(503, "Backend fetch failed");
    return http(200, answer(2));
  };
  TrackOptions o;
  o.backoff.base = 500ms;
  o.backoff.cap = 1s;
  const auto t = track(server, o, 1);
  ASSERT_TRUE(t.summary);
  const auto& times = server.per_video["v0"];
  ASSERT_EQ(times.size(), 3u);
  EXPECT_GE(times[1] - times[0], 7s) << "Retry-After was not honoured";
  EXPECT_LT(times[2] - times[1], 1s) << "a 503 backs off, it does not wait a poll interval";
  EXPECT_EQ(t.summary->latest[0].status, PublishStatus::ready);
}

TEST(Tracker, FailedIsFinalAndAMismatchIsFlagged) {
  Server server;
  server.script = [](const std::string& v, int) { return http(200, v == "v0" ? answer(4) : answer(2, "50")); };
  const auto t = track(server, TrackOptions{}, 2);
  ASSERT_TRUE(t.summary);
  EXPECT_EQ(server.times.size(), 2u);
  EXPECT_EQ(t.summary->latest[0].status, PublishStatus::failed);
  EXPECT_EQ(t.summary->latest[1].status, PublishStatus::ready);
  EXPECT_TRUE(t.summary->latest[1].duration_mismatch);  // 50 s for a 60 s cut
}

TEST(Tracker, A401StopsEverything) {
  Server server;
  server.script = [](const std::string&, int) { return http(401, R"({"success":false})"); };
  TrackOptions o;
  o.rate = 1;
  const auto t = track(server, o, 5);
  ASSERT_TRUE(t.summary);
  EXPECT_TRUE(t.summary->fatal);
  EXPECT_NE(t.summary->fatal_error.find("401"), std::string::npos);
  EXPECT_EQ(server.times.size(), 1u) << "requests went on after a 401";
}

TEST(Tracker, GivesUpAtTheTimeout) {
  Server server;
  server.script = [](const std::string&, int) { return http(200, answer(1)); };
  TrackOptions o;
  o.poll_interval = 30s;
  o.timeout = 5min;
  const auto t = track(server, o, 1);
  ASSERT_TRUE(t.summary);
  EXPECT_TRUE(t.summary->timed_out);
  EXPECT_EQ(t.summary->latest[0].status, PublishStatus::processing);
  EXPECT_EQ(server.times.size(), 11u);  // at 0, 30 s, ..., 300 s
}

// ---- what status and export show of the VODs ----

namespace {

class TextLog final : public LedgerLog {
 public:
  std::string text;
  Seq append(std::string_view line) override {
    text += line;
    return ++n_;
  }
  void when_durable(Seq, std::function<void()> done) override { done(); }
  void flush() override {}
  std::optional<std::string> failure() const override { return std::nullopt; }

 private:
  Seq n_ = 0;
};

// A clip that succeeded, and a vod record of it (Ready, 50 s for a 60 s range).
LedgerContents tracked_clip() {
  TextLog log;
  append_run(log, RunTarget{"https://x", "bearer", std::nullopt, std::nullopt});
  JobSpec clip = ms_job(0, 60000);
  clip.kind = JobKind::clip;
  clip.title = "First goal";
  clip.clip_id = "goal-1";
  append_job(log, clip);
  Lifecycle life;
  life.kind = JobKind::clip;
  step(life, Dispatch{Op::cut, 1});
  append_event(log, clip, Dispatch{Op::cut, 1}, life.state);
  CutAnswer ok;
  ok.attempt = 1;
  ok.verdict = CutVerdict::success;
  ok.http_status = 200;
  ok.video_public_id = "vod-9";
  step(life, ok);
  append_event(log, clip, ok, life.state);
  VodObservation v = parse_vod_answer(200, answer(2, "50"), "vod-9");
  v.expected_s = 60;
  v.duration_mismatch = true;
  append_vod(log, clip, v);
  auto c = read_ledger_text(log.text, "l");
  EXPECT_TRUE(c.errors.empty()) << (c.errors.empty() ? "" : c.errors[0].to_string());
  return c;
}

}  // namespace

TEST(VodExport, RowsCarryKindClipAndTheVodAsLastRead) {
  const auto c = tracked_clip();
  std::ostringstream csv, jsonl;
  export_csv(c, {}, csv);
  EXPECT_NE(csv.str().find(",kind,title,clipId,publishStatus,duration,durationMismatch,recovered\n"), std::string::npos)
      << csv.str();
  EXPECT_NE(csv.str().find(",clip,First goal,goal-1,ready,50,true,false\n"), std::string::npos) << csv.str();
  export_jsonl(c, {}, jsonl);
  const auto o = boost::json::parse(jsonl.str()).as_object();
  EXPECT_EQ(o.at("kind").as_string(), "clip");
  EXPECT_EQ(o.at("clipId").as_string(), "goal-1");
  EXPECT_EQ(o.at("publishStatus").as_string(), "ready");
  EXPECT_EQ(o.at("duration").to_number<double>(), 50.0);
  EXPECT_EQ(o.at("durationMismatch").as_bool(), true);
  EXPECT_EQ(o.at("recovered").as_bool(), false);
}

TEST(Tracker, NothingIsSentAfterTheTimeoutEvenWithAQueueBehindTheRate) {
  Server server;
  server.script = [](const std::string&, int) { return http(200, answer(1)); };
  TrackOptions o;
  o.rate = 1;
  o.timeout = 10s;
  const auto t = track(server, o, 100);
  ASSERT_TRUE(t.summary);
  EXPECT_TRUE(t.summary->timed_out);
  ASSERT_FALSE(server.times.empty());
  EXPECT_LE(server.times.back() - server.times.front(), 10s);
  EXPECT_EQ(server.times.size(), 11u);  // at 0, 1 s, ..., 10 s
  std::size_t not_read = 0;
  for (const auto& v : t.summary->latest) not_read += v.error == "not read";
  EXPECT_EQ(not_read, 89u);
}

// A connection's first request arrives late by its handshake; were every worker's first
// request paced as if it left at once, they would land together on the paced ones after them.
TEST(Tracker, NewConnectionsDoNotBunchArrivalsOverTheRate) {
  Server server;
  server.handshake = 150ms;
  server.script = [](const std::string&, int) { return http(200, answer(2)); };
  TrackOptions o;
  o.rate = 20;
  o.concurrency = 16;
  const auto t = track(server, o, 100);
  ASSERT_TRUE(t.summary);
  ASSERT_EQ(server.times.size(), 100u);
  std::sort(server.times.begin(), server.times.end());
  std::size_t worst = 0;
  for (std::size_t lo = 0, hi = 0; hi < server.times.size(); ++hi) {
    while (server.times[hi] - server.times[lo] >= 1s) ++lo;
    worst = std::max(worst, hi - lo + 1);
  }
  EXPECT_LE(worst, 21u);  // the rate, and at most the one request a handshake delayed
}
