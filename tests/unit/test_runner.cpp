// The runner's scheduling against a fake transport (the seam in transport.hpp): no sockets,
// no sleeps; every round trip only yields to the event loop once.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <filesystem>
#include <map>
#include <random>

#include "batchcut/ledger/writer.hpp"
#include "batchcut/run/clock.hpp"
#include "batchcut/run/runner.hpp"

using namespace batchcut;
namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

// What the fake server saw: per target, how many requests; and how many were in flight.
struct Seen {
  std::map<std::string, int> requests;  // per video, every request (cuts and reads)
  std::map<std::string, int> cuts;      // per video, stop-and-cut requests
  int in_flight = 0, max_in_flight = 0;
  int retries_in_flight = 0, max_retries_in_flight = 0;
  int first_attempts_seen = 0;
};

// Every stop-and-cut fails twice (503, in doubt), then succeeds; a state read says the
// stream can still be cut. A request is a retry when its video was asked about before.
class FakeConnection final : public Connection {
 public:
  explicit FakeConnection(Seen& seen) : seen_(seen) {}
  asio::awaitable<AttemptResult> round_trip(const HttpRequest& request,
                                            std::chrono::milliseconds) override {
    std::string video = request.target.substr(request.target.find("/live-videos/"));
    if (video.ends_with("/stop-and-cut")) video.resize(video.size() - 13);
    const bool retry = seen_.requests[video]++ > 0;
    if (!retry) ++seen_.first_attempts_seen;
    ++seen_.in_flight;
    seen_.max_in_flight = std::max(seen_.max_in_flight, seen_.in_flight);
    if (retry) {
      ++seen_.retries_in_flight;
      seen_.max_retries_in_flight = std::max(seen_.max_retries_in_flight, seen_.retries_in_flight);
    }
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);  // let others run
    --seen_.in_flight;
    if (retry) --seen_.retries_in_flight;

    AttemptResult r;
    r.request_sent = true;
    if (!request.post) {
      r.status = 200;
      r.body = R"({"result":{"canStopAndCut":true}})";
    } else if (++seen_.cuts[video] <= 2) {
      r.status = 503;
      r.body = "<html>Backend fetch failed</html>";
    } else {
      r.status = 200;
      r.body = R"({"result":{"videoPublicId":"vod)" + video.substr(13) + R"("}})";
    }
    co_return r;
  }

 private:
  Seen& seen_;
};

class FakeTransport final : public Transport {
 public:
  explicit FakeTransport(Seen& seen) : seen_(seen) {}
  std::unique_ptr<Connection> make_connection() override {
    ++opened_;
    return std::make_unique<FakeConnection>(seen_);
  }
  std::size_t connections_opened() const override { return opened_; }

 private:
  Seen& seen_;
  std::size_t opened_ = 0;
};

struct TempLedger {
  fs::path path = fs::temp_directory_path() /
                  ("batchcut-runner-test-" + std::to_string(std::random_device{}()) + ".jsonl");
  ~TempLedger() {
    std::error_code ec;
    fs::remove(path, ec);
  }
};

RunSummary run(const RunOptions& options, LedgerWriter& ledger, Transport& transport, int jobs) {
  std::vector<RunJob> work;
  for (int i = 0; i < jobs; ++i) {
    JobSpec spec;
    spec.project_id = "p";
    spec.live_video_id = "lv" + std::to_string(i);
    append_job(ledger, spec);
    work.push_back({spec, {}, false});
  }
  asio::io_context io(1);
  std::optional<RunSummary> summary;
  Runner runner(options, transport, ledger, nullptr);
  runner.start(io.get_executor(), std::move(work), [&](RunSummary s) { summary = std::move(s); });
  io.run_for(std::chrono::seconds(30));  // hang guard
  runner.close_gate();
  EXPECT_TRUE(summary.has_value()) << "the run did not finish";
  return summary.value_or(RunSummary{});
}

RunOptions fast_options() {
  RunOptions o;
  o.concurrency = 10;
  o.rate = 0;
  o.max_attempts = 5;
  o.backoff.base = std::chrono::milliseconds(1);
  o.backoff.cap = std::chrono::milliseconds(2);
  o.reconcile_delay = std::chrono::milliseconds(0);
  o.seed = 1;
  return o;
}

}  // namespace

