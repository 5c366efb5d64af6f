// Timestamp parsing and formatting. GCC 12 has the C++20 calendar types but not
// std::chrono::parse/format, so the text side is done by hand.
#include "batchcut/util/time_util.hpp"

#include <array>
#include <cstdio>
#include <limits>

namespace batchcut {

namespace {

using namespace std::chrono;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads exactly `n` digits at `pos`; advances `pos` on success.
bool read_digits(std::string_view s, std::size_t& pos, int n, int& out) {
  if (pos + static_cast<std::size_t>(n) > s.size()) return false;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    char c = s[pos + static_cast<std::size_t>(i)];
    if (!is_digit(c)) return false;
    v = v * 10 + (c - '0');
  }
  pos += static_cast<std::size_t>(n);
  out = v;
  return true;
}

bool expect(std::string_view s, std::size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

std::optional<sys_days> make_date(int y, int m, int d) {
  year_month_day ymd{year{y}, month{static_cast<unsigned>(m)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  return sys_days{ymd};
}

bool valid_clock(int h, int mi, int s) { return h <= 23 && mi <= 59 && s <= 59; }

constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<const char*, 7> kLongDays = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                  "Thursday", "Friday", "Saturday"};

// Month abbreviation (case-sensitive, as RFC 9110 requires) -> 1..12, or 0.
int month_from_name(std::string_view s) {
  for (std::size_t i = 0; i < kMonths.size(); ++i)
    if (s == kMonths[i]) return static_cast<int>(i) + 1;
  return 0;
}

template <std::size_t N>
bool is_one_of(std::string_view s, const std::array<const char*, N>& names) {
  for (const char* n : names)
    if (s == n) return true;
  return false;
}

// Calendar fields of a UTC instant, flooring so pre-1970 instants work too.
struct Fields {
  int y;
  unsigned mo, d;
  long long h, mi, s;
  long long sub_ns;  // 0..999'999'999
  unsigned wd;       // 0 = Sunday
};

Fields split(utc_time t) {
  auto dp = floor<days>(t);
  year_month_day ymd{dp};
  auto rest = t - dp;  // [0, 1 day)
  auto secs = floor<seconds>(rest);
  Fields f{};
  f.y = static_cast<int>(ymd.year());
  f.mo = static_cast<unsigned>(ymd.month());
  f.d = static_cast<unsigned>(ymd.day());
  f.h = secs.count() / 3600;
  f.mi = secs.count() / 60 % 60;
  f.s = secs.count() % 60;
  f.sub_ns = duration_cast<nanoseconds>(rest - secs).count();
  f.wd = weekday{dp}.c_encoding();
  return f;
}

}  // namespace

std::optional<iso_time> parse_iso8601_ticks(std::string_view s, IsoMistakeFound* mistake) {
  // Records a near miss: `s` with [at, at + erase) replaced by `insert`.
  auto near_miss = [&](IsoMistake kind, std::size_t at, std::size_t erase, std::string_view insert) {
    if (mistake) {
      mistake->kind = kind;
      mistake->fixed = std::string(s.substr(0, at)).append(insert).append(s.substr(at + erase));
    }
    return std::nullopt;
  };
  std::size_t p = 0;
  int y, mo, d, h, mi, sec;
  if (!read_digits(s, p, 4, y) || !expect(s, p, '-') || !read_digits(s, p, 2, mo) ||
      !expect(s, p, '-') || !read_digits(s, p, 2, d))
    return std::nullopt;
  if (p >= s.size() || (s[p] != 'T' && s[p] != 't' && s[p] != ' ')) return std::nullopt;
  ++p;
  if (!read_digits(s, p, 2, h) || !expect(s, p, ':') || !read_digits(s, p, 2, mi)) return std::nullopt;
  if (p == s.size() || std::string_view("Zz+-").find(s[p]) != std::string_view::npos)
    return near_miss(IsoMistake::no_seconds, p, 0, ":00");
  if (!expect(s, p, ':') || !read_digits(s, p, 2, sec)) return std::nullopt;
  if (!valid_clock(h, mi, sec)) return std::nullopt;
  auto date = make_date(y, mo, d);
  if (!date) return std::nullopt;

  // Fraction: 1-7 digits, kept in units of 100 ns (the .NET tick).
  long long ticks = 0;
  if (p < s.size() && s[p] == '.') {
    const std::size_t first = ++p;
    while (p < s.size() && is_digit(s[p])) ++p;
    const std::size_t n = p - first;
    if (n == 0) return std::nullopt;
    if (n > 7) return near_miss(IsoMistake::long_fraction, first + 3, n - 3, "");
    for (std::size_t i = first; i < p; ++i) ticks = ticks * 10 + (s[i] - '0');
    for (std::size_t i = n; i < 7; ++i) ticks *= 10;
  }

  // Zone: none (UTC), Z, +HH:MM, -HH:MM, +HHMM, -HHMM.
  minutes offset{0};
  if (p < s.size()) {
    char c = s[p];
    if (c == 'Z' || c == 'z') {
      ++p;
    } else if (c == '+' || c == '-') {
      ++p;
      int oh, om;
      if (!read_digits(s, p, 2, oh)) return std::nullopt;
      if (p == s.size()) return near_miss(IsoMistake::short_offset, p, 0, ":00");
      if (s[p] == ':') ++p;
      if (!read_digits(s, p, 2, om)) return std::nullopt;
      if (oh > 23 || om > 59) return std::nullopt;
      offset = hours{oh} + minutes{om};
      if (c == '-') offset = -offset;
    } else {
      return std::nullopt;
    }
  }
  if (p != s.size()) return std::nullopt;

  // Summed in ticks, which stay far from the int64 limits: years 0000..9999 lie within
  // 3 million days of 1970, under 2.6e18 ticks, against a limit of 9.2e18.
  return iso_time{*date} + hours{h} + minutes{mi} + seconds{sec} + iso_ticks{ticks} - offset;
}

std::optional<utc_time> to_utc_time(iso_time t) {
  // utc_time counts int64 nanoseconds, 100 to a tick: only these tick counts convert
  // without overflowing.
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max() / 100;
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min() / 100;
  const std::int64_t n = t.time_since_epoch().count();
  if (n < kMin || n > kMax) return std::nullopt;
  return utc_time{nanoseconds{n * 100}};
}

std::optional<utc_time> parse_iso8601(std::string_view s) {
  auto t = parse_iso8601_ticks(s);
  if (!t) return std::nullopt;
  return to_utc_time(*t);
}

std::string format_api_time(utc_time t) {
  Fields f = split(t);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ", f.y, f.mo, f.d, f.h,
                f.mi, f.s, f.sub_ns / 1'000'000);
  return buf;
}

std::string format_iso8601(utc_time t) {
  Fields f = split(t);
  char buf[48];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02lld:%02lld:%02lld", f.y, f.mo, f.d, f.h,
                        f.mi, f.s);
  std::string out(buf, static_cast<std::size_t>(n));
  long long ticks = f.sub_ns / 100;
  if (ticks != 0) {
    char frac[32];
    std::snprintf(frac, sizeof frac, ".%07lld", ticks);
    std::string_view fs = frac;
    while (fs.back() == '0') fs.remove_suffix(1);
    out += fs;
  }
  out += 'Z';
  return out;
}

