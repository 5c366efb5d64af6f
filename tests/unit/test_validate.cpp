#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "batchcut/job/validate.hpp"
#include "batchcut/util/time_util.hpp"

using namespace batchcut;

namespace {

constexpr const char* kVis = "must be 1 (Public), 2 (Private) or 3 (Password Protected), got ";
constexpr const char* kId = "must be 1-128 characters from A-Z, a-z, 0-9, '_' and '-', got ";
constexpr const char* kMs = "must be a non-negative integer number of milliseconds, got ";
constexpr const char* kDate = "must be an ISO 8601 date-time such as 2024-05-23T20:09:29.810Z, got ";

utc_time iso(const char* text) {
  auto t = parse_iso8601(text);
  EXPECT_TRUE(t) << text;
  return t.value_or(utc_time{});
}

std::string message(const std::optional<FieldProblem>& p) { return p ? p->message : "(none)"; }

}  // namespace

TEST(ValidateNames, ApiSpellingAndExpectations) {
  EXPECT_EQ(api_name(JobField::project_id), "projectId");
  EXPECT_EQ(api_name(JobField::live_video_id), "liveVideoId");
  EXPECT_EQ(api_name(JobField::visibility), "videoVisibilityOptionId");
  EXPECT_EQ(api_name(JobField::from_ms), "fromMilisecond");
  EXPECT_EQ(api_name(JobField::to_ms), "toMilisecond");
  EXPECT_EQ(api_name(JobField::date_time_from), "dateTimeFrom");
  EXPECT_EQ(api_name(JobField::date_time_to), "dateTimeTo");
  EXPECT_EQ(api_name(JobField::label), "label");
  EXPECT_EQ(expected_value(JobField::live_video_id), "must be an id");
  EXPECT_EQ(std::string(expected_value(JobField::visibility)) + ", got ", kVis);
  EXPECT_EQ(std::string(expected_value(JobField::to_ms)) + ", got ", kMs);
  EXPECT_EQ(std::string(expected_value(JobField::date_time_from)) + ", got ", kDate);
  EXPECT_EQ(expected_value(JobField::label), "must be text");
}

TEST(ValidateId, FormAndMessage) {
  EXPECT_EQ(check_id("A-z_09"), std::nullopt);
  EXPECT_EQ(check_id(std::string(128, 'a')), std::nullopt);
  EXPECT_EQ(check_id(""), std::string(kId) + "\"\"");
  EXPECT_EQ(check_id("a.b"), std::string(kId) + "\"a.b\"");
  EXPECT_EQ(check_id("a\tb\"c\n"), std::string(kId) + "\"a\\tb\\\"c\\n\"");
  EXPECT_EQ(check_id(std::string(129, 'a')), std::string(kId) + "\"" + std::string(60, 'a') + "...\"");
  EXPECT_TRUE(valid_job_id("A-z_09"));
  EXPECT_FALSE(valid_job_id("a b"));
  EXPECT_FALSE(valid_job_id(std::string(129, 'a')));
}

TEST(ValidateVisibility, OneToThreeFromIntegersAndText) {
  for (std::int64_t n = 1; n <= 3; ++n) {
    auto v = check_visibility(n);
    ASSERT_TRUE(v) << n;
    EXPECT_EQ(static_cast<std::int64_t>(*v), n);
    EXPECT_EQ(v.error, "");
  }
  EXPECT_EQ(*parse_visibility("2"), Visibility::private_);
  EXPECT_EQ(*parse_visibility("003"), Visibility::password);
  EXPECT_EQ(check_visibility(0).error, std::string(kVis) + "\"0\"");
  EXPECT_EQ(check_visibility(-1).error, std::string(kVis) + "\"-1\"");
  EXPECT_EQ(check_visibility(std::numeric_limits<std::int64_t>::max()).error,
            std::string(kVis) + "\"9223372036854775807\"");
  for (const char* bad : {"", "0", "4", "1.0", " 1", "+1", "one", "99999999999999999999"}) {
    EXPECT_FALSE(parse_visibility(bad)) << bad;
    EXPECT_EQ(parse_visibility(bad).error, std::string(kVis) + "\"" + bad + "\"");
  }
}

