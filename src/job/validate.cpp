// The job field rules. Messages show a value as the reader had it, quoted; an integer
// from JSON is shown the way a manifest would write it, so both read the same.
#include "batchcut/job/validate.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include "batchcut/util/suggest.hpp"

#include <algorithm>
#include <array>

#include "batchcut/util/time_util.hpp"

namespace batchcut {

namespace {

constexpr std::array<std::string_view, kJobFieldCount> kApiNames = {
    "projectId",    "liveVideoId",  "videoVisibilityOptionId", "fromMilisecond",
    "toMilisecond", "dateTimeFrom", "dateTimeTo",              "label",
    "kind",         "title",        "clipId"};

constexpr std::string_view kWantId = "must be 1-128 characters from A-Z, a-z, 0-9, '_' and '-'";
constexpr std::string_view kWantVisibility = "must be 1 (Public), 2 (Private) or 3 (Password Protected)";
constexpr std::string_view kWantMs = "must be a non-negative integer number of milliseconds";
constexpr std::string_view kWantDateTime = "must be an ISO 8601 date-time such as 2024-05-23T20:09:29.810Z";
// The last instant in range is kDateTimeLimit less one tick, the finest a text can give.
constexpr std::string_view kDateTimeRange = "must be between 1970-01-01T00:00:00Z and 2261-12-31T23:59:59.9999999Z";

constexpr std::int64_t kMsLimit = std::int64_t{1} << 31;  // excluded

// Shows a value in a message: quoted, control characters escaped, long values cut.
std::string show(std::string_view text) {
  constexpr std::size_t kMax = 60;
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size() && i < kMax; ++i) {
    char c = text[i];
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c == '"') out += "\\\"";
    else if (static_cast<unsigned char>(c) < 0x20) out += '?';
    else out += c;
  }
  if (text.size() > kMax) out += "...";
  return out + "\"";
}

std::string got(std::string_view want, std::string_view text) {
  std::string out(want);
  out += ", got ";
  out += show(text);
  return out;
}

