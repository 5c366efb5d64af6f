#include "batchcut/ops/progress.hpp"

#include <spdlog/spdlog.h>

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ostream>

#include "batchcut/util/plural.hpp"

namespace batchcut {

using std::chrono::milliseconds;

std::optional<ProgressMode> parse_progress_mode(const std::string& name) {
  if (name == "auto") return ProgressMode::automatic;
  if (name == "bar") return ProgressMode::bar;
  if (name == "log") return ProgressMode::log;
  if (name == "none") return ProgressMode::none;
  return std::nullopt;
}

std::string duration_text(milliseconds d) {
  const long long s = std::max<long long>(0, (d.count() + 500) / 1000);
  char buf[48];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, s / 60 % 60);
  else if (s >= 60) std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%llds", s);
  return buf;
}

std::optional<milliseconds> eta(const RunSnapshot& s) {
  if (s.settled_count == 0 || s.elapsed.count() <= 0) return std::nullopt;
  const double per_job = static_cast<double>(s.elapsed.count()) / static_cast<double>(s.settled_count);
  return milliseconds(static_cast<long long>(per_job * static_cast<double>(s.total - s.settled_count)));
}

namespace {

std::size_t count(const RunSnapshot& s, JobState st) {
  auto it = s.settled.find(st);
  return it == s.settled.end() ? 0 : it->second;
}

double percent(const RunSnapshot& s) {
  return s.total ? 100.0 * static_cast<double>(s.settled_count) / static_cast<double>(s.total) : 100.0;
}

double achieved_rate(const RunSnapshot& s) {
  const double secs = static_cast<double>(s.elapsed.count()) / 1000.0;
  return secs > 0 ? static_cast<double>(s.requests + s.reads) / secs : 0.0;
}

// "ETA 18s | ok 118 failed 1 exhausted 0 doubt 1 | retrying 3, out 8 | 9.8/s | paused 2s":
// what cannot wait first, for a narrow terminal cuts the end.
std::string tail(const RunSnapshot& s) {
  std::string t;
  if (s.draining) t = "draining | ";
  else if (auto e = eta(s)) t = "ETA " + duration_text(*e) + " | ";
  char buf[256];
  std::snprintf(buf, sizeof buf, "ok %zu failed %zu exhausted %zu doubt %zu | retrying %zu, out %zu | %.1f/s",
                count(s, JobState::succeeded), count(s, JobState::failed),
                count(s, JobState::retry_exhausted), count(s, JobState::in_doubt), s.waiting_retry,
                s.in_flight, achieved_rate(s));
  t += buf;
  if (s.paused.count() > 0) t += " | paused " + duration_text(s.paused);
  return t;
}

// The width of the terminal on stderr; 80 when it cannot be told.
std::size_t terminal_columns() {
  winsize w{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &w) == 0 && w.ws_col >= 20) return w.ws_col;
  return 80;
}

}  // namespace

std::string ProgressView::bar_line(const RunSnapshot& s, std::size_t columns) {
  char head[64];
  std::snprintf(head, sizeof head, "%zu/%zu %.1f%% ", s.settled_count, s.total, percent(s));
  const std::string text = head + tail(s);
  // The last column stays free: a line that fills it wraps on some terminals, and a wrapped
  // line is not redrawn by a carriage return.
  // The bar takes what the text leaves, 10 to 20 columns, and goes below 40 (the end of
  // the text is cut instead).
  const std::size_t room = columns > 0 ? columns - 1 : 0;
  const std::size_t spare = room > text.size() + 3 ? room - text.size() - 3 : 0;
  const std::size_t width = columns < 40 ? 0 : std::clamp<std::size_t>(spare, 10, 20);
  std::string line;
  if (width > 0) {
    const std::size_t filled = s.total ? width * s.settled_count / s.total : width;
    line = "[" + std::string(filled, '#') + std::string(width - filled, '-') + "] ";
  }
  line += text;
  if (line.size() > room) line.resize(room);
  return line;
}

std::string ProgressView::log_line(const RunSnapshot& s) {
  char head[96];
  std::snprintf(head, sizeof head, "progress: %zu/%zu jobs settled (%.1f%%), ", s.settled_count, s.total, percent(s));
  return head + tail(s);
}

ProgressView::ProgressView(ProgressMode mode, milliseconds log_interval, std::ostream& err,
                           bool err_is_terminal, std::shared_ptr<spdlog::logger> logger)
    : mode_(mode == ProgressMode::automatic ? (err_is_terminal ? ProgressMode::bar : ProgressMode::log) : mode),
      log_interval_(log_interval),
      err_(err),
      log_(std::move(logger)) {
  if (mode_ == ProgressMode::log && log_interval_.count() <= 0) mode_ = ProgressMode::none;
}

milliseconds ProgressView::tick_interval() const {
  switch (mode_) {
    case ProgressMode::bar: return milliseconds(250);
    case ProgressMode::log: return std::min(log_interval_, milliseconds(1000));
    default: return milliseconds(0);
  }
}

void ProgressView::on_tick(const RunSnapshot& s) {
  if (log_) log_->flush();  // log lines written since the last tick go before the bar
  if (s.draining && !drain_announced_) {
    drain_announced_ = true;
    std::string line = "stopping (" + s.stop_reason + "): " + counted(s.in_flight, "request") +
                       " still out will finish and be recorded; the rest stays pending for the next run";
    if (s.drain_timeout.count() > 0) line += "; this takes at most " + duration_text(s.drain_timeout);
    // After a signal, the next one stops at once; otherwise the first one starts a drain.
    line += s.stopped_by_signal ? "; a second Ctrl-C (or SIGTERM) stops at once"
                                : "; Ctrl-C twice stops at once";
    if (mode_ == ProgressMode::bar) {
      err_ << "\r\033[K" << "batchcut: " << line << "\n";
      bar_shown_ = false;
    } else if (mode_ == ProgressMode::log && log_) {
      log_->warn("{}", line);
    }
  }
  if (mode_ == ProgressMode::bar) {
    err_ << "\r\033[K" << bar_line(s, terminal_columns()) << std::flush;
    bar_shown_ = true;
  } else if (mode_ == ProgressMode::log && log_ && s.elapsed - last_log_ >= log_interval_) {
    last_log_ = s.elapsed;
    log_->info("{}", log_line(s));
  }
}

void ProgressView::finish() {
  if (log_) log_->flush();
  if (bar_shown_) err_ << "\r\033[K" << std::flush;
  bar_shown_ = false;
}

}  // namespace batchcut
