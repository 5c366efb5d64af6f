#include "batchcut/ops/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <mutex>
#include <ostream>

namespace batchcut {

namespace {

std::mutex secret_mutex;
std::string secret;  // empty: nothing to redact

bool holds_secret(std::string_view text) {
  std::lock_guard lock(secret_mutex);
  return !secret.empty() && text.find(secret) != std::string_view::npos;
}

// %* : the message, redacted, and JSON-quoted for the JSON format.
class RedactedMessage : public spdlog::custom_flag_formatter {
 public:
  explicit RedactedMessage(bool json) : json_(json) {}
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    if (!json_ && !holds_secret(payload)) {  // the common case: copied once, into the line
      dest.append(payload.data(), payload.data() + payload.size());
      return;
    }
    std::string text = redacted(payload);
    if (json_) text = boost::json::serialize(boost::json::string(text));
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<RedactedMessage>(json_); }

 private:
  bool json_;
};

// stderr, in 64 KiB writes: at 20,000 job outcomes a second, one write(2) per line cost a
// tenth of the run's throughput (tests/bench/ab.sh). Warnings and errors go out at once
// (flush_on), the rest at the next flush: the progress view's tick, or the end of the run.
class BufferedStderrSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  ~BufferedStderrSink() override { flush_(); }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    buffer_.append(line.data(), line.size());
    if (buffer_.size() >= 64 * 1024) flush_();
  }
  void flush_() override {
    std::size_t done = 0;
    while (done < buffer_.size()) {
      const ssize_t n = ::write(STDERR_FILENO, buffer_.data() + done, buffer_.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // a closed stderr: the log is lost, the run goes on (SIGPIPE is ignored)
      done += static_cast<std::size_t>(n);
    }
    buffer_.clear();
  }

 private:
  std::string buffer_;
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

void redact(std::string& text) {
  std::lock_guard lock(secret_mutex);
  if (secret.empty()) return;
  for (std::size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at))
    text.replace(at, secret.size(), "[redacted]");
}

std::string redacted(std::string_view text) {
  std::string out(text);
  redact(out);
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
    sink = std::make_shared<BufferedStderrSink>();
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