TEST(ValidateOffset, ZeroToInt32MaxFromIntegersAndText) {
  EXPECT_EQ(*check_offset_ms(0), 0);
  EXPECT_EQ(*check_offset_ms(2147483647), 2147483647);
  EXPECT_EQ(*parse_offset_ms("007"), 7);
  EXPECT_EQ(*parse_offset_ms("2147483647"), 2147483647);
  EXPECT_EQ(check_offset_ms(-1).error, std::string(kMs) + "\"-1\"");
  EXPECT_EQ(check_offset_ms(std::numeric_limits<std::int64_t>::min()).error,
            std::string(kMs) + "\"-9223372036854775808\"");
  EXPECT_EQ(check_offset_ms(2147483648).error, "must be below 2147483648, got \"2147483648\"");
  EXPECT_EQ(check_offset_ms(std::numeric_limits<std::int64_t>::max()).error,
            "must be below 2147483648, got \"9223372036854775807\"");
  EXPECT_EQ(parse_offset_ms("99999999999999999999999").error,
            "must be below 2147483648, got \"99999999999999999999999\"");
  for (const char* bad : {"", "-5", "1e3", "0x10", " 12", "1.5"})
    EXPECT_EQ(parse_offset_ms(bad).error, std::string(kMs) + "\"" + bad + "\"") << bad;
}

// The ledger reads these fields as JSON integers, a manifest as text: the same value must
// give the same verdict and the same words.
TEST(ValidateVisibilityAndOffset, IntegerAndTextGiveTheSameMessage) {
  for (std::int64_t n : {std::numeric_limits<std::int64_t>::min(), std::int64_t{-5}, std::int64_t{0}, std::int64_t{1},
                         std::int64_t{3}, std::int64_t{4}, std::int64_t{2147483647}, std::int64_t{2147483648},
                         std::numeric_limits<std::int64_t>::max()}) {
    const std::string text = std::to_string(n);
    EXPECT_EQ(check_visibility(n).value, parse_visibility(text).value) << n;
    EXPECT_EQ(check_visibility(n).error, parse_visibility(text).error) << n;
    EXPECT_EQ(check_offset_ms(n).value, parse_offset_ms(text).value) << n;
    EXPECT_EQ(check_offset_ms(n).error, parse_offset_ms(text).error) << n;
  }
}

TEST(ValidateDateTime, ParsesOrSaysWhatItWants) {
  auto t = parse_date_time("2024-05-23T22:09:29.8106349+02:00");
  ASSERT_TRUE(t) << t.error;
  EXPECT_EQ(*t, iso("2024-05-23T20:09:29.8106349Z"));
  for (const char* bad : {"", "2024-02-30T00:00:00", "2024-05-23", "tomorrow"})
    EXPECT_EQ(parse_date_time(bad).error, std::string(kDate) + "\"" + bad + "\"") << bad;
}

TEST(ValidateRange, ShapeOfThePresentFields) {
  auto shape = [](bool a, bool b, bool c, bool d) { return check_range_shape(RangePresence{a, b, c, d}); };
  EXPECT_EQ(shape(false, false, false, false).kind, RangeKind::whole);
  EXPECT_EQ(shape(true, true, false, false).kind, RangeKind::ms);
  EXPECT_EQ(shape(false, false, true, true).kind, RangeKind::datetime);
  for (auto s : {shape(false, false, false, false), shape(true, true, false, false), shape(false, false, true, true)})
    EXPECT_FALSE(s.problem);

  struct Case {
    RangeShape got;
    JobField field;
    const char* message;
  };
  const char* both = "use either fromMilisecond/toMilisecond or dateTimeFrom/dateTimeTo, not both";
  for (const Case& c : {
           Case{shape(true, false, false, false), JobField::to_ms, "required when fromMilisecond is given"},
           Case{shape(false, true, false, false), JobField::from_ms, "required when toMilisecond is given"},
           Case{shape(false, false, true, false), JobField::date_time_to, "required when dateTimeFrom is given"},
           Case{shape(false, false, false, true), JobField::date_time_from, "required when dateTimeTo is given"},
           Case{shape(true, true, true, true), JobField::date_time_from, both},
           Case{shape(true, false, false, true), JobField::date_time_to, both},
           Case{shape(false, true, true, false), JobField::date_time_from, both},
       }) {
    ASSERT_TRUE(c.got.problem) << c.message;
    EXPECT_EQ(c.got.problem->field, c.field) << c.message;
    EXPECT_EQ(c.got.problem->message, c.message);
  }
}

