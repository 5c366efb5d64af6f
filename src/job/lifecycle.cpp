#include "batchcut/job/lifecycle.hpp"

#include <utility>

namespace batchcut {

const char* to_string(JobState s) {
  switch (s) {
    case JobState::pending: return "pending";
    case JobState::succeeded: return "succeeded";
    case JobState::failed: return "failed";
    case JobState::retry_exhausted: return "retry_exhausted";
    case JobState::in_doubt: return "in_doubt";
  }
  return "?";
}

std::optional<JobState> parse_job_state(std::string_view s) {
  for (JobState v : {JobState::pending, JobState::succeeded, JobState::failed,
                     JobState::retry_exhausted, JobState::in_doubt})
    if (s == to_string(v)) return v;
  return std::nullopt;
}

const char* to_string(Phase p) {
  switch (p) {
    case Phase::idle: return "idle";
    case Phase::cut_out: return "cut_out";
    case Phase::read_out: return "read_out";
    case Phase::lookup_out: return "lookup_out";
    case Phase::done: return "done";
  }
  return "?";
}

const char* to_string(CutVerdict v) {
  switch (v) {
    case CutVerdict::success: return "success";
    case CutVerdict::retry: return "retry";
    case CutVerdict::retry_in_doubt: return "retry_in_doubt";
    case CutVerdict::refused: return "refused";
    case CutVerdict::fatal: return "fatal";
  }
  return "?";
}

const char* to_string(ReadVerdict v) {
  switch (v) {
    case ReadVerdict::can_stop: return "can_stop";
    case ReadVerdict::stopped: return "stopped";
    case ReadVerdict::unreadable: return "unreadable";
  }
  return "?";
}

const char* to_string(LookupVerdict v) {
  switch (v) {
    case LookupVerdict::found: return "found";
    case LookupVerdict::none: return "none";
    case LookupVerdict::several: return "several";
    case LookupVerdict::unreadable: return "unreadable";
  }
  return "?";
}

const char* to_string(Op op) {
  switch (op) {
    case Op::cut: return "cut";
    case Op::read: return "read";
    case Op::lookup: return "lookup";
  }
  return "?";
}

std::optional<Op> parse_op(std::string_view s) {
  for (Op v : {Op::cut, Op::read, Op::lookup})
    if (s == to_string(v)) return v;
  return std::nullopt;
}

std::optional<LookupVerdict> parse_lookup_verdict(std::string_view s) {
  for (LookupVerdict v : {LookupVerdict::found, LookupVerdict::none, LookupVerdict::several, LookupVerdict::unreadable})
    if (s == to_string(v)) return v;
  return std::nullopt;
}

std::optional<CutVerdict> parse_cut_verdict(std::string_view s) {
  for (CutVerdict v : {CutVerdict::success, CutVerdict::retry, CutVerdict::retry_in_doubt,
                       CutVerdict::refused, CutVerdict::fatal})
    if (s == to_string(v)) return v;
  return std::nullopt;
}

std::optional<ReadVerdict> parse_read_verdict(std::string_view s) {
  for (ReadVerdict v : {ReadVerdict::can_stop, ReadVerdict::stopped, ReadVerdict::unreadable})
    if (s == to_string(v)) return v;
  return std::nullopt;
}

namespace {

constexpr const char* stopped_already =
    "stream already stopped, probably by an earlier attempt; videoPublicId unknown";

[[noreturn]] void impossible(const Lifecycle& job, const std::string& what) {
  throw LifecycleError(what + " is impossible while the job is " + describe(job));
}

void settle(Lifecycle& job, JobState state) {
  job.phase = Phase::done;
  job.state = state;
}

void on_dispatch(Lifecycle& job, const Dispatch& e) {
  if (job.phase != Phase::idle) impossible(job, "a dispatch");
  if (e.op == Op::read) {
    if (!job.doubt) impossible(job, "a read-back with nothing in doubt");
    if (job.kind == JobKind::clip) impossible(job, "a read-back of a clip (a clip is looked up)");
    if (job.stopped) impossible(job, "a read-back of a stream already read as stopped");
    job.phase = Phase::read_out;
    return;
  }
  if (e.op == Op::lookup) {
    if (!job.doubt) impossible(job, "a lookup with nothing in doubt");
    if (job.kind == JobKind::stop_and_cut && !job.stopped)
      impossible(job, "a lookup before the stream was read as stopped");
    job.phase = Phase::lookup_out;
    return;
  }
  if (job.doubt && !e.blind) impossible(job, "a cut before the doubt is settled");
  if (e.attempt != job.attempts + 1)
    impossible(job, "cut attempt " + std::to_string(e.attempt) + " after attempt " +
                        std::to_string(job.attempts));
  job.phase = Phase::cut_out;
  job.attempts = e.attempt;
  if (e.attempt == 1) job.first_cut_at_ms = e.at_ms;
}

void on_withdraw(Lifecycle& job, const Withdraw& e) {
  if (job.phase != Phase::cut_out || e.attempt != job.attempts)
    impossible(job, "withdrawing cut attempt " + std::to_string(e.attempt));
  job.phase = Phase::idle;
  --job.attempts;
}

void on_cut_answer(Lifecycle& job, const CutAnswer& e) {
  if (job.phase != Phase::cut_out || e.attempt != job.attempts)
    impossible(job, "an answer to cut attempt " + std::to_string(e.attempt));
  job.phase = Phase::idle;
  job.http_status = e.http_status;
  job.error = e.error;
  job.messages = e.messages;
  switch (e.verdict) {
    case CutVerdict::success:
      job.doubt = false;
      job.video_public_id = e.video_public_id;
      job.error.clear();
      settle(job, JobState::succeeded);
      return;
    case CutVerdict::refused:
      // This request did nothing, but an earlier one may have cut: then "cannot be stopped"
      // (or a 403/404) most likely means ours did, and its id was never seen.
      if (job.ever_doubt) {
        job.error = job.kind == JobKind::clip
                        ? "an earlier attempt may have made the clip (it was not found then); this one was refused"
                        : stopped_already;
        job.error += " (then: " + e.error + ")";
        settle(job, JobState::in_doubt);
      } else {
        settle(job, JobState::failed);
      }
      return;
    case CutVerdict::retry_in_doubt:
      job.doubt = job.ever_doubt = true;
      return;
    case CutVerdict::retry:
    case CutVerdict::fatal:
      return;  // the server did not act on this one; any earlier doubt stands
  }
}

void on_read_answer(Lifecycle& job, const ReadAnswer& e) {
  if (job.phase != Phase::read_out) impossible(job, "an answer to a read-back");
  job.phase = Phase::idle;
  switch (e.verdict) {
    case ReadVerdict::can_stop:
      job.doubt = false;
      return;
    case ReadVerdict::stopped:
      // Most likely by our cut: its VOD is looked up next (still in doubt until found).
      job.error = stopped_already;
      if (job.http_status != 0) job.error += " (last cut answer: HTTP " + std::to_string(job.http_status) + ")";
      job.stopped = true;
      job.live_title = e.live_title;
      return;
    case ReadVerdict::unreadable:
      return;
  }
}

void on_lookup_answer(Lifecycle& job, const LookupAnswer& e) {
  if (job.phase != Phase::lookup_out) impossible(job, "an answer to a lookup");
  job.phase = Phase::idle;
  switch (e.verdict) {
    case LookupVerdict::found:
      job.doubt = false;
      job.recovered = true;
      job.video_public_id = e.video_public_id;
      job.error = "recovered by a lookup: " + e.error;
      settle(job, JobState::succeeded);
      return;
    case LookupVerdict::none:
      if (job.kind == JobKind::clip) {
        job.doubt = false;  // nothing was made: the clip may be sent again
        return;
      }
      job.error = "stream already stopped, but no VOD of it was found: " + e.error;
      settle(job, JobState::in_doubt);
      return;
    case LookupVerdict::several:
      job.error = (job.kind == JobKind::clip ? "a clip may have been made, and the lookup is ambiguous: "
                                             : "stream already stopped, and the lookup is ambiguous: ") + e.error;
      settle(job, JobState::in_doubt);
      return;
    case LookupVerdict::unreadable:
      return;
  }
}

void on_give_up(Lifecycle& job, const GiveUp& e) {
  if (job.phase != Phase::idle) impossible(job, "giving up");
  job.error = e.why;
  // "retry_exhausted" promises the stream was not cut; while in doubt that is unknown.
  settle(job, job.doubt ? JobState::in_doubt : JobState::retry_exhausted);
}

void on_reopen(Lifecycle& job) {
  if (job.phase != Phase::done || job.state == JobState::succeeded) impossible(job, "reopening");
  // An in_doubt job is read back before anything is sent again.
  job.doubt = job.doubt || job.state == JobState::in_doubt;
  job.phase = Phase::idle;
  job.state = JobState::pending;
}

void on_interrupted(Lifecycle& job) {
  if (job.phase == Phase::cut_out) {
    job.doubt = job.ever_doubt = true;
    job.error = "the run ended before the answer to cut attempt " + std::to_string(job.attempts) +
                " was seen";
    job.phase = Phase::idle;
  } else if (job.phase == Phase::read_out || job.phase == Phase::lookup_out) {
    job.phase = Phase::idle;  // still in doubt
  }
}

}  // namespace

void step(Lifecycle& job, const Event& event) {
  std::visit(
      [&job](const auto& e) {
        using E = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<E, Dispatch>) on_dispatch(job, e);
        else if constexpr (std::is_same_v<E, Withdraw>) on_withdraw(job, e);
        else if constexpr (std::is_same_v<E, CutAnswer>) on_cut_answer(job, e);
        else if constexpr (std::is_same_v<E, ReadAnswer>) on_read_answer(job, e);
        else if constexpr (std::is_same_v<E, GiveUp>) on_give_up(job, e);
        else if constexpr (std::is_same_v<E, Reopen>) on_reopen(job);
        else if constexpr (std::is_same_v<E, Interrupted>) on_interrupted(job);
        else if constexpr (std::is_same_v<E, LookupAnswer>) on_lookup_answer(job, e);
        else static_assert(!sizeof(E), "an event step() does not handle");
      },
      event);
}

Next next_step(const Lifecycle& job, const Budget& budget) {
  if (job.phase != Phase::idle) return Next::none;
  if (job.doubt && budget.reconcile) {
    if (!budget.reads_left) return Next::give_up;
    return job.kind == JobKind::clip || job.stopped ? Next::lookup : Next::read;
  }
  return budget.attempts_left ? Next::cut : Next::give_up;
}

std::string describe(const Lifecycle& job) {
  std::string s = job.phase == Phase::done ? to_string(job.state) : to_string(job.phase);
  s += " after " + std::to_string(job.attempts) + " cut attempt(s)";
  if (job.doubt && job.stopped) s += ", in doubt (the stream is stopped; its VOD is looked up)";
  else if (job.doubt) s += ", in doubt (a cut may be out)";
  else if (job.ever_doubt && job.phase != Phase::done) s += ", doubt settled by a read-back";
  return s;
}

const char* to_string(const Event& event) {
  static constexpr const char* names[] = {"dispatch", "withdraw", "answer",      "answer",
                                          "giveup",   "reopen",   "interrupted", "answer"};
  return names[event.index()];
}

}  // namespace batchcut
