// What the commands share (common.hpp).
#include "app/common.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdlib>
#include <iomanip>
#include <ostream>
#include <sstream>

namespace batchcut::app_detail {

namespace fs = std::filesystem;

std::shared_ptr<spdlog::logger> make_logger(std::ostream& err) {
  auto level = spdlog::level::info;
  if (const char* name = std::getenv("BATCHCUT_LOG"); name && *name) {
    level = spdlog::level::from_str(name);
    if (level == spdlog::level::off && std::string_view(name) != "off") {
      err << "batchcut: BATCHCUT_LOG=" << name
          << ": unknown log level (trace, debug, info, warn, error, critical, off)\n";
      return nullptr;
    }
  }
  auto logger = spdlog::get("batchcut");
  if (!logger) {
    logger = spdlog::stderr_color_mt("batchcut");
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  }
  logger->set_level(level);
  return logger;
}

void print_diagnostics(const Diagnostics& diags, std::ostream& err) {
  for (const auto& d : diags) err << d.to_string() << "\n";
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
