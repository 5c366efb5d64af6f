#include "batchcut/ops/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <mutex>
#include <ostream>

namespace batchcut {

namespace {

std::mutex secret_mutex;
std::string secret;  // empty: nothing to redact

// %* : the message, redacted, and JSON-quoted for the JSON format.
class RedactedMessage : public spdlog::custom_flag_formatter {
 public:
  explicit RedactedMessage(bool json) : json_(json) {}
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    std::string text = redacted(std::string_view(msg.payload.data(), msg.payload.size()));
    if (json_) text = boost::json::serialize(boost::json::string(text));
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<RedactedMessage>(json_); }

 private:
  bool json_;
};

}  // namespace

std::optional<spdlog::level::level_enum> parse_log_level(const std::string& name) {
  const auto level = spdlog::level::from_str(name);
  if (level == spdlog::level::off && name != "off") return std::nullopt;
  return level;
}

void redact_in_logs(const std::string& s) {
  std::lock_guard lock(secret_mutex);
  secret = s;
}

std::string redacted(std::string_view text) {
  std::string out(text);
  std::lock_guard lock(secret_mutex);
  if (secret.empty()) return out;
  for (std::size_t at = out.find(secret); at != std::string::npos; at = out.find(secret, at))
    out.replace(at, secret.size(), "[redacted]");
  return out;
}

std::string without_url_credentials(const std::string& v) {
  const auto scheme = v.find("://");
  if (scheme == std::string::npos) return v;
  const auto at = v.find('@', scheme + 3);
  const auto slash = v.find('/', scheme + 3);
  if (at == std::string::npos || (slash != std::string::npos && slash < at)) return v;
  return v.substr(0, scheme + 3) + "***" + v.substr(at);
}

std::shared_ptr<spdlog::logger> make_logger(const LogOptions& options, std::ostream& err) {
  spdlog::sink_ptr sink;
  if (options.file) {
    try {
      sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(options.file->string());
    } catch (const spdlog::spdlog_ex& e) {
      err << "batchcut: --log-file " << options.file->string() << ": " << e.what() << "\n";
      return nullptr;
    }
  } else {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  }
  const bool json = options.format == LogFormat::json;
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<RedactedMessage>('*', json);
  // On the bar's terminal, a line (text or JSON) first erases the bar, or it would follow it.
  const std::string erase = options.erase_bar && !options.file ? "\r\033[K" : "";
  formatter->set_pattern(erase + (json ? R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","msg":%*})"
                                       : "%Y-%m-%dT%H:%M:%S.%e %l %*"));
  sink->set_formatter(std::move(formatter));
  auto logger = std::make_shared<spdlog::logger>("batchcut", std::move(sink));
  logger->set_level(options.level);
  logger->flush_on(spdlog::level::warn);
  return logger;
}

}  // namespace batchcut
