// The job lifecycle (job/lifecycle.hpp): every (state, event) pair step() can meet, the
// safety rules as named tests, and next_step() for every combination of its inputs.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "batchcut/job/lifecycle.hpp"

using namespace batchcut;

namespace {

constexpr const char* kStoppedAlready =
    "stream already stopped, probably by an earlier attempt; videoPublicId unknown";

// Everything a Lifecycle holds, so "unchanged" means every field.
void expect_same(const Lifecycle& a, const Lifecycle& b, const std::string& where) {
  EXPECT_EQ(a.phase, b.phase) << where;
  EXPECT_EQ(a.state, b.state) << where;
  EXPECT_EQ(a.doubt, b.doubt) << where;
  EXPECT_EQ(a.ever_doubt, b.ever_doubt) << where;
  EXPECT_EQ(a.attempts, b.attempts) << where;
  EXPECT_EQ(a.http_status, b.http_status) << where;
  EXPECT_EQ(a.video_public_id, b.video_public_id) << where;
  EXPECT_EQ(a.error, b.error) << where;
  EXPECT_EQ(a.messages, b.messages) << where;
  EXPECT_EQ(a.kind, b.kind) << where;
  EXPECT_EQ(a.stopped, b.stopped) << where;
  EXPECT_EQ(a.live_title, b.live_title) << where;
  EXPECT_EQ(a.first_cut_at_ms, b.first_cut_at_ms) << where;
  EXPECT_EQ(a.recovered, b.recovered) << where;
}

Lifecycle run(const std::vector<Event>& events, JobKind kind = JobKind::stop_and_cut) {
  Lifecycle l;
  l.kind = kind;
  for (const Event& e : events) step(l, e);
  return l;
}

CutAnswer cut_answer(int attempt, CutVerdict v, int status, std::string error,
                     std::string id = "") {
  CutAnswer a;
  a.attempt = attempt;
  a.verdict = v;
  a.http_status = status;
  a.error = std::move(error);
  a.video_public_id = std::move(id);
  return a;
}

// A read that says stopped carries the live video's title (what a lookup searches by).
ReadAnswer read_answer(ReadVerdict v, int status = 200, std::string error = "") {
  ReadAnswer a;
  a.verdict = v;
  a.http_status = status;
  a.error = std::move(error);
  if (v == ReadVerdict::stopped) a.live_title = "Live 1";
  return a;
}

LookupAnswer lookup_answer(LookupVerdict v, std::string error, std::string id = "") {
  LookupAnswer a;
  a.verdict = v;
  a.http_status = 200;
  a.error = std::move(error);
  a.video_public_id = std::move(id);
  a.candidates = v == LookupVerdict::found ? 1 : v == LookupVerdict::several ? 2 : 0;
  return a;
}

// Cut attempt N leaves at N seconds (Unix ms N*1000): only the first sets first_cut_at_ms.
Dispatch cut(int attempt, bool blind = false) { return Dispatch{Op::cut, attempt, blind, attempt * 1000}; }
Dispatch read_back(int attempt = 1) { return Dispatch{Op::read, attempt, false, 99'000}; }
Dispatch lookup(int attempt = 1) { return Dispatch{Op::lookup, attempt, false, 98'000}; }

// ---- the states the table starts from: each reached from a fresh job by real events ----

struct Start {
  const char* name;
  std::vector<Event> path;
  JobKind kind = JobKind::stop_and_cut;
};

Lifecycle run(const Start& s) { return run(s.path, s.kind); }

const std::vector<Event> in_doubt_503 = {cut(1), cut_answer(1, CutVerdict::retry_in_doubt, 503, "HTTP 503")};

std::vector<Event> then(std::vector<Event> path, const std::vector<Event>& more) {
  path.insert(path.end(), more.begin(), more.end());
  return path;
}

const std::vector<Start>& starts() {
  static const std::vector<Start> s = {
      {"idle_new", {}},
      {"idle_retried", {cut(1), cut_answer(1, CutVerdict::retry, 429, "HTTP 429")}},
      {"idle_doubt", {cut(1), cut_answer(1, CutVerdict::retry_in_doubt, 503, "HTTP 503")}},
      {"idle_settled",
       {cut(1), cut_answer(1, CutVerdict::retry_in_doubt, 503, "HTTP 503"), read_back(),
        read_answer(ReadVerdict::can_stop)}},
      {"cut_out", {cut(1)}},
      {"cut_out_blind",
       {cut(1), cut_answer(1, CutVerdict::retry_in_doubt, 503, "HTTP 503"), cut(2, true)}},
      {"cut_out_settled",
       {cut(1), cut_answer(1, CutVerdict::retry_in_doubt, 503, "HTTP 503"), read_back(),
        read_answer(ReadVerdict::can_stop), cut(2)}},
      {"read_out",
       {cut(1), cut_answer(1, CutVerdict::retry_in_doubt, 503, "HTTP 503"), read_back()}},
      {"succeeded", {cut(1), cut_answer(1, CutVerdict::success, 201, "", "vod-1")}},
      {"failed", {cut(1), cut_answer(1, CutVerdict::refused, 400, "HTTP 400")}},
      {"retry_exhausted",
       {cut(1), cut_answer(1, CutVerdict::retry, 429, "HTTP 429"), GiveUp{"out of attempts"}}},
      {"in_doubt",
       {cut(1), cut_answer(1, CutVerdict::retry_in_doubt, 503, "HTTP 503"),
        GiveUp{"out of reads"}}},
      {"in_doubt_refused",  // doubt settled by a read, then a refusal: in_doubt without doubt
       {cut(1), cut_answer(1, CutVerdict::retry_in_doubt, 503, "HTTP 503"), read_back(),
        read_answer(ReadVerdict::can_stop), cut(2),
        cut_answer(2, CutVerdict::refused, 403, "HTTP 403")}},
      // a stop-and-cut read back as stopped: still in doubt, its VOD looked up next
      {"idle_stopped", then(in_doubt_503, {read_back(), read_answer(ReadVerdict::stopped)})},
      {"lookup_out", then(in_doubt_503, {read_back(), read_answer(ReadVerdict::stopped), lookup()})},
      {"recovered",
       then(in_doubt_503, {read_back(), read_answer(ReadVerdict::stopped), lookup(),
                           lookup_answer(LookupVerdict::found, "found it", "vod-r")})},
      // a clip in doubt is looked up, never read back
      {"clip_doubt", in_doubt_503, JobKind::clip},
      {"clip_lookup_out", then(in_doubt_503, {lookup()}), JobKind::clip},
      {"clip_settled", then(in_doubt_503, {lookup(), lookup_answer(LookupVerdict::none, "nothing")}),
       JobKind::clip},
  };
  return s;
}

// The events tried on every start; attempt numbers are relative to the job's attempts.
struct Try {
  const char* name;
  std::function<Event(const Lifecycle&)> make;
};

const std::vector<Try>& tries() {
  static const std::vector<Try> t = {
      {"cut", [](const Lifecycle& l) -> Event { return cut(l.attempts + 1); }},
      {"cut_blind", [](const Lifecycle& l) -> Event { return cut(l.attempts + 1, true); }},
      {"cut_skipping", [](const Lifecycle& l) -> Event { return cut(l.attempts + 2); }},
      {"cut_repeating", [](const Lifecycle& l) -> Event { return cut(l.attempts); }},
      {"read", [](const Lifecycle&) -> Event { return read_back(); }},
      {"withdraw", [](const Lifecycle& l) -> Event { return Withdraw{l.attempts}; }},
      {"withdraw_other", [](const Lifecycle& l) -> Event { return Withdraw{l.attempts + 1}; }},
      {"success",
       [](const Lifecycle& l) -> Event {
         return cut_answer(l.attempts, CutVerdict::success, 201, "", "vod-9");
       }},
      {"retry",
       [](const Lifecycle& l) -> Event {
         return cut_answer(l.attempts, CutVerdict::retry, 429, "HTTP 429 again");
       }},
      {"retry_in_doubt",
       [](const Lifecycle& l) -> Event {
         return cut_answer(l.attempts, CutVerdict::retry_in_doubt, 502, "HTTP 502");
       }},
      {"refused",
       [](const Lifecycle& l) -> Event {
         return cut_answer(l.attempts, CutVerdict::refused, 400, "HTTP 400 now");
       }},
      {"fatal",
       [](const Lifecycle& l) -> Event {
         return cut_answer(l.attempts, CutVerdict::fatal, 401, "HTTP 401");
       }},
      {"answer_other",
       [](const Lifecycle& l) -> Event {
         return cut_answer(l.attempts + 1, CutVerdict::retry, 429, "x");
       }},
      {"answer_earlier",
       [](const Lifecycle& l) -> Event {
         return cut_answer(l.attempts - 1, CutVerdict::retry, 429, "x");
       }},
      {"can_stop", [](const Lifecycle&) -> Event { return read_answer(ReadVerdict::can_stop); }},
      {"stopped", [](const Lifecycle&) -> Event { return read_answer(ReadVerdict::stopped); }},
      {"unreadable",
       [](const Lifecycle&) -> Event {
         return read_answer(ReadVerdict::unreadable, 0, "timeout");
       }},
      {"giveup", [](const Lifecycle&) -> Event { return GiveUp{"no more"}; }},
      {"reopen", [](const Lifecycle&) -> Event { return Reopen{}; }},
      {"interrupted", [](const Lifecycle&) -> Event { return Interrupted{}; }},
      {"lookup", [](const Lifecycle&) -> Event { return lookup(); }},
      {"found",
       [](const Lifecycle&) -> Event { return lookup_answer(LookupVerdict::found, "found it", "vod-f"); }},
      {"none", [](const Lifecycle&) -> Event { return lookup_answer(LookupVerdict::none, "nothing"); }},
      {"several", [](const Lifecycle&) -> Event { return lookup_answer(LookupVerdict::several, "2 VODs"); }},
      {"lookup_unreadable",
       [](const Lifecycle&) -> Event { return lookup_answer(LookupVerdict::unreadable, "HTTP 500"); }},
  };
  return t;
}

// What a job holds after an allowed event (messages are checked by the named tests).
struct Want {
  Phase phase;
  JobState state;
  bool doubt;
  bool ever_doubt;
  int attempts;
  int http_status;
  std::string video_public_id;
  std::string error;
  bool stopped = false;    // live_title is "Live 1" exactly when stopped
  bool recovered = false;
  std::int64_t first_cut_at_ms = 1000;  // cut attempt 1 left at 1000 in every path but idle_new's
};

void expect_want(const Lifecycle& l, const Want& w) {
  EXPECT_EQ(l.phase, w.phase);
  EXPECT_EQ(l.state, w.state);
  EXPECT_EQ(l.doubt, w.doubt);
  EXPECT_EQ(l.ever_doubt, w.ever_doubt);
  EXPECT_EQ(l.attempts, w.attempts);
  EXPECT_EQ(l.http_status, w.http_status);
  EXPECT_EQ(l.video_public_id, w.video_public_id);
  EXPECT_EQ(l.error, w.error);
  EXPECT_EQ(l.stopped, w.stopped);
  EXPECT_EQ(l.live_title, w.stopped ? "Live 1" : "");
  EXPECT_EQ(l.recovered, w.recovered);
  EXPECT_EQ(l.first_cut_at_ms, w.first_cut_at_ms);
}

constexpr auto idle = Phase::idle;
constexpr auto cut_out = Phase::cut_out;
constexpr auto read_out = Phase::read_out;
constexpr auto lookup_out = Phase::lookup_out;
constexpr auto done = Phase::done;
constexpr auto pending = JobState::pending;
constexpr auto succeeded = JobState::succeeded;
constexpr auto failed = JobState::failed;
constexpr auto exhausted = JobState::retry_exhausted;
constexpr auto in_doubt = JobState::in_doubt;

std::string stopped_then(const std::string& e) {
  return std::string(kStoppedAlready) + " (then: " + e + ")";
}
const std::string stopped_503 = std::string(kStoppedAlready) + " (last cut answer: HTTP 503)";
std::string ended(int attempt) {
  return "the run ended before the answer to cut attempt " + std::to_string(attempt) + " was seen";
}

// Every allowed (start, event) pair and what it produces. Any pair not listed must throw
// LifecycleError and leave the job as it was.
struct Allowed {
  const char* start;
  const char* event;
  Want want;
};

const std::vector<Allowed>& allowed() {
  static const std::vector<Allowed> a = {
      // idle, nothing known: cut (blind or not), give up; Interrupted changes nothing
      {"idle_new", "cut", {cut_out, pending, false, false, 1, 0, "", ""}},
      {"idle_new", "cut_blind", {cut_out, pending, false, false, 1, 0, "", ""}},
      {"idle_new", "giveup", {done, exhausted, false, false, 0, 0, "", "no more", false, false, 0}},
      {"idle_new", "interrupted", {idle, pending, false, false, 0, 0, "", "", false, false, 0}},

      {"idle_retried", "cut", {cut_out, pending, false, false, 2, 429, "", "HTTP 429"}},
      {"idle_retried", "cut_blind", {cut_out, pending, false, false, 2, 429, "", "HTTP 429"}},
      {"idle_retried", "giveup", {done, exhausted, false, false, 1, 429, "", "no more"}},
      {"idle_retried", "interrupted", {idle, pending, false, false, 1, 429, "", "HTTP 429"}},

      // in doubt: a read, or a blind cut; giving up settles in_doubt
      {"idle_doubt", "cut_blind", {cut_out, pending, true, true, 2, 503, "", "HTTP 503"}},
      {"idle_doubt", "read", {read_out, pending, true, true, 1, 503, "", "HTTP 503"}},
      {"idle_doubt", "giveup", {done, in_doubt, true, true, 1, 503, "", "no more"}},
      {"idle_doubt", "interrupted", {idle, pending, true, true, 1, 503, "", "HTTP 503"}},

      // doubt settled by a read: cuts again; ever_doubt stays
      {"idle_settled", "cut", {cut_out, pending, false, true, 2, 503, "", "HTTP 503"}},
      {"idle_settled", "cut_blind", {cut_out, pending, false, true, 2, 503, "", "HTTP 503"}},
      {"idle_settled", "giveup", {done, exhausted, false, true, 1, 503, "", "no more"}},
      {"idle_settled", "interrupted", {idle, pending, false, true, 1, 503, "", "HTTP 503"}},

      // a cut out: its answer, its withdrawal, or the run ends without an answer
      {"cut_out", "withdraw", {idle, pending, false, false, 0, 0, "", ""}},
      {"cut_out", "success", {done, succeeded, false, false, 1, 201, "vod-9", ""}},
      {"cut_out", "retry", {idle, pending, false, false, 1, 429, "", "HTTP 429 again"}},
      {"cut_out", "retry_in_doubt", {idle, pending, true, true, 1, 502, "", "HTTP 502"}},
      {"cut_out", "refused", {done, failed, false, false, 1, 400, "", "HTTP 400 now"}},
      {"cut_out", "fatal", {idle, pending, false, false, 1, 401, "", "HTTP 401"}},
      {"cut_out", "interrupted", {idle, pending, true, true, 1, 0, "", ended(1)}},

      {"cut_out_blind", "withdraw", {idle, pending, true, true, 1, 503, "", "HTTP 503"}},
      {"cut_out_blind", "success", {done, succeeded, false, true, 2, 201, "vod-9", ""}},
      {"cut_out_blind", "retry", {idle, pending, true, true, 2, 429, "", "HTTP 429 again"}},
      {"cut_out_blind", "retry_in_doubt", {idle, pending, true, true, 2, 502, "", "HTTP 502"}},
      {"cut_out_blind",
       "refused",
       {done, in_doubt, true, true, 2, 400, "", stopped_then("HTTP 400 now")}},
      {"cut_out_blind", "fatal", {idle, pending, true, true, 2, 401, "", "HTTP 401"}},
      {"cut_out_blind", "interrupted", {idle, pending, true, true, 2, 503, "", ended(2)}},

      {"cut_out_settled", "withdraw", {idle, pending, false, true, 1, 503, "", "HTTP 503"}},
      {"cut_out_settled", "success", {done, succeeded, false, true, 2, 201, "vod-9", ""}},
      {"cut_out_settled", "retry", {idle, pending, false, true, 2, 429, "", "HTTP 429 again"}},
      {"cut_out_settled", "retry_in_doubt", {idle, pending, true, true, 2, 502, "", "HTTP 502"}},
      {"cut_out_settled",
       "refused",
       {done, in_doubt, false, true, 2, 400, "", stopped_then("HTTP 400 now")}},
      {"cut_out_settled", "fatal", {idle, pending, false, true, 2, 401, "", "HTTP 401"}},
      {"cut_out_settled", "interrupted", {idle, pending, true, true, 2, 503, "", ended(2)}},

      // a read out: its answer, or the run ends (still in doubt); http_status stays the cut's
      {"read_out", "can_stop", {idle, pending, false, true, 1, 503, "", "HTTP 503"}},
      // stopped: not settled yet; the stream's VOD is looked up next (still in doubt)
      {"read_out", "stopped", {idle, pending, true, true, 1, 503, "", stopped_503, true}},
      {"read_out", "unreadable", {idle, pending, true, true, 1, 503, "", "HTTP 503"}},
      {"read_out", "interrupted", {idle, pending, true, true, 1, 503, "", "HTTP 503"}},

      // settled: only a reopen (never of succeeded), and Interrupted is a no-op
      {"succeeded", "interrupted", {done, succeeded, false, false, 1, 201, "vod-1", ""}},
      {"failed", "reopen", {idle, pending, false, false, 1, 400, "", "HTTP 400"}},
      {"failed", "interrupted", {done, failed, false, false, 1, 400, "", "HTTP 400"}},
      {"retry_exhausted", "reopen", {idle, pending, false, false, 1, 429, "", "out of attempts"}},
      {"retry_exhausted",
       "interrupted",
       {done, exhausted, false, false, 1, 429, "", "out of attempts"}},
      {"in_doubt", "reopen", {idle, pending, true, true, 1, 503, "", "out of reads"}},
      {"in_doubt", "interrupted", {done, in_doubt, true, true, 1, 503, "", "out of reads"}},
      {"in_doubt_refused",
       "reopen",
       {idle, pending, true, true, 2, 403, "", stopped_then("HTTP 403")}},
      {"in_doubt_refused",
       "interrupted",
       {done, in_doubt, false, true, 2, 403, "", stopped_then("HTTP 403")}},

      // a stop-and-cut read as stopped: a lookup (never another read), a blind cut, or give up
      {"idle_stopped", "cut_blind", {cut_out, pending, true, true, 2, 503, "", stopped_503, true}},
      {"idle_stopped", "lookup", {lookup_out, pending, true, true, 1, 503, "", stopped_503, true}},
      {"idle_stopped", "giveup", {done, in_doubt, true, true, 1, 503, "", "no more", true}},
      {"idle_stopped", "interrupted", {idle, pending, true, true, 1, 503, "", stopped_503, true}},

      // its lookup out: found settles succeeded (recovered); none and several settle in_doubt
      {"lookup_out",
       "found",
       {done, succeeded, false, true, 1, 503, "vod-f", "recovered by a lookup: found it", true, true}},
      {"lookup_out",
       "none",
       {done, in_doubt, true, true, 1, 503, "",
        "stream already stopped, but no VOD of it was found: nothing", true}},
      {"lookup_out",
       "several",
       {done, in_doubt, true, true, 1, 503, "", "stream already stopped, and the lookup is ambiguous: 2 VODs",
        true}},
      {"lookup_out", "lookup_unreadable", {idle, pending, true, true, 1, 503, "", stopped_503, true}},
      {"lookup_out", "interrupted", {idle, pending, true, true, 1, 503, "", stopped_503, true}},

      {"recovered",
       "interrupted",
       {done, succeeded, false, true, 1, 503, "vod-r", "recovered by a lookup: found it", true, true}},

      // a clip in doubt: a lookup (never a read), a blind cut, or give up
      {"clip_doubt", "cut_blind", {cut_out, pending, true, true, 2, 503, "", "HTTP 503"}},
      {"clip_doubt", "lookup", {lookup_out, pending, true, true, 1, 503, "", "HTTP 503"}},
      {"clip_doubt", "giveup", {done, in_doubt, true, true, 1, 503, "", "no more"}},
      {"clip_doubt", "interrupted", {idle, pending, true, true, 1, 503, "", "HTTP 503"}},

      // a clip's lookup: none means nothing was made, so the doubt is settled (cut again)
      {"clip_lookup_out",
       "found",
       {done, succeeded, false, true, 1, 503, "vod-f", "recovered by a lookup: found it", false, true}},
      {"clip_lookup_out", "none", {idle, pending, false, true, 1, 503, "", "HTTP 503"}},
      {"clip_lookup_out",
       "several",
       {done, in_doubt, true, true, 1, 503, "", "a clip may have been made, and the lookup is ambiguous: 2 VODs"}},
      {"clip_lookup_out", "lookup_unreadable", {idle, pending, true, true, 1, 503, "", "HTTP 503"}},
      {"clip_lookup_out", "interrupted", {idle, pending, true, true, 1, 503, "", "HTTP 503"}},

      {"clip_settled", "cut", {cut_out, pending, false, true, 2, 503, "", "HTTP 503"}},
      {"clip_settled", "cut_blind", {cut_out, pending, false, true, 2, 503, "", "HTTP 503"}},
      {"clip_settled", "giveup", {done, exhausted, false, true, 1, 503, "", "no more"}},
      {"clip_settled", "interrupted", {idle, pending, false, true, 1, 503, "", "HTTP 503"}},
  };
  return a;
}

}  // namespace

// ---- the whole table ----

TEST(LifecycleTable, TheTableNamesOnlyRealStartsAndEventsAndEachPairOnce) {
  std::set<std::string> start_names, event_names;
  for (const auto& s : starts()) start_names.insert(s.name);
  for (const auto& t : tries()) event_names.insert(t.name);
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& a : allowed()) {
    EXPECT_TRUE(start_names.count(a.start)) << a.start;
    EXPECT_TRUE(event_names.count(a.event)) << a.event;
    EXPECT_TRUE(seen.emplace(a.start, a.event).second)
        << a.start << " + " << a.event << " listed twice";
  }
  // Every phase is a start, and so is every settled state.
  std::set<Phase> phases;
  std::set<JobState> settled;
  for (const auto& s : starts()) {
    Lifecycle l = run(s);
    phases.insert(l.phase);
    if (l.settled()) settled.insert(l.state);
  }
  EXPECT_EQ(phases, (std::set<Phase>{idle, cut_out, read_out, lookup_out, done}));
  EXPECT_EQ(settled, (std::set<JobState>{JobState::succeeded, JobState::failed,
                                         JobState::retry_exhausted, JobState::in_doubt}));
}

TEST(LifecycleTable, EveryStartIsWhatItsNameSays) {
  std::map<std::string, Want> want = {
      {"idle_new", {idle, pending, false, false, 0, 0, "", "", false, false, 0}},
      {"idle_retried", {idle, pending, false, false, 1, 429, "", "HTTP 429"}},
      {"idle_doubt", {idle, pending, true, true, 1, 503, "", "HTTP 503"}},
      {"idle_settled", {idle, pending, false, true, 1, 503, "", "HTTP 503"}},
      {"cut_out", {cut_out, pending, false, false, 1, 0, "", ""}},
      {"cut_out_blind", {cut_out, pending, true, true, 2, 503, "", "HTTP 503"}},
      {"cut_out_settled", {cut_out, pending, false, true, 2, 503, "", "HTTP 503"}},
      {"read_out", {read_out, pending, true, true, 1, 503, "", "HTTP 503"}},
      {"succeeded", {done, succeeded, false, false, 1, 201, "vod-1", ""}},
      {"failed", {done, failed, false, false, 1, 400, "", "HTTP 400"}},
      {"retry_exhausted", {done, exhausted, false, false, 1, 429, "", "out of attempts"}},
      {"in_doubt", {done, in_doubt, true, true, 1, 503, "", "out of reads"}},
      {"in_doubt_refused", {done, in_doubt, false, true, 2, 403, "", stopped_then("HTTP 403")}},
      {"idle_stopped", {idle, pending, true, true, 1, 503, "", stopped_503, true}},
      {"lookup_out", {lookup_out, pending, true, true, 1, 503, "", stopped_503, true}},
      {"recovered", {done, succeeded, false, true, 1, 503, "vod-r", "recovered by a lookup: found it", true, true}},
      {"clip_doubt", {idle, pending, true, true, 1, 503, "", "HTTP 503"}},
      {"clip_lookup_out", {lookup_out, pending, true, true, 1, 503, "", "HTTP 503"}},
      {"clip_settled", {idle, pending, false, true, 1, 503, "", "HTTP 503"}},
  };
  ASSERT_EQ(want.size(), starts().size());
  for (const auto& s : starts()) {
    SCOPED_TRACE(s.name);
    const Lifecycle l = run(s);
    EXPECT_EQ(l.kind, s.kind);
    expect_want(l, want.at(s.name));
  }
}

TEST(LifecycleTable, EveryPairIsEitherAllowedWithItsResultOrImpossibleAndChangesNothing) {
  std::map<std::pair<std::string, std::string>, const Want*> table;
  for (const auto& a : allowed()) table[{a.start, a.event}] = &a.want;
  int allowed_seen = 0, impossible_seen = 0;
  for (const auto& s : starts()) {
    for (const auto& t : tries()) {
      const std::string where = std::string(s.name) + " + " + t.name;
      SCOPED_TRACE(where);
      Lifecycle l = run(s);
      const Lifecycle before = l;
      const Event e = t.make(l);
      auto it = table.find({s.name, t.name});
      if (it == table.end()) {
        ++impossible_seen;
        EXPECT_THROW(step(l, e), LifecycleError);
        expect_same(l, before, where);
        continue;
      }
      ++allowed_seen;
      ASSERT_NO_THROW(step(l, e));
      expect_want(l, *it->second);
      // Invariants of every reachable state.
      EXPECT_EQ(l.settled(), l.state != pending);
      EXPECT_TRUE(!l.doubt || l.ever_doubt) << "doubt without ever_doubt";
      EXPECT_TRUE(l.state != JobState::failed || !l.ever_doubt) << "failed after a doubt";
      EXPECT_EQ(l.state == JobState::succeeded, !l.video_public_id.empty());
      EXPECT_EQ(l.kind, s.kind) << "the kind changed";
      EXPECT_TRUE(!l.stopped || l.kind == JobKind::stop_and_cut) << "a clip read as stopped";
      EXPECT_TRUE(!l.recovered || l.state == JobState::succeeded) << "recovered but not succeeded";
    }
  }
  EXPECT_EQ(allowed_seen, static_cast<int>(allowed().size()));
  EXPECT_EQ(impossible_seen, static_cast<int>(starts().size() * tries().size() - allowed().size()));
}

TEST(LifecycleTable, AnImpossibleEventSaysWhatAndWhereTheJobIs) {
  Lifecycle l;
  try {
    step(l, cut_answer(1, CutVerdict::success, 201, "", "vod"));
    FAIL() << "an answer with nothing out was accepted";
  } catch (const LifecycleError& e) {
    EXPECT_STREQ(
        e.what(),
        "an answer to cut attempt 1 is impossible while the job is idle after 0 cut attempt(s)");
  }
  l = run({cut(1), cut_answer(1, CutVerdict::retry_in_doubt, 503, "HTTP 503")});
  try {
    step(l, cut(2));
    FAIL() << "a cut in doubt was accepted";
  } catch (const LifecycleError& e) {
    EXPECT_STREQ(
        e.what(),
        "a cut before the doubt is settled is impossible while the job is idle after 1 cut "
        "attempt(s), in doubt (a cut may be out)");
  }
}

// ---- the safety rules, one by one ----

TEST(LifecycleDoubt, IsSetByAnAmbiguousAnswerAndByACutWhoseAnswerWasNeverSeen) {
  Lifecycle a = run({cut(1)});
  step(a, cut_answer(1, CutVerdict::retry_in_doubt, 0, "connection closed after sending"));
  EXPECT_TRUE(a.doubt);
  EXPECT_TRUE(a.ever_doubt);

  Lifecycle b = run({cut(1)});
  step(b, Interrupted{});
  EXPECT_TRUE(b.doubt);
  EXPECT_TRUE(b.ever_doubt);
  EXPECT_EQ(b.phase, idle);
  EXPECT_EQ(b.attempts, 1);  // the cut counts: it may have been sent

  // A plain retry (the server did not act) and a fatal answer set nothing.
  for (CutVerdict v : {CutVerdict::retry, CutVerdict::fatal}) {
    Lifecycle c = run({cut(1), cut_answer(1, v, 429, "x")});
    EXPECT_FALSE(c.doubt) << to_string(v);
    EXPECT_FALSE(c.ever_doubt) << to_string(v);
  }
}

TEST(LifecycleDoubt, IsClearedOnlyByAReadThatSaysTheStreamCanStillBeCut) {
  const std::vector<Event> in_doubt = {cut(1),
                                       cut_answer(1, CutVerdict::retry_in_doubt, 503, "HTTP 503")};
  struct Case {
    const char* what;
    std::vector<Event> then;
  };
  const std::vector<Case> keep = {
      {"a blind cut withdrawn", {cut(2, true), Withdraw{2}}},
      {"a blind cut answered fatal",
       {cut(2, true), cut_answer(2, CutVerdict::fatal, 401, "HTTP 401")}},
      {"a blind cut answered retry",
       {cut(2, true), cut_answer(2, CutVerdict::retry, 429, "HTTP 429")}},
      {"a blind cut interrupted", {cut(2, true), Interrupted{}}},
      {"a read interrupted", {read_back(), Interrupted{}}},
      {"an unreadable read", {read_back(), read_answer(ReadVerdict::unreadable, 0, "timeout")}},
      {"a stray Interrupted while idle", {Interrupted{}}},
      {"giving up", {GiveUp{"stopped"}}},
      {"giving up, then a reopen", {GiveUp{"stopped"}, Reopen{}}},
      {"a read that says stopped", {read_back(), read_answer(ReadVerdict::stopped)}},
      {"a read that says stopped, then an unreadable lookup",
       {read_back(), read_answer(ReadVerdict::stopped), lookup(),
        lookup_answer(LookupVerdict::unreadable, "HTTP 500")}},
      {"a read that says stopped, then a lookup interrupted",
       {read_back(), read_answer(ReadVerdict::stopped), lookup(), Interrupted{}}},
      {"a read that says stopped, a lookup that finds none, then a reopen",
       {read_back(), read_answer(ReadVerdict::stopped), lookup(),
        lookup_answer(LookupVerdict::none, "nothing"), Reopen{}}},
      {"a read that says stopped, a lookup that finds several, then a reopen",
       {read_back(), read_answer(ReadVerdict::stopped), lookup(),
        lookup_answer(LookupVerdict::several, "2 VODs"), Reopen{}}},
  };
  for (const auto& c : keep) {
    std::vector<Event> path = in_doubt;
    path.insert(path.end(), c.then.begin(), c.then.end());
    Lifecycle l = run(path);
    EXPECT_TRUE(l.doubt) << c.what;
    EXPECT_TRUE(l.ever_doubt) << c.what;
  }
  Lifecycle l = run(in_doubt);
  step(l, read_back());
  step(l, read_answer(ReadVerdict::can_stop));
  EXPECT_FALSE(l.doubt);
  EXPECT_TRUE(l.ever_doubt);  // so a later refusal still counts as "may have been cut"
  EXPECT_EQ(l.phase, idle);
  EXPECT_EQ(l.state, pending);
}

TEST(LifecycleSettle, ARefusalAfterAnyDoubtIsInDoubtNeverFailed) {
  // Status codes are not what decides: the verdict and the history do.
  for (int status : {400, 403, 404, 409}) {
    SCOPED_TRACE(status);
    const std::string e = "HTTP " + std::to_string(status);
    // No doubt ever: failed, with the server's messages kept.
    CutAnswer refused = cut_answer(1, CutVerdict::refused, status, e);
    refused.messages = {"Live video cannot be stopped"};
    Lifecycle never = run({cut(1), refused});
    EXPECT_EQ(never.state, JobState::failed);
    EXPECT_EQ(never.error, e);
    EXPECT_EQ(never.messages, refused.messages);

    // Doubt still open (a blind cut): in_doubt.
    Lifecycle open = run({cut(1), cut_answer(1, CutVerdict::retry_in_doubt, 0, "timeout"),
                          cut(2, true), cut_answer(2, CutVerdict::refused, status, e)});
    EXPECT_EQ(open.state, JobState::in_doubt);
    EXPECT_EQ(open.error, stopped_then(e));

    // Doubt settled by a read, and still: the earlier cut may have landed after the read.
    Lifecycle settled = run({cut(1), cut_answer(1, CutVerdict::retry_in_doubt, 0, "timeout"),
                             read_back(), read_answer(ReadVerdict::can_stop), cut(2),
                             cut_answer(2, CutVerdict::refused, status, e)});
    EXPECT_EQ(settled.state, JobState::in_doubt);
    EXPECT_EQ(settled.http_status, status);

    // A cut whose answer was never seen (a crash) counts as a doubt too.
    Lifecycle crashed = run({cut(1), Interrupted{}, read_back(), read_answer(ReadVerdict::can_stop),
                             cut(2), cut_answer(2, CutVerdict::refused, status, e)});
    EXPECT_EQ(crashed.state, JobState::in_doubt);
  }
}

TEST(LifecycleSettle, GivingUpInDoubtIsInDoubtNeverRetryExhausted) {
  Lifecycle doubt = run(
      {cut(1), cut_answer(1, CutVerdict::retry_in_doubt, 503, "HTTP 503"), GiveUp{"out of reads"}});
  EXPECT_EQ(doubt.state, JobState::in_doubt);
  EXPECT_EQ(doubt.error, "out of reads");
  Lifecycle crashed = run({cut(1), Interrupted{}, GiveUp{"out of reads"}});
  EXPECT_EQ(crashed.state, JobState::in_doubt);
  Lifecycle unreadable = run({cut(1), Interrupted{}, read_back(),
                              read_answer(ReadVerdict::unreadable), GiveUp{"out of reads"}});
  EXPECT_EQ(unreadable.state, JobState::in_doubt);
  // Once a read has settled the doubt, giving up promises the stream was not cut.
  Lifecycle settled =
      run({cut(1), Interrupted{}, read_back(), read_answer(ReadVerdict::can_stop), GiveUp{"x"}});
  EXPECT_EQ(settled.state, JobState::retry_exhausted);
}

TEST(LifecycleDispatch, ACutInDoubtOnlyBlindAndAReadOnlyInDoubt) {
  Lifecycle doubt = run({cut(1), cut_answer(1, CutVerdict::retry_in_doubt, 503, "HTTP 503")});
  Lifecycle l = doubt;
  EXPECT_THROW(step(l, cut(2)), LifecycleError);
  expect_same(l, doubt, "refused cut");
  EXPECT_NO_THROW(step(l, cut(2, true)));
  EXPECT_EQ(l.phase, cut_out);
  EXPECT_TRUE(l.doubt);  // a blind cut settles nothing

  for (const auto& path :
       {std::vector<Event>{}, std::vector<Event>{cut(1), cut_answer(1, CutVerdict::retry, 429, "")},
        std::vector<Event>{cut(1), Interrupted{}, read_back(),
                           read_answer(ReadVerdict::can_stop)}}) {
    Lifecycle clear = run(path);
    ASSERT_FALSE(clear.doubt);
    const Lifecycle before = clear;
    EXPECT_THROW(step(clear, read_back()), LifecycleError);
    expect_same(clear, before, "read without doubt");
  }
}

TEST(LifecycleReopen, SucceededNeverAndInDoubtStartsWithARead) {
  Lifecycle ok = run({cut(1), cut_answer(1, CutVerdict::success, 201, "", "vod-1")});
  const Lifecycle before = ok;
  EXPECT_THROW(step(ok, Reopen{}), LifecycleError);
  expect_same(ok, before, "reopen of succeeded");

  Lifecycle in_doubt = run({cut(1), cut_answer(1, CutVerdict::retry_in_doubt, 503, "HTTP 503"),
                            GiveUp{"out of reads"}});
  ASSERT_EQ(in_doubt.state, JobState::in_doubt);
  step(in_doubt, Reopen{});
  EXPECT_EQ(in_doubt.phase, idle);
  EXPECT_EQ(in_doubt.state, pending);
  EXPECT_TRUE(in_doubt.doubt);
  EXPECT_EQ(next_step(in_doubt, Budget{}), Next::read);
  EXPECT_THROW(step(in_doubt, cut(2)), LifecycleError);

  Lifecycle failed = run({cut(1), cut_answer(1, CutVerdict::refused, 400, "HTTP 400"), Reopen{}});
  EXPECT_FALSE(failed.doubt);
  EXPECT_EQ(next_step(failed, Budget{}), Next::cut);
  EXPECT_NO_THROW(step(failed, cut(2)));  // attempts go on over the job's life

  // A stream read as stopped whose lookup found none stays stopped: reopened, it is looked up
  // again (a read would only say stopped again).
  Lifecycle stopped = run({cut(1), Interrupted{}, read_back(), read_answer(ReadVerdict::stopped), lookup(),
                           lookup_answer(LookupVerdict::none, "nothing")});
  ASSERT_EQ(stopped.state, JobState::in_doubt);
  step(stopped, Reopen{});
  EXPECT_TRUE(stopped.doubt);
  EXPECT_TRUE(stopped.stopped);
  EXPECT_EQ(next_step(stopped, Budget{}), Next::lookup);
  EXPECT_THROW(step(stopped, read_back()), LifecycleError);

  // A clip settled in_doubt by an ambiguous lookup: reopened, it is looked up again.
  Lifecycle clip = run({cut(1), Interrupted{}, lookup(), lookup_answer(LookupVerdict::several, "2 VODs")},
                       JobKind::clip);
  ASSERT_EQ(clip.state, JobState::in_doubt);
  step(clip, Reopen{});
  EXPECT_EQ(next_step(clip, Budget{}), Next::lookup);

  // A recovered success is a success: never reopened.
  Lifecycle recovered = run({cut(1), Interrupted{}, lookup(), lookup_answer(LookupVerdict::found, "x", "vod-r")},
                            JobKind::clip);
  EXPECT_THROW(step(recovered, Reopen{}), LifecycleError);

  // Reopening twice without anything in between is impossible: the job is not settled.
  Lifecycle twice = run({GiveUp{"x"}, Reopen{}});
  EXPECT_THROW(step(twice, Reopen{}), LifecycleError);
}

TEST(LifecycleAttempts, NumbersFollowOneAnother) {
  Lifecycle l;
  EXPECT_THROW(step(l, cut(0)), LifecycleError);
  EXPECT_THROW(step(l, cut(2)), LifecycleError);
  step(l, cut(1));
  EXPECT_THROW(step(l, Withdraw{2}), LifecycleError);
  EXPECT_THROW(step(l, cut_answer(2, CutVerdict::retry, 429, "")), LifecycleError);
  EXPECT_THROW(step(l, cut_answer(0, CutVerdict::retry, 429, "")), LifecycleError);
  step(l, Withdraw{1});
  EXPECT_EQ(l.attempts, 0);
  EXPECT_THROW(step(l, cut(2)), LifecycleError);  // the withdrawn number is used again
  step(l, cut(1));
  step(l, cut_answer(1, CutVerdict::retry, 429, "HTTP 429"));
  EXPECT_THROW(step(l, cut(1)), LifecycleError);
  step(l, cut(2));
  EXPECT_EQ(l.attempts, 2);
  EXPECT_THROW(step(l, cut_answer(1, CutVerdict::success, 201, "", "vod")), LifecycleError);
  step(l, cut_answer(2, CutVerdict::success, 201, "", "vod"));
  EXPECT_EQ(l.state, JobState::succeeded);
  EXPECT_EQ(l.attempts, 2);
}

TEST(LifecycleAnswer, ASuccessKeepsItsIdAndClearsTheErrorAndTheDoubt) {
  CutAnswer ok = cut_answer(2, CutVerdict::success, 200, "ignored", "vod-7");
  ok.messages = {"created"};
  Lifecycle l =
      run({cut(1), cut_answer(1, CutVerdict::retry_in_doubt, 503, "HTTP 503"), cut(2, true), ok});
  EXPECT_EQ(l.state, JobState::succeeded);
  EXPECT_EQ(l.video_public_id, "vod-7");
  EXPECT_EQ(l.error, "");
  EXPECT_EQ(l.messages, std::vector<std::string>{"created"});
  EXPECT_FALSE(l.doubt);
  EXPECT_TRUE(l.ever_doubt);
  // Nothing moves it after that.
  for (const auto& t : tries()) {
    if (std::string(t.name) == "interrupted") continue;
    Lifecycle copy = l;
    EXPECT_THROW(step(copy, t.make(copy)), LifecycleError) << t.name;
    expect_same(copy, l, t.name);
  }
}

// ---- lookups ----

TEST(LifecycleLookup, AClipIsNeverReadBackAndAStopAndCutIsLookedUpOnlyOnceReadAsStopped) {
  for (const auto& extra : {std::vector<Event>{}, std::vector<Event>{GiveUp{"x"}, Reopen{}},
                            std::vector<Event>{lookup(), lookup_answer(LookupVerdict::unreadable, "x")}}) {
    Lifecycle clip = run(then(in_doubt_503, extra), JobKind::clip);
    ASSERT_TRUE(clip.doubt);
    const Lifecycle before = clip;
    try {
      step(clip, read_back());
      FAIL() << "a clip was read back";
    } catch (const LifecycleError& e) {
      EXPECT_NE(std::string(e.what()).find("a read-back of a clip"), std::string::npos) << e.what();
    }
    expect_same(clip, before, "read of a clip");
    EXPECT_NO_THROW(step(clip, lookup()));
  }
  // A stop-and-cut in doubt, not (yet) read as stopped: never looked up.
  for (const auto& extra : {std::vector<Event>{}, std::vector<Event>{read_back(), read_answer(ReadVerdict::unreadable)},
                            std::vector<Event>{GiveUp{"x"}, Reopen{}}}) {
    Lifecycle sc = run(then(in_doubt_503, extra));
    ASSERT_TRUE(sc.doubt);
    const Lifecycle before = sc;
    EXPECT_THROW(step(sc, lookup()), LifecycleError);
    expect_same(sc, before, "lookup before stopped");
  }
  // Nothing in doubt: no lookup of either kind.
  for (JobKind kind : {JobKind::clip, JobKind::stop_and_cut}) {
    Lifecycle clear = run({cut(1), cut_answer(1, CutVerdict::retry, 429, "HTTP 429")}, kind);
    EXPECT_THROW(step(clear, lookup()), LifecycleError);
  }
}

TEST(LifecycleLookup, ARecoveredSuccessKeepsTheFoundIdAndSaysHowItWasFound) {
  Lifecycle l = run(then(in_doubt_503, {read_back(), read_answer(ReadVerdict::stopped), lookup(),
                                        lookup_answer(LookupVerdict::found, "the one VOD is vod-7", "vod-7")}));
  EXPECT_EQ(l.state, JobState::succeeded);
  EXPECT_TRUE(l.recovered);
  EXPECT_FALSE(l.doubt);
  EXPECT_EQ(l.video_public_id, "vod-7");
  EXPECT_EQ(l.error, "recovered by a lookup: the one VOD is vod-7");
  // An answered success is not recovered.
  EXPECT_FALSE(run({cut(1), cut_answer(1, CutVerdict::success, 201, "", "v")}).recovered);
}

TEST(LifecycleLookup, TheFirstCutsDispatchTimeIsWhereALookupStarts) {
  Lifecycle l = run({Dispatch{Op::cut, 1, false, 5'000}, cut_answer(1, CutVerdict::retry, 429, "x"),
                     Dispatch{Op::cut, 2, false, 9'000}, Interrupted{}},
                    JobKind::clip);
  EXPECT_EQ(l.first_cut_at_ms, 5'000);
  step(l, Dispatch{Op::lookup, 1, false, 20'000});
  EXPECT_EQ(l.first_cut_at_ms, 5'000);  // neither a later cut nor a lookup moves it
  // A withdrawn first cut was never sent: the next attempt 1 is the first cut.
  Lifecycle w = run({Dispatch{Op::cut, 1, false, 5'000}, Withdraw{1}, Dispatch{Op::cut, 1, false, 7'000}});
  EXPECT_EQ(w.first_cut_at_ms, 7'000);
}

// ---- next_step ----

TEST(LifecycleNextStep, EveryCombinationOfPhaseDoubtAndBudget) {
  struct Row {
    bool doubt, reconcile, attempts_left, reads_left;
    Next want;
  };
  // idle: the only phase where there is a next step to take.
  const std::vector<Row> idle_rows = {
      {false, false, false, false, Next::give_up},
      {false, false, false, true, Next::give_up},
      {false, false, true, false, Next::cut},
      {false, false, true, true, Next::cut},
      {false, true, false, false, Next::give_up},
      {false, true, false, true, Next::give_up},
      {false, true, true, false, Next::cut},
      {false, true, true, true, Next::cut},
      // in doubt without reconcile: cut blind while attempts are left
      {true, false, false, false, Next::give_up},
      {true, false, false, true, Next::give_up},
      {true, false, true, false, Next::cut},
      {true, false, true, true, Next::cut},
      // in doubt with reconcile: read while reads are left, whatever the attempts
      {true, true, false, false, Next::give_up},
      {true, true, false, true, Next::read},
      {true, true, true, false, Next::give_up},
      {true, true, true, true, Next::read},
  };
  const Lifecycle idle_clear = run({cut(1), cut_answer(1, CutVerdict::retry, 429, "")});
  const Lifecycle idle_doubt =
      run({cut(1), cut_answer(1, CutVerdict::retry, 429, ""), cut(2), Interrupted{}});
  ASSERT_EQ(idle_doubt.phase, idle);
  ASSERT_TRUE(idle_doubt.doubt);
  for (const Row& r : idle_rows) {
    const Budget b{r.reconcile, r.attempts_left, r.reads_left};
    const Lifecycle& l = r.doubt ? idle_doubt : idle_clear;
    const Next got = next_step(l, b);
    EXPECT_EQ(got, r.want) << "doubt " << r.doubt << " reconcile " << r.reconcile
                           << " attempts_left " << r.attempts_left << " reads_left "
                           << r.reads_left;
    // What it says is something step() accepts (a cut in doubt is a blind one).
    Lifecycle copy = l;
    if (got == Next::cut) {
      EXPECT_NO_THROW(step(copy, cut(l.attempts + 1, !r.reconcile)));
    } else if (got == Next::read) {
      EXPECT_NO_THROW(step(copy, read_back()));
    } else {
      EXPECT_NO_THROW(step(copy, GiveUp{"x"}));
    }
  }
  // Any other phase: nothing to do, whatever the budget. In doubt with reconcile, a clip and a
  // stop-and-cut read as stopped are looked up, a stop-and-cut not yet stopped read back.
  struct Doubt {
    const char* name;
    Lifecycle l;
    Next with_reads;
  };
  const std::vector<Doubt> doubts = {
      {"stop-and-cut in doubt", run(in_doubt_503), Next::read},
      {"stop-and-cut read as unreadable",
       run(then(in_doubt_503, {read_back(), read_answer(ReadVerdict::unreadable)})), Next::read},
      {"stop-and-cut read as stopped", run(then(in_doubt_503, {read_back(), read_answer(ReadVerdict::stopped)})),
       Next::lookup},
      {"stop-and-cut stopped, lookup unreadable",
       run(then(in_doubt_503, {read_back(), read_answer(ReadVerdict::stopped), lookup(),
                               lookup_answer(LookupVerdict::unreadable, "x")})),
       Next::lookup},
      {"clip in doubt", run(in_doubt_503, JobKind::clip), Next::lookup},
      {"clip lookup unreadable",
       run(then(in_doubt_503, {lookup(), lookup_answer(LookupVerdict::unreadable, "x")}), JobKind::clip),
       Next::lookup},
  };
  for (const Doubt& d : doubts) {
    ASSERT_TRUE(d.l.doubt) << d.name;
    for (int bits = 0; bits < 8; ++bits) {
      const Budget b{(bits & 1) != 0, (bits & 2) != 0, (bits & 4) != 0};
      const Next want = b.reconcile ? (b.reads_left ? d.with_reads : Next::give_up)
                                    : (b.attempts_left ? Next::cut : Next::give_up);
      const Next got = next_step(d.l, b);
      EXPECT_EQ(got, want) << d.name << " budget " << bits;
      Lifecycle copy = d.l;
      if (got == Next::cut) {
        EXPECT_NO_THROW(step(copy, cut(d.l.attempts + 1, true))) << d.name;
      } else if (got == Next::read) {
        EXPECT_NO_THROW(step(copy, read_back())) << d.name;
      } else if (got == Next::lookup) {
        EXPECT_NO_THROW(step(copy, lookup())) << d.name;
      } else {
        EXPECT_NO_THROW(step(copy, GiveUp{"x"})) << d.name;
      }
    }
  }
  // A clip whose lookup found none is no longer in doubt: it is cut again.
  EXPECT_EQ(next_step(run(then(in_doubt_503, {lookup(), lookup_answer(LookupVerdict::none, "x")}), JobKind::clip),
                      Budget{}),
            Next::cut);

  // Any other phase: nothing to do, whatever the budget.
  for (const auto& s : starts()) {
    const Lifecycle l = run(s);
    if (l.phase == idle) continue;
    for (int bits = 0; bits < 8; ++bits) {
      const Budget b{(bits & 1) != 0, (bits & 2) != 0, (bits & 4) != 0};
      EXPECT_EQ(next_step(l, b), Next::none) << s.name << " budget " << bits;
    }
  }
}

// ---- names ----

TEST(LifecycleNames, ParseWhatToStringWrites) {
  for (CutVerdict v : {CutVerdict::success, CutVerdict::retry, CutVerdict::retry_in_doubt,
                       CutVerdict::refused, CutVerdict::fatal})
    EXPECT_EQ(parse_cut_verdict(to_string(v)), v);
  for (ReadVerdict v : {ReadVerdict::can_stop, ReadVerdict::stopped, ReadVerdict::unreadable})
    EXPECT_EQ(parse_read_verdict(to_string(v)), v);
  EXPECT_FALSE(parse_cut_verdict("permanent"));  // the old format's word
  EXPECT_FALSE(parse_read_verdict("success"));
  EXPECT_FALSE(parse_cut_verdict(""));
  EXPECT_STREQ(to_string(Phase::cut_out), "cut_out");
  EXPECT_STREQ(to_string(Event{Dispatch{}}), "dispatch");
  EXPECT_STREQ(to_string(Event{Withdraw{}}), "withdraw");
  EXPECT_STREQ(to_string(Event{CutAnswer{}}), "answer");
  EXPECT_STREQ(to_string(Event{ReadAnswer{}}), "answer");
  EXPECT_STREQ(to_string(Event{GiveUp{}}), "giveup");
  EXPECT_STREQ(to_string(Event{Reopen{}}), "reopen");
  EXPECT_STREQ(to_string(Event{Interrupted{}}), "interrupted");
  EXPECT_STREQ(to_string(Event{LookupAnswer{}}), "answer");
  for (LookupVerdict v : {LookupVerdict::found, LookupVerdict::none, LookupVerdict::several, LookupVerdict::unreadable})
    EXPECT_EQ(parse_lookup_verdict(to_string(v)), v);
  for (Op op : {Op::cut, Op::read, Op::lookup}) EXPECT_EQ(parse_op(to_string(op)), op);
  EXPECT_FALSE(parse_lookup_verdict("stopped"));
  EXPECT_FALSE(parse_op("vod"));
}

TEST(LifecycleNames, DescribeSaysWhereTheJobIsAndWhetherItIsInDoubt) {
  EXPECT_EQ(describe(Lifecycle{}), "idle after 0 cut attempt(s)");
  EXPECT_EQ(describe(run({cut(1), Interrupted{}})),
            "idle after 1 cut attempt(s), in doubt (a cut may be out)");
  EXPECT_EQ(describe(run({cut(1), Interrupted{}, read_back(), read_answer(ReadVerdict::can_stop)})),
            "idle after 1 cut attempt(s), doubt settled by a read-back");
  EXPECT_EQ(describe(run({cut(1), cut_answer(1, CutVerdict::success, 201, "", "v")})),
            "succeeded after 1 cut attempt(s)");
  EXPECT_EQ(describe(run(then(in_doubt_503, {read_back(), read_answer(ReadVerdict::stopped)}))),
            "idle after 1 cut attempt(s), in doubt (the stream is stopped; its VOD is looked up)");
}