bool all_digits(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Decimal digits only (no sign, space, point or exponent). A number too large for an
// int64 comes back as INT64_MAX: it is still a number, just out of range.
std::optional<std::int64_t> parse_decimal(std::string_view s) {
  if (s.empty() || !all_digits(s)) return std::nullopt;
  if (s.size() > 18) return INT64_MAX;
  std::int64_t v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

// What is wrong with a near-miss date-time and the accepted form, e.g. "the offset must be
// +HH:MM, as in 2026-05-23T20:00:00+02:00": the user's own value with each near miss put
// right, when that makes it whole; otherwise the usual example.
std::string date_time_mistake(const IsoMistakeFound& first) {
  std::string_view what;
  switch (first.kind) {
    case IsoMistake::long_fraction: what = "at most 7 fractional digits are accepted (the API takes milliseconds)"; break;
    case IsoMistake::no_seconds: what = "the time must have seconds, HH:MM:SS"; break;
    case IsoMistake::short_offset: what = "the offset must be +HH:MM or -HH:MM"; break;
    case IsoMistake::other: break;
  }
  IsoMistakeFound fix = first;
  for (int i = 0; i < 3; ++i) {  // each kind of near miss at most once
    IsoMistakeFound next;
    if (parse_iso8601_ticks(fix.fixed, &next)) return std::string(what) + ", as in " + fix.fixed;
    if (next.kind == IsoMistake::other) break;
    fix = std::move(next);
  }
  return std::string(what) + ", as in 2024-05-23T20:09:29.810+02:00";
}

// `shown` is the value as the reader had it, for the message.
Checked<Visibility> visibility(std::optional<std::int64_t> n, std::string_view shown) {
  if (!n || *n < 1 || *n > 3) return {std::nullopt, got(kWantVisibility, shown)};
  return {static_cast<Visibility>(*n), {}};
}

Checked<std::int32_t> offset_ms(std::optional<std::int64_t> n, std::string_view shown) {
  if (!n || *n < 0) return {std::nullopt, got(kWantMs, shown)};
  if (*n >= kMsLimit) return {std::nullopt, got("must be below 2147483648", shown)};
  return {static_cast<std::int32_t>(*n), {}};
}

}  // namespace

std::string_view api_name(JobField field) { return kApiNames[static_cast<std::size_t>(field)]; }

std::string_view expected_value(JobField field) {
  switch (field) {
    case JobField::project_id:
    case JobField::live_video_id: return "must be an id";
    case JobField::visibility: return kWantVisibility;
    case JobField::from_ms:
    case JobField::to_ms: return kWantMs;
    case JobField::date_time_from:
    case JobField::date_time_to: return kWantDateTime;
    case JobField::label: return "must be text";
    case JobField::kind: return "must be stop-and-cut or clip";
    case JobField::title: return "must be text";
    case JobField::clip_id: return "must be a clipId";
  }
  return "must be valid";
}

bool valid_job_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<std::string> check_id(std::string_view id) {
  if (valid_job_id(id)) return std::nullopt;
  return got(kWantId, id);
}

Checked<Visibility> check_visibility(std::int64_t id) { return visibility(id, std::to_string(id)); }
Checked<Visibility> parse_visibility(std::string_view text) { return visibility(parse_decimal(text), text); }

Checked<std::int32_t> check_offset_ms(std::int64_t ms) { return offset_ms(ms, std::to_string(ms)); }
Checked<std::int32_t> parse_offset_ms(std::string_view text) { return offset_ms(parse_decimal(text), text); }

Checked<utc_time> parse_date_time(std::string_view text) {
  // Parsed into ticks, which hold any year a text can give, so a far date is reported
  // as out of range rather than as malformed, and is never wrapped.
  IsoMistakeFound mistake;
  const auto t = parse_iso8601_ticks(text, &mistake);
  if (!t) {
    if (mistake.kind == IsoMistake::other) return {std::nullopt, got(kWantDateTime, text)};
    return {std::nullopt, got(date_time_mistake(mistake), text)};
  }
  if (*t < kEarliestDateTime || *t >= kDateTimeLimit) return {std::nullopt, got(kDateTimeRange, text)};
  const utc_time value = *to_utc_time(*t);
  Checked<utc_time> checked{value, {}, {}};
  if (t->time_since_epoch() % std::chrono::milliseconds{1} != iso_ticks::zero())
    checked.warning = "truncated to milliseconds, the finest the API takes: " + show(text) + " is sent as " +
                      format_api_time(value);
  return checked;
}

RangeShape check_range_shape(const RangePresence& p, const RangeNames& names) {
  const bool any_ms = p.from_ms || p.to_ms;
  const bool any_dt = p.date_time_from || p.date_time_to;
  if (any_ms && any_dt)
    return {RangeKind::whole,
            FieldProblem{p.date_time_from ? JobField::date_time_from : JobField::date_time_to,
                         "use either fromMilisecond/toMilisecond or dateTimeFrom/dateTimeTo, not both"}};

  // A half pair: the missing half is named, and told which given field needs it.
  auto half = [](JobField missing, std::string_view given) {
    return RangeShape{RangeKind::whole, FieldProblem{missing, "required when " + std::string(given) + " is given"}};
  };
  if (any_ms) {
    if (!p.from_ms) return half(JobField::from_ms, names.to_ms);
    if (!p.to_ms) return half(JobField::to_ms, names.from_ms);
    return {RangeKind::ms, std::nullopt};
  }
  if (any_dt) {
    if (!p.date_time_from) return half(JobField::date_time_from, names.date_time_to);
    if (!p.date_time_to) return half(JobField::date_time_to, names.date_time_from);
    return {RangeKind::datetime, std::nullopt};
  }
  return {RangeKind::whole, std::nullopt};
}

std::optional<FieldProblem> check_ms_order(std::int64_t from, std::int64_t to, const RangeNames& names) {
  if (to > from) return std::nullopt;
  return FieldProblem{JobField::to_ms, "must be greater than " + std::string(names.from_ms)};
}

std::optional<FieldProblem> check_date_time_order(utc_time from, utc_time to, const RangeNames& names) {
  using std::chrono::floor;
  using ms = std::chrono::milliseconds;
  if (floor<ms>(to) > floor<ms>(from)) return std::nullopt;
  return FieldProblem{JobField::date_time_to, "must be after " + std::string(names.date_time_from)};
}

Checked<JobKind> parse_kind(std::string_view text) {
  if (auto k = parse_job_kind(text)) return {*k, {}};
  static constexpr std::array<std::string_view, 2> kinds = {"stop-and-cut", "clip"};
  std::string hint = did_you_mean(text, kinds);
  if (hint.empty() && (text == "stop_and_cut" || text == "stop" || text == "cut" || text == "stopandcut"))
    hint = " (did you mean 'stop-and-cut'?)";
  if (hint.empty() && (text == "clips" || text == "cut-and-publish" || text == "cut_and_publish"))
    hint = " (did you mean 'clip'?)";
  return {std::nullopt, "must be stop-and-cut or clip, got \"" + std::string(text) + "\"" + hint};
}

std::optional<std::string> check_title(std::string_view title) {
  if (title.find_first_not_of(" \t") == std::string_view::npos) return "a clip needs a title: it must not be empty";
  std::size_t chars = 0;
  for (std::size_t i = 0; i < title.size();) {
    const auto c = static_cast<unsigned char>(title[i]);
    if (c < 0x20 || c == 0x7f) return "must not contain control characters (tabs, line breaks, ...)";
    // One UTF-8 sequence: its length from the lead byte, then continuation bytes.
    const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > title.size()) return "must be valid UTF-8";
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(title[i + k]) & 0xc0) != 0x80) return "must be valid UTF-8";
    i += n;
    ++chars;
  }
  if (chars > max_title_length)
    return "must be at most " + std::to_string(max_title_length) + " characters, got " + std::to_string(chars);
  return std::nullopt;
}

std::optional<std::string> check_clip_id(std::string_view clip_id) {
  const bool ok = !clip_id.empty() && clip_id.size() <= max_clip_id_length &&
                  std::all_of(clip_id.begin(), clip_id.end(), [](char ch) {
                    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_' || ch == ':' || ch == '-';
                  });
  if (ok) return std::nullopt;
  return "must be 1-" + std::to_string(max_clip_id_length) +
         " characters from A-Z, a-z, 0-9, '.', '_', ':' and '-', got \"" + std::string(clip_id.substr(0, 140)) + "\"";
}

std::optional<std::string> check_clip_range(RangeKind range) {
  switch (range) {
    case RangeKind::ms: return std::nullopt;
    case RangeKind::datetime:
      return "a clip takes fromMilisecond and toMilisecond: date-times are not documented for cut-and-publish";
    case RangeKind::whole: return "a clip needs fromMilisecond and toMilisecond";
  }
  return "a clip needs fromMilisecond and toMilisecond";
}

}  // namespace batchcut