TEST(ValidateRange, MessagesNameTheFieldsAsTheInputSpelledThem) {
  RangeNames alias;
  alias.from_ms = "fromMillisecond";
  alias.to_ms = "toMillisecond";
  EXPECT_EQ(check_range_shape({true, false, false, false}, alias).problem->message,
            "required when fromMillisecond is given");
  EXPECT_EQ(check_range_shape({false, true, false, false}, alias).problem->message,
            "required when toMillisecond is given");
  EXPECT_EQ(message(check_ms_order(5, 5, alias)), "must be greater than fromMillisecond");
}

TEST(ValidateRange, MillisecondOrder) {
  EXPECT_FALSE(check_ms_order(0, 1));
  EXPECT_FALSE(check_ms_order(0, 2147483647));
  for (auto [from, to] : {std::pair<std::int64_t, std::int64_t>{10, 10}, {20, 10}, {2147483647, 0}}) {
    auto p = check_ms_order(from, to);
    ASSERT_TRUE(p) << from << " " << to;
    EXPECT_EQ(p->field, JobField::to_ms);
    EXPECT_EQ(p->message, "must be greater than fromMilisecond");
  }
}

// The API receives milliseconds, so a range is compared the way it will arrive.
TEST(ValidateRange, DateTimeOrderAtMillisecondPrecision) {
  const auto from = iso("2024-05-23T20:09:29.8106349Z");
  EXPECT_FALSE(check_date_time_order(from, iso("2024-05-23T20:09:29.811Z")));
  EXPECT_FALSE(check_date_time_order(from, iso("2024-05-23T21:00:00Z")));
  for (const char* to : {"2024-05-23T20:09:29.8106350Z", "2024-05-23T20:09:29.8109999Z", "2024-05-23T20:09:29.8106349Z",
                         "2024-05-23T20:09:29Z"}) {
    auto p = check_date_time_order(from, iso(to));
    ASSERT_TRUE(p) << to;
    EXPECT_EQ(p->field, JobField::date_time_to);
    EXPECT_EQ(p->message, "must be after dateTimeFrom");
  }
}

namespace {
constexpr const char* kRange = "must be between 1970-01-01T00:00:00Z and 2261-12-31T23:59:59.9999999Z, got ";
}

// utc_time cannot hold a date past April 2262; 2924 used to be accepted and sent as 1755.
TEST(ValidateDateTime, RangeIs1970UpTo2262) {
  EXPECT_EQ(*parse_date_time("1970-01-01T00:00:00Z"), utc_time{});
  EXPECT_EQ(*parse_date_time("2261-12-31T23:59:59.9999999Z"), kDateTimeLimit - std::chrono::nanoseconds{100});
  for (const char* out : {"1969-12-31T23:59:59.9999999Z", "2262-01-01T00:00:00Z", "2262-04-11T23:47:16Z",
                          "2924-05-23T20:00:00Z", "9999-12-31T23:59:59.9999999Z", "9999-12-31T23:59:59.9999999-23:59",
                          "0000-01-01T00:00:00Z", "0000-01-01T00:00:00+23:59", "1677-09-21T00:12:43Z"}) {
    EXPECT_FALSE(parse_date_time(out)) << out;
    EXPECT_EQ(parse_date_time(out).error, std::string(kRange) + "\"" + out + "\"");
  }
}

