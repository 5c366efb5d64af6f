// A job: one live video to stop and turn into a VOD (stop-and-cut), or one titled clip of a
// live video that keeps running (cut-and-publish). This is the typed form every manifest row
// becomes once validated, and what the ledger stores for replay.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <optional>
#include <string>
#include <string_view>

namespace batchcut {

// Wall-clock instants keep the manifest's full precision (up to 7 fractional digits).
using utc_time = std::chrono::sys_time<std::chrono::nanoseconds>;

enum class RangeKind : std::uint8_t { whole, ms, datetime };

// stop-and-cut: POST .../stop-and-cut, stops the stream; at most one per live video.
// clip: POST .../cut-and-publish, a titled clip of a millisecond range; the stream runs on,
// and a live video may have many.
enum class JobKind : std::uint8_t { stop_and_cut, clip };

inline constexpr std::size_t max_title_length = 256;  // characters (UTF-8 code points)
inline constexpr std::size_t max_clip_id_length = 128;

// Who a job is: a stream can be stopped only once; a clip is known by the operator's clipId,
// or by its title when it has none. `clip` is empty for a stop-and-cut.
struct JobIdentity {
  std::string_view project_id;
  std::string_view live_video_id;
  JobKind kind = JobKind::stop_and_cut;
  bool by_clip_id = false;  // clip: `clip` is the clipId (else the title)
  std::string_view clip;

  bool operator==(const JobIdentity&) const = default;
};

// 1 Public, 2 Private, 3 Password Protected.
enum class Visibility : std::uint8_t { public_ = 1, private_ = 2, password = 3 };

// Laid out compactly: a million of them are held at once when validating a large manifest.
struct JobSpec {
  std::string project_id;
  std::string live_video_id;
  std::string label;
  std::string title;    // clip: the new VOD's title (required)
  std::string clip_id;  // clip: the operator's own key for the clip (optional)
  utc_time from_time{};  // valid when range == datetime
  utc_time to_time{};
  std::int32_t from_ms = 0;  // valid when range == ms (validated to be below 2^31)
  std::int32_t to_ms = 0;
  std::uint32_t line = 0;    // where it came from in the manifest (0 when unknown)
  Visibility visibility = Visibility::public_;
  RangeKind range = RangeKind::whole;
  JobKind kind = JobKind::stop_and_cut;

  JobIdentity identity() const {
    if (kind == JobKind::stop_and_cut) return {project_id, live_video_id, kind, false, {}};
    const bool by_id = !clip_id.empty();
    return {project_id, live_video_id, kind, by_id, by_id ? clip_id : title};
  }

  // The job's identity as people read it: "proj/lv1" for a stop-and-cut, "proj/lv1 clip
  // goal-1" (by clipId) or "proj/lv1 clip \"First goal\"" (by title) for a clip.
  std::string key() const;

  // True when the two specs would send the same request (label and line ignored).
  bool same_request(const JobSpec& other) const;
};

const char* to_string(RangeKind kind);
const char* to_string(JobKind kind);  // "stop-and-cut", "clip"
std::optional<JobKind> parse_job_kind(std::string_view s);

}  // namespace batchcut
