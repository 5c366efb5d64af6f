// Reading one VOD on the manage API: where the request goes and what an answer says.
// Pure functions; the tracker (vod/tracker.hpp) does the I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "batchcut/job/spec.hpp"
#include "batchcut/net/api.hpp"
#include "batchcut/vod/vod.hpp"

namespace batchcut {

// GET {prefix}/api/projects/{projectId}/videos/{videoPublicId}, each id one percent-encoded
// path segment.
std::string vod_target(const BaseUrl& manage, std::string_view project_id, std::string_view video_public_id);

// What one answer says of the VOD: status, duration and, when it says nothing usable, why
// (an unknown status with `error` set). 404: not found (yet) -- the manage API may list a
// VOD a moment after the cut answered. `expected_s` and the mismatch are left to the caller.
VodObservation parse_vod_answer(int http_status, std::string_view body, std::string_view video_public_id);

// How long the job asked its VOD to be, in seconds: a millisecond range's (to - from) / 1000,
// a date-time range's to - from; nullopt for a whole stream (nothing to compare with).
std::optional<double> requested_duration_s(const JobSpec& job);

// The default tolerance for a duration mismatch: max(2 s, 1 % of the expected duration).
// Encoding rounds to frames and keyframes; a cut that lost or gained more is worth a look.
double default_duration_tolerance_s(double expected_s);

// True when both are known and |duration - expected| > tolerance (the default when
// `tolerance_s` is nullopt).
bool duration_mismatch(std::optional<double> duration_s, std::optional<double> expected_s,
                       std::optional<double> tolerance_s = std::nullopt);

}  // namespace batchcut
