#include "batchcut/vod/tracker.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>
#include <deque>
#include <queue>
#include <random>

#include "batchcut/run/clock.hpp"
#include "batchcut/vod/read_vod.hpp"

namespace batchcut {

namespace asio = boost::asio;

class Tracker::Impl : public std::enable_shared_from_this<Tracker::Impl> {
 public:
  Impl(TrackOptions o, Transport& t, ObservationSink sink)
      : options_(std::move(o)), transport_(t), sink_(std::move(sink)), bucket_(options_.rate, options_.burst),
        rng_(options_.seed ? options_.seed : std::random_device{}()) {}

  void start(asio::any_io_executor ex, std::vector<TrackItem> items, std::function<void(TrackSummary)> done) {
    executor_ = ex;
    items_ = std::move(items);
    done_ = std::move(done);
    wake_.emplace(ex);
    cold_gate_.emplace(ex);
    // Armed "never" explicitly: an Asio timer starts out expired, so a wait would not wait.
    wake_->expires_at(steady_time::max());
    cold_gate_->expires_at(steady_time::max());
    deadline_ = RunClock::now() + options_.timeout;
    states_.resize(items_.size());
    summary_.latest.resize(items_.size());
    if (options_.rate > 0)
      window_cap_ = static_cast<std::size_t>(std::max(1.0, std::floor(options_.rate) + std::floor(options_.burst) - 1));
    const auto now = RunClock::now();
    for (std::size_t i = 0; i < items_.size(); ++i) {
      summary_.latest[i].video_public_id = items_[i].video_public_id;
      summary_.latest[i].expected_s = requested_duration_s(items_[i].spec);
      summary_.latest[i].error = "not read";
      queue_.push({now, i});
    }
    const int workers = std::max(1, std::min<int>(options_.concurrency, static_cast<int>(items_.size())));
    workers_ = items_.empty() ? 0 : workers;
    if (workers_ == 0) return finish();
    for (int w = 0; w < workers; ++w)
      asio::co_spawn(ex, [self = shared_from_this()]() { return self->worker(); }, asio::detached);
  }

 private:
  struct Due {
    steady_time at;
    std::size_t index;
    bool operator>(const Due& o) const { return at != o.at ? at > o.at : index > o.index; }
  };
  struct ItemState {
    int retries = 0;  // consecutive answers that were not answers (5xx, 429, transport errors)
  };

  // Workers share one queue ordered by when each VOD is due; an idle worker waits on `wake_`,
  // armed for the earliest due time and re-armed whenever that changes.
  asio::awaitable<void> worker() {
    auto connection = transport_.make_connection();
    RunTimer pace(executor_);
    bool warm = false;  // this worker's connection has carried a request
    while (!stop_) {
      const auto now = RunClock::now();
      if (queue_.empty()) {
        if (in_flight_ == 0) {  // all done: let the other idle workers see it too
          wake_->cancel();
          break;
        }
        co_await wait_until(steady_time::max());
        continue;
      }
      const Due next = queue_.top();
      if (next.at > deadline_ || now > deadline_) {  // the time is up for every VOD still waiting
        summary_.timed_out = true;
        while (!queue_.empty()) queue_.pop();
        wake_->cancel();
        break;
      }
      if (next.at > now) {
        co_await wait_until(next.at);
        continue;
      }
      queue_.pop();
      ++in_flight_;
      // A worker's first request opens its connection (TCP, TLS): it arrives late by the
      // handshake, on top of the requests paced after it. Cold connections open one at a
      // time, so at most one late request ever lands among the paced ones.
      while (!warm && cold_busy_ && !stop_) co_await cold_gate_->wait();
      const bool opening = !warm;
      cold_busy_ = cold_busy_ || opening;
      // The bucket paces every request of every worker: never more than rate*T + burst in T.
      if (const auto go = bucket_.reserve(RunClock::now()); go > RunClock::now() && !stop_) {
        pace.expires_at(go);
        co_await pace.wait();
      }
      // And a hard cap over the sends themselves: a stall of this process (or a timer that
      // fires late) must not let the requests paced behind it out as a burst over the rate.
      while (!stop_ && window_cap_ > 0 && sent_.size() >= window_cap_ &&
             RunClock::now() - sent_.front() < std::chrono::seconds(1)) {
        pace.expires_at(sent_.front() + std::chrono::seconds(1));
        co_await pace.wait();
        while (!sent_.empty() && RunClock::now() - sent_.front() >= std::chrono::seconds(1)) sent_.pop_front();
      }
      if (!stop_ && RunClock::now() > deadline_) {  // the time ran out while this one waited
        summary_.timed_out = true;
        queue_.push(next);
      } else if (!stop_) {
        if (window_cap_ > 0) {
          sent_.push_back(RunClock::now());
          while (sent_.size() > window_cap_) sent_.pop_front();
        }
        co_await poll(*connection, next.index);
      }
      --in_flight_;
      if (opening) {
        warm = true;
        cold_busy_ = false;
        cold_gate_->cancel();  // the next cold worker may go
      }
      if (stop_) break;
      rearm();
    }
    if (--workers_ == 0) finish();
  }

