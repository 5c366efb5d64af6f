#include "batchcut/run/plan.hpp"

namespace batchcut {

bool reads_first(const RunJob& job) {
  const Lifecycle& life = job.life;
  return life.doubt || life.request_out() || (job.reopen && life.state == JobState::in_doubt);
}

namespace {

// A job the run takes on, counted: settled ones (not succeeded) are reopened first.
RunJob taken(Plan& plan, const JobSpec& spec, const Lifecycle& life) {
  RunJob job{spec, life, life.settled()};
  if (reads_first(job)) ++plan.read_first;
  return job;
}

}  // namespace

RunPlanner::RunPlanner(const std::string& manifest_name, const LedgerContents& ledger, bool allow_changed,
                       bool keep_jobs)
    : manifest_name_(manifest_name), ledger_(ledger), allow_changed_(allow_changed), keep_jobs_(keep_jobs) {}

const RunJob* RunPlanner::take(const JobSpec& spec, const Lifecycle& life) {
  RunJob job = taken(plan_, spec, life);
  if (!keep_jobs_) {
    scratch_ = std::move(job);
    return &scratch_;
  }
  plan_.todo.push_back(std::move(job));
  return &plan_.todo.back();
}

const RunJob* RunPlanner::add(const JobSpec& job) {
  ++plan_.total;
  const JobRecord* rec = ledger_.find(job);
  if (!rec) {
    if (keep_jobs_) plan_.job_records.push_back(plan_.todo.size());
    return take(job, {});
  }
  const JobState state = rec->life.state;
  const bool same = rec->spec.same_request(job);
  if (!same && (state == JobState::succeeded || state == JobState::in_doubt)) {
    // Its stream is already cut: no change to the request can cut it again.
    plan_.refused.push_back({manifest_name_, job.line, "",
                             "job " + job.key() + " changed, but the ledger has it " + to_string(state) +
                                 " (a stream is cut only once); restore it or remove it"});
    return nullptr;
  }
  if (!same && !allow_changed_) {
    plan_.refused.push_back({manifest_name_, job.line, "",
                             "job " + job.key() + " differs from the one in the ledger (same live video, "
                                                  "other range or visibility); pass --allow-changed to send it as it is now"});
    return nullptr;
  }
  if (state == JobState::succeeded || state == JobState::failed || state == JobState::in_doubt) {
    ++plan_.kept[state];
    return nullptr;
  }
  if (!same) {
    if (keep_jobs_) plan_.job_records.push_back(plan_.todo.size());
    ++plan_.changed;
  }
  // An unsettled doubt is read back before anything is sent for this live video, whether or
  // not the request changed since.
  return take(job, rec->life);
}

Plan plan_run(const std::vector<JobSpec>& manifest, const std::string& manifest_name,
              const LedgerContents& ledger, bool allow_changed) {
  RunPlanner planner(manifest_name, ledger, allow_changed, true);
  planner.plan().todo.reserve(manifest.size());
  for (const JobSpec& job : manifest) planner.add(job);
  return std::move(planner.plan());
}

Plan plan_replay(const LedgerContents& ledger, const std::set<JobState>& states) {
  Plan plan;
  for (const JobRecord& rec : ledger.jobs) {
    if (!states.count(rec.life.state) || rec.life.state == JobState::succeeded) continue;
    ++plan.total;
    plan.todo.push_back(taken(plan, rec.spec, rec.life));
  }
  return plan;
}

}  // namespace batchcut
