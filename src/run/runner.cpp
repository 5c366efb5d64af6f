// The runner: workers on one event loop take jobs from one scheduler, hold one of
// `concurrency` connections while a request is out, pace through one token bucket, classify
// every answer in one place (classify()) and turn it into a lifecycle event, which apply()
// steps and records. What a job does next is next_step()'s decision, never a flag here.
//
// One attempt:  pick (due retries and reads first, within their budget; then fresh jobs)
//   cut:   Dispatch, on disk before the request can leave -> connection -> pace -> POST -> answer
//   read:  connection -> pace -> Dispatch -> GET -> answer
//   then:  a cut or read again after a delay (in the delayed queue, holding no slot), GiveUp,
//          or nothing more (settled).
// There are twice as many workers as connections, so one job's dispatch fsync runs while
// another job's request is out; a stop withdraws every dispatched cut that did not leave.
#include "batchcut/run/runner.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <algorithm>
#include <csignal>
#include <deque>
#include <mutex>
#include <queue>
#include <random>
#include <set>
#include <unordered_map>
#include <utility>

#include "batchcut/ops/log.hpp"
#include "batchcut/vod/lookup.hpp"

namespace batchcut {

namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {

// classify()'s verdict as the lifecycle names it.
CutVerdict cut_verdict(const Classification& c) {
  switch (c.verdict) {
    case Verdict::success: return CutVerdict::success;
    case Verdict::retry: return c.ambiguous ? CutVerdict::retry_in_doubt : CutVerdict::retry;
    case Verdict::permanent: return CutVerdict::refused;
    case Verdict::fatal: return CutVerdict::fatal;
  }
  return CutVerdict::retry_in_doubt;
}

// Coroutines waiting for something handed out one at a time (a connection, a send slot):
// due retries and reads first, then fresh jobs, each in arrival order.
template <class T>
class WaitQueue {
 public:
  using Handler = asio::any_completion_handler<void(T)>;

  asio::awaitable<T> wait(asio::any_io_executor ex, bool priority) {
    co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(T)>(
        [this, ex, priority](Handler h) { push(ex, priority, std::move(h)); }, asio::use_awaitable);
  }

  void push(asio::any_io_executor ex, bool priority, Handler h) {
    (priority ? first_ : second_).push_back({ex, std::move(h)});
  }

  bool empty() const { return first_.empty() && second_.empty(); }

  // Hands `value` to the first waiter; false when nobody waits.
  bool hand_one(T value) {
    auto& queue = first_.empty() ? second_ : first_;
    if (queue.empty()) return false;
    hand(std::move(queue.front()), value);
    queue.pop_front();
    return true;
  }

  void hand_all(T value) {
    while (hand_one(value)) {
    }
  }

  // Forgets the coroutines waiting here (they go with their event loop).
  void drop() {
    first_.clear();
    second_.clear();
  }

 private:
  struct Waiter {
    asio::any_io_executor ex;
    Handler handler;
  };
  static void hand(Waiter w, T value) {
    asio::post(w.ex, [h = std::move(w.handler), value]() mutable { std::move(h)(value); });
  }
  std::deque<Waiter> first_, second_;
};

// The `concurrency` connections; a request holds one from just before pacing to its answer.
class ConnectionPool {
 public:
  void add(std::unique_ptr<Connection> c) {
    idle_.push_back(c.get());
    owned_.push_back(std::move(c));
  }

  // A free connection, or nullptr once the pool is closed (the run is stopping).
  asio::awaitable<Connection*> acquire(asio::any_io_executor ex, bool priority) {
    if (closed_) co_return nullptr;
    if (!idle_.empty() && waiters_.empty()) {
      Connection* c = idle_.back();
      idle_.pop_back();
      co_return c;
    }
    co_return co_await waiters_.wait(ex, priority);
  }

  void release(Connection* c) {
    if (closed_ || !waiters_.hand_one(c)) idle_.push_back(c);
  }

  void close() {
    closed_ = true;
    waiters_.hand_all(nullptr);
  }

  void drop_waiters() { waiters_.drop(); }

  // Closes the connections: sockets go while their event loop still exists.
  void destroy() {
    close();
    idle_.clear();
    owned_.clear();
  }

 private:
  std::vector<std::unique_ptr<Connection>> owned_;
  std::vector<Connection*> idle_;
  WaitQueue<Connection*> waiters_;
  bool closed_ = false;
};

// The one rate limiter: hands out send slots at the token bucket's pace, due retries and
// reads first, and none while a server's Retry-After pause lasts. Unlimited and unpaused,
// a slot is given at once.
class Pacer {
 public:
  Pacer(TokenBucket& bucket) : bucket_(bucket) {}

  void start(asio::any_io_executor ex) { timer_.emplace(ex); }
  // Its timer goes while its event loop still exists.
  void end() {
    close();
    timer_.reset();
  }

  // True when the caller may send now; false once the run is stopping.
  asio::awaitable<bool> acquire(asio::any_io_executor ex, bool priority) {
    if (closed_) co_return false;
    if (bucket_.unlimited() && pause_until_ <= RunClock::now()) co_return true;
    co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(bool)>(
        [this, ex, priority](WaitQueue<bool>::Handler h) {
          waiters_.push(ex, priority, std::move(h));  // queued before the pump can look
          if (!pumping_) {
            pumping_ = true;
            asio::co_spawn(ex, pump(), asio::detached);
          }
        },
        asio::use_awaitable);
  }

  // Nothing is sent before `until` (Retry-After). Returns how much longer the pause is now.
  std::chrono::nanoseconds pause_until(steady_time until) {
    const auto now = RunClock::now();
    if (until <= pause_until_) return {};
    const auto added = until - std::max(now, pause_until_);
    pause_until_ = until;
    return added;
  }

  void close() {
    closed_ = true;
    if (timer_) timer_->cancel();
    waiters_.hand_all(false);
  }

  void drop_waiters() { waiters_.drop(); }

 private:
  asio::awaitable<void> pump() {
    while (!closed_ && !waiters_.empty()) {
      const auto now = RunClock::now();
      if (pause_until_ > now) {
        timer_->expires_at(pause_until_);
        co_await timer_->wait();
        continue;
      }
      if (!reserved_) reserved_ = bucket_.reserve(now);
      if (*reserved_ > now) {
        timer_->expires_at(*reserved_);
        co_await timer_->wait();
        continue;  // the pause or the stop may have come meanwhile
      }
      reserved_.reset();
      waiters_.hand_one(true);
    }
    pumping_ = false;
  }

  TokenBucket& bucket_;
  std::optional<RunTimer> timer_;
  WaitQueue<bool> waiters_;
  std::optional<steady_time> reserved_;  // the next token, taken from the bucket
  steady_time pause_until_{};
  bool pumping_ = false;
  bool closed_ = false;
};

}  // namespace

double RunSummary::achieved_rate() const {
  const double seconds = static_cast<double>(elapsed.count()) / 1000.0;
  return seconds > 0 ? static_cast<double>(requests) / seconds : 0.0;
}

static FatalCause fatal_cause(const AttemptResult& r) {
  if (r.status == 401) return FatalCause::unauthorized;
  if (r.error == TransportError::tls_verify) return r.name_mismatch ? FatalCause::wrong_host : FatalCause::certificate;
  return FatalCause::internal;
}

class Runner::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(RunOptions options, Transport& transport, LedgerLog& ledger,
       std::shared_ptr<spdlog::logger> logger, Transport* manage_transport)
      : options_(std::move(options)),
        transport_(transport),
        manage_transport_(manage_transport),
        ledger_(ledger),
        log_(std::move(logger)),
        bucket_(options_.rate, options_.burst),
        adaptive_(options_.adaptive_rate ? options_.rate : 0),
        budget_(options_.concurrency, options_.retry_budget_percent),
        halt_(options_.halt_after_failures, options_.halt_after_failure_rate, options_.halt_window),
        rng_(options_.seed ? options_.seed : std::random_device{}()) {
    if (!log_) log_ = spdlog::default_logger();
  }

