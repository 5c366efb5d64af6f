// The run's log: spdlog, as text or one JSON object per line, to stderr or a file. Whatever
// the level, the API key never reaches it: every line passes through redaction.
#pragma once

#include <spdlog/common.h>

#include <filesystem>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>

namespace spdlog {
class logger;
}

namespace batchcut {

enum class LogFormat { text, json };

struct LogOptions {
  spdlog::level::level_enum level = spdlog::level::info;
  LogFormat format = LogFormat::text;
  std::optional<std::filesystem::path> file;  // else stderr
  bool erase_bar = false;  // a progress bar is on stderr: a log line replaces it, the bar redraws below
};

// "trace" ... "off"; nullopt for an unknown name (never silently off).
std::optional<spdlog::level::level_enum> parse_log_level(const std::string& name);

// A new logger named "batchcut"; nullptr, with a message on `err`, if the file cannot be opened.
std::shared_ptr<spdlog::logger> make_logger(const LogOptions& options, std::ostream& err);

// From now on, every logger made by make_logger writes `secret` as "[redacted]".
void redact_in_logs(const std::string& secret);

// `text` with every occurrence of the registered secret replaced.
std::string redacted(std::string_view text);
// The same, in place (no copy when there is nothing to replace).
void redact(std::string& text);

// "https://user:secret@host/x" -> "https://***@host/x": a URL given as an argument or a
// config value may hold credentials; anything else is returned as it is.
std::string without_url_credentials(const std::string& value);

}  // namespace batchcut
