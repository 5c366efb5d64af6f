// A cut job: one live video to stop and turn into a VOD. This is the typed form every
// manifest row becomes once validated, and what the ledger stores for replay.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace batchcut {

// Wall-clock instants keep the manifest's full precision (up to 7 fractional digits).
using utc_time = std::chrono::sys_time<std::chrono::nanoseconds>;

enum class RangeKind { whole, ms, datetime };

// 1 Public, 2 Private, 3 Password Protected.
enum class Visibility : int { public_ = 1, private_ = 2, password = 3 };

struct JobSpec {
  std::string project_id;
  std::string live_video_id;
  Visibility visibility = Visibility::public_;
  RangeKind range = RangeKind::whole;
  std::int64_t from_ms = 0;  // valid when range == ms
  std::int64_t to_ms = 0;
  utc_time from_time{};  // valid when range == datetime
  utc_time to_time{};
  std::string label;
  std::size_t line = 0;  // where it came from in the manifest (0 when unknown)

  // The identity of a job: a stream can be stopped only once.
  std::string key() const { return project_id + "/" + live_video_id; }

  // True when the two specs would send the same request (label and line ignored).
  bool same_request(const JobSpec& other) const;
};

const char* to_string(RangeKind kind);

}  // namespace batchcut
