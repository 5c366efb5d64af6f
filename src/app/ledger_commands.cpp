// `status` and `export`: read finished (or running) ledgers, one or several (the shards of one
// manifest) as one.
#include "batchcut/app/app.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <fmt/format.h>
#include <iomanip>
#include <map>
#include <ostream>
#include <set>
#include <sstream>

#include "app/common.hpp"
#include "batchcut/ledger/export.hpp"
#include "batchcut/ledger/writer.hpp"

namespace batchcut {

namespace fs = std::filesystem;
using namespace app_detail;

std::optional<std::vector<JobState>> parse_states(const std::string& list, std::string& error) {
  std::vector<JobState> out;
  std::stringstream ss(list);
  for (std::string name; std::getline(ss, name, ',');) {
    if (name.empty()) continue;
    auto s = parse_job_state(name);
    if (!s) {
      error = "unknown state '" + name + "' (states: succeeded, failed, retry_exhausted, in_doubt, pending)";
      return std::nullopt;
    }
    out.push_back(*s);
  }
  return out;
}


namespace {

// One ledger read for status/export.
struct Source {
  fs::path path;
  std::size_t jobs = 0;
  std::optional<RunTarget> target;
  bool torn_tail = false;
  bool live = false;  // a run holds it now
};

// Several ledgers as one: each job once, `from[i]` the source its record came from.
struct Merged {
  std::vector<Source> sources;
  LedgerContents ledger;  // jobs and index only
  std::vector<std::size_t> from;
  std::size_t duplicates = 0;  // jobs found in more than one ledger
};

// Which record of a job found in several ledgers counts (the rule in app.hpp): the lower
// the rank the further the job got.
int rank(JobState s) {
  switch (s) {
    case JobState::succeeded: return 0;
    case JobState::in_doubt: return 1;
    case JobState::failed: return 2;
    case JobState::retry_exhausted: return 3;
    case JobState::pending: return 4;
  }
  return 5;
}

constexpr std::size_t kDuplicatesNamed = 20;  // then only a count, not one line per job

std::optional<Merged> read_ledgers(const std::vector<fs::path>& paths, std::ostream& err) {
  Merged m;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      std::error_code ec;
      if (paths[i] == paths[j] || fs::equivalent(paths[i], paths[j], ec)) {
        err << "batchcut: " << paths[i].string() << " is named twice\n";
        return std::nullopt;
      }
    }
  }
  for (const auto& path : paths) {
    auto found = read_existing_ledger(path, err);
    if (!found) return std::nullopt;
    const std::size_t source = m.sources.size();
    m.sources.push_back(Source{path, found->jobs.size(), found->target, found->torn_tail, ledger_in_use(path)});
    if (paths.size() == 1) {  // the common case: nothing to merge
      m.ledger = std::move(*found);
      m.from.assign(m.ledger.jobs.size(), 0);
      return m;
    }
    auto spec_at = [&](std::size_t pos) -> const JobSpec& { return m.ledger.jobs[pos].spec; };
    for (auto& job : found->jobs) {
      const std::size_t pos = m.ledger.jobs.size();
      const std::size_t at = m.ledger.index.find_or_add(job.spec.identity(), pos, spec_at);
      if (at == pos) {
        m.ledger.jobs.push_back(std::move(job));
        m.from.push_back(source);
        continue;
      }
      JobRecord& kept = m.ledger.jobs[at];
      const bool replace = rank(job.life.state) < rank(kept.life.state);
      if (++m.duplicates <= kDuplicatesNamed) {
        const auto& winner = replace ? job : kept;
        err << "batchcut: warning: " << job.spec.key() << " is in both " << m.sources[m.from[at]].path.string()
            << " and " << path.string() << "; counted once, as " << to_string(winner.life.state) << " (from "
            << m.sources[replace ? source : m.from[at]].path.string() << ")\n";
      }
      if (replace) {
        kept = std::move(job);
        m.from[at] = source;
      }
    }
  }
  if (m.duplicates > kDuplicatesNamed)
    err << "batchcut: warning: " << m.duplicates << " jobs are in more than one ledger (the first "
        << kDuplicatesNamed << " named above); each is counted once\n";
  return m;
}

