#include "batchcut/run/plan.hpp"

namespace batchcut {

bool reads_first(const RunJob& job) {
  const Lifecycle& life = job.life;
  return life.doubt || life.request_out() || (job.reopen && life.state == JobState::in_doubt);
}

namespace {

// A job the run takes on: settled ones (not succeeded) are reopened first.
void take(Plan& plan, const JobSpec& spec, const Lifecycle& life) {
  RunJob job{spec, life, life.settled()};
  if (reads_first(job)) ++plan.read_first;
  plan.todo.push_back(std::move(job));
}

}  // namespace

Plan plan_run(const std::vector<JobSpec>& manifest, const std::string& manifest_name,
              const LedgerContents& ledger, bool allow_changed) {
  Plan plan;
  plan.total = manifest.size();
  plan.todo.reserve(manifest.size());
  if (ledger.jobs.empty()) plan.job_records.reserve(manifest.size());
  for (const JobSpec& job : manifest) {
    const JobRecord* rec = ledger.find(job);
    if (!rec) {
      plan.job_records.push_back(job);
      plan.todo.push_back({job, {}, false});
      continue;
    }
    const JobState state = rec->life.state;
    const bool same = rec->spec.same_request(job);
    if (!same && (state == JobState::succeeded || state == JobState::in_doubt)) {
      // Its stream is already cut: no change to the request can cut it again.
      plan.refused.push_back({manifest_name, job.line, "",
                              "job " + job.key() + " changed, but the ledger has it " + to_string(state) +
                                  " (a stream is cut only once); restore it or remove it"});
      continue;
    }
    if (!same && !allow_changed) {
      plan.refused.push_back({manifest_name, job.line, "",
                              "job " + job.key() + " differs from the one in the ledger (same live video, "
                                                   "other range or visibility); pass --allow-changed to send it as it is now"});
      continue;
    }
    if (state == JobState::succeeded || state == JobState::failed || state == JobState::in_doubt) {
      ++plan.kept[state];
      continue;
    }
    if (!same) {
      plan.job_records.push_back(job);
      ++plan.changed;
    }
    // An unsettled doubt is read back before anything is sent for this live video, whether or
    // not the request changed since.
    take(plan, job, rec->life);
  }
  return plan;
}

Plan plan_replay(const LedgerContents& ledger, const std::set<JobState>& states) {
  Plan plan;
  for (const JobRecord& rec : ledger.jobs) {
    if (!states.count(rec.life.state) || rec.life.state == JobState::succeeded) continue;
    ++plan.total;
    take(plan, rec.spec, rec.life);
  }
  return plan;
}

}  // namespace batchcut
