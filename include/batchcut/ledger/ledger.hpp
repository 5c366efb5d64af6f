// The ledger: an append-only JSON Lines file of every run, job and lifecycle event (see
// job/lifecycle.hpp). It is what resume, replay, status and export read.
//
// Record shapes (one JSON object per line; "ts" is ISO 8601 UTC, informational; records are
// folded in file order). Every record but "run" names its job by projectId + liveVideoId,
// and a clip's also by "kind":"clip" and its "clipId", or its "title" when it has no clipId.
//   {"type":"run","ts":..,"format":3,"baseUrl":"https://..","authScheme":"bearer"|"raw",
//    "caFile":".."|null,"tool":"batchcut 0.2.0"[,"shard":"K/N"]}
//        First in every ledger, then once per run: where the run sent its requests (never the
//        key), and for a sharded run (run/shard.hpp) which shard of its manifest it took. A run record also marks the end of the run before it: any request that run
//        still had out is folded as Interrupted (its answer was never seen).
//   {"type":"job",..,"videoVisibilityOptionId":1,"fromMilisecond":..|null,"toMilisecond":..|null,
//    "dateTimeFrom":..|null,"dateTimeTo":..|null,"label":".."[,"kind":"clip","title":"..","clipId":".."]}
//        Creates the job, or replaces its spec (--allow-changed) keeping its lifecycle.
//   {"type":"dispatch",..,"op":"cut"|"read"|"lookup","attempt":N[,"blind":true]}
//        A cut's dispatch is on disk before its request leaves. Its "ts" is when it left:
//        a lookup searches for VODs made since the first cut's.
//   {"type":"withdraw",..,"op":"cut","attempt":N}
//        A dispatched cut that was never sent (the run stopped first).
//   {"type":"answer",..,"op":"cut","attempt":N,"verdict":"success|retry|retry_in_doubt|refused|
//    fatal","httpStatus":N,"videoPublicId":..|null,"error":"..","messages":[..],"elapsedMs":N,
//    "state":"pending|succeeded|failed|in_doubt"}
//   {"type":"answer",..,"op":"read","attempt":N,"verdict":"can_stop|stopped|unreadable",
//    "httpStatus":N,"error":"..","elapsedMs":N[,"liveTitle":".."],"state":"pending"}
//   {"type":"answer",..,"op":"lookup","attempt":N,"verdict":"found|none|several|unreadable",
//    "videoPublicId":..|null,"candidates":N,"httpStatus":N,"error":"..","elapsedMs":N,
//    "state":"pending|succeeded|in_doubt"}
//        A success's videoPublicId is in the same line as its verdict: a crash can never leave
//        one without the other.
//   {"type":"giveup",..,"error":"..","state":"retry_exhausted|in_doubt"}
//   {"type":"reopen",..}
//        A settled job (not succeeded) taken up again by replay or a re-run.
//   {"type":"vod",..,"videoPublicId":"..","publishStatus":"unknown|processing|ready|failed|
//    reencoding","duration":N|null,"expectedDuration":N|null,"durationMismatch":bool,
//    "httpStatus":N,"error":".."}
//        One read of a succeeded job's VOD on the manage API (batchcut track). Changes no
//        job state; the latest one is what status and export show.
// "state" is the job's state after the record, as the writer saw it; the fold computes it
// again through step() and reports a ledger whose records disagree with it.
// Strings are JSON-escaped; bytes >= 0x80 pass through verbatim (so even a label of invalid
// UTF-8 survives; the reader accepts it). Ids and ranges are checked by the same validator
// as a manifest's, so a ledger can never put into a request what a manifest could not.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "batchcut/job/index.hpp"
#include "batchcut/job/lifecycle.hpp"
#include "batchcut/job/spec.hpp"
#include "batchcut/run/shard.hpp"
#include "batchcut/util/diagnostic.hpp"
#include "batchcut/vod/vod.hpp"

namespace batchcut {

// 3: clips, lookups and vod records. Format 2 ledgers (no clips) are read as they are.
inline constexpr int ledger_format = 3;
inline constexpr int oldest_ledger_format = 2;

// Reading a ledger stops, with an error naming the line, at a line longer than this (the
// longest record batchcut writes is a few tens of KiB) or after this many problems.
inline constexpr std::size_t max_ledger_line = std::size_t{1} << 20;
inline constexpr std::size_t max_ledger_problems = 100;

// Where a ledger's requests went: recorded by every run, used by the next one.
struct RunTarget {
  std::string base_url;
  std::string auth_scheme = "bearer";
  std::optional<std::string> ca_file;
  // The shard of the manifest the run took (nullopt: all of it). A ledger holds one shard's
  // jobs only, so a run of another shard on it is refused (it would skip jobs silently).
  std::optional<Shard> shard = std::nullopt;

  bool operator==(const RunTarget&) const = default;
};

// Everything the ledger knows about one job.
struct JobRecord {
  JobSpec spec;
  Lifecycle life;
  // The latest "vod" record of its VOD (batchcut track). Behind a pointer: most jobs of a
  // big ledger have none, and inline it would cost every job ~150 bytes.
  std::shared_ptr<const VodObservation> vod;
};

struct LedgerContents {
  std::vector<JobRecord> jobs;  // in the order first seen
  std::optional<RunTarget> target;  // of the last run record
  std::size_t runs = 0;             // run records seen
  Diagnostics errors;               // corruption other than a torn last line
  bool torn_tail = false;           // the last line was incomplete (a crash mid-write)
  std::size_t torn_tail_offset = 0; // byte offset where the torn line starts

  JobIndex index;                   // positions in `jobs`

  const JobRecord* find(const JobIdentity& id) const;
  // A stop-and-cut job, by its live video.
  const JobRecord* find(std::string_view project_id, std::string_view live_video_id) const {
    return find(JobIdentity{project_id, live_video_id, JobKind::stop_and_cut, false, {}});
  }
  const JobRecord* find(const JobSpec& spec) const { return find(spec.identity()); }
};

// Whether an event's record carries the "state" the job is in after it (answer, giveup).
inline bool record_names_state(const Event& e) {
  return std::holds_alternative<CutAnswer>(e) || std::holds_alternative<ReadAnswer>(e) ||
         std::holds_alternative<LookupAnswer>(e) || std::holds_alternative<GiveUp>(e);
}

// Reads a ledger. A missing file is an empty ledger. A last line without its newline that
// still parses as a whole record is kept (it may carry a videoPublicId); one cut short is
// reported via torn_tail (not an error); any other bad line, and any record the job's
// lifecycle cannot have produced, is an error naming FILE:LINE: field.
// Requests still out at the end (Lifecycle::request_out()) are left as they are: whoever
// knows that their run is gone (the next run, holding the lock) applies Interrupted.
LedgerContents read_ledger(const std::filesystem::path& path);

// The same, from text in memory; `name` is used in the diagnostics.
LedgerContents read_ledger_text(std::string_view text, const std::string& name);

// The default ledger path: beside the manifest, named after it with .ledger.jsonl
// (jobs.yaml -> jobs.ledger.jsonl).
std::filesystem::path default_ledger_path(const std::filesystem::path& manifest);

}  // namespace batchcut