TEST(RunnerScheduling, RetriesHoldAtMostTheirBudgetOfSlotsWhileFirstAttemptsGoOn) {
  TempLedger tmp;
  auto ledger = LedgerWriter::open(tmp.path, LedgerSync::none);
  Seen seen;
  FakeTransport transport(seen);
  const auto summary = run(fast_options(), *ledger, transport, 200);  // 20 % of 10 = 2 slots
  EXPECT_EQ(summary.states.at(JobState::succeeded), 200u);
  EXPECT_EQ(summary.requests, 600u);  // two 503s and a success per job
  EXPECT_EQ(summary.reconciles, 400u);  // a state read after each in-doubt 503
  EXPECT_EQ(seen.max_in_flight, 10);    // every slot was used...
  EXPECT_LE(seen.max_retries_in_flight, 2);  // ...but retries never held more than their share
  EXPECT_GE(seen.max_retries_in_flight, 1);
  EXPECT_EQ(summary.connections, 10u);
  EXPECT_EQ(seen.first_attempts_seen, 200);
}

TEST(RunnerScheduling, AWiderBudgetLetsRetriesUseMoreSlots) {
  TempLedger tmp;
  auto ledger = LedgerWriter::open(tmp.path, LedgerSync::none);
  Seen seen;
  FakeTransport transport(seen);
  auto options = fast_options();
  options.retry_budget_percent = 100;
  const auto summary = run(options, *ledger, transport, 200);
  EXPECT_EQ(summary.states.at(JobState::succeeded), 200u);
  EXPECT_GT(seen.max_retries_in_flight, 2);  // the cap above was the budget, not chance
}

TEST(RunnerScheduling, HaltAfterFailuresStopsCleanlyAndLeavesTheRestPending) {
  TempLedger tmp;
  auto ledger = LedgerWriter::open(tmp.path, LedgerSync::none);
  Seen seen;
  FakeTransport transport(seen);
  auto options = fast_options();
  options.halt_after_failures = 5;  // the fake fails every job's first two cuts
  const auto summary = run(options, *ledger, transport, 100);
  EXPECT_EQ(summary.stop, StopReason::halted);
  EXPECT_NE(summary.abort_reason.find("5 failed attempts"), std::string::npos) << summary.abort_reason;
  // Requests in flight when it tripped finish; nothing new starts.
  EXPECT_LE(summary.requests, 5u + 10u);
  std::size_t final_states = 0;
  for (const auto& [state, n] : summary.states) final_states += n;
  EXPECT_EQ(final_states, 100u);
  EXPECT_GE(summary.states.at(JobState::pending), 85u);
}

// ---- scheduling on a simulated clock ----

namespace {

// Every tenth stream's first cut gets a proxy's 503 (in doubt), its read-back says it can
// still be cut, its second cut succeeds; the others succeed at once. Every request takes
// 20 ms. Notes when each happened.
struct Timeline {
  std::map<std::string, std::vector<steady_time>> at;  // per video: first answer, read, second cut
};

class TimedConnection final : public Connection {
 public:
  explicit TimedConnection(Timeline& t) : t_(t) {}
  asio::awaitable<AttemptResult> round_trip(const HttpRequest& request, std::chrono::milliseconds) override {
    std::string video = request.target.substr(request.target.find("/live-videos/") + 13);
    if (video.ends_with("/stop-and-cut")) video.resize(video.size() - 13);
    const bool tenth = std::stoi(video.substr(2)) % 10 == 0;
    std::vector<steady_time> unused;
    auto& times = tenth ? t_.at[video] : unused;
    if (!times.empty()) times.push_back(RunClock::now());  // a read, or the second cut, leaves
    RunTimer latency(co_await asio::this_coro::executor);
    latency.expires_after(std::chrono::milliseconds(20));
    co_await latency.wait();
    AttemptResult r;
    r.request_sent = true;
    r.status = 200;
    if (!request.post) {
      r.body = R"({"result":{"canStopAndCut":true,"liveStatus":"Live"}})";
    } else if (tenth && times.empty()) {
      times.push_back(RunClock::now());  // the first answer
      r.status = 503;
      r.body = "<html>Backend fetch failed</html>";
    } else {
      r.body = R"({"result":{"videoPublicId":"vod-)" + video + R"("}})";
    }
    co_return r;
  }