std::optional<std::chrono::sys_seconds> parse_http_date(std::string_view s) {
  std::size_t p = 0;
  int y, mo, d, h, mi, sec;
  auto clock_and = [&](std::size_t& q) {
    return read_digits(s, q, 2, h) && expect(s, q, ':') && read_digits(s, q, 2, mi) &&
           expect(s, q, ':') && read_digits(s, q, 2, sec);
  };
  auto finish = [&]() -> std::optional<sys_seconds> {
    if (!valid_clock(h, mi, sec) || mo == 0) return std::nullopt;
    auto date = make_date(y, mo, d);
    if (!date) return std::nullopt;
    return sys_seconds{*date} + hours{h} + minutes{mi} + seconds{sec};
  };

  auto comma = s.find(',');
  if (comma == 3) {
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
    if (!is_one_of(s.substr(0, 3), kDays)) return std::nullopt;
    p = 4;
    if (!expect(s, p, ' ') || !read_digits(s, p, 2, d) || !expect(s, p, ' ')) return std::nullopt;
    if (p + 3 > s.size()) return std::nullopt;
    mo = month_from_name(s.substr(p, 3));
    p += 3;
    if (!expect(s, p, ' ') || !read_digits(s, p, 4, y) || !expect(s, p, ' ') || !clock_and(p))
      return std::nullopt;
    if (s.substr(p) != " GMT") return std::nullopt;
    return finish();
  }
  if (comma != std::string_view::npos) {
    // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
    if (!is_one_of(s.substr(0, comma), kLongDays)) return std::nullopt;
    p = comma + 1;
    if (!expect(s, p, ' ') || !read_digits(s, p, 2, d) || !expect(s, p, '-')) return std::nullopt;
    if (p + 3 > s.size()) return std::nullopt;
    mo = month_from_name(s.substr(p, 3));
    p += 3;
    int yy;
    if (!expect(s, p, '-') || !read_digits(s, p, 2, yy) || !expect(s, p, ' ') || !clock_and(p))
      return std::nullopt;
    if (s.substr(p) != " GMT") return std::nullopt;
    // Two-digit years pivot at 70 (as POSIX %y does): 70-99 -> 19xx, 00-69 -> 20xx.
    y = yy >= 70 ? 1900 + yy : 2000 + yy;
    return finish();
  }
  // asctime: "Sun Nov  6 08:49:37 1994" (day padded with a space)
  if (s.size() < 4 || !is_one_of(s.substr(0, 3), kDays) || s[3] != ' ') return std::nullopt;
  p = 4;
  if (p + 3 > s.size()) return std::nullopt;
  mo = month_from_name(s.substr(p, 3));
  p += 3;
  if (!expect(s, p, ' ')) return std::nullopt;
  if (p < s.size() && s[p] == ' ') {
    ++p;
    if (!read_digits(s, p, 1, d)) return std::nullopt;
  } else if (!read_digits(s, p, 2, d)) {
    return std::nullopt;
  }
  if (!expect(s, p, ' ') || !clock_and(p) || !expect(s, p, ' ') || !read_digits(s, p, 4, y) ||
      p != s.size())
    return std::nullopt;
  return finish();
}

std::string format_http_date(std::chrono::sys_seconds t) {
  Fields f = split(utc_time{t});
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02u %s %04d %02lld:%02lld:%02lld GMT", kDays[f.wd], f.d,
                kMonths[f.mo - 1], f.y, f.h, f.mi, f.s);
  return buf;
}

}  // namespace batchcut