  asio::awaitable<void> wait_until(steady_time when) {
    if (wake_->expiry() != when) wake_->expires_at(when);
    co_await wake_->wait();
  }

  // Wakes the idle workers so they look at the queue again (a new earliest due time).
  void rearm() {
    const steady_time earliest = queue_.empty() ? steady_time::max() : queue_.top().at;
    if (wake_->expiry() != earliest) wake_->expires_at(earliest);
  }

  asio::awaitable<void> poll(Connection& connection, std::size_t i) {
    const TrackItem& item = items_[i];
    HttpRequest request;
    request.post = false;
    request.target = vod_target(options_.manage, item.spec.project_id, item.video_public_id);
    ++summary_.requests;
    const AttemptResult r = co_await connection.round_trip(request, options_.request_timeout);
    const auto now = RunClock::now();
    if (r.error == TransportError::tls_verify || r.status == 401) {
      summary_.fatal = true;
      summary_.fatal_error = r.status == 401
                                 ? "HTTP 401 Unauthorized from the manage API: the API key was refused"
                                 : "the manage API's certificate did not verify: " + r.error_text;
      stop_ = true;
      wake_->cancel();
      cold_gate_->cancel();
      co_return;
    }
    const bool retryable = r.error != TransportError::none || r.status == 408 || r.status == 429 ||
                           r.status >= 500;
    VodObservation o;
    if (r.error != TransportError::none) {
      o.video_public_id = item.video_public_id;
      o.error = std::string("transport error (") + to_string(r.error) + ")" +
                (r.error_text.empty() ? "" : ": " + r.error_text);
    } else {
      o = parse_vod_answer(r.status, r.body, item.video_public_id);
    }
    o.expected_s = requested_duration_s(item.spec);
    o.duration_mismatch = duration_mismatch(o.duration_s, o.expected_s, options_.duration_tolerance_s);
    summary_.latest[i] = o;
    if (sink_) sink_(i, o);
    if (retryable) {
      const int retry = ++states_[i].retries;
      std::uniform_real_distribution<double> u(0.0, 1.0);
      const auto ra = r.retry_after.empty() ? std::nullopt
                                            : parse_retry_after(r.retry_after, std::chrono::system_clock::now());
      queue_.push({now + backoff_delay(options_.backoff, retry, u(rng_), ra), i});
      co_return;
    }
    states_[i].retries = 0;
    if (is_final(o.status)) co_return;
    // Processing, ReEncoding, 404 (not listed yet): read again later. Any other answer (403,
    // a 4xx, a body that makes no sense) will not change by asking again.
    if (o.status == PublishStatus::unknown && r.status != 404 && !(r.status >= 200 && r.status <= 299)) co_return;
    queue_.push({now + options_.poll_interval, i});
  }

  void finish() {
    if (!done_) return;
    auto done = std::move(done_);
    done_ = nullptr;
    done(std::move(summary_));
  }

  TrackOptions options_;
  Transport& transport_;
  ObservationSink sink_;
  TokenBucket bucket_;
  std::mt19937_64 rng_;
  asio::any_io_executor executor_;
  std::vector<TrackItem> items_;
  std::vector<ItemState> states_;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> queue_;
  std::optional<RunTimer> wake_;
  std::optional<RunTimer> cold_gate_;  // cold workers wait here while one opens its connection
  bool cold_busy_ = false;
  // The last window_cap_ send times: at most rate (at least 1, plus burst - 1) in any 1 s.
  std::size_t window_cap_ = 0;
  std::deque<steady_time> sent_;
  steady_time deadline_{};
  int workers_ = 0;
  int in_flight_ = 0;
  bool stop_ = false;
  TrackSummary summary_;
  std::function<void(TrackSummary)> done_;
};

Tracker::Tracker(TrackOptions options, Transport& transport, ObservationSink on_observation)
    : impl_(std::make_shared<Impl>(std::move(options), transport, std::move(on_observation))) {}

Tracker::~Tracker() = default;

void Tracker::start(asio::any_io_executor executor, std::vector<TrackItem> items,
                    std::function<void(TrackSummary)> done) {
  impl_->start(std::move(executor), std::move(items), std::move(done));
}

TrackSummary track_vods(const TrackOptions& options, const TransportOptions& transport_options,
                        std::vector<TrackItem> items, ObservationSink on_observation) {
  asio::io_context io(1);
  auto transport = make_http_transport(io.get_executor(), transport_options);
  TrackSummary summary;
  {
    Tracker tracker(options, *transport, std::move(on_observation));
    tracker.start(io.get_executor(), std::move(items), [&](TrackSummary s) { summary = std::move(s); });
    io.run();
  }
  return summary;
}

}  // namespace batchcut