  void start(asio::any_io_executor executor, std::vector<RunJob> jobs,
             std::function<void(RunSummary)> done) {
    executor_ = executor;
    wake_.emplace(executor_);
    pacer_.start(executor_);
    jobs_ = std::move(jobs);
    progress_.resize(jobs_.size());
    done_ = std::move(done);
    started_ = RunClock::now();
    for (std::size_t i = 0; i < jobs_.size(); ++i) {
      RunJob& job = jobs_[i];
      job.life.kind = job.spec.kind;
      step(job.life, Interrupted{});  // a request the ledger shows out belongs to a run that is gone
      if (job.reopen) apply(i, Reopen{});
      if (!job.life.settled() && job.spec.kind == JobKind::clip) ++clips_left_[live_key(job.spec)];
    }
    for (std::size_t i = 0; i < jobs_.size(); ++i) {
      const RunJob& job = jobs_[i];
      if (job.life.settled()) continue;
      // A stream's clips are settled before it is stopped: its stop-and-cut waits for them.
      if (job.spec.kind == JobKind::stop_and_cut && !clips_left_.empty() && clips_left_.count(live_key(job.spec)))
        held_[live_key(job.spec)].push_back(i);
      else
        begin(i);
    }
    if (options_.deadline) arm_deadline(*options_.deadline);
    if (options_.on_tick && options_.tick_interval.count() > 0) {
      progress_timer_.emplace(executor_);
      asio::co_spawn(executor_, tick(shared_from_this()), asio::detached);
    }

    const int connections = std::max(1, options_.concurrency);
    for (int c = 0; c < connections; ++c) connections_.add(transport_.make_connection());
    // Lookups are rare: a couple of connections to the manage API, when it is another host.
    if (manage_transport_)
      for (int c = 0; c < std::min(2, connections); ++c) manage_connections_.add(manage_transport_->make_connection());
    const auto workers = std::clamp<std::size_t>(2 * static_cast<std::size_t>(connections), 1,
                                                 std::max<std::size_t>(1, jobs_.size()));
    workers_left_ = static_cast<int>(workers);
    for (std::size_t w = 0; w < workers; ++w) {
      asio::co_spawn(executor_, worker(), [self = shared_from_this()](std::exception_ptr e) {
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            self->log_->error("worker failed: {}", ex.what());
            self->summary_.fatal = FatalCause::internal;
            self->stop(StopReason::fatal, std::string("internal error: ") + ex.what());
          }
        }
        if (--self->workers_left_ == 0) self->try_finish();
      });
    }
  }

  void stop(StopReason reason, std::string why, int signal = 0) {
    stopping_ = true;  // before the view is told: its snapshot says draining
    if (summary_.stop == StopReason::none) {
      summary_.stop = reason;
      summary_.abort_reason = std::move(why);
      summary_.signal = signal;
      log_->warn("stopping: {}; requests out finish, the rest stays as it is", summary_.abort_reason);
      if (options_.on_tick && !finished_) options_.on_tick(snapshot());  // the view shows the drain at once
    }
    if (wake_) wake_->cancel();
    if (deadline_timer_) deadline_timer_->cancel();
    pacer_.close();  // nobody waits out a pause that no longer matters
    connections_.close();
    manage_connections_.close();
  }

  // After this, no ledger callback posts to the event loop: call before the loop goes.
  void close_gate() {
    std::lock_guard lock(gate_->mutex);
    gate_->open = false;
  }

  RunSummary abandon() {
    close_gate();
    abandoned_ = true;
    // The coroutines waiting here go now, while their event loop exists.
    durable_waiters_.clear();
    awaiting_ledger_.reset();
    connections_.drop_waiters();
    manage_connections_.drop_waiters();
    pacer_.drop_waiters();
    connections_.destroy();
    manage_connections_.destroy();
    summary_.forced = true;
    RunSummary s = close_summary();
    wake_.reset();
    deadline_timer_.reset();
    progress_timer_.reset();
    pacer_.end();
    return s;
  }

  const std::vector<RunJob>& jobs() const { return jobs_; }

 private:
  // Scheduling facts about a job in this run (its lifecycle is in jobs_[i].life).
  struct Progress {
    int tries = 0;  // cuts sent in this run
    int reads = 0;  // reads in the current doubt
    std::string last_read_error;
    std::string last_cause;  // what the last cut got, for retries by cause
  };

  // ---- the first step of a job in this run ----

  void begin(std::size_t idx) {
    if (next_step(jobs_[idx].life, budget(idx)) == Next::cut)
      fresh_.push_back(idx);
    else  // in doubt: read back or look up once what an earlier run may have sent has settled
      schedule(idx, options_.reconcile_delay);
  }

  static std::string live_key(const JobSpec& spec) { return spec.project_id + "/" + spec.live_video_id; }

  // A clip settled: when it was its stream's last in this run, the stream's stop-and-cut may go.
  void clip_settled(const JobSpec& spec) {
    auto it = clips_left_.find(live_key(spec));
    if (it == clips_left_.end() || --it->second > 0) return;
    clips_left_.erase(it);
    if (auto held = held_.extract(live_key(spec))) {
      for (std::size_t idx : held.mapped()) begin(idx);
      notify();
    }
  }

  // ---- one place where a job changes state ----

  LedgerLog::Seq apply(std::size_t idx, const Event& event) {
    RunJob& job = jobs_[idx];
    step(job.life, event);  // a LifecycleError here is a bug: the worker stops the run
    return append_event(ledger_, job.spec, event, job.life.state);
  }

  Budget budget(std::size_t idx) const {
    return {options_.reconcile, progress_[idx].tries < options_.max_attempts,
            progress_[idx].reads < options_.max_attempts};
  }

  // After an answer (or at the start): queue the job's next step after `delay`, or settle it.
  void schedule(std::size_t idx, milliseconds delay) {
    switch (next_step(jobs_[idx].life, budget(idx))) {
      case Next::cut:
      case Next::read:
      case Next::lookup: requeue(idx, delay); break;
      case Next::give_up: give_up(idx); break;
      case Next::none: break;
    }
  }

  void give_up(std::size_t idx) {
    const Lifecycle& life = jobs_[idx].life;
    const Progress& p = progress_[idx];
    std::string why;
    if (life.doubt && options_.reconcile && life.stopped)
      why = life.error + "; its VOD could not be looked up in " + std::to_string(p.reads) + " tries: " + p.last_read_error;
    else if (life.doubt && options_.reconcile && life.kind == JobKind::clip)
      why = "the clip may have been made, and it could not be looked up in " + std::to_string(p.reads) +
            " tries: " + p.last_read_error;
    else if (life.doubt && options_.reconcile)
      why = "the stream's state could not be read in " + std::to_string(p.reads) +
            " tries: " + p.last_read_error;
    else if (life.doubt)
      why = "gave up after " + std::to_string(p.tries) +
            " attempts; one may have cut (its state was not read: --no-reconcile): " + life.error;
    else
      why = "gave up after " + std::to_string(p.tries) + " attempts: " + life.error;
    log_->warn("{}: {}", jobs_[idx].spec.key(), why);
    settled(idx, apply(idx, GiveUp{why}));
  }

  // ---- the scheduler ----

  struct Pick {
    std::size_t idx;
    bool retry;  // holds a retry-budget slot
  };

  // The next job: a due retry or read while the retry budget has room, else a fresh job.
  // Waits while retries are pending or attempts under way may queue more; nullopt at the end.
  asio::awaitable<std::optional<Pick>> next_job() {
    for (;;) {
      if (stopping_) co_return std::nullopt;
      const auto now = RunClock::now();
      const bool due = !delayed_.empty() && delayed_.top().first <= now;
      if (due && budget_.try_acquire()) {
        const auto idx = delayed_.top().second;
        delayed_.pop();
        co_return Pick{idx, true};
      }
      if (!fresh_.empty()) {
        const auto idx = fresh_.front();
        fresh_.pop_front();
        co_return Pick{idx, false};
      }
      if (delayed_.empty() && in_attempt_ == 0) co_return std::nullopt;
      // A full budget frees up when an attempt ends (notify); otherwise wake when due.
      // Every waiter computes the same expiry, so only a real change re-arms the timer.
      const auto until = delayed_.empty() || due ? steady_time::max() : delayed_.top().first;
      if (wake_->expiry() != until) wake_->expires_at(until);
      co_await wake_->wait();
    }
  }

  void notify() { wake_->cancel(); }

  void requeue(std::size_t idx, milliseconds delay) {
    delayed_.emplace(RunClock::now() + delay, idx);
    notify();
  }

  // ---- pacing ----

  void pause_all(milliseconds for_how_long) {
    summary_.paused += std::chrono::duration_cast<milliseconds>(pacer_.pause_until(RunClock::now() + for_how_long));
    log_->debug("server asked to wait: pausing all workers for {} ms", for_how_long.count());
  }

  // classify(), with a Retry-After longer than --max-retry-after dropped: that answer is a
  // failed attempt like any other (backoff, counted against --max-attempts), not a pause.
  Classification classified(const AttemptResult& result) {
    Classification c = classify(result);
    if (c.retry_after && !honoured_retry_after(options_.backoff, c.retry_after)) {
      if (!warned_long_retry_after_)
        log_->warn("the server asked to wait {} s (Retry-After), longer than --max-retry-after ({} s): "
                   "such answers count as failed attempts, not pauses (warned once)",
                   std::chrono::duration_cast<std::chrono::seconds>(*c.retry_after).count(),
                   std::chrono::duration_cast<std::chrono::seconds>(options_.backoff.max_retry_after).count());
      warned_long_retry_after_ = true;
      c.error += " (Retry-After over --max-retry-after)";
      c.retry_after.reset();
    }
    return c;
  }

  // A 429 or 503 slows everyone down (AIMD) and honours Retry-After for everyone.
  void on_pushback(int http_status, const Classification& c) {
    if (http_status != 429 && http_status != 503) return;
    if (adaptive_.enabled()) {
      const double before = adaptive_.current();
      bucket_.set_rate(adaptive_.on_throttle(RunClock::now()));
      if (adaptive_.current() < before) log_->debug("throttled: rate lowered to {:.2f}/s", adaptive_.current());
    }
    if (c.retry_after) pause_all(*c.retry_after);
  }

  void succeeded_once() {
    if (adaptive_.enabled() && adaptive_.current() < options_.rate) bucket_.set_rate(adaptive_.on_success());
  }

  // ---- one worker: one job at a time ----

  asio::awaitable<void> worker() {
    for (;;) {
      const std::optional<Pick> pick = co_await next_job();
      if (!pick) break;
      co_await attempt(*pick);
    }
  }

  asio::awaitable<void> attempt(Pick pick) {
    ++in_attempt_;
    struct Leave {
      Impl* self;
      Pick pick;
      ~Leave() {
        if (self->abandoned_) return;  // the frame is being destroyed with the event loop
        if (pick.retry) self->budget_.release();
        --self->in_attempt_;
        self->notify();
      }
    } leave{this, pick};

    switch (next_step(jobs_[pick.idx].life, budget(pick.idx))) {
      case Next::cut: co_await cut(pick.idx, pick.retry); break;
      case Next::read: co_await read_back(pick.idx); break;
      case Next::lookup: co_await look_up(pick.idx); break;
      case Next::give_up: give_up(pick.idx); break;
      case Next::none: break;
    }
  }

  // A connection held for one request; back to the pool when done.
  struct Lease {
    Impl* self;
    Connection* connection;
    ConnectionPool* pool = nullptr;
    Lease(Impl* s, Connection* c) : self(s), connection(c) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { give_back(); }
    void give_back() {
      if (connection && !self->abandoned_) pool->release(connection);
      connection = nullptr;
    }
  };

  // A connection and a send slot, or false once the run is stopping. Retries and reads get
  // both before fresh jobs do.
  // `manage`: the request goes to the manage API (a lookup).
  asio::awaitable<bool> ready_to_send(Lease& lease, bool retry, bool manage = false) {
    lease.pool = manage && manage_transport_ ? &manage_connections_ : &connections_;
    lease.connection = co_await lease.pool->acquire(executor_, retry);
    if (!lease.connection) co_return false;
    const auto asked = RunClock::now();
    const bool go = co_await pacer_.acquire(executor_, retry);
    summary_.stats.rate_limiter_wait += std::chrono::duration_cast<std::chrono::microseconds>(RunClock::now() - asked);
    co_return go;
  }

  asio::awaitable<void> cut(std::size_t idx, bool retry) {
    RunJob& job = jobs_[idx];
    Progress& p = progress_[idx];
    const int number = job.life.attempts + 1;
    // Write-ahead: the dispatch is on disk before the request can leave. `blind` only with
    // --no-reconcile: next_step() sends a cut while in doubt only then.
    co_await durable(apply(idx, Dispatch{Op::cut, number, job.life.doubt, wall_clock_ms()}));
    Lease lease(this, nullptr);
    if (ledger_failed() || !co_await ready_to_send(lease, retry)) {
      apply(idx, Withdraw{number});  // never sent: the run stopped first
      co_return;
    }
    ++p.tries;
    ++summary_.requests;
    if (job.spec.kind == JobKind::clip) ++summary_.clips;
    if (p.tries > 1) {
      ++summary_.retries;
      ++summary_.stats.retries_by_cause[p.last_cause];
    }

    const HttpRequest request{true, cut_target(options_.base, job.spec), cut_body(job.spec)};
    const AttemptResult result =
        co_await sent(job.spec.kind == JobKind::clip ? RequestKind::clip : RequestKind::cut, *lease.connection, request);
    lease.give_back();
    const Classification c = classified(result);
    p.last_cause = retry_cause(result.status, result.error == TransportError::none ? "" : to_string(result.error));
    const auto seq = apply(idx, CutAnswer{number, cut_verdict(c), result.status, c.video_public_id, c.error,
                                          c.messages, std::chrono::duration_cast<milliseconds>(result.elapsed).count()});
    if (log_->should_log(spdlog::level::debug))
      log_->debug("{} cut {}: {} -> {}", job.spec.key(), number, to_string(cut_verdict(c)), describe(job.life));
    if (c.verdict != Verdict::fatal && halt_.record(c.verdict != Verdict::success))
      stop(StopReason::halted, halt_.reason());
    on_pushback(result.status, c);
    if (c.verdict == Verdict::success) succeeded_once();
    if (c.verdict == Verdict::fatal) {
      log_->error("{}: {}", job.spec.key(), c.error);
      summary_.fatal = fatal_cause(result);
      stop(StopReason::fatal, c.error);
      co_return;
    }
    if (job.life.settled()) {
      if (job.life.state == JobState::succeeded)
        log_->info("{}: succeeded: videoPublicId {}", job.spec.key(), job.life.video_public_id);
      else
        log_->warn("{}: {}: {}", job.spec.key(), to_string(job.life.state), job.life.error);
      settled(idx, seq);
      co_return;
    }
    // Before an in-doubt attempt is read back, the backend gets time to finish acting on it.
    auto delay = backoff_delay(options_.backoff, p.tries, uniform_(rng_), c.retry_after);
    if (job.life.doubt && options_.reconcile) delay = std::max(delay, options_.reconcile_delay);
    schedule(idx, delay);
  }

  // Reads the live video while in doubt: can it still be cut?
  asio::awaitable<void> read_back(std::size_t idx) {
    RunJob& job = jobs_[idx];
    Progress& p = progress_[idx];
    Lease lease(this, nullptr);
    if (!co_await ready_to_send(lease, true)) co_return;  // stopping: still in doubt
    const int number = ++p.reads;
    ++summary_.reconciles;
    apply(idx, Dispatch{Op::read, number, false, wall_clock_ms()});  // a GET changes nothing: no need to wait for disk
    const HttpRequest request{false, live_video_target(options_.base, job.spec), {}};
    const AttemptResult result = co_await sent(RequestKind::read, *lease.connection, request);
    lease.give_back();
    std::optional<bool> can;
    if (result.error == TransportError::none && result.status == 200) can = parse_can_stop_and_cut(result.body);
    const Classification c = classified(result);  // for its error text and the fatal cases
    const ReadVerdict verdict = can ? (*can ? ReadVerdict::can_stop : ReadVerdict::stopped) : ReadVerdict::unreadable;
    const auto seq = apply(idx, ReadAnswer{number, verdict, result.status, can ? "" : c.error,
                                           std::chrono::duration_cast<milliseconds>(result.elapsed).count(),
                                           verdict == ReadVerdict::stopped ? parse_live_video_title(result.body) : ""});
    if (log_->should_log(spdlog::level::debug))
      log_->debug("{} read {}: {} -> {}", job.spec.key(), number, to_string(verdict), describe(job.life));
    on_pushback(result.status, c);
    if (c.verdict == Verdict::fatal) {
      summary_.fatal = fatal_cause(result);
      stop(StopReason::fatal, c.error);
      co_return;
    }
    if (job.life.settled()) {
      log_->warn("{}: in doubt: {}", job.spec.key(), job.life.error);
      settled(idx, seq);
      co_return;
    }
    if (verdict != ReadVerdict::unreadable) {  // can stop: cut again; stopped: look up its VOD
      p.reads = 0;
      schedule(idx, milliseconds(0));
      co_return;
    }
    p.last_read_error = c.error;
    schedule(idx, backoff_delay(options_.backoff, p.reads, uniform_(rng_), c.retry_after));
  }

  // Looks for the VOD an in-doubt cut may have made (vod/lookup.hpp). Never stops the run:
  // a key the manage API refuses leaves the job in doubt, as it was before the lookup.
  asio::awaitable<void> look_up(std::size_t idx) {
    RunJob& job = jobs_[idx];
    Progress& p = progress_[idx];
    Lease lease(this, nullptr);
    if (!co_await ready_to_send(lease, true, true)) co_return;  // stopping: still in doubt
    const int number = ++p.reads;
    ++summary_.lookups;
    const LookupQuery query = lookup_query(job.spec, job.life, options_.lookup_clock_skew);
    apply(idx, Dispatch{Op::lookup, number, false, wall_clock_ms()});  // a GET: no need to wait for disk
    const HttpRequest request{false, lookup_target(options_.manage_base.value_or(options_.base), query), {}};
    const AttemptResult result = co_await sent(RequestKind::lookup, *lease.connection, request);
    lease.give_back();
    const Classification c = classified(result);  // for the error text and the pushback
    LookupResult found = result.error == TransportError::none
                             ? match_lookup(result.status, result.body, query)
                             : LookupResult{LookupVerdict::unreadable, {}, 0, c.error};
    const auto seq = apply(idx, LookupAnswer{number, found.verdict, found.video_public_id, found.candidates,
                                             result.status, found.error,
                                             std::chrono::duration_cast<milliseconds>(result.elapsed).count()});
    if (log_->should_log(spdlog::level::debug))
      log_->debug("{} lookup {}: {} -> {}", job.spec.key(), number, to_string(found.verdict), describe(job.life));
    on_pushback(result.status, c);
    if (job.life.settled()) {
      if (job.life.state == JobState::succeeded) {
        ++summary_.recovered;
        log_->info("{}: succeeded (recovered by a lookup): videoPublicId {}", job.spec.key(), job.life.video_public_id);
      } else {
        log_->warn("{}: in doubt: {}", job.spec.key(), job.life.error);
      }
      settled(idx, seq);
      co_return;
    }
    if (found.verdict == LookupVerdict::none) {  // a clip nobody made: it may be sent again
      p.reads = 0;
      schedule(idx, milliseconds(0));
      co_return;
    }
    p.last_read_error = found.error;
    schedule(idx, backoff_delay(options_.backoff, p.reads, uniform_(rng_), c.retry_after));
  }

  static std::int64_t wall_clock_ms() {
    return std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  }

  // One request on the wire, counted for the live view and the metrics.
  asio::awaitable<AttemptResult> sent(RequestKind kind, Connection& connection, const HttpRequest& request) {
    ++in_flight_;
    AttemptResult result = co_await connection.round_trip(request, options_.timeout);
    --in_flight_;
    // A server may quote our Authorization header back: the key goes no further than here,
    // into no ledger record, summary or log.
    redact(result.body);
    redact(result.error_text);
    if (log_->should_log(spdlog::level::trace)) {  // -vv: every exchange, with what the server said
      std::string said = result.body.substr(0, 2000);
      std::replace_if(said.begin(), said.end(), [](char ch) { return ch == '\n' || ch == '\r'; }, ' ');
      log_->trace("{} {} -> {} in {} ms{}{}: {}", request.post ? "POST" : "GET", request.target, result.status,
                  result.elapsed.count() / 1000, result.error == TransportError::none ? "" : " ",
                  result.error == TransportError::none ? "" : to_string(result.error), said);
    }
    RunStats& stats = summary_.stats;
    if (result.error == TransportError::none || result.status > 0)
      ++stats.requests[{kind, result.status}];
    else
      ++stats.request_errors[{kind, to_string(result.error)}];
    stats.latency_of(kind).record(result.elapsed);
    co_return result;
  }

  // ---- durability ----

  // A settled job counts once its record is on disk; the worker moves on at once.
  void settled(std::size_t idx, LedgerLog::Seq seq) {
    if (jobs_[idx].spec.kind == JobKind::clip) clip_settled(jobs_[idx].spec);
    ++settled_count_;
    ++settled_states_[jobs_[idx].life.state];
    settling_.push_back(seq);  // appended in order, so the deque stays sorted
    request_durable();
  }

  // Suspends until the ledger reports `seq` durable. Waits are coalesced: coroutines park
  // here, on the event loop, and one ledger callback per group commit wakes all of them,
  // so a thousand waiters cost one cross-thread wake-up, not a thousand.
  asio::awaitable<void> durable(LedgerLog::Seq seq) {
    if (seq <= durable_seq_) co_return;
    auto initiate = [this, seq](asio::any_completion_handler<void()> handler) {
      durable_waiters_.push_back({seq, std::move(handler)});
      request_durable();
    };
    co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(initiate, asio::use_awaitable);
  }

  // After this turn of the loop, ask the ledger once for the highest record waited on.
  void request_durable() {
    if (register_pending_) return;
    register_pending_ = true;
    asio::post(executor_, [this]() { register_durable(); });
  }

  void register_durable() {
    register_pending_ = false;
    LedgerLog::Seq target = settling_.empty() ? 0 : settling_.back();
    for (const auto& w : durable_waiters_) target = std::max(target, w.seq);
    if (target <= registered_seq_) return;
    registered_seq_ = target;
    // The event loop must not run out of work while the answer is on the writer's thread.
    if (!awaiting_ledger_) awaiting_ledger_ = asio::prefer(executor_, asio::execution::outstanding_work.tracked);
    // The gate closes before the event loop goes, so a late callback never posts to it.
    ledger_.when_durable(target, [this, gate = gate_, ex = executor_, target]() {
      std::lock_guard lock(gate->mutex);
      if (gate->open) asio::post(ex, [this, target]() { on_durable(target); });
    });
  }

  void on_durable(LedgerLog::Seq seq) {
    durable_seq_ = std::max(durable_seq_, seq);
    if (durable_seq_ >= registered_seq_) awaiting_ledger_.reset();
    while (!settling_.empty() && settling_.front() <= durable_seq_) settling_.pop_front();
    // Rebuilt rather than partitioned: Boost 1.81's any_completion_handler cannot be
    // move-assigned (its operator= recurses), only move-constructed.
    std::vector<DurableWaiter> waiting;
    for (auto& w : durable_waiters_) {
      if (w.seq > durable_seq_)
        waiting.push_back(std::move(w));
      else
        asio::post(executor_, [h = std::move(w.resume)]() mutable { std::move(h)(); });
    }
    durable_waiters_.swap(waiting);
    if (!durable_waiters_.empty() || !settling_.empty()) request_durable();
    if (workers_left_ == 0) try_finish();  // the workers left already: this may end the run
  }

  bool ledger_failed() {
    if (auto failure = ledger_.failure()) {
      if (!summary_.ledger_failure) summary_.ledger_failure = *failure;
      stop(StopReason::ledger, "ledger write failed: " + *failure);
      return true;
    }
    return false;
  }

  // ---- deadline, progress, the end ----

  void arm_deadline(steady_time deadline) {
    deadline_timer_.emplace(executor_);
    deadline_timer_->expires_at(deadline);
    asio::co_spawn(executor_, [](std::shared_ptr<Impl> self) -> asio::awaitable<void> {
      if (co_await self->deadline_timer_->wait()) self->stop(StopReason::deadline, "the --deadline has passed");
    }(shared_from_this()), asio::detached);
  }

  static asio::awaitable<void> tick(std::shared_ptr<Impl> self) {
    while (!self->finished_) {
      self->progress_timer_->expires_after(self->options_.tick_interval);
      co_await self->progress_timer_->wait();
      if (self->finished_) break;
      self->options_.on_tick(self->snapshot());
    }
  }

  RunSnapshot snapshot() const {
    RunSnapshot s;
    s.total = jobs_.size();
    s.settled = settled_states_;
    s.settled_count = settled_count_;
    s.in_flight = in_flight_;
    s.waiting_retry = delayed_.size();
    s.requests = summary_.requests;
    s.retries = summary_.retries;
    s.reads = summary_.reconciles;
    s.rate_limit = bucket_.unlimited() ? 0.0 : bucket_.rate();
    s.elapsed = std::chrono::duration_cast<milliseconds>(RunClock::now() - started_);
    s.paused = summary_.paused;
    s.draining = stopping_;
    s.stop_reason = summary_.abort_reason;
    s.stopped_by_signal = summary_.stop == StopReason::signal;
    // A request out ends within its timeout; after a signal, the drain timeout cuts it short.
    s.drain_timeout = summary_.stop == StopReason::signal ? std::min(options_.drain_timeout, milliseconds(options_.timeout))
                                                          : milliseconds(options_.timeout);
    s.stats = summary_.stats;
    return s;
  }

  RunSummary close_summary() {
    finished_ = true;
    const auto failure = ledger_.failure();
    for (const RunJob& job : jobs_) {
      ++summary_.states[job.life.state];
      if (job.life.request_out()) ++summary_.abandoned;  // the next run reads it back
      // Every job handed in was unsettled, so each id here was received in this run; once
      // the ledger has failed, any of them may be missing from it.
      if (failure && job.life.state == JobState::succeeded)
        summary_.unrecorded.push_back({job.spec.key(), job.life.video_public_id});
    }
    if (failure && !summary_.ledger_failure) summary_.ledger_failure = *failure;
    summary_.connections = transport_.connections_opened() + (manage_transport_ ? manage_transport_->connections_opened() : 0);
    summary_.elapsed = std::chrono::duration_cast<milliseconds>(RunClock::now() - started_);
    summary_.final_rate = adaptive_.enabled() ? adaptive_.current() : options_.rate;
    return summary_;
  }

  // The run ends when the workers are gone and every record that settled a job is on disk.
  void try_finish() {
    if (workers_left_ == 0 && settling_.empty() && !finished_) finish();
  }

  // Every timer and socket goes here, while the event loop still exists (a coroutine waiting
  // on a timer is woken and touches it no more).
  void finish() {
    RunSummary s = close_summary();
    connections_.destroy();
    manage_connections_.destroy();
    pacer_.end();
    wake_.reset();
    deadline_timer_.reset();
    progress_timer_.reset();
    if (done_) done_(std::move(s));
  }

  struct Gate {
    std::mutex mutex;
    bool open = true;
  };
  struct DurableWaiter {
    LedgerLog::Seq seq;
    asio::any_completion_handler<void()> resume;
  };

  RunOptions options_;
  std::shared_ptr<Gate> gate_ = std::make_shared<Gate>();
  bool abandoned_ = false;
  Transport& transport_;
  Transport* manage_transport_;  // nullptr: the manage API is on the same host as the livestream API
  LedgerLog& ledger_;
  std::shared_ptr<spdlog::logger> log_;
  TokenBucket bucket_;
  AdaptiveRate adaptive_;
  RetryBudget budget_;
  HaltPolicy halt_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> uniform_{0.0, 1.0};

  asio::any_io_executor executor_;
  std::optional<RunTimer> wake_;
  std::optional<RunTimer> deadline_timer_;
  std::optional<RunTimer> progress_timer_;
  ConnectionPool connections_;
  ConnectionPool manage_connections_;
  Pacer pacer_{bucket_};
  std::vector<RunJob> jobs_;
  std::vector<Progress> progress_;
  std::deque<std::size_t> fresh_;  // never tried in this run, next step a cut: in manifest order
  std::unordered_map<std::string, int> clips_left_;  // "project/live" -> its clips not settled yet
  std::unordered_map<std::string, std::vector<std::size_t>> held_;  // stop-and-cuts waiting for them
  using Due = std::pair<steady_time, std::size_t>;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> delayed_;  // retries and reads
  std::vector<DurableWaiter> durable_waiters_;
  LedgerLog::Seq durable_seq_ = 0;     // every record up to here is on disk
  LedgerLog::Seq registered_seq_ = 0;  // a ledger callback will report this one
  std::optional<asio::any_io_executor> awaiting_ledger_;  // keeps the loop alive meanwhile
  bool register_pending_ = false;
  int in_attempt_ = 0;
  std::deque<LedgerLog::Seq> settling_;  // records that settled a job, not yet durable
  std::size_t settled_count_ = 0;
  std::map<JobState, std::size_t> settled_states_;  // jobs settled in this run, by state
  std::size_t in_flight_ = 0;                        // requests on the wire
  int workers_left_ = 0;
  bool stopping_ = false;
  bool finished_ = false;
  bool warned_long_retry_after_ = false;
  steady_time started_{};
  RunSummary summary_;
  std::function<void(RunSummary)> done_;
};