 private:
  Timeline& t_;
};

class TimedTransport final : public Transport {
 public:
  explicit TimedTransport(Timeline& t) : t_(t) {}
  std::unique_ptr<Connection> make_connection() override {
    ++opened_;
    return std::make_unique<TimedConnection>(t_);
  }
  std::size_t connections_opened() const override { return opened_; }

 private:
  Timeline& t_;
  std::size_t opened_ = 0;
};

// An in-memory ledger whose records are durable at once.
class InstantLedger final : public LedgerLog {
 public:
  Seq append(std::string_view) override { return ++n_; }
  void when_durable(Seq, std::function<void()> done) override { done(); }
  void flush() override {}
  std::optional<std::string> failure() const override { return std::nullopt; }

 private:
  Seq n_ = 0;
};

}  // namespace

// The issue's measurement: 1,500 jobs at --rate 60, a 2 s backoff cap and a 0.5 s settle.
// Retries and read-backs used to wait behind every fresh job (23-25 s); now a due one goes
// first, so each waits about its settle delay, whatever the queue.
TEST(RunnerScheduling, ADueReadBackOrRetryGoesBeforeFreshJobs) {
  SimulatedClock clock;
  asio::io_context io(1);
  Timeline timeline;
  TimedTransport transport(timeline);
  InstantLedger ledger;
  RunOptions o;
  o.concurrency = 8;
  o.rate = 60;
  o.burst = 1;
  o.backoff.base = std::chrono::milliseconds(500);
  o.backoff.cap = std::chrono::milliseconds(2000);
  o.reconcile_delay = std::chrono::milliseconds(500);
  o.adaptive_rate = false;  // every first answer is a 503: AIMD would slow the whole run down
  o.seed = 7;
  std::vector<RunJob> jobs;
  for (int i = 0; i < 1500; ++i) {
    JobSpec spec;
    spec.project_id = "p";
    spec.live_video_id = "lv" + std::to_string(i);
    jobs.push_back({spec, {}, false});
  }
  std::optional<RunSummary> summary;
  Runner runner(o, transport, ledger, nullptr);
  runner.start(io.get_executor(), std::move(jobs), [&](RunSummary s) { summary = std::move(s); });
  const auto hang_guard = clock.now() + std::chrono::hours(1);
  while (!summary && clock.now() < hang_guard) {
    io.restart();
    if (io.poll_one() > 0) continue;
    if (clock.next_event() == steady_time::max()) break;  // nothing more can happen
    clock.advance();
  }
  runner.close_gate();
  ASSERT_TRUE(summary.has_value()) << "the run did not finish";
  EXPECT_EQ(summary->states[JobState::succeeded], 1500u);
  // 1,800 requests at 60/s take 30 s; a job's read and retry come within a second or so of
  // being due, never after the fresh jobs are gone.
  ASSERT_EQ(timeline.at.size(), 150u);
  std::chrono::nanoseconds worst_read{0}, worst_retry{0};
  for (const auto& [video, t] : timeline.at) {
    ASSERT_EQ(t.size(), 3u) << video;
    worst_read = std::max(worst_read, t[1] - t[0]);
    worst_retry = std::max(worst_retry, t[2] - t[1]);
  }
  EXPECT_LE(worst_read, std::chrono::milliseconds(500 + 1000)) << "a read-back waited behind fresh jobs";
  EXPECT_GE(worst_read, std::chrono::milliseconds(500)) << "a read-back came before its settle delay";
  EXPECT_LE(worst_retry, std::chrono::milliseconds(1000)) << "a retry waited behind fresh jobs";
  EXPECT_GE(std::chrono::duration_cast<std::chrono::seconds>(summary->elapsed).count(), 29);
}
