// What the commands share: the logger, diagnostics, state names, reading a finished ledger.
// Internal to src/app/.
#pragma once

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>

#include "batchcut/manifest/manifest.hpp"
#include "batchcut/app/app.hpp"
#include "batchcut/ledger/ledger.hpp"
#include "batchcut/util/diagnostic.hpp"

namespace batchcut {
struct Plan;
}

namespace batchcut::app_detail {

void print_diagnostics(const Diagnostics& diags, std::ostream& err);
// A manifest's warnings and errors: those kept, then how many more were found. Returns
// whether it had no errors.
bool print_manifest_diagnostics(const Manifest& m, const std::filesystem::path& path, std::ostream& err);

// "12.3 s"
std::string seconds_text(std::chrono::milliseconds ms);

// A ledger that must exist and be whole (for export and status); problems go to `err`.
std::optional<LedgerContents> read_existing_ledger(const std::filesystem::path& path, std::ostream& err);

// `batchcut plan`: what the plan sends, keeps and refuses, the estimated wall time at the
// run's rate and concurrency, and whether that fits the deadline (exit 1 when it does not).
int print_plan(const RunCommand& c, const Plan& plan, const std::string& base_url,
               std::optional<std::chrono::system_clock::time_point> deadline, std::ostream& out,
               std::ostream& err);

// The API key from --api-key-file or $VP_API_KEY (or the test's override); a message on `err`
// (never the key) and nullopt when there is none or it cannot go in a header. (run.cpp)
std::optional<std::string> load_api_key(const RunCommand& c, std::ostream& err);

}  // namespace batchcut::app_detail
