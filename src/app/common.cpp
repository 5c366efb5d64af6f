// What the commands share (common.hpp).
#include "app/common.hpp"

#include "batchcut/util/plural.hpp"

#include <cstdlib>
#include <iomanip>
#include <ostream>
#include <sstream>

namespace batchcut::app_detail {

namespace fs = std::filesystem;

void print_diagnostics(const Diagnostics& diags, std::ostream& err) {
  for (const auto& d : diags) err << d.to_string() << "\n";
}

bool print_manifest_diagnostics(const Manifest& m, const fs::path& path, std::ostream& err) {
  print_diagnostics(m.warnings, err);
  if (m.more_warnings) err << path.string() << ": and " << counted(m.more_warnings, "more warning") << "\n";
  if (m.ok()) return true;
  print_diagnostics(m.errors, err);
  if (m.more_errors)
    err << path.string() << ": and " << counted(m.more_errors, "more problem") << " (only the first "
        << max_kept_problems << " are shown)\n";
  err << "batchcut: " << path.string() << ": " << counted(m.error_count(), "problem") << "; nothing sent\n";
  return false;
}

std::string seconds_text(std::chrono::milliseconds ms) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(1) << static_cast<double>(ms.count()) / 1000.0 << " s";
  return s.str();
}


// A ledger that must exist and be whole (for export and status); problems go to `err`.
std::optional<LedgerContents> read_existing_ledger(const fs::path& path, std::ostream& err) {
  if (!fs::exists(path)) {
    err << "batchcut: " << path.string() << ": no such ledger\n";
    return std::nullopt;
  }
  LedgerContents ledger = read_ledger(path);
  if (!ledger.errors.empty()) {
    print_diagnostics(ledger.errors, err);
    return std::nullopt;
  }
  return ledger;
}

// Where this run sends: the flags, else what the ledger's last run used, else the defaults.

}  // namespace batchcut::app_detail
