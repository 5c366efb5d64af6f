// The rules for a job's fields, in one place for every reader: the manifest (values as
// text) and the ledger (values parsed from JSON: ids and date-times as strings, the
// visibility and the offsets as integers). Each function is pure and returns the problem
// as a message without file, line or field, e.g. `must be below 2147483648, got "2147483648"`;
// the reader adds where it was. Both kinds of reader get the same text for the same value.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "batchcut/job/spec.hpp"

namespace batchcut {

// The fields of a job, named as the API spells them (api_name).
enum class JobField : std::uint8_t {
  project_id, live_video_id, visibility, from_ms, to_ms, date_time_from, date_time_to, label,
  kind, title, clip_id
};
inline constexpr int kJobFieldCount = 11;

// "projectId", "liveVideoId", "videoVisibilityOptionId", "fromMilisecond" (one l, as the
// API has it), "toMilisecond", "dateTimeFrom", "dateTimeTo", "label".
std::string_view api_name(JobField field);

// What a field must hold, as the start of a message: "must be 1 (Public), 2 (Private) or
// 3 (Password Protected)". For a value of the wrong type, e.g. `expected_value(f) + ", got a list"`.
std::string_view expected_value(JobField field);

// A valid value, or the message saying what is wrong with it. A valid value may carry a
// warning: it is taken, but not quite as written (a date-time cut to milliseconds).
template <class T>
struct Checked {
  std::optional<T> value;  // set when valid
  std::string error;       // set when not
  std::string warning;     // may be set when valid

  explicit operator bool() const { return value.has_value(); }
  const T& operator*() const { return *value; }
};

// A problem with a job's range found by the pair rules: the field to report it on and
// the message. When `field` is absent from the job, report it where the job starts.
struct FieldProblem {
  JobField field;
  std::string message;
};

// ---- one field ----

// True when `id` matches [A-Za-z0-9_-]{1,128}, the form of projectId and liveVideoId.
bool valid_job_id(std::string_view id);
// projectId, liveVideoId: nullopt when valid, else the message.
std::optional<std::string> check_id(std::string_view id);

// videoVisibilityOptionId: 1, 2 or 3, from a JSON integer or from text (decimal digits only).
Checked<Visibility> check_visibility(std::int64_t id);
Checked<Visibility> parse_visibility(std::string_view text);

// fromMilisecond, toMilisecond: 0 .. 2^31-1 (the API's int32), from a JSON integer or
// from text (decimal digits only; leading zeros allowed).
Checked<std::int32_t> check_offset_ms(std::int64_t ms);
Checked<std::int32_t> parse_offset_ms(std::string_view text);

// The date-times a job accepts: [1970-01-01T00:00:00Z, 2262-01-01T00:00:00Z), checked
// after the offset is applied. utc_time (int64 ns) ends in April 2262; whole years keep
// the bound easy to state, and no live stream predates the Unix epoch. Days, so that a
// comparison with a wider time type happens in that type, not in overflowing nanoseconds.
inline constexpr std::chrono::sys_days kEarliestDateTime{std::chrono::year{1970} / 1 / 1};
inline constexpr std::chrono::sys_days kDateTimeLimit{std::chrono::year{2262} / 1 / 1};  // excluded

// dateTimeFrom, dateTimeTo: an ISO 8601 date-time (see parse_iso8601) in that range.
// The common near misses (8 or more fractional digits, no seconds, an offset without
// minutes) are refused with what is wrong and the accepted form of the same value. A value
// finer than a millisecond is taken with a warning: the API receives it truncated.
Checked<utc_time> parse_date_time(std::string_view text);

// ---- the pair rules ----

// How the reader's input spelled the range fields; messages that name another field use
// it (a manifest may say fromMillisecond). The ledger keeps the defaults.
struct RangeNames {
  std::string_view from_ms = "fromMilisecond";
  std::string_view to_ms = "toMilisecond";
  std::string_view date_time_from = "dateTimeFrom";
  std::string_view date_time_to = "dateTimeTo";
};

// Which range fields are present (given, valid or not). A job has the millisecond pair,
// the date-time pair or neither (the whole stream): never both pairs, never half a pair.
struct RangePresence {
  bool from_ms = false, to_ms = false, date_time_from = false, date_time_to = false;
};

// The kind of range the present fields make, or the problem: both pairs (reported on
// dateTimeFrom, or dateTimeTo when only that one is there), or a missing half.
// nullopt problem means the shape is fine; check the order next, once both values are valid.
struct RangeShape {
  RangeKind kind = RangeKind::whole;
  std::optional<FieldProblem> problem;
};
RangeShape check_range_shape(const RangePresence& present, const RangeNames& names = {});

// The order within a pair, reported on the "to" field: to > from for offsets; for
// date-times compared at millisecond precision, which is what the API receives, so a range
// 100 ns wide would reach it empty: floor(to) > floor(from).
std::optional<FieldProblem> check_ms_order(std::int64_t from, std::int64_t to, const RangeNames& names = {});
std::optional<FieldProblem> check_date_time_order(utc_time from, utc_time to, const RangeNames& names = {});

// ---- clips ----

// kind: "stop-and-cut" or "clip".
Checked<JobKind> parse_kind(std::string_view text);
// A clip's title: not empty or blank, valid UTF-8 without control characters, at most
// max_title_length characters. nullopt when valid, else the message.
std::optional<std::string> check_title(std::string_view title);
// A clipId: [A-Za-z0-9._:-]{1,max_clip_id_length}.
std::optional<std::string> check_clip_id(std::string_view clip_id);
// A clip's range must be the millisecond pair: only it is documented for cut-and-publish.
std::optional<std::string> check_clip_range(RangeKind range);

}  // namespace batchcut
