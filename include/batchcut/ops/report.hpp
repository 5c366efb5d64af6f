// The end of a run: what happened, in text for a person and in JSON for a machine
// (config/schema/summary.schema.json), and the next step for every outcome, as a command.
#pragma once

#include <chrono>
#include <filesystem>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "batchcut/run/runner.hpp"

namespace batchcut {

struct RunReport {
  std::string command;        // "run" or "replay"
  std::string command_line;   // how to run it again (the key is never on it)
  std::optional<std::filesystem::path> manifest;
  std::filesystem::path ledger;
  std::string base_url;
  // The flags that send a new manifest (with a ledger of its own) where this run sent:
  // --base-url, and --ca-file and --auth-scheme when the run had them.
  std::vector<std::string> target_args;
  std::chrono::system_clock::time_point started;
  std::chrono::system_clock::time_point ended;
  std::size_t total = 0;                  // jobs in the manifest (or selected from the ledger)
  std::map<JobState, std::size_t> kept;   // settled earlier, not sent again
  RunSummary run;
  int exit_status = 0;

  std::map<JobState, std::size_t> final_states() const;  // kept + this run's
  std::size_t kept_count() const;
};

// One line per thing to do next, each naming its command. Never empty.
std::vector<std::string> next_steps(const RunReport& r);

void print_report(const RunReport& r, std::ostream& out);

// The summary as one JSON document (schema "batchcut.summary/1").
std::string report_json(const RunReport& r);

// Writes `text` to `path` atomically (a temporary file beside it, then rename); false and
// a message in `error` on failure.
bool write_file_atomically(const std::filesystem::path& path, const std::string& text, std::string& error);

// `word` quoted for a POSIX shell when it needs to be.
std::string shell_quote(const std::string& word);

}  // namespace batchcut
