// The VOD after the cut: what the manage API says of it (publish status, duration), as the
// ledger records it and status/export show it. A videoPublicId only means the API accepted
// the cut; the VOD still has to encode, and that can fail.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace batchcut {

inline constexpr const char* default_manage_base_url = "https://vp-api.gjirafa.tech";

// The manage API's base URL when --manage-base-url is not given: VP's own when the
// livestream API is VP's own (https://livestream.vp.gjirafa.tech); otherwise the livestream
// API's server itself (the emulator serves both, as may a gateway in front of both).
std::string default_manage_base_for(std::string_view livestream_base_url);

// The manage API's publishStatusId (1 Processing, 2 Ready, 4 Failed, 8 ReEncoding), and
// unknown: not read yet, or no usable answer (404 before the VOD is listed, an error).
enum class PublishStatus : std::uint8_t { unknown = 0, processing = 1, ready = 2, failed = 4, reencoding = 8 };

const char* to_string(PublishStatus s);  // "unknown", "processing", "ready", "failed", "reencoding"
std::optional<PublishStatus> parse_publish_status(std::string_view s);
// From the API's publishStatusId; nullopt for an id it does not document.
std::optional<PublishStatus> publish_status_from_id(std::int64_t id);

// Ready and Failed are final; Processing, ReEncoding and unknown are polled again.
inline bool is_final(PublishStatus s) { return s == PublishStatus::ready || s == PublishStatus::failed; }

// One read of a VOD on the manage API. The ledger appends each as a "vod" record; the
// latest one per job is what status and export show.
struct VodObservation {
  std::string video_public_id;
  PublishStatus status = PublishStatus::unknown;
  std::optional<double> duration_s;   // the VOD's duration, seconds, as the API says it
  std::optional<double> expected_s;   // what the job asked for (ms or date-time range), when known
  bool duration_mismatch = false;     // |duration - expected| over the tolerance
  int http_status = 0;                // 0: no HTTP answer
  std::string error;                  // why the status is unknown, for people
  std::string ts;                     // when it was observed (the record's "ts"), ISO 8601 UTC
};

}  // namespace batchcut
