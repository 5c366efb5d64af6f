// The runner: N workers on one event loop pull jobs from one scheduler, pace through one
// token bucket, make one attempt at a time, classify it in one place and record it in the
// ledger before the job counts as done.
#include "batchcut/runner.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <queue>
#include <random>

namespace batchcut {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {
constexpr auto token = asio::as_tuple(asio::use_awaitable);
}

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
    for (std::size_t i = 0; i < jobs_.size(); ++i) fresh_.push_back(i);

    const int workers = std::max(1, std::min<int>(options_.concurrency,
                                                  static_cast<int>(std::max<std::size_t>(1, jobs_.size()))));
    workers_left_ = workers;
    for (int w = 0; w < workers; ++w) {
      asio::co_spawn(executor_, worker(transport_.make_connection()),
                     [self = shared_from_this()](std::exception_ptr e) {
                       if (e) {
                         try {
                           std::rethrow_exception(e);
                         } catch (const std::exception& ex) {
                           self->log_->error("worker failed: {}", ex.what());
                           self->abort(std::string("internal error: ") + ex.what());
                         }
                       }
                       if (--self->workers_left_ == 0) self->finish();
                     });
    }
  }

 private:
  struct Progress {
    int tries = 0;          // attempts made in this run
    bool final = false;     // reached a final state in this run
  };

  // ---- the scheduler ----

  // The next job to attempt: a retry that has come due, else a fresh job. Waits while
  // retries are pending or other workers may still re-queue theirs; nullopt when all is done.
  asio::awaitable<std::optional<std::size_t>> next_job() {
    for (;;) {
      if (stopping_) co_return std::nullopt;
      const auto now = steady_clock::now();
      if (!delayed_.empty() && delayed_.top().first <= now) {
        const auto idx = delayed_.top().second;
        delayed_.pop();
        co_return idx;
      }
      if (!fresh_.empty()) {
        const auto idx = fresh_.front();
        fresh_.pop_front();
        co_return idx;
      }
      if (delayed_.empty() && in_attempt_ == 0) co_return std::nullopt;
      // Every waiter computes the same expiry, so only a real change re-arms the timer.
      const auto until = delayed_.empty() ? steady_time::max() : delayed_.top().first;
      if (wake_->expiry() != until) wake_->expires_at(until);
      co_await wake_->async_wait(token);
    }
  }

  void notify() { wake_->cancel(); }

  // ---- one worker: one connection, one attempt at a time ----

  asio::awaitable<void> worker(std::unique_ptr<Connection> connection) {
    asio::steady_timer pacer(executor_);
    while (auto idx = co_await next_job()) co_await attempt(*idx, *connection, pacer);
  }

  asio::awaitable<void> attempt(std::size_t idx, Connection& connection, asio::steady_timer& pacer) {
    ++in_attempt_;
    struct Leave {
      Impl* self;
      ~Leave() {
        --self->in_attempt_;
        self->notify();
      }
    } leave{this};

    // Pace: every attempt, first or retry, takes a token from the one bucket.
    const auto go = bucket_.reserve(steady_clock::now());
    if (go > steady_clock::now()) {
      pacer.expires_at(go);
      co_await pacer.async_wait(token);
    }
    if (stopping_) co_return;  // never sent in this run: stays pending

    RunJob& job = jobs_[idx];
    Progress& p = progress_[idx];
    ++p.tries;
    const int number = job.prior_attempts + p.tries;
    ++summary_.requests;
    if (p.tries > 1) ++summary_.retries;

    // The dispatch is on disk before the request leaves.
    co_await durable(ledger_.append_dispatch(job.spec, number, "cut"));
    if (ledger_failed()) co_return;

    const HttpRequest request{true, stop_and_cut_target(options_.base, job.spec),
                              stop_and_cut_body(job.spec)};
    const AttemptResult result = co_await connection.round_trip(request, options_.timeout);
    const Classification c = classify(result);
    ledger_.append_outcome(job.spec, number, "cut", result.status, c.error, to_string(c.verdict),
                           result.elapsed.count());
    log_->debug("{} attempt {}: {} {}", job.spec.key(), number, to_string(c.verdict), c.error);

    switch (c.verdict) {
      case Verdict::success:
        co_await finish_job(idx, JobState::succeeded, result, c);
        break;
      case Verdict::permanent:
        log_->warn("{}: failed: {}", job.spec.key(), c.error);
        co_await finish_job(idx, JobState::failed, result, c);
        break;
      case Verdict::fatal:
        log_->error("{}: {}; stopping the run", job.spec.key(), c.error);
        abort(c.error);
        break;
      case Verdict::retry:
        if (p.tries >= options_.max_attempts) {
          log_->warn("{}: giving up after {} attempts: {}", job.spec.key(), p.tries, c.error);
          co_await finish_job(idx, JobState::retry_exhausted, result, c);
        } else {
          const auto delay = backoff_delay(options_.backoff, p.tries, uniform_(rng_), c.retry_after);
          delayed_.emplace(steady_clock::now() + delay, idx);
        }
        break;
    }
  }

  asio::awaitable<void> finish_job(std::size_t idx, JobState state, const AttemptResult& result,
                                   const Classification& c) {
    JobRecord record;
    record.spec = jobs_[idx].spec;
    record.state = state;
    record.attempts = jobs_[idx].prior_attempts + progress_[idx].tries;
    record.http_status = result.status;
    record.video_public_id = c.video_public_id;
    record.error = c.error;
    record.messages = c.messages;
    co_await durable(ledger_.append_state(record));
    // Counted only once durable: a crash before this line loses no recorded id.
    progress_[idx].final = true;
    ++summary_.states[state];
  }

  // Suspends until the ledger reports `seq` durable; resumes on our executor.
  asio::awaitable<void> durable(LedgerWriter::Seq seq) {
    auto initiate = [this, seq](auto handler) {
      auto shared = std::make_shared<decltype(handler)>(std::move(handler));
      ledger_.when_durable(seq, [shared, ex = executor_]() {
        asio::post(ex, [shared]() { std::move (*shared)(); });
      });
    };
    co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(initiate,
                                                                          asio::use_awaitable);
  }

  bool ledger_failed() {
    if (auto failure = ledger_.failure()) {
      if (!summary_.ledger_failure) {
        summary_.ledger_failure = *failure;
        log_->error("ledger write failed: {}; stopping the run", *failure);
      }
      abort("ledger write failed: " + *failure);
      return true;
    }
    return false;
  }

  void abort(std::string reason) {
    if (!summary_.aborted) {
      summary_.aborted = true;
      summary_.abort_reason = std::move(reason);
    }
    stopping_ = true;
    notify();
  }

  // All workers are gone: whatever did not reach a final state is pending.
  void finish() {
    for (std::size_t i = 0; i < jobs_.size(); ++i) {
      if (progress_[i].final) continue;
      JobRecord record;
      record.spec = jobs_[i].spec;
      record.state = JobState::pending;
      record.attempts = jobs_[i].prior_attempts + progress_[i].tries;
      ledger_.append_state(record);
      ++summary_.states[JobState::pending];
    }
    summary_.connections = transport_.connections_opened();
    summary_.elapsed = std::chrono::duration_cast<milliseconds>(steady_clock::now() - started_);
    wake_.reset();
    if (done_) done_(summary_);
  }

  RunOptions options_;
  Transport& transport_;
  LedgerWriter& ledger_;
  std::shared_ptr<spdlog::logger> log_;
  TokenBucket bucket_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> uniform_{0.0, 1.0};

  asio::any_io_executor executor_;
  std::optional<asio::steady_timer> wake_;
  std::vector<RunJob> jobs_;
  std::vector<Progress> progress_;
  std::deque<std::size_t> fresh_;
  using Due = std::pair<steady_time, std::size_t>;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> delayed_;
  int in_attempt_ = 0;
  int workers_left_ = 0;
  bool stopping_ = false;
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

RunSummary run_jobs(const RunOptions& options, const TransportOptions& transport_options,
                    LedgerWriter& ledger, std::vector<RunJob> jobs,
                    std::shared_ptr<spdlog::logger> logger) {
  asio::io_context io(1);
  auto transport = make_http_transport(io.get_executor(), transport_options);
  RunSummary summary;
  Runner runner(options, *transport, ledger, std::move(logger));
  runner.start(io.get_executor(), std::move(jobs), [&](RunSummary s) { summary = std::move(s); });
  io.run();
  ledger.flush();
  if (auto failure = ledger.failure(); failure && !summary.ledger_failure)
    summary.ledger_failure = *failure;
  return summary;
}

}  // namespace batchcut
