// Which jobs a run sends, decided once from the manifest (or the replay states) and the
// ledger: used by `run`, `replay`, `--dry-run` and the simulation test alike, so a dry run
// says exactly what a run would do.
#pragma once

#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "batchcut/ledger/ledger.hpp"
#include "batchcut/run/runner.hpp"
#include "batchcut/util/diagnostic.hpp"

namespace batchcut {

struct Plan {
  std::vector<RunJob> todo;             // to run, as the ledger knows them
  std::vector<std::size_t> job_records; // positions in todo of new or changed specs: their job records go first
  std::map<JobState, std::size_t> kept; // settled jobs not sent again, by state
  std::size_t total = 0;                // jobs in the manifest (or selected for replay)
  std::size_t read_first = 0;           // of todo: in doubt, so their state is read before any cut
  std::size_t changed = 0;              // of todo: sent with a spec changed since the ledger's
  Diagnostics refused;                  // changed jobs that may not be sent; nothing is when set
};

// True when the run reads the job's live video before it may cut: a cut of it may be out
// (in doubt, or left out by a run that is gone), or it is an in_doubt job taken up again.
bool reads_first(const RunJob& job);

// A run of a manifest: new jobs and unsettled ones are sent (retry_exhausted ones too);
// succeeded, failed and in_doubt ones are kept. A job whose request changed since the ledger
// recorded it is refused unless `allow_changed`, and always when its stream is already cut
// (succeeded or in_doubt).
Plan plan_run(const std::vector<JobSpec>& manifest, const std::string& manifest_name,
              const LedgerContents& ledger, bool allow_changed);

// plan_run one job at a time, for a manifest that is streamed rather than held (a dry run):
// the same decisions and counts, but the jobs to send are handed back, not kept.
class RunPlanner {
 public:
  RunPlanner(const std::string& manifest_name, const LedgerContents& ledger, bool allow_changed, bool keep_jobs);
  // Decides `job`. Returns the job to send (valid until the next call), or nullptr when it
  // is kept (settled) or refused (plan().refused says why).
  const RunJob* add(const JobSpec& job);
  Plan& plan() { return plan_; }

 private:
  const RunJob* take(const JobSpec& spec, const Lifecycle& life);

  const std::string& manifest_name_;
  const LedgerContents& ledger_;
  bool allow_changed_, keep_jobs_;
  Plan plan_;
  RunJob scratch_;  // the job handed back when jobs are not kept
};

// A replay: the ledger's jobs in `states` (never succeeded ones).
Plan plan_replay(const LedgerContents& ledger, const std::set<JobState>& states);

}  // namespace batchcut
