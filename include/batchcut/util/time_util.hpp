// Parsing and formatting of the timestamps batchcut meets: ISO 8601 in manifests and API
// bodies, the API's wire format, and HTTP-dates in Retry-After.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "batchcut/job/spec.hpp"

namespace batchcut {

// ISO 8601 date-time: YYYY-MM-DDTHH:MM:SS[.f{1,7}][Z|+HH:MM|-HH:MM|+HHMM].
// No zone means UTC (the API's .NET style, e.g. 2024-05-23T20:09:29.8106349).
// A space instead of 'T' is accepted. Returns nullopt for anything malformed or
// out of range (month 13, Feb 30, hour 24, ...).
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