// What status reports, computed once for both forms.
struct StatusCounts {
  std::map<JobState, std::size_t> states;
  std::size_t out_now = 0;      // a request out, in a ledger a run holds now
  std::size_t out_at_end = 0;   // a request out when its (finished) run ended
  std::size_t pending_in_doubt = 0;
  std::vector<std::string> base_urls;  // distinct, in the order of the ledgers
  // The VODs of succeeded jobs, by their latest observation (batchcut track); reencoding
  // counts as processing. not_tracked: succeeded, never read on the manage API.
  std::size_t vod_ready = 0, vod_processing = 0, vod_failed = 0, vod_unknown = 0, vod_not_tracked = 0;
  std::vector<std::string> mismatched;  // "proj/lv1 (videoPublicId v): 50.0 s, asked for 60.0 s"
};

StatusCounts count(const Merged& m) {
  StatusCounts c;
  for (auto s : all_job_states) c.states[s] = 0;
  for (std::size_t i = 0; i < m.ledger.jobs.size(); ++i) {
    const Lifecycle& life = m.ledger.jobs[i].life;
    ++c.states[life.state];
    if (life.request_out()) ++(m.sources[m.from[i]].live ? c.out_now : c.out_at_end);
    else if (life.doubt && !life.settled()) ++c.pending_in_doubt;
    if (life.state != JobState::succeeded) continue;
    const auto& vod = m.ledger.jobs[i].vod;
    if (!vod) {
      ++c.vod_not_tracked;
      continue;
    }
    switch (vod->status) {
      case PublishStatus::ready: ++c.vod_ready; break;
      case PublishStatus::processing:
      case PublishStatus::reencoding: ++c.vod_processing; break;
      case PublishStatus::failed: ++c.vod_failed; break;
      case PublishStatus::unknown: ++c.vod_unknown; break;
    }
    if (vod->duration_mismatch && vod->duration_s && vod->expected_s)
      c.mismatched.push_back(fmt::format("{} (videoPublicId {}): {:.1f} s, asked for {:.1f} s",
                                         m.ledger.jobs[i].spec.key(), vod->video_public_id, *vod->duration_s,
                                         *vod->expected_s));
  }
  for (const auto& s : m.sources)
    if (s.target && std::find(c.base_urls.begin(), c.base_urls.end(), s.target->base_url) == c.base_urls.end())
      c.base_urls.push_back(s.target->base_url);
  return c;
}

void print_status_json(const Merged& m, const StatusCounts& c, std::ostream& out) {
  namespace json = boost::json;
  json::array ledgers;
  bool torn = false, live = false;
  for (const auto& s : m.sources) {
    json::object o;
    o["path"] = s.path.string();
    o["jobs"] = s.jobs;
    o["baseUrl"] = s.target ? json::value(s.target->base_url) : json::value(nullptr);
    o["shard"] = s.target && s.target->shard ? json::value(to_string(*s.target->shard)) : json::value(nullptr);
    o["tornTail"] = s.torn_tail;
    o["heldByRun"] = s.live;
    ledgers.push_back(std::move(o));
    torn = torn || s.torn_tail;
    live = live || s.live;
  }
  json::object states;
  for (auto s : all_job_states) states[to_string(s)] = c.states.at(s);
  json::array urls;
  for (const auto& u : c.base_urls) urls.push_back(json::value(u));
  json::object o;
  o["format"] = 1;
  o["ledgers"] = std::move(ledgers);
  o["baseUrls"] = std::move(urls);
  o["total"] = m.ledger.jobs.size();
  o["states"] = std::move(states);
  o["requestsOut"] = c.out_now + c.out_at_end;
  o["requestsOutNow"] = c.out_now;
  o["pendingInDoubt"] = c.pending_in_doubt;
  o["duplicates"] = m.duplicates;
  o["tornTail"] = torn;
  o["heldByRun"] = live;
  json::object vods;
  vods["ready"] = c.vod_ready;
  vods["processing"] = c.vod_processing;
  vods["failed"] = c.vod_failed;
  vods["unknown"] = c.vod_unknown;
  vods["notTracked"] = c.vod_not_tracked;
  vods["durationMismatch"] = c.mismatched.size();
  o["vods"] = std::move(vods);
  out << json::serialize(o) << "\n";
}

