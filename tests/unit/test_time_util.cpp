#include <gtest/gtest.h>

#include "batchcut/util/time_util.hpp"

using namespace batchcut;
using namespace std::chrono;

namespace {

batchcut::utc_time at(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0, nanoseconds sub = {}) {
  return batchcut::utc_time{sys_days{year{y} / month{mo} / day{d}}} + hours{h} + minutes{mi} + seconds{s} + sub;
}

}  // namespace

TEST(TimeIso8601, ApiFormWithSevenDigitsAndNoZoneIsUtc) {
  auto t = parse_iso8601("2024-05-23T20:09:29.8106349");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, at(2024, 5, 23, 20, 9, 29, nanoseconds{810634900}));
}

TEST(TimeIso8601, MillisecondsWithZ) {
  auto t = parse_iso8601("2024-05-23T20:09:29.392Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, at(2024, 5, 23, 20, 9, 29, milliseconds{392}));
  EXPECT_EQ(parse_iso8601("2024-05-23t20:09:29.392z"), t);
}

TEST(TimeIso8601, NoFractionAndSpaceSeparator) {
  EXPECT_EQ(parse_iso8601("2024-05-23T20:09:29"), at(2024, 5, 23, 20, 9, 29));
  EXPECT_EQ(parse_iso8601("2024-05-23 20:09:29Z"), at(2024, 5, 23, 20, 9, 29));
  EXPECT_EQ(parse_iso8601("2024-05-23T20:09:29.5"), at(2024, 5, 23, 20, 9, 29, milliseconds{500}));
}

TEST(TimeIso8601, OffsetsAreSubtracted) {
  const auto utc = at(2024, 5, 23, 18, 9, 29);
  EXPECT_EQ(parse_iso8601("2024-05-23T20:09:29+02:00"), utc);
  EXPECT_EQ(parse_iso8601("2024-05-23T20:09:29+0200"), utc);
  EXPECT_EQ(parse_iso8601("2024-05-23T14:39:29-03:30"), utc);
  EXPECT_EQ(parse_iso8601("2024-05-23T18:09:29-00:00"), utc);
  // Crossing midnight and a month end.
  EXPECT_EQ(parse_iso8601("2024-03-01T01:00:00+02:00"), at(2024, 2, 29, 23));
}

TEST(TimeIso8601, LeapYears) {
  EXPECT_TRUE(parse_iso8601("2024-02-29T00:00:00Z"));
  EXPECT_TRUE(parse_iso8601("2000-02-29T00:00:00Z"));
  EXPECT_FALSE(parse_iso8601("2023-02-29T00:00:00Z"));
  EXPECT_FALSE(parse_iso8601("1900-02-29T00:00:00Z"));
}

TEST(TimeIso8601, RejectsMalformedAndOutOfRange) {
  for (const char* bad : {
           "",
           "2024-05-23",                       // no time
           "2024-13-01T00:00:00Z",             // month 13
           "2024-00-01T00:00:00Z",             // month 0
           "2024-02-30T00:00:00Z",             // Feb 30
           "2024-04-31T00:00:00Z",             // Apr 31
           "2024-05-00T00:00:00Z",             // day 0
           "2024-05-23T24:00:00Z",             // hour 24
           "2024-05-23T23:60:00Z",             // minute 60
           "2024-05-23T23:59:60Z",             // second 60
           "2024-05-23T20:09:29.Z",            // empty fraction
           "2024-05-23T20:09:29.81063491",     // 8 fractional digits
           "2024-05-23T20:09:29+2:00",         // one-digit offset hour
           "2024-05-23T20:09:29+24:00",        // offset hour 24
           "2024-05-23T20:09:29+02:60",        // offset minute 60
           "2024-05-23T20:09:29+02",           // offset without minutes
           "2024-05-23T20:09:29ZZ",            // trailing text
           "2024-05-23T20:09:29 ",             // trailing space
           " 2024-05-23T20:09:29",             // leading space
           "2024-5-23T20:09:29",               // one-digit month
           "2024-05-23X20:09:29",              // bad separator
           "24-05-23T20:09:29",                // two-digit year
           "2024-05-23T20:09",                 // no seconds
           "2024/05/23T20:09:29",              // slashes
       })
    EXPECT_FALSE(parse_iso8601(bad)) << bad;
}

TEST(TimeFormat, ApiTimeTruncatesToMilliseconds) {
  EXPECT_EQ(format_api_time(at(2024, 5, 23, 20, 9, 29, nanoseconds{810634900})), "2024-05-23T20:09:29.810Z");
  EXPECT_EQ(format_api_time(at(2024, 5, 23, 20, 9, 29, nanoseconds{999999999})), "2024-05-23T20:09:29.999Z");
  EXPECT_EQ(format_api_time(at(2024, 1, 2, 3, 4, 5)), "2024-01-02T03:04:05.000Z");
}

TEST(TimeFormat, Iso8601KeepsFullPrecisionTrimmed) {
  EXPECT_EQ(format_iso8601(at(2024, 5, 23, 20, 9, 29, nanoseconds{810634900})), "2024-05-23T20:09:29.8106349Z");
  EXPECT_EQ(format_iso8601(at(2024, 5, 23, 20, 9, 29, milliseconds{500})), "2024-05-23T20:09:29.5Z");
  EXPECT_EQ(format_iso8601(at(2024, 5, 23, 20, 9, 29)), "2024-05-23T20:09:29Z");
}

TEST(TimeFormat, BeforeEpochFloorsCorrectly) {
  const auto t = at(1969, 12, 31, 23, 59, 59, milliseconds{250});
  EXPECT_EQ(format_api_time(t), "1969-12-31T23:59:59.250Z");
  EXPECT_EQ(parse_iso8601(format_iso8601(t)), t);
}

TEST(TimeFormat, RoundTrips) {
  for (const char* text : {"2024-05-23T20:09:29.8106349Z", "2000-02-29T00:00:00Z", "1999-12-31T23:59:59.9999999Z",
                           "2024-05-23T20:09:29.0000001Z"}) {
    auto t = parse_iso8601(text);
    ASSERT_TRUE(t) << text;
    EXPECT_EQ(format_iso8601(*t), text);
  }
  auto t = parse_iso8601("2024-05-23T20:09:29.392Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(parse_iso8601(format_api_time(*t)), t);
}

TEST(TimeHttpDate, ThreeFormsGiveTheSameInstant) {
  const sys_seconds want = sys_days{year{1994} / 11 / 6} + hours{8} + minutes{49} + seconds{37};
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), want);
  EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), want);
  EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994"), want);
}

