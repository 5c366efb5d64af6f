// What `batchcut track` and `run --wait-ready` share. Internal to src/app/.
#pragma once

#include <filesystem>
#include <iosfwd>
#include <vector>

#include "batchcut/app/app.hpp"
#include "batchcut/ledger/ledger.hpp"
#include "batchcut/vod/tracker.hpp"

namespace batchcut::app_detail {

// Every succeeded job with a videoPublicId whose latest vod observation is not final.
std::vector<TrackItem> jobs_to_track(const LedgerContents& ledger);

enum class TrackOutcome { all_ready, not_all_ready, usage, fatal };

// Tracks the jobs of `ledger_path` (whose lock the caller holds through `log`, and whose
// contents are `known`), appending each changed observation to `log`, and prints the
// summary on `out`. `target` is where the ledger's runs sent (for the CA file and auth
// scheme when `c` does not say).
TrackOutcome track_ledger(const TrackSettings& settings, const RunCommand& c, const std::filesystem::path& ledger_path,
                          const LedgerContents& known, LedgerLog& log, std::ostream& out, std::ostream& err);

}  // namespace batchcut::app_detail
