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

enum class RangeKind : std::uint8_t { whole, ms, datetime };

// 1 Public, 2 Private, 3 Password Protected.
enum class Visibility : std::uint8_t { public_ = 1, private_ = 2, password = 3 };

// Laid out compactly: a million of them are held at once when validating a large manifest.
struct JobSpec {
  std::string project_id;
  std::string live_video_id;
  std::string label;
  utc_time from_time{};  // valid when range == datetime
  utc_time to_time{};
  std::int32_t from_ms = 0;  // valid when range == ms (validated to be below 2^31)
  std::int32_t to_ms = 0;
  std::uint32_t line = 0;    // where it came from in the manifest (0 when unknown)
  Visibility visibility = Visibility::public_;
  RangeKind range = RangeKind::whole;

  // The identity of a job: a stream can be stopped only once.
  std::string key() const { return project_id + "/" + live_video_id; }

  // True when the two specs would send the same request (label and line ignored).
  bool same_request(const JobSpec& other) const;
};

const char* to_string(RangeKind kind);

}  // namespace batchcut
