#include "batchcut/job/spec.hpp"

#include "batchcut/util/escape.hpp"

#include "batchcut/util/diagnostic.hpp"

namespace batchcut {

std::string JobSpec::key() const {
  std::string k = project_id + "/" + live_video_id;
  if (kind == JobKind::clip) {
    if (!clip_id.empty()) {
      k += " clip " + clip_id;
    } else {
      k += " clip \"";
      k += title;
      k += '"';
    }
  }
  return k;
}

bool JobSpec::same_request(const JobSpec& o) const {
  if (identity() != o.identity() || visibility != o.visibility || range != o.range ||
      title != o.title)
    return false;
  switch (range) {
    case RangeKind::whole: return true;
    case RangeKind::ms: return from_ms == o.from_ms && to_ms == o.to_ms;
    case RangeKind::datetime: return from_time == o.from_time && to_time == o.to_time;
  }
  return false;
}

const char* to_string(RangeKind kind) {
  switch (kind) {
    case RangeKind::whole: return "whole";
    case RangeKind::ms: return "ms";
    case RangeKind::datetime: return "datetime";
  }
  return "?";
}

const char* to_string(JobKind kind) {
  switch (kind) {
    case JobKind::stop_and_cut: return "stop-and-cut";
    case JobKind::clip: return "clip";
  }
  return "?";
}

std::optional<JobKind> parse_job_kind(std::string_view s) {
  for (JobKind k : {JobKind::stop_and_cut, JobKind::clip})
    if (s == to_string(k)) return k;
  return std::nullopt;
}

// Every part may hold bytes from the input (a file name, a column name, a value quoted in
// the message): escaped, and cut to a readable length, here where every diagnostic is shown.
std::string Diagnostic::to_string() const {
  std::string out = escape_for_display(file, 400);
  if (line > 0) out += ":" + std::to_string(line);
  out += ": ";
  if (severity == Severity::warning) out += "warning: ";
  if (!field.empty()) out += escape_for_display(field, 60) + ": ";
  out += escape_for_display(message, 2000);
  return out;
}

}  // namespace batchcut