Runner::Runner(RunOptions options, Transport& transport, LedgerLog& ledger,
               std::shared_ptr<spdlog::logger> logger, Transport* manage_transport)
    : impl_(std::make_shared<Impl>(std::move(options), transport, ledger, std::move(logger), manage_transport)) {}

Runner::~Runner() = default;

void Runner::start(asio::any_io_executor executor, std::vector<RunJob> jobs,
                   std::function<void(RunSummary)> done) {
  impl_->start(std::move(executor), std::move(jobs), std::move(done));
}

void Runner::stop(StopReason reason, std::string why, int signal) {
  impl_->stop(reason, std::move(why), signal);
}

RunSummary Runner::abandon() { return impl_->abandon(); }

void Runner::close_gate() { impl_->close_gate(); }

const std::vector<RunJob>& Runner::jobs() const { return impl_->jobs(); }

RunSummary run_jobs(const RunOptions& options, const TransportOptions& transport_options,
                    LedgerLog& ledger, std::vector<RunJob> jobs,
                    std::shared_ptr<spdlog::logger> logger) {
  auto io = std::make_unique<asio::io_context>(1);
  auto transport = make_http_transport(io->get_executor(), transport_options);
  std::unique_ptr<Transport> manage_transport;
  if (options.manage_base && !same_origin(*options.manage_base, transport_options.base)) {
    TransportOptions manage = transport_options;
    manage.base = *options.manage_base;
    manage.loopback_only = !manage.base.tls;  // the key goes in clear text only to this machine
    manage_transport = make_http_transport(io->get_executor(), std::move(manage));
  }
  std::optional<RunSummary> summary;
  Runner runner(options, *transport, ledger, logger ? logger : spdlog::default_logger(), manage_transport.get());

  // First SIGINT/SIGTERM: stop dispatching and drain, at most drain_timeout.
  // A second one, or the drain timeout: stop at once (requests out are read back next run).
  std::optional<asio::signal_set> signals;
  std::optional<asio::steady_timer> drain_storage(std::in_place, *io);
  asio::steady_timer& drain = *drain_storage;
  int signals_seen = 0;
  std::function<void(boost::system::error_code, int)> on_signal =
      [&](boost::system::error_code ec, int sig) {
        if (ec) return;
        if (++signals_seen > 1) {
          io->stop();
          return;
        }
        runner.stop(StopReason::signal, std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM"), sig);
        drain.expires_after(options.drain_timeout);
        drain.async_wait([&](boost::system::error_code dec) {
          if (!dec) io->stop();
        });
        signals->async_wait(on_signal);
      };
  if (options.handle_signals) {
    signals.emplace(*io, SIGINT, SIGTERM);
    signals->async_wait(on_signal);
  }

  runner.start(io->get_executor(), std::move(jobs), [&](RunSummary s) {
    summary = std::move(s);
    drain.cancel();
    if (signals) signals->cancel();
  });
  io->run();
  RunSummary result = summary ? *summary : runner.abandon();
  runner.close_gate();
  // I/O objects go before their event loop; the loop goes while the transport still exists.
  signals.reset();
  drain_storage.reset();
  io.reset();
  manage_transport.reset();
  try {
    ledger.flush();
  } catch (const LedgerError&) {
    // Reported below, with the summary: the ids received are printed, not lost.
  }
  if (auto failure = ledger.failure(); failure && !result.ledger_failure) result.ledger_failure = *failure;
  return result;
}

}  // namespace batchcut
