// A job's lifecycle: every state a job can be in and every transition between them, in one
// place. The runner turns what happens into events and calls step(); the ledger records each
// event that safety depends on; folding a ledger reads those events back through the same
// step(). There is one lifecycle, not two that must agree.
//
//              Dispatch(cut)                 Answer(cut): success --------------> done: succeeded
//   idle ------------------------> cut_out ---------------: refused -------------> done: failed
//    ^  ^  \                       |   |                    (in_doubt if a cut may be out)
//    |  |   \ Dispatch(read)       |   +--- retry / fatal: idle (in doubt if ambiguous)
//    |  |    \  [only in doubt]    +--- Withdraw (never sent) / Interrupted (answer never seen:
//    |  |     v                         idle, in doubt)
//    |  +--- read_out: Answer(read) can_stop: idle, doubt settled
//    |                 Answer(read) stopped:  done: in_doubt
//    |                 Answer(read) unreadable, Interrupted: idle, still in doubt
//    +---- GiveUp (the runner's policy): done: retry_exhausted, or in_doubt when in doubt
//          Reopen (an operator re-runs a settled job that is not succeeded): idle
//
// Finding the VOD a lost answer made (vod/lookup.hpp): a clip in doubt is never read back
// (canStopAndCut says nothing about clips); its VOD is looked up among the project's videos.
// A stop-and-cut read back as stopped is looked up the same way before it settles:
//   idle --Dispatch(lookup)--> lookup_out: Answer(lookup) found:   done: succeeded (recovered)
//                                          Answer(lookup) none:    clip: idle, doubt settled
//                                                                  stop-and-cut: done: in_doubt
//                                          Answer(lookup) several: done: in_doubt
//                                          Answer(lookup) unreadable, Interrupted: idle, in doubt
//
// The one fact no event may erase: "a cut may have reached the server" (doubt) is set by an
// ambiguous answer or by a cut whose answer was never seen, and is cleared only by a read of
// the live video that says it can still be cut. Stopping a run, a deadline, a halt, a 401 or a
// crash changes nothing about it.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "batchcut/job/spec.hpp"