TEST(TimeHttpDate, Rfc850TwoDigitYearsPivotAt70) {
  EXPECT_EQ(parse_http_date("Thursday, 01-Jan-70 00:00:00 GMT"), sys_seconds{});
  EXPECT_EQ(parse_http_date("Friday, 31-Dec-99 23:59:59 GMT"),
            sys_seconds{sys_days{year{1999} / 12 / 31}} + hours{23} + minutes{59} + seconds{59});
  EXPECT_EQ(parse_http_date("Friday, 01-Mar-24 12:00:00 GMT"), sys_seconds{sys_days{year{2024} / 3 / 1}} + hours{12});
}

TEST(TimeHttpDate, AsctimeWithTwoDigitDay) {
  EXPECT_EQ(parse_http_date("Wed Nov 16 08:49:37 1994"),
            sys_seconds{sys_days{year{1994} / 11 / 16}} + hours{8} + minutes{49} + seconds{37});
}

TEST(TimeHttpDate, RejectsMalformed) {
  for (const char* bad : {
           "",
           "120",                                // delta-seconds is not a date
           "Sun, 06 Nov 1994 08:49:37 UTC",      // zone must be GMT
           "Sun, 06 Nov 1994 08:49:37",          // no zone
           "Sun, 6 Nov 1994 08:49:37 GMT",       // one-digit day
           "Sun, 31 Nov 1994 08:49:37 GMT",      // Nov 31
           "Sun, 06 Foo 1994 08:49:37 GMT",      // bad month
           "Sun, 06 nov 1994 08:49:37 GMT",      // month names are case-sensitive
           "Xyz, 06 Nov 1994 08:49:37 GMT",      // bad day name
           "Sun, 06 Nov 1994 24:00:00 GMT",      // hour 24
           "Sun, 06 Nov 1994 08:49:37 GMT ",     // trailing space
           "Sundae, 06-Nov-94 08:49:37 GMT",     // bad long day name
           "Sun Nov 6 08:49:37 1994",            // asctime day not padded
           "Sun Nov  6 08:49:37 1994 GMT",       // trailing text
           "2024-05-23T20:09:29Z",               // ISO is not an HTTP-date
       })
    EXPECT_FALSE(parse_http_date(bad)) << bad;
}