void print_status_text(const Merged& m, const StatusCounts& c, std::ostream& out) {
  const bool one = m.sources.size() == 1;
  out << (one ? m.sources[0].path.string() : std::to_string(m.sources.size()) + " ledgers") << ": "
      << m.ledger.jobs.size() << " jobs";
  for (std::size_t i = 0; i < c.base_urls.size(); ++i) out << (i ? " and " : ", sent to ") << c.base_urls[i];
  out << "\n";
  if (!one) {
    for (const auto& s : m.sources) {
      out << "  " << s.path.string() << ": " << s.jobs << " jobs";
      if (s.target && s.target->shard) out << " (shard " << to_string(*s.target->shard) << ")";
      out << "\n";
    }
    if (m.duplicates) out << "  (" << m.duplicates << " jobs are in more than one ledger; each is counted once)\n";
  }
  for (auto s : all_job_states) out << "  " << std::left << std::setw(16) << to_string(s) << c.states.at(s) << "\n";
  if (c.states.at(JobState::succeeded) > 0) {
    out << "  VODs: " << c.vod_ready << " ready, " << c.vod_processing << " processing, " << c.vod_failed << " failed, "
        << c.vod_unknown << " unknown (" << c.vod_not_tracked << " not tracked)\n";
    constexpr std::size_t named = 20;
    for (std::size_t i = 0; i < c.mismatched.size() && i < named; ++i)
      out << "  duration mismatch: " << c.mismatched[i] << "\n";
    if (c.mismatched.size() > named)
      out << "  ... and " << c.mismatched.size() - named << " more duration mismatches (export lists every one)\n";
  }
  for (const auto& s : m.sources) {
    if (!s.live) continue;
    out << "  a batchcut run holds " << (one ? std::string("this ledger") : s.path.string()) << " now";
    if (one && c.out_now) out << "; " << c.out_now << " requests are out";
    out << "\n";
  }
  if (!one && c.out_now) out << "  (" << c.out_now << " requests are out now)\n";
  if (c.out_at_end)
    out << "  (" << c.out_at_end << " had a request out when their run ended; the next run reads their state first)\n";
  if (c.pending_in_doubt)
    out << "  (" << c.pending_in_doubt << " pending jobs may have been cut; the next run reads their state before sending)\n";
  for (const auto& s : m.sources)
    if (s.torn_tail)
      out << "  (the last line" << (one ? std::string() : " of " + s.path.string())
          << " is torn; the next run repairs it)\n";
}

}  // namespace

int export_command(const std::vector<fs::path>& paths, const std::string& format, bool as_manifest,
                   const std::vector<JobState>& states, std::ostream& out, std::ostream& err) {
  const auto merged = read_ledgers(paths, err);
  if (!merged) return exit_usage;
  const LedgerContents& ledger = merged->ledger;
  std::set<JobState> wanted(states.begin(), states.end());
  if (as_manifest) {
    // in_doubt is left out unless named: a manifest starts a new ledger with no history, and
    // those streams must not be cut again without a look first.
    if (wanted.empty()) wanted = {JobState::failed, JobState::retry_exhausted, JobState::pending};
    if (format == "yaml") export_manifest_yaml(ledger, wanted, out);
    else export_manifest_csv(ledger, wanted, out);
    std::size_t n = 0;
    for (const auto& j : ledger.jobs) n += wanted.count(j.life.state);
    err << "batchcut: exported " << n << " jobs as a manifest\n";
    return exit_ok;
  }
  if (format == "csv")
    export_csv(ledger, wanted, out);
  else if (format == "jsonl")
    export_jsonl(ledger, wanted, out);
  else {
    err << "batchcut: --format must be csv or jsonl\n";
    return exit_usage;
  }
  return exit_ok;
}

int status_command(const std::vector<fs::path>& paths, bool json, std::ostream& out, std::ostream& err) {
  if (paths.empty()) {
    err << "batchcut: status needs a ledger\n";
    return exit_usage;
  }
  const auto merged = read_ledgers(paths, err);
  if (!merged) return exit_usage;
  const StatusCounts counts = count(*merged);
  if (json) print_status_json(*merged, counts, out);
  else print_status_text(*merged, counts, out);
  return exit_ok;
}

}  // namespace batchcut
