// The runner: N workers on one event loop pull jobs from one scheduler, pace through one
// token bucket, make one attempt at a time, classify it in one place and record it in the
// ledger before the job counts as done.
//
// A job's life:  fresh -> [reconcile GET if in doubt] -> pace -> dispatch (durable) -> POST
//                -> classify -> succeeded | failed | in_doubt | retry_exhausted
//                                  \-> retry: backoff in the delayed queue (holding no slot)
#include "batchcut/run/runner.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>
#include <deque>
#include <set>
#include <mutex>
#include <queue>
#include <random>
#include <utility>

namespace batchcut {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {
constexpr auto token = asio::as_tuple(asio::use_awaitable);
constexpr const char* stopped_already =
    "stream already stopped, probably by an earlier attempt; videoPublicId unknown";
}  // namespace

double RunSummary::achieved_rate() const {
  const double seconds = static_cast<double>(elapsed.count()) / 1000.0;
  return seconds > 0 ? static_cast<double>(requests) / seconds : 0.0;
}

class Runner::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(RunOptions options, Transport& transport, LedgerWriter& ledger,
       std::shared_ptr<spdlog::logger> logger)
      : options_(std::move(options)),
        transport_(transport),
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
    wake_->expires_at(steady_time::max());
    jobs_ = std::move(jobs);
    progress_.resize(jobs_.size());
    done_ = std::move(done);
    started_ = steady_clock::now();
    for (std::size_t i = 0; i < jobs_.size(); ++i) {
      progress_[i].after_ambiguous = jobs_[i].in_doubt || jobs_[i].after_in_doubt;
      progress_[i].needs_reconcile = jobs_[i].in_doubt && options_.reconcile;
      if (progress_[i].needs_reconcile)
        requeue(i, options_.reconcile_delay);  // read back once the old request has settled
      else
        fresh_.push_back(i);
    }
    if (options_.deadline) arm_deadline(*options_.deadline);
    if (options_.progress_interval.count() > 0) {
      progress_timer_.emplace(executor_);
      asio::co_spawn(executor_, report_progress(shared_from_this()), asio::detached);
    }

