// `status` and `export`: read a finished (or running) ledger.
#include "batchcut/app/app.hpp"

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


int export_command(const fs::path& path, const std::string& format, bool as_manifest,
                   const std::vector<JobState>& states, std::ostream& out, std::ostream& err) {
  const auto found = read_existing_ledger(path, err);
  if (!found) return exit_usage;
  std::set<JobState> wanted(states.begin(), states.end());
  if (as_manifest) {
    // in_doubt is left out unless named: a manifest starts a new ledger with no history, and
    // those streams must not be cut again without a look first.
    if (wanted.empty()) wanted = {JobState::failed, JobState::retry_exhausted, JobState::pending};
    if (format == "yaml") export_manifest_yaml(*found, wanted, out);
    else export_manifest_csv(*found, wanted, out);
    std::size_t n = 0;
    for (const auto& j : found->jobs) n += wanted.count(j.life.state);
    err << "batchcut: exported " << n << " jobs as a manifest\n";
    return exit_ok;
  }
  if (format == "csv")
    export_csv(*found, wanted, out);
  else if (format == "jsonl")
    export_jsonl(*found, wanted, out);
  else {
    err << "batchcut: --format must be csv or jsonl\n";
    return exit_usage;
  }
  return exit_ok;
}

int status_command(const fs::path& path, std::ostream& out, std::ostream& err) {
  const auto found = read_existing_ledger(path, err);
  if (!found) return exit_usage;
  const LedgerContents& ledger = *found;
  const bool live = ledger_in_use(path);
  std::map<JobState, std::size_t> counts;
  std::size_t out_now = 0, in_doubt = 0;
  for (const auto& j : ledger.jobs) {
    ++counts[j.life.state];
    if (j.life.request_out()) ++out_now;
    else if (j.life.doubt && !j.life.settled()) ++in_doubt;
  }
  out << path.string() << ": " << ledger.jobs.size() << " jobs";
  if (ledger.target) out << ", sent to " << ledger.target->base_url;
  out << "\n";
  for (auto s : all_states) out << "  " << std::left << std::setw(16) << to_string(s) << counts[s] << "\n";
  if (live)
    out << "  a batchcut run holds this ledger now" << (out_now ? "; " + std::to_string(out_now) + " requests are out" : "")
        << "\n";
  else if (out_now)
    out << "  (" << out_now << " had a request out when their run ended; the next run reads their state first)\n";
  if (in_doubt)
    out << "  (" << in_doubt << " pending jobs may have been cut; the next run reads their state before sending)\n";
  if (ledger.torn_tail) out << "  (the last line is torn; the next run repairs it)\n";
  return exit_ok;
}

}  // namespace batchcut