// The bound applies to the instant, after the offset, not to the wall time as written.
TEST(ValidateDateTime, OffsetsCanPushAWallTimeOutOfRangeOrIntoIt) {
  EXPECT_EQ(parse_date_time("2261-12-31T23:30:00-01:00").error,
            std::string(kRange) + "\"2261-12-31T23:30:00-01:00\"");
  EXPECT_EQ(parse_date_time("1970-01-01T00:30:00+01:00").error,
            std::string(kRange) + "\"1970-01-01T00:30:00+01:00\"");
  EXPECT_EQ(*parse_date_time("2262-01-01T00:30:00+01:00"), iso("2261-12-31T23:30:00Z"));
  EXPECT_EQ(*parse_date_time("1969-12-31T23:30:00-01:00"), iso("1970-01-01T00:30:00Z"));
}

// The message names the range the check uses.
TEST(ValidateDateTime, RangeMessageMatchesTheBounds) {
  EXPECT_EQ(std::string(kRange),
            "must be between " + format_iso8601(kEarliestDateTime) + " and " +
                format_iso8601(kDateTimeLimit - std::chrono::nanoseconds{100}) + ", got ");
}

TEST(ValidateDateTime, NearMissesSayWhatIsWrongAndTheAcceptedForm) {
  EXPECT_EQ(parse_date_time("2024-05-23T20:09:29.81063491Z").error,
            "at most 7 fractional digits are accepted (the API takes milliseconds), as in "
            "2024-05-23T20:09:29.810Z, got \"2024-05-23T20:09:29.81063491Z\"");
  EXPECT_EQ(parse_date_time("2026-05-23T20:00Z").error,
            "the time must have seconds, HH:MM:SS, as in 2026-05-23T20:00:00Z, got \"2026-05-23T20:00Z\"");
  EXPECT_EQ(parse_date_time("2026-05-23T20:00:00+02").error,
            "the offset must be +HH:MM or -HH:MM, as in 2026-05-23T20:00:00+02:00, got \"2026-05-23T20:00:00+02\"");
  // Two near misses in one value: the first is named, the form shown has both put right.
  EXPECT_EQ(parse_date_time("2026-05-23T20:00+02").error,
            "the time must have seconds, HH:MM:SS, as in 2026-05-23T20:00:00+02:00, got \"2026-05-23T20:00+02\"");
  // A near miss with another fault besides: the usual example.
  EXPECT_EQ(parse_date_time("2026-05-23T25:00Z").error,
            "the time must have seconds, HH:MM:SS, as in 2024-05-23T20:09:29.810+02:00, got \"2026-05-23T25:00Z\"");
}

TEST(ValidateDateTime, FinerThanAMillisecondIsTakenWithAWarning) {
  auto t = parse_date_time("2024-05-23T22:09:29.8106349+02:00");
  ASSERT_TRUE(t) << t.error;
  EXPECT_EQ(*t, iso("2024-05-23T20:09:29.8106349Z"));  // kept whole; the API receives it cut
  EXPECT_EQ(t.warning,
            "truncated to milliseconds, the finest the API takes: \"2024-05-23T22:09:29.8106349+02:00\" is sent "
            "as 2024-05-23T20:09:29.810Z");
  EXPECT_EQ(parse_date_time("2024-05-23T20:09:29.8101Z").warning,
            "truncated to milliseconds, the finest the API takes: \"2024-05-23T20:09:29.8101Z\" is sent as "
            "2024-05-23T20:09:29.810Z");
  // Nothing lost, nothing said: whole milliseconds however many digits write them.
  for (const char* exact : {"2024-05-23T20:09:29Z", "2024-05-23T20:09:29.810Z", "2024-05-23T20:09:29.8100000"}) {
    auto e = parse_date_time(exact);
    ASSERT_TRUE(e) << exact;
    EXPECT_EQ(e.warning, "") << exact;
  }
}