    const int workers =
        std::clamp<int>(options_.concurrency, 1, static_cast<int>(std::max<std::size_t>(1, jobs_.size())));
    workers_left_ = workers;
    for (int w = 0; w < workers; ++w) {
      asio::co_spawn(executor_, worker(transport_.make_connection()),
                     [self = shared_from_this()](std::exception_ptr e) {
                       if (e) {
                         try {
                           std::rethrow_exception(e);
                         } catch (const std::exception& ex) {
                           self->log_->error("worker failed: {}", ex.what());
                           self->stop(StopReason::fatal, std::string("internal error: ") + ex.what());
                         }
                       }
                       if (--self->workers_left_ == 0) self->try_finish();
                     });
    }
  }

  void stop(StopReason reason, std::string why, int signal = 0) {
    if (summary_.stop == StopReason::none) {
      summary_.stop = reason;
      summary_.abort_reason = std::move(why);
      summary_.signal = signal;
      log_->warn("stopping: {}; requests in flight finish, the rest stay pending",
                 summary_.abort_reason);
    }
    stopping_ = true;
    if (wake_) notify();
    if (deadline_timer_) deadline_timer_->cancel();
    for (auto* t : pace_timers_) t->cancel();  // nobody waits out a pause that no longer matters
  }

  // After this, no ledger callback posts to the event loop: call before the loop goes.
  void close_gate() {
    std::lock_guard lock(gate_->mutex);
    gate_->open = false;
  }

  RunSummary abandon() {
    close_gate();
    abandoned_ = true;
    durable_waiters_.clear();  // their coroutines go now, while their event loop exists
    summary_.forced = true;
    write_pending_states(/*skip_awaiting_answer=*/true);
    RunSummary s = close_summary();
    // Our timers go now, while the event loop they belong to still exists.
    wake_.reset();
    deadline_timer_.reset();
    progress_timer_.reset();
    return s;
  }

 private:
  struct Progress {
    int tries = 0;                 // stop-and-cut attempts made in this run
    int reconcile_tries = 0;       // GETs in the current reconciliation
    bool needs_reconcile = false;  // read the live video's state before the next cut
    bool after_ambiguous = false;  // an earlier attempt may have cut
    bool exhausted = false;        // out of attempts; reconciling only to name the state
    bool awaiting_answer = false;  // a request is out (dispatch written, no answer yet)
    LedgerWriter::Seq prepared_seq = 0;  // its dispatch was written ahead (0: not)
    bool final = false;            // reached a final state in this run
    int last_status = 0;           // of the last retryable attempt
    std::string last_error;
  };

  // ---- the scheduler ----

  struct Pick {
    std::size_t idx;
    bool retry;  // holds a retry-budget slot
  };

  // The next job: a due retry while the retry budget has room, else a fresh job. Waits
  // while retries are pending or other workers may still re-queue theirs; nullopt at the end.
  asio::awaitable<std::optional<Pick>> next_job() {
    for (;;) {
      if (stopping_) co_return std::nullopt;
      const auto now = steady_clock::now();
      const bool retry_due = !delayed_.empty() && delayed_.top().first <= now;
      if (retry_due && budget_.try_acquire()) {
        const auto idx = delayed_.top().second;
        delayed_.pop();
        co_return Pick{idx, true};
      }
      if (!fresh_.empty()) {
        const auto idx = fresh_.front();
        fresh_.pop_front();
        co_return Pick{idx, false};
      }
      if (delayed_.empty() && in_attempt_ == 0 && finalizing_ == 0) co_return std::nullopt;
      // A full budget frees up when an attempt ends (notify); otherwise wake when due.
      // Every waiter computes the same expiry, so only a real change re-arms the timer.
      const auto until = delayed_.empty() || retry_due ? steady_time::max() : delayed_.top().first;
      if (wake_->expiry() != until) wake_->expires_at(until);
      co_await wake_->async_wait(token);
    }
  }

  void notify() { wake_->cancel(); }

  void requeue(std::size_t idx, milliseconds delay) {
    delayed_.emplace(steady_clock::now() + delay, idx);
  }

  // ---- pacing: the shared pause (Retry-After), then one token from the one bucket ----

  asio::awaitable<bool> pace(asio::steady_timer& timer) {
    for (;;) {
      if (stopping_) co_return false;
      auto now = steady_clock::now();
      if (pause_until_ > now) {
        timer.expires_at(pause_until_);
        co_await timer.async_wait(token);
        continue;
      }
      const auto go = bucket_.reserve(now);
      if (go > now) {
        timer.expires_at(go);
        co_await timer.async_wait(token);
      }
      if (stopping_) co_return false;
      if (pause_until_ <= steady_clock::now()) co_return true;
    }
  }

  void pause_all(milliseconds for_how_long) {
    const auto now = steady_clock::now();
    const auto until = now + for_how_long;
    if (until <= pause_until_) return;
    summary_.paused += std::chrono::duration_cast<milliseconds>(until - std::max(now, pause_until_));
    pause_until_ = until;
    log_->debug("server asked to wait: pausing all workers for {} ms", for_how_long.count());
  }

  void throttled() {
    if (!adaptive_.enabled()) return;
    const double before = adaptive_.current();
    bucket_.set_rate(adaptive_.on_throttle(steady_clock::now()));
    if (adaptive_.current() < before)
      log_->debug("throttled: rate lowered to {:.2f}/s", adaptive_.current());
  }

  void succeeded_once() {
    if (adaptive_.enabled() && adaptive_.current() < options_.rate)
      bucket_.set_rate(adaptive_.on_success());
  }

  // ---- one worker: one connection, one attempt at a time ----

  asio::awaitable<void> worker(std::unique_ptr<Connection> connection) {
    asio::steady_timer timer(executor_);
    pace_timers_.insert(&timer);
    struct Unregister {
      Impl* self;
      asio::steady_timer* timer;
      ~Unregister() {
        if (!self->abandoned_) self->pace_timers_.erase(timer);
      }
    } unregister{this, &timer};
    // `ahead`: a fresh job this worker took while its previous request was out, with its
    // dispatch record already appended, so that record's fsync overlapped the round trip.
    std::optional<Pick> ahead;
    for (;;) {
      std::optional<Pick> pick;
      if (ahead) {
        pick = std::exchange(ahead, std::nullopt);
      } else {
        pick = co_await next_job();
      }
      if (!pick) break;
      co_await attempt(*pick, *connection, timer, ahead);
    }
  }

  asio::awaitable<void> attempt(Pick pick, Connection& connection, asio::steady_timer& timer,
                                std::optional<Pick>& ahead) {
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

    Progress& p = progress_[pick.idx];
    if (p.needs_reconcile) {
      const bool go_on = co_await reconcile(pick.idx, connection, timer);
      if (!go_on) co_return;
    }
    co_await cut(pick.idx, connection, timer, ahead);
  }

  // Reads the live video after an in-doubt attempt. Returns true when a cut may be sent.
  asio::awaitable<bool> reconcile(std::size_t idx, Connection& connection, asio::steady_timer& timer) {
    RunJob& job = jobs_[idx];
    Progress& p = progress_[idx];
    if (!co_await pace(timer)) co_return false;
    ++p.reconcile_tries;
    ++summary_.reconciles;
    ledger_.append_dispatch(job.spec, p.reconcile_tries, "reconcile");
    const HttpRequest request{false, live_video_target(options_.base, job.spec), {}};
    const AttemptResult result = co_await connection.round_trip(request, options_.timeout);
    std::optional<bool> can;
    if (result.error == TransportError::none && result.status == 200)
      can = parse_can_stop_and_cut(result.body);
    const Classification c = classify(result);  // for its error text and fatal cases
    const char* verdict = can ? (*can ? "can_stop" : "stopped") : "unreadable";
    ledger_.append_outcome(job.spec, p.reconcile_tries, "reconcile", result.status,
                           can ? "" : c.error, verdict, result.elapsed.count());
    if (log_->should_log(spdlog::level::debug))
      log_->debug("{} reconcile {}: {} {}", job.spec.key(), p.reconcile_tries, verdict, c.error);

    if (c.verdict == Verdict::fatal) {
      stop(StopReason::fatal, c.error);
      co_return false;
    }
    if (can) {
      p.reconcile_tries = 0;
      p.needs_reconcile = false;
      if (!*can) {
        co_await finish_job(idx, JobState::in_doubt, result.status, {}, stopped_already, {});
        co_return false;
      }
      if (p.exhausted) {  // the stream was not cut: the attempts really were used up
        co_await finish_job(idx, JobState::retry_exhausted, p.last_status, {}, gave_up(p), {});
        co_return false;
      }
      co_return true;
    }
    // The state could not be read: back off and read again, a bounded number of times.
    if (p.reconcile_tries >= options_.max_attempts) {
      co_await finish_job(idx, JobState::in_doubt, result.status, {},
                          "state could not be read: " + c.error, {});
    } else {
      requeue(idx, backoff_delay(options_.backoff, p.reconcile_tries, uniform_(rng_), c.retry_after));
    }
    co_return false;
  }

  asio::awaitable<void> cut(std::size_t idx, Connection& connection, asio::steady_timer& timer,
                            std::optional<Pick>& ahead) {
    RunJob& job = jobs_[idx];
    Progress& p = progress_[idx];
    const int number = job.prior_attempts + p.tries + 1;
    const LedgerWriter::Seq prepared = std::exchange(p.prepared_seq, 0);
    if (stopping_) {  // never sent in this run: stays pending
      if (prepared)
        ledger_.append_outcome(job.spec, number, "cut", 0, "not sent: the run stopped", "not_sent", 0);
      co_return;
    }

    // Write-ahead: the dispatch is on disk before the request leaves.
    co_await durable(prepared ? prepared : ledger_.append_dispatch(job.spec, number, "cut"));
    if (ledger_failed()) co_return;
    // Paced after the fsync, so its varying wait cannot bunch requests up at the server.
    if (!co_await pace(timer)) {
      // Stopped while waiting for a token: recorded as not sent, so nobody reads it back.
      ledger_.append_outcome(job.spec, number, "cut", 0, "not sent: the run stopped", "not_sent", 0);
      co_return;
    }
    ++p.tries;
    ++summary_.requests;
    if (p.tries > 1) ++summary_.retries;

    const HttpRequest request{true, stop_and_cut_target(options_.base, job.spec),
                              stop_and_cut_body(job.spec)};
    // While this request is out, write the next fresh job's dispatch record, so its fsync
    // runs during our round trip instead of after it. It is still on disk before that job's
    // request leaves; if the run stops first, it is recorded as not sent.
    if (!ahead && !stopping_ && !fresh_.empty()) {
      const std::size_t next = fresh_.front();
      fresh_.pop_front();
      Progress& q = progress_[next];
      q.prepared_seq = ledger_.append_dispatch(jobs_[next].spec,
                                               jobs_[next].prior_attempts + q.tries + 1, "cut");
      ahead = Pick{next, false};
    }
    p.awaiting_answer = true;
    const AttemptResult result = co_await connection.round_trip(request, options_.timeout);
    p.awaiting_answer = false;
    const Classification c = classify(result);
    // A final answer is recorded as the job's state record alone, so no crash can leave a
    // "succeeded" outcome without its id; other answers get an outcome record.
    if (c.verdict == Verdict::retry || c.verdict == Verdict::fatal) {
      const bool in_doubt_retry = c.verdict == Verdict::retry && c.ambiguous;
      ledger_.append_outcome(job.spec, number, "cut", result.status, c.error,
                             in_doubt_retry ? "retry_in_doubt" : to_string(c.verdict),
                             result.elapsed.count());
    }
    if (log_->should_log(spdlog::level::debug))
      log_->debug("{} attempt {}: {} {}", job.spec.key(), number, to_string(c.verdict), c.error);
    if (c.verdict != Verdict::fatal && halt_.record(c.verdict != Verdict::success))
      stop(StopReason::halted, halt_.reason());

    switch (c.verdict) {
      case Verdict::success:
        succeeded_once();
        co_await finish_job(idx, JobState::succeeded, result.status, c.video_public_id, {}, {});
        break;
      case Verdict::permanent:
        if (p.after_ambiguous && result.status == 400) {
          // "Cannot be stopped" after an attempt that may have cut: most likely ours.
          log_->warn("{}: in doubt: {} after an in-doubt attempt", job.spec.key(), c.error);
          co_await finish_job(idx, JobState::in_doubt, result.status, {},
                              std::string(stopped_already) + " (" + c.error + ")", c.messages);
        } else {
          log_->warn("{}: failed: {}", job.spec.key(), c.error);
          co_await finish_job(idx, JobState::failed, result.status, {}, c.error, c.messages);
        }
        break;
      case Verdict::fatal:
        log_->error("{}: {}", job.spec.key(), c.error);
        stop(StopReason::fatal, c.error);
        break;
      case Verdict::retry:
        co_await on_retryable(idx, result, c);
        break;
    }
  }

  asio::awaitable<void> on_retryable(std::size_t idx, const AttemptResult& result,
                                     const Classification& c) {
    Progress& p = progress_[idx];
    if (result.status == 429 || result.status == 503) {
      throttled();
      if (c.retry_after) pause_all(*c.retry_after);
    }
    if (c.ambiguous) {
      p.after_ambiguous = true;
      p.needs_reconcile = options_.reconcile;
    }
    p.last_status = result.status;
    p.last_error = c.error;
    // Before an in-doubt attempt is read back, give the backend time to finish acting on it.
    const auto settle = c.ambiguous && p.needs_reconcile ? options_.reconcile_delay : milliseconds(0);
    if (p.tries < options_.max_attempts) {
      requeue(idx, std::max(settle, backoff_delay(options_.backoff, p.tries, uniform_(rng_), c.retry_after)));
    } else if (p.needs_reconcile) {
      // Out of attempts, but the last one may have cut: read the state to name it.
      p.exhausted = true;
      requeue(idx, settle);
    } else if (c.ambiguous) {
      // --no-reconcile: out of attempts, and the last one may have cut. Not "retry_exhausted",
      // which promises the stream was not cut.
      log_->warn("{}: giving up after {} attempts, the last in doubt: {}", jobs_[idx].spec.key(),
                 p.tries, c.error);
      co_await finish_job(idx, JobState::in_doubt, result.status, {},
                          gave_up(p) + " (the last attempt may have cut; state not read: --no-reconcile)", {});
    } else {
      log_->warn("{}: giving up after {} attempts: {}", jobs_[idx].spec.key(), p.tries, c.error);
      co_await finish_job(idx, JobState::retry_exhausted, result.status, {}, gave_up(p), {});
    }
  }

  static std::string gave_up(const Progress& p) {
    return "gave up after " + std::to_string(p.tries) + " attempts: " + p.last_error;
  }

  asio::awaitable<void> finish_job(std::size_t idx, JobState state, int http_status,
                                   std::string video_public_id, std::string error,
                                   std::vector<std::string> messages) {
    JobRecord record;
    record.spec = jobs_[idx].spec;
    record.state = state;
    record.attempts = jobs_[idx].prior_attempts + progress_[idx].tries;
    record.http_status = http_status;
    record.video_public_id = std::move(video_public_id);
    record.error = std::move(error);
    record.messages = std::move(messages);
    progress_[idx].final = true;  // no second final record, whatever happens next
    if (log_->should_log(spdlog::level::debug))
      log_->debug("{}: {} {}", record.spec.key(), to_string(state), record.video_public_id);
    const auto seq = ledger_.append_state(record);
    // The worker moves on at once; the job is counted once its record is on disk (its
    // next dispatch record is behind it in the same file, so that fsync covers both).
    ++finalizing_;
    asio::co_spawn(executor_, count_when_durable(seq, state, idx, std::move(record.video_public_id)),
                   asio::detached);
    co_return;
  }

  asio::awaitable<void> count_when_durable(LedgerWriter::Seq seq, JobState state, std::size_t idx,
                                           std::string video_public_id) {
    struct Done {
      Impl* self;
      ~Done() {
        if (self->abandoned_) return;
        --self->finalizing_;
        if (self->workers_left_ == 0)
          self->try_finish();  // the workers left already (a stop): the run ends with this
        else
          self->notify();
      }
    } done{this};
    co_await durable(seq);
    if (auto failure = ledger_.failure(); failure && !video_public_id.empty()) {
      // The one value that exists nowhere else: say it where a person will see it.
      log_->error("NOT RECORDED (ledger failed: {}): {} succeeded with videoPublicId {}", *failure,
                  jobs_[idx].spec.key(), video_public_id);
    }
    // Counted only once durable: a crash before this line loses no recorded id.
    ++summary_.states[state];
  }

  // Suspends until the ledger reports `seq` durable. Waits are coalesced: coroutines park
  // here, on the event loop, and one ledger callback per group commit wakes all of them,
  // so a thousand waiters cost one cross-thread wake-up, not a thousand.
  asio::awaitable<void> durable(LedgerWriter::Seq seq) {
    if (seq <= durable_seq_) co_return;
    auto initiate = [this, seq](auto handler) {
      auto shared = std::make_shared<decltype(handler)>(std::move(handler));
      durable_waiters_.push_back({seq, [shared]() { std::move (*shared)(); }});
      if (!register_pending_) {
        register_pending_ = true;  // after this turn of the loop, for the highest seq waited on
        asio::post(executor_, [this]() { register_durable(); });
      }
    };
    co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(initiate,
                                                                          asio::use_awaitable);
  }

  void register_durable() {
    register_pending_ = false;
    LedgerWriter::Seq target = 0;
    for (const auto& w : durable_waiters_) target = std::max(target, w.seq);
    if (target <= registered_seq_) return;
    registered_seq_ = target;
    // The gate closes before the event loop goes, so a late callback never posts to it.
    ledger_.when_durable(target, [this, gate = gate_, ex = executor_, target]() {
      std::lock_guard lock(gate->mutex);
      if (gate->open) asio::post(ex, [this, target]() { on_durable(target); });
    });
  }

  void on_durable(LedgerWriter::Seq seq) {
    durable_seq_ = std::max(durable_seq_, seq);
    std::vector<DurableWaiter> ready;
    auto keep = std::partition(durable_waiters_.begin(), durable_waiters_.end(),
                               [&](const DurableWaiter& w) { return w.seq > durable_seq_; });
    std::move(keep, durable_waiters_.end(), std::back_inserter(ready));
    durable_waiters_.erase(keep, durable_waiters_.end());
    for (auto& w : ready) asio::post(executor_, std::move(w.resume));
    if (!durable_waiters_.empty() && !register_pending_) {
      register_pending_ = true;
      asio::post(executor_, [this]() { register_durable(); });
    }
  }

  bool ledger_failed() {
    if (auto failure = ledger_.failure()) {
      if (!summary_.ledger_failure) summary_.ledger_failure = *failure;
      stop(StopReason::ledger, "ledger write failed: " + *failure);
      return true;
    }
    return false;
  }

  void arm_deadline(std::chrono::system_clock::time_point deadline) {
    const auto left = deadline - std::chrono::system_clock::now();
    deadline_timer_.emplace(executor_);
    deadline_timer_->expires_after(std::chrono::duration_cast<steady_clock::duration>(left));
    deadline_timer_->async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->stop(StopReason::deadline, "the --deadline has passed");
    });
  }

  static asio::awaitable<void> report_progress(std::shared_ptr<Impl> self) {
    while (!self->finished_) {
      self->progress_timer_->expires_after(self->options_.progress_interval);
      co_await self->progress_timer_->async_wait(token);
      if (self->finished_) break;
      std::size_t done = 0;
      for (const auto& [s, n] : self->summary_.states) done += n;
      const auto secs = std::chrono::duration<double>(steady_clock::now() - self->started_).count();
      self->log_->info(
          "progress: {}/{} jobs final, {} requests ({} retries), {:.1f} req/s, paused {:.1f} s, "
          "rate limit {}",
          done, self->jobs_.size(), self->summary_.requests, self->summary_.retries,
          secs > 0 ? static_cast<double>(self->summary_.requests) / secs : 0.0,
          static_cast<double>(self->summary_.paused.count()) / 1000.0,
          self->bucket_.unlimited() ? std::string("none") : fmt::format("{:.1f}/s", self->bucket_.rate()));
    }
  }

  void write_pending_states(bool skip_awaiting_answer) {
    for (std::size_t i = 0; i < jobs_.size(); ++i) {
      if (progress_[i].final) continue;
      if (skip_awaiting_answer && progress_[i].awaiting_answer) {
        // Left mid-request: its dispatch has no outcome, so the next run reads it back.
        ++summary_.abandoned;
        continue;
      }
      JobRecord record;
      record.spec = jobs_[i].spec;
      record.state = JobState::pending;
      record.attempts = jobs_[i].prior_attempts + progress_[i].tries;
      ledger_.append_state(record);
      progress_[i].final = true;
      ++summary_.states[JobState::pending];
    }
  }

  RunSummary close_summary() {
    finished_ = true;
    summary_.connections = transport_.connections_opened();
    summary_.elapsed = std::chrono::duration_cast<milliseconds>(steady_clock::now() - started_);
    summary_.final_rate = adaptive_.enabled() ? adaptive_.current() : options_.rate;
    return summary_;
  }

  // The run ends when the workers are gone and every final record is on disk.
  void try_finish() {
    if (workers_left_ == 0 && finalizing_ == 0 && !finished_) finish();
  }

  // Whatever did not reach a final state is pending.
  void finish() {
    write_pending_states(/*skip_awaiting_answer=*/false);
    RunSummary s = close_summary();
    wake_.reset();
    if (deadline_timer_) deadline_timer_->cancel();
    if (progress_timer_) progress_timer_->cancel();
    if (done_) done_(std::move(s));
  }

  struct Gate {
    std::mutex mutex;
    bool open = true;
  };
  struct DurableWaiter {
    LedgerWriter::Seq seq;
    std::function<void()> resume;
  };

  RunOptions options_;
  std::shared_ptr<Gate> gate_ = std::make_shared<Gate>();
  bool abandoned_ = false;
  Transport& transport_;
  LedgerWriter& ledger_;
  std::shared_ptr<spdlog::logger> log_;
  TokenBucket bucket_;
  AdaptiveRate adaptive_;
  RetryBudget budget_;
  HaltPolicy halt_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> uniform_{0.0, 1.0};

  asio::any_io_executor executor_;
  std::optional<asio::steady_timer> wake_;
  std::optional<asio::steady_timer> deadline_timer_;
  std::optional<asio::steady_timer> progress_timer_;
  std::set<asio::steady_timer*> pace_timers_;
  std::vector<RunJob> jobs_;
  std::vector<Progress> progress_;
  std::deque<std::size_t> fresh_;
  using Due = std::pair<steady_time, std::size_t>;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> delayed_;
  steady_time pause_until_{};
  std::vector<DurableWaiter> durable_waiters_;
  LedgerWriter::Seq durable_seq_ = 0;     // every record up to here is on disk
  LedgerWriter::Seq registered_seq_ = 0;  // a ledger callback will report this one
  bool register_pending_ = false;
  int in_attempt_ = 0;
  int finalizing_ = 0;  // final records appended, not yet durable
  int workers_left_ = 0;
  bool stopping_ = false;
  bool finished_ = false;
  steady_time started_{};
  RunSummary summary_;
  std::function<void(RunSummary)> done_;
};

Runner::Runner(RunOptions options, Transport& transport, LedgerWriter& ledger,
               std::shared_ptr<spdlog::logger> logger)
    : impl_(std::make_shared<Impl>(std::move(options), transport, ledger, std::move(logger))) {}

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

RunSummary run_jobs(const RunOptions& options, const TransportOptions& transport_options,
                    LedgerWriter& ledger, std::vector<RunJob> jobs,
                    std::shared_ptr<spdlog::logger> logger) {
  auto io = std::make_unique<asio::io_context>(1);
  auto transport = make_http_transport(io->get_executor(), transport_options);
  std::optional<RunSummary> summary;
  Runner runner(options, *transport, ledger, logger ? logger : spdlog::default_logger());

  // First SIGINT/SIGTERM: stop dispatching and drain, at most drain_timeout.
  // A second one, or the drain timeout: stop at once (in-flight jobs are reconciled next run).
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
  ledger.flush();
  if (auto failure = ledger.failure(); failure && !result.ledger_failure)
    result.ledger_failure = *failure;
  return result;
}

}  // namespace batchcut
