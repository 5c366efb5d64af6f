// The ledger: an append-only JSON Lines file recording every job, every attempt's
// dispatch and outcome, and each job's final state. It is what resume and replay read.
//
// Record shapes (one JSON object per line; "ts" is ISO 8601 UTC):
//   {"type":"job","ts":..,"projectId":..,"liveVideoId":..,"videoVisibilityOptionId":1,
//    "fromMilisecond":..|null,"toMilisecond":..|null,"dateTimeFrom":..|null,"dateTimeTo":..|null,
//    "label":".."}
//   {"type":"dispatch","ts":..,"projectId":..,"liveVideoId":..,"attempt":N,"op":"cut"|"reconcile"}
//   {"type":"outcome","ts":..,"projectId":..,"liveVideoId":..,"attempt":N,"op":..,
//    "httpStatus":503|0,"error":"..","verdict":"retry|retry_in_doubt|fatal|not_sent|can_stop|stopped|
//    unreadable","elapsedMs":N}
//   An attempt that ends the job (success, a permanent error, in doubt) has no outcome
//   record: its state record is its outcome, written in one line, so a crash can never
//   leave a "succeeded" outcome on disk without the videoPublicId that goes with it.
//   {"type":"state","ts":..,"projectId":..,"liveVideoId":..,"state":"succeeded|failed|...",
//    "videoPublicId":..|null,"attempts":N,"httpStatus":N,"error":"..","messages":[..]}
// The API key never appears in it. "ts" is informational (the time the record was built);
// records are folded in file order. Strings are JSON-escaped; bytes >= 0x80 pass through
// verbatim (so even a label of invalid UTF-8 survives; the reader accepts it).
//
// Folding (read_ledger), per job key "projectId/liveVideoId":
//   job      creates the job, or replaces its spec (a deliberate re-run, --allow-changed)
//            keeping its position and everything else already known;
//   dispatch op "cut": attempts = max(attempts, N), in_flight = true. op "reconcile" (a read
//            after an in-doubt attempt) changes nothing, so a crash after it still leaves
//            the cut in flight;
//   outcome  op "cut": in_flight = false, attempts = max(attempts, N), http_status, error;
//            verdict "retry_in_doubt" (the attempt may have cut) sets in_doubt_unresolved
//            and ever_in_doubt; op "reconcile" with verdict "can_stop" (the stream was
//            read as not cut) clears in_doubt_unresolved; other reconciles change nothing;
//   state    state, video_public_id, http_status, error, messages, attempts (max),
//            has_final = true, in_flight = false; the last one wins, EXCEPT that once a job
//            has had a succeeded state it stays succeeded with its first videoPublicId
//            (a later succeeded state only fills in an id if none was known): the VOD
//            exists, and its id can be recovered from nowhere else.
// A dispatch/outcome/state before any job record for its key is corruption.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "batchcut/util/diagnostic.hpp"
#include "batchcut/job/spec.hpp"

namespace batchcut {

enum class JobState { pending, succeeded, failed, retry_exhausted, in_doubt };

const char* to_string(JobState s);
std::optional<JobState> parse_job_state(std::string_view s);

// Everything the ledger knows about one job, folded from its records.
struct JobRecord {
  JobSpec spec;
  JobState state = JobState::pending;
  int attempts = 0;             // stop-and-cut attempts dispatched so far
  int http_status = 0;          // of the last outcome (0: none, or a transport error)
  std::string video_public_id;  // set when succeeded
  std::string error;            // last error text
  std::vector<std::string> messages;  // API messages of the final outcome
  bool in_flight = false;       // a dispatch without an outcome: the process died mid-attempt
  bool has_final = false;       // a "state" record was written for it
  // An attempt may have cut and no read of the stream's state has settled it since: the
  // next run must read the state (reconcile) before sending again.
  bool in_doubt_unresolved = false;
  bool ever_in_doubt = false;   // some attempt may have cut (a later 400 is then in_doubt)
};

struct LedgerContents {
  std::vector<JobRecord> jobs;                        // in the order first seen
  std::unordered_map<std::string, std::size_t> index;  // JobSpec::key() -> position in jobs
  Diagnostics errors;          // corruption other than a torn last line
  bool torn_tail = false;      // the last line was incomplete (a crash mid-write)
  std::size_t torn_tail_offset = 0;  // byte offset where the torn line starts

  const JobRecord* find(const std::string& key) const;
};

// Reads a ledger. A missing file is an empty ledger. A last line without its newline that
// still parses as a whole record is kept (it may carry a videoPublicId); one cut short is
// reported via torn_tail (not an error); any other bad line is an error naming
// FILE:LINE: field.
LedgerContents read_ledger(const std::filesystem::path& path);

enum class LedgerSync { group_commit, none };

struct LedgerError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The single writer of a ledger. Holds an advisory lock (flock) for its lifetime, so a
// second writer fails at once with LedgerError. Appends are thread-safe and buffered;
// a background thread writes them and fdatasync()s in groups (group commit).
class LedgerWriter {
 public:
  // Opens (creating if needed) and locks the ledger. If `truncate_torn_tail_at` is set,
  // the file is first cut back to that offset (repairing a torn last line).
  // Throws LedgerError when locked by another process or on I/O failure.
  static std::unique_ptr<LedgerWriter> open(const std::filesystem::path& path, LedgerSync sync,
                                            std::optional<std::size_t> truncate_torn_tail_at = {});
  ~LedgerWriter();  // flushes and syncs what was appended

  // Cuts a torn last line off the locked ledger (ftruncate + fsync), for the order
  // open -> read_ledger -> repair, which no other process can race. `offset` is
  // LedgerContents::torn_tail_offset; it must be called before any append, and only the
  // last line (no newline from offset to the end) can be cut. Throws LedgerError otherwise.
  // If a torn line is never cut, the first write ends it with a newline instead, so no new
  // record is glued onto it (a later read_ledger then reports that line as an error).
  void truncate_torn_tail(std::size_t offset);

  using Seq = std::uint64_t;

  Seq append_job(const JobSpec& spec);
  Seq append_dispatch(const JobSpec& spec, int attempt, std::string_view op);
  Seq append_outcome(const JobSpec& spec, int attempt, std::string_view op, int http_status,
                     std::string_view error, std::string_view verdict, std::int64_t elapsed_ms);
  Seq append_state(const JobRecord& record);

  // Calls `done` (on the writer's thread) once every record up to `seq` is durable
  // (written and, with group_commit, fdatasync'd). Called at once if it already is.
  void when_durable(Seq seq, std::function<void()> done);

  // Blocks until all appended records are durable. Throws LedgerError on I/O failure.
  void flush();

  // Set once an I/O error happened; later appends are dropped and callbacks still run.
  std::optional<std::string> failure() const;

  class Impl;

 private:
  explicit LedgerWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The default ledger path: beside the manifest, named after it with .ledger.jsonl
// (jobs.yaml -> jobs.ledger.jsonl).
std::filesystem::path default_ledger_path(const std::filesystem::path& manifest);

// Export: one row per job with projectId, liveVideoId, label, state, videoPublicId,
// attempts, httpStatus, error. CSV has a header row and RFC 4180 quoting.
std::string export_csv(const LedgerContents& ledger);
std::string export_jsonl(const LedgerContents& ledger);

}  // namespace batchcut
