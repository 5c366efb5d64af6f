// Parsing and formatting of the timestamps batchcut meets: ISO 8601 in manifests and API
// bodies, the API's wire format, and HTTP-dates in Retry-After.
#pragma once

#include <cstdint>
#include <optional>
#include <ratio>
#include <string>
#include <string_view>

#include "batchcut/job/spec.hpp"

namespace batchcut {

// 100 ns, the .NET tick: the finest unit an ISO 8601 text here can give (7 digits).
using iso_ticks = std::chrono::duration<std::int64_t, std::ratio<1, 10'000'000>>;
// An instant that holds every text parse_iso8601_ticks accepts (years 0000..9999, with
// any offset): int64 ticks reach about 29,000 years either side of 1970, whereas
// utc_time's int64 nanoseconds end in 1677 and 2262.
using iso_time = std::chrono::sys_time<iso_ticks>;

// ISO 8601 date-time: YYYY-MM-DDTHH:MM:SS[.f{1,7}][Z|+HH:MM|-HH:MM|+HHMM].
// No zone means UTC (the API's .NET style, e.g. 2024-05-23T20:09:29.8106349).
// A space instead of 'T' is accepted. Returns nullopt for anything malformed or
// out of range (month 13, Feb 30, hour 24, ...). Never overflows.
//
// When `mistake` is given and the text is one of the common near misses below, it is told
// which, and `mistake->fixed` is the text with that one mistake put right (another may
// remain): so a message can show the accepted form of the user's own value.
enum class IsoMistake {
  other,           // none of these
  long_fraction,   // more than 7 fractional digits (fixed: cut to milliseconds)
  no_seconds,      // HH:MM without :SS (fixed: :00 added)
  short_offset,    // +HH without minutes (fixed: :00 added)
};
struct IsoMistakeFound {
  IsoMistake kind = IsoMistake::other;
  std::string fixed;
};
std::optional<iso_time> parse_iso8601_ticks(std::string_view text, IsoMistakeFound* mistake = nullptr);

// `t` as a utc_time, or nullopt when utc_time cannot hold it (before 1677-09-21 or
// after 2262-04-11): a value out of range is refused, never wrapped.
std::optional<utc_time> to_utc_time(iso_time t);

// parse_iso8601_ticks narrowed by to_utc_time: nullopt for malformed text and for
// instants utc_time cannot hold. (A manifest's dates are checked against a narrower
// range with their own message: see job/validate.hpp.)
std::optional<utc_time> parse_iso8601(std::string_view text);

// The API wire form, always UTC with milliseconds: YYYY-MM-DDTHH:MM:SS.fffZ (truncated).
std::string format_api_time(utc_time t);

// ISO 8601 with full precision, for ledgers and messages: YYYY-MM-DDTHH:MM:SS.fffffffZ
// (fraction trimmed of trailing zeros, omitted when zero).
std::string format_iso8601(utc_time t);

// HTTP-date (RFC 9110: IMF-fixdate, plus the obsolete RFC 850 and asctime forms).
std::optional<std::chrono::sys_seconds> parse_http_date(std::string_view text);

// Formats an IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
std::string format_http_date(std::chrono::sys_seconds t);

}  // namespace batchcut
