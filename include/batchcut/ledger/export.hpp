// What a ledger says, for people and other tools: one row per job (CSV or JSON Lines), or
// the jobs as a manifest to edit and run again.
#pragma once

#include <ostream>
#include <set>
#include <string>

#include "batchcut/ledger/ledger.hpp"

namespace batchcut {

// The jobs in `states` (every job when empty), one row each: projectId, liveVideoId, label,
// state, videoPublicId, attempts, httpStatus, error. "attempts" counts cut attempts made;
// "httpStatus" is the last cut's answer (0/empty: none); "error" says why the job is where it
// is (for pending, its last error). CSV has a header row, RFC 4180 quoting, and free text
// guarded against spreadsheet formulas.
void export_csv(const LedgerContents& ledger, const std::set<JobState>& states, std::ostream& out);
void export_jsonl(const LedgerContents& ledger, const std::set<JobState>& states, std::ostream& out);

// The jobs in `states` as a manifest (CSV, or YAML with each job's last state as a comment).
void export_manifest_csv(const LedgerContents& ledger, const std::set<JobState>& states, std::ostream& out);
void export_manifest_yaml(const LedgerContents& ledger, const std::set<JobState>& states, std::ostream& out);

}  // namespace batchcut