TEST(TimeHttpDate, FormatAndRoundTrip) {
  const sys_seconds t = sys_days{year{1994} / 11 / 6} + hours{8} + minutes{49} + seconds{37};
  EXPECT_EQ(format_http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(format_http_date(sys_seconds{}), "Thu, 01 Jan 1970 00:00:00 GMT");
  const sys_seconds leap = sys_days{year{2024} / 2 / 29} + hours{23} + minutes{59} + seconds{59};
  EXPECT_EQ(format_http_date(leap), "Thu, 29 Feb 2024 23:59:59 GMT");
  EXPECT_EQ(parse_http_date(format_http_date(leap)), leap);
}

// utc_time is int64 nanoseconds (1677-09-21 .. 2262-04-11). A date outside that must be
// refused, not wrapped: 2924 used to come back as a date in 1755.
TEST(TimeIso8601, DatesUtcTimeCannotHoldAreRefusedNotWrapped) {
  for (const char* far : {"2924-05-23T20:00:00Z", "9999-12-31T23:59:59.9999999Z", "9999-12-31T23:59:59.9999999-23:59",
                          "0000-01-01T00:00:00Z", "0000-01-01T00:00:00+23:59", "1000-01-01T00:00:00Z",
                          "2262-04-12T00:00:00Z", "1677-09-21T00:00:00Z"})
    EXPECT_FALSE(parse_iso8601(far)) << far;
}

TEST(TimeIso8601, UtcTimeLimitsToTheTick) {
  // The last and first ticks whose nanoseconds fit in an int64.
  EXPECT_EQ(parse_iso8601("2262-04-11T23:47:16.8547758Z"), batchcut::utc_time{nanoseconds{9'223'372'036'854'775'800}});
  EXPECT_FALSE(parse_iso8601("2262-04-11T23:47:16.8547759Z"));
  EXPECT_EQ(parse_iso8601("1677-09-21T00:12:43.1452242Z"), batchcut::utc_time{nanoseconds{-9'223'372'036'854'775'800}});
  EXPECT_FALSE(parse_iso8601("1677-09-21T00:12:43.1452241Z"));
  // The offset is part of the instant: an in-range wall time pushed past the limit.
  EXPECT_TRUE(parse_iso8601("2262-04-11T23:00:00Z"));
  EXPECT_FALSE(parse_iso8601("2262-04-11T23:00:00-01:00"));
  EXPECT_TRUE(parse_iso8601("1677-09-21T01:00:00Z"));
  EXPECT_FALSE(parse_iso8601("1677-09-21T01:00:00+01:00"));
}

TEST(TimeIso8601, TicksHoldEveryYearAndOffsetExactly) {
  using batchcut::iso_time;
  using batchcut::iso_ticks;
  const auto ticks = [](const char* text) {
    auto t = parse_iso8601_ticks(text);
    EXPECT_TRUE(t) << text;
    return t.value_or(iso_time{});
  };
  EXPECT_EQ(ticks("0000-01-01T00:00:00+23:59"), iso_time{sys_days{year{0} / 1 / 1}} - hours{23} - minutes{59});
  EXPECT_EQ(ticks("9999-12-31T23:59:59.9999999-23:59"),
            iso_time{sys_days{year{9999} / 12 / 31}} + hours{47} + minutes{58} + seconds{59} + iso_ticks{9'999'999});
  EXPECT_EQ(ticks("2924-05-23T20:00:00Z"), iso_time{sys_days{year{2924} / 5 / 23}} + hours{20});
  EXPECT_EQ(ticks("0000-02-29T00:00:00Z"), iso_time{sys_days{year{0} / 2 / 29}});  // year 0 is a leap year
  // Agrees with parse_iso8601 wherever utc_time holds the instant.
  EXPECT_EQ(to_utc_time(ticks("2024-05-23T20:09:29.8106349+02:00")), parse_iso8601("2024-05-23T18:09:29.8106349Z"));
  EXPECT_FALSE(to_utc_time(iso_time::max()));
  EXPECT_FALSE(to_utc_time(iso_time::min()));
}

// The near misses a message can name, each with the text put right.
TEST(TimeIso8601, NearMissesAreNamedWithTheFixedText) {
  struct Case {
    const char* text;
    IsoMistake kind;
    const char* fixed;
  };
  for (const Case& c : {
           Case{"2024-05-23T20:09:29.81063491", IsoMistake::long_fraction, "2024-05-23T20:09:29.810"},
           Case{"2024-05-23T20:09:29.810634912Z", IsoMistake::long_fraction, "2024-05-23T20:09:29.810Z"},
           Case{"2026-05-23T20:00Z", IsoMistake::no_seconds, "2026-05-23T20:00:00Z"},
           Case{"2026-05-23T20:00", IsoMistake::no_seconds, "2026-05-23T20:00:00"},
           Case{"2026-05-23T20:00+02:00", IsoMistake::no_seconds, "2026-05-23T20:00:00+02:00"},
           Case{"2026-05-23T20:00:00+02", IsoMistake::short_offset, "2026-05-23T20:00:00+02:00"},
           Case{"2026-05-23T20:00:00-05", IsoMistake::short_offset, "2026-05-23T20:00:00-05:00"},
       }) {
    IsoMistakeFound found;
    EXPECT_FALSE(parse_iso8601_ticks(c.text, &found)) << c.text;
    EXPECT_EQ(found.kind, c.kind) << c.text;
    EXPECT_EQ(found.fixed, c.fixed) << c.text;
  }
  // Other malformed text is no near miss; valid text reports none either.
  for (const char* other : {"2024-05-23T20:09:29.Z", "2024-05-23T20:09:29+2:00", "2024-05-23", "2024-05-23T20:09:29ZZ"}) {
    IsoMistakeFound found;
    EXPECT_FALSE(parse_iso8601_ticks(other, &found)) << other;
    EXPECT_EQ(found.kind, IsoMistake::other) << other;
  }
  IsoMistakeFound found;
  EXPECT_TRUE(parse_iso8601_ticks("2024-05-23T20:09:29.8106349+02:00", &found));
  EXPECT_EQ(found.kind, IsoMistake::other);
}
