// The live view of a run on stderr: a bar redrawn in place on a terminal, a log line every
// --progress-interval elsewhere, and, when the run stops early, what is left of the drain.
#pragma once

#include <chrono>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>

#include "batchcut/ops/stats.hpp"

namespace spdlog {
class logger;
}

namespace batchcut {

enum class ProgressMode { automatic, bar, log, none };
std::optional<ProgressMode> parse_progress_mode(const std::string& name);  // auto|bar|log|none

class ProgressView {
 public:
  // `automatic` is a bar when `err_is_terminal`, else log lines.
  ProgressView(ProgressMode mode, std::chrono::milliseconds log_interval, std::ostream& err,
               bool err_is_terminal, std::shared_ptr<spdlog::logger> logger);

  ProgressMode mode() const { return mode_; }  // never `automatic`
  // How often the runner should call on_tick (0: never).
  std::chrono::milliseconds tick_interval() const;
  void on_tick(const RunSnapshot& s);
  // The run is over: the bar's line is cleared (the summary follows).
  void finish();

  // "[######----] 120/300 40.0% ETA 18s | ok 118 failed 1 exhausted 0 doubt 1 | retrying 3, out 8 | 9.8/s",
  // shorter than `columns` (the bar shrinks to 10, goes under 40 columns; then the end is cut).
  static std::string bar_line(const RunSnapshot& s, std::size_t columns);
  static std::string log_line(const RunSnapshot& s);

 private:
  ProgressMode mode_;
  std::chrono::milliseconds log_interval_;
  std::ostream& err_;
  std::shared_ptr<spdlog::logger> log_;
  std::chrono::milliseconds last_log_{0};
  bool drain_announced_ = false;
  bool bar_shown_ = false;
};

// "1h02m", "3m05s", "12s"
std::string duration_text(std::chrono::milliseconds d);
// Seconds until every job is settled at the pace so far; nullopt before anything settled.
std::optional<std::chrono::milliseconds> eta(const RunSnapshot& s);

}  // namespace batchcut