namespace batchcut {

// What a person sees for a job: the ledger's state, the export's column, --states.
enum class JobState { pending, succeeded, failed, retry_exhausted, in_doubt };

const char* to_string(JobState s);
std::optional<JobState> parse_job_state(std::string_view s);

// Every state, in the order summaries, status and metrics list them.
inline constexpr JobState all_job_states[] = {JobState::succeeded, JobState::failed, JobState::retry_exhausted,
                                              JobState::in_doubt, JobState::pending};

enum class Phase : std::uint8_t {
  idle,      // nothing is out: the next step is a cut, or a read-back first when in doubt
  cut_out,   // a cut's dispatch is on disk and its request may be out; no answer seen yet
  read_out,  // a read-back (GET of the live video) is out
  lookup_out,  // a lookup of the VOD a lost answer made (GET of the project's videos) is out
  done,      // settled: succeeded, failed, retry_exhausted or in_doubt
};

const char* to_string(Phase p);

// cut: the job's own request (stop-and-cut or cut-and-publish); read: GET the live video;
// lookup: search the project's videos for the VOD an in-doubt cut made.
enum class Op : std::uint8_t { cut, read, lookup };

const char* to_string(Op op);
std::optional<Op> parse_op(std::string_view s);

// How a cut's answer was classified (see classify() in net/api.hpp).
enum class CutVerdict : std::uint8_t {
  success,         // 2xx with a videoPublicId: the VOD exists
  retry,           // retryable, and the server did not act (429, refused connection, ...)
  retry_in_doubt,  // retryable, but the server may have acted (5xx, timeout after sending, ...)
  refused,         // a permanent 4xx/3xx: this request will not succeed as it is
  fatal,           // the run must stop (401, a certificate that does not verify); not acted on
};

// What a read of the live video said.
enum class ReadVerdict : std::uint8_t {
  can_stop,    // canStopAndCut: true (and not Processing): no cut happened
  stopped,     // canStopAndCut: false: the stream is stopped, most likely by our cut
  unreadable,  // no usable answer: still in doubt
};

// What a lookup of the VOD found among the project's videos created since the first cut.
enum class LookupVerdict : std::uint8_t {
  found,       // exactly one: its id is the job's result
  none,        // no match (after the settle delay)
  several,     // more than one could be ours: a person must choose
  unreadable,  // no usable answer: still in doubt
};

const char* to_string(CutVerdict v);
const char* to_string(ReadVerdict v);
const char* to_string(LookupVerdict v);
std::optional<CutVerdict> parse_cut_verdict(std::string_view s);
std::optional<ReadVerdict> parse_read_verdict(std::string_view s);
std::optional<LookupVerdict> parse_lookup_verdict(std::string_view s);

// ---- events ----

// A request is about to leave. For a cut this record is on disk before the request is sent.
// `blind`: a cut sent while in doubt without reading the state first (--no-reconcile).
// `at_ms`: the wall clock (Unix ms) when it was dispatched; the record's "ts". The first
// cut's is where a lookup starts searching for the VOD.
struct Dispatch {
  Op op = Op::cut;
  int attempt = 1;  // cuts: 1, 2, ... over the job's life; reads, lookups: 1, 2, ... per doubt
  bool blind = false;
  std::int64_t at_ms = 0;
};

// A cut that was dispatched but never sent (the run stopped before it left).
struct Withdraw {
  int attempt = 1;
};

struct CutAnswer {
  int attempt = 1;
  CutVerdict verdict = CutVerdict::retry;
  int http_status = 0;  // 0: no HTTP answer
  std::string video_public_id;  // on success
  std::string error;
  std::vector<std::string> messages;
  std::int64_t elapsed_ms = 0;
};

struct ReadAnswer {
  int attempt = 1;
  ReadVerdict verdict = ReadVerdict::unreadable;
  int http_status = 0;
  std::string error;
  std::int64_t elapsed_ms = 0;
  std::string live_title;  // the live video's title, when stopped: a lookup searches by it
};

struct LookupAnswer {
  int attempt = 1;
  LookupVerdict verdict = LookupVerdict::unreadable;
  std::string video_public_id;  // when found
  int candidates = 0;           // matches seen (several: how many)
  int http_status = 0;
  std::string error;            // what was found, or why nothing could be
  std::int64_t elapsed_ms = 0;
};

// The runner's policy allows no more attempts (or no more reads) for this job in this run.
struct GiveUp {
  std::string why;
};

// An operator runs a settled job again (replay --states, or a re-run of retry_exhausted).
struct Reopen {};

// A run ended without seeing the answer to a request it had out (a crash, kill -9, a forced
// stop). Never written: the fold applies it at the next run's first record, the runner when it
// takes a ledger over.
struct Interrupted {};

using Event = std::variant<Dispatch, Withdraw, CutAnswer, ReadAnswer, GiveUp, Reopen, Interrupted, LookupAnswer>;

// ---- state ----

struct Lifecycle {
  JobKind kind = JobKind::stop_and_cut;  // from the job's spec; fixed for its life
  Phase phase = Phase::idle;
  JobState state = JobState::pending;  // pending unless phase == done
  bool doubt = false;       // a cut may have reached the server; no read has settled it
  bool ever_doubt = false;  // some cut may have reached the server (so a refusal is in_doubt)
  int attempts = 0;         // cuts dispatched and not withdrawn, over the job's life
  int http_status = 0;      // of the last cut answer (not of a read)
  std::string video_public_id;         // set when succeeded
  std::string error;                   // the last error, or why the job settled as it did
  std::vector<std::string> messages;   // the API's messages of the last cut answer
  bool stopped = false;         // stop-and-cut in doubt: a read saw the stream stopped; look up its VOD
  std::string live_title;       // the live video's title, as that read saw it
  std::int64_t first_cut_at_ms = 0;  // when cut attempt 1 was dispatched (Unix ms): lookups start here
  bool recovered = false;       // succeeded through a lookup: the id was found, not answered

  bool settled() const { return phase == Phase::done; }
  bool request_out() const {
    return phase == Phase::cut_out || phase == Phase::read_out || phase == Phase::lookup_out;
  }
};

// An event that cannot happen in the job's current state: a bug in the runner, or a ledger
// that was edited or damaged.
struct LifecycleError : std::logic_error {
  using std::logic_error::logic_error;
};

// Applies one event. Throws LifecycleError (and leaves `job` unchanged) when the event is
// impossible in the current state.
void step(Lifecycle& job, const Event& event);

// What the runner does next with a job that is idle.
enum class Next : std::uint8_t {
  cut,      // send the job's request (stop-and-cut or cut-and-publish)
  read,     // read the live video's state first (stop-and-cut in doubt)
  lookup,   // look for the VOD a lost answer made (a clip in doubt; a stopped stop-and-cut)
  give_up,  // out of attempts or reads: settle it (GiveUp)
  none,     // settled, or a request is out
};

struct Budget {
  bool reconcile = true;  // false: --no-reconcile, cut again without reading (blind)
  bool attempts_left = true;
  bool reads_left = true;  // reads and lookups
};

// The one place that decides the next step; the runner only chooses when.
Next next_step(const Lifecycle& job, const Budget& budget);

// The job as a person reads it: "in_doubt (a cut may be out)", for traces and logs.
std::string describe(const Lifecycle& job);

const char* to_string(const Event& event);  // "dispatch", "withdraw", "answer", ...

}  // namespace batchcut
