#include "batchcut/job/spec.hpp"

#include "batchcut/util/diagnostic.hpp"

namespace batchcut {

bool JobSpec::same_request(const JobSpec& o) const {
  if (project_id != o.project_id || live_video_id != o.live_video_id ||
      visibility != o.visibility || range != o.range)
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

std::string Diagnostic::to_string() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line);
  out += ": ";
  if (severity == Severity::warning) out += "warning: ";
  if (!field.empty()) out += field + ": ";
  out += message;
  return out;
}

}  // namespace batchcut
