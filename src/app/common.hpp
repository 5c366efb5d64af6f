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

#include "batchcut/app/app.hpp"
#include "batchcut/ledger/ledger.hpp"
#include "batchcut/util/diagnostic.hpp"

namespace batchcut::app_detail {

// BATCHCUT_LOG picks the level (default info); an unknown name is a usage error (nullptr,
// with a message), never silence: the log may be the only place an id shows up.
std::shared_ptr<spdlog::logger> make_logger(std::ostream& err);

void print_diagnostics(const Diagnostics& diags, std::ostream& err);

// "12.3 s"
std::string seconds_text(std::chrono::milliseconds ms);

inline constexpr JobState all_states[] = {JobState::succeeded, JobState::failed, JobState::retry_exhausted,
                                          JobState::in_doubt, JobState::pending};

// A ledger that must exist and be whole (for export and status); problems go to `err`.
std::optional<LedgerContents> read_existing_ledger(const std::filesystem::path& path, std::ostream& err);

}  // namespace batchcut::app_detail
