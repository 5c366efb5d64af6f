// The emulator's request-handling logic: routing, auth, validation, state, faults, stats.
// No sockets here (see emulator.cpp for the server); every decision is a plain function of
// the request, the state and a seeded draw, so it is unit-tested without a network.
#include <algorithm>
#include <array>
#include <atomic>
#include <boost/json.hpp>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "batchcut/emulator/emulator.hpp"

namespace batchcut {

namespace {

namespace json = boost::json;
using namespace std::chrono;

constexpr std::uint64_t golden = 0x9e3779b97f4a7c15ULL;

// The splitmix64 finalizer: a bijection on 64-bit values with good avalanche.
std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Element `index` of the splitmix64 stream started at `seed`.
std::uint64_t splitmix64_at(std::uint64_t seed, std::uint64_t index) {
  return mix64(seed + (index + 1) * golden);
}

double unit_draw(std::uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

// Transparent hashing so lookups by string_view do not allocate.
struct sv_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};
struct sv_equal {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const noexcept { return a == b; }
};

// ---- time formatting ----

constexpr std::int64_t ticks_per_second = 10'000'000;  // .NET ticks: 100 ns

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

std::int64_t to_ticks(system_clock::time_point t) {
  return duration_cast<duration<std::int64_t, std::ratio<1, ticks_per_second>>>(
             t.time_since_epoch())
      .count();
}

// "2024-05-23T20:09:29.8106349" (digits = 7, no zone) or "...29.810Z" (digits = 3, zone).
std::string format_ticks(std::int64_t ticks, int digits, bool zone) {
  const std::int64_t secs = ticks >= 0 ? ticks / ticks_per_second
                                       : (ticks - ticks_per_second + 1) / ticks_per_second;
  const std::int64_t frac = ticks - secs * ticks_per_second;
  const sys_seconds s{seconds{secs}};
  const auto day = floor<days>(s);
  const year_month_day ymd{day};
  const hh_mm_ss hms{s - day};
  char buf[48];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", int(ymd.year()),
                        unsigned(ymd.month()), unsigned(ymd.day()), int(hms.hours().count()),
                        int(hms.minutes().count()), int(hms.seconds().count()));
  std::string out(buf, static_cast<std::size_t>(n));
  if (digits > 0) {
    std::snprintf(buf, sizeof buf, ".%07lld", static_cast<long long>(frac));
    out.append(buf, static_cast<std::size_t>(1 + digits));
  }
  if (zone) out += 'Z';
  return out;
}

// ---- response bodies ----

void append_json_string(std::string& out, std::string_view s) {
  out += json::serialize(json::string_view(s.data(), s.size()));
}

std::string error_envelope(int status, std::initializer_list<std::string_view> errors) {
  std::string out = R"({"success":false,"errors":[)";
  bool first = true;
  for (auto e : errors) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, e);
  }
  out += R"(],"messages":[],"result":null,"resultInfo":null,"statusCode":)";
  out += std::to_string(status);
  out += '}';
  return out;
}

std::string error_envelope(int status, const std::vector<std::string>& errors) {
  std::string out = R"({"success":false,"errors":[)";
  for (std::size_t i = 0; i < errors.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, errors[i]);
  }
  out += R"(],"messages":[],"result":null,"resultInfo":null,"statusCode":)";
  out += std::to_string(status);
  out += '}';
  return out;
}

std::string success_envelope(std::string_view result_json) {
  std::string out = R"({"success":true,"errors":[],"messages":[],"result":)";
  out += result_json;
  out += R"(,"resultInfo":null,"statusCode":200})";
  return out;
}

// Varnish's stock page for a failed backend fetch (builtin vcl_backend_error).
std::string varnish_503_page(std::uint64_t xid) {
  std::string out =
      "<!DOCTYPE html>\n<html>\n  <head>\n    <title>503 Backend fetch failed</title>\n"
      "  </head>\n  <body>\n    <h1>Error 503 Backend fetch failed</h1>\n"
      "    <p>Backend fetch failed</p>\n    <h3>Guru Meditation:</h3>\n    <p>XID: ";
  out += std::to_string(xid);
  out += "</p>\n    <hr>\n    <p>Varnish cache server</p>\n  </body>\n</html>\n";
  return out;
}

const char* classify_auth(const std::optional<std::string_view>& header) {
  if (!header || header->empty()) return "none";
  const std::string_view h = *header;
  if (h.size() > 7) {
    std::string prefix(h.substr(0, 7));
    std::transform(prefix.begin(), prefix.end(), prefix.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (prefix == "bearer ") return "bearer";
  }
  return h.find(' ') != std::string_view::npos ? "other" : "raw";
}

// ---- the stop-and-cut body ----

struct CutBody {
  std::vector<std::string> errors;
  std::string v1_video_id;  // videoPublicId, for the v1 form
  std::optional<std::int64_t> from_ms, to_ms, from_t, to_t;  // the range asked for (ticks for dates)
  std::string title;  // cut-and-publish
};

// Reads an optional integer offset; appends an error when present but not a valid one.
std::optional<std::int64_t> read_ms(const json::object& o, std::string_view name,
                                    std::vector<std::string>& errors, bool& present) {
  present = false;
  auto it = o.find(name);
  if (it == o.end() || it->value().is_null()) return std::nullopt;
  present = true;
  const json::value& v = it->value();
  if (v.is_int64()) {
    if (v.get_int64() < 0) {
      errors.push_back(std::string(name) + " must not be negative.");
      return std::nullopt;
    }
    return v.get_int64();
  }
  errors.push_back(std::string(name) + " must be an integer number of milliseconds.");
  return std::nullopt;
}

std::optional<std::int64_t> read_time(const json::object& o, std::string_view name,
                                      std::vector<std::string>& errors, bool& present) {
  present = false;
  auto it = o.find(name);
  if (it == o.end() || it->value().is_null()) return std::nullopt;
  present = true;
  const json::value& v = it->value();
  if (v.is_string()) {
    const auto& s = v.get_string();
    if (auto t = emulator_parse_iso8601(std::string_view(s.data(), s.size()))) return t;
  }
  errors.push_back(std::string(name) + " is not a valid ISO 8601 date-time.");
  return std::nullopt;
}

CutBody validate_cut_body(std::string_view body, bool v1) {
  CutBody out;
  json::error_code ec;
  json::value doc = json::parse(json::string_view(body.data(), body.size()), ec);
  if (ec) {
    out.errors.push_back("The request body is not valid JSON.");
    return out;
  }
  if (!doc.is_object()) {
    out.errors.push_back("The request body must be a JSON object.");
    return out;
  }
  const json::object& o = doc.get_object();
  if (v1) {
    auto it = o.find("videoPublicId");
    if (it == o.end() || !it->value().is_string() || it->value().get_string().empty())
      out.errors.push_back("videoPublicId is required.");
    else
      out.v1_video_id = std::string(it->value().get_string());
  }
  bool has_from_ms, has_to_ms, has_from_t, has_to_t;
  auto from_ms = read_ms(o, "fromMilisecond", out.errors, has_from_ms);
  auto to_ms = read_ms(o, "toMilisecond", out.errors, has_to_ms);
  auto from_t = read_time(o, "dateTimeFrom", out.errors, has_from_t);
  auto to_t = read_time(o, "dateTimeTo", out.errors, has_to_t);
  const bool any_ms = has_from_ms || has_to_ms;
  const bool any_t = has_from_t || has_to_t;
  if (any_ms && any_t)
    out.errors.push_back(
        "Use either fromMilisecond/toMilisecond or dateTimeFrom/dateTimeTo, not both.");
  if (has_from_ms != has_to_ms)
    out.errors.push_back("fromMilisecond and toMilisecond must be given together.");
  if (has_from_t != has_to_t)
    out.errors.push_back("dateTimeFrom and dateTimeTo must be given together.");
  if (from_ms && to_ms && *to_ms <= *from_ms)
    out.errors.push_back("toMilisecond must be greater than fromMilisecond.");
  if (from_t && to_t && *to_t <= *from_t)
    out.errors.push_back("dateTimeTo must be after dateTimeFrom.");
  auto vis = o.find("videoVisibilityOptionId");
  if (vis == o.end() || !vis->value().is_int64() || vis->value().get_int64() < 1 ||
      vis->value().get_int64() > 3)
    out.errors.push_back("videoVisibilityOptionId is required and must be 1, 2 or 3.");
  out.from_ms = from_ms;
  out.to_ms = to_ms;
  out.from_t = from_t;
  out.to_t = to_t;
  return out;
}

// cut-and-publish: {title, fromMilisecond, toMilisecond, videoVisibilityOptionId}, all required.
CutBody validate_clip_body(std::string_view body) {
  CutBody out;
  json::error_code ec;
  json::value doc = json::parse(json::string_view(body.data(), body.size()), ec);
  if (ec || !doc.is_object()) {
    out.errors.push_back(ec ? "The request body is not valid JSON." : "The request body must be a JSON object.");
    return out;
  }
  const json::object& o = doc.get_object();
  auto title = o.find("title");
  if (title == o.end() || !title->value().is_string() || title->value().get_string().empty())
    out.errors.push_back("title is required.");
  else
    out.title = std::string(title->value().get_string());
  bool has_from, has_to;
  out.from_ms = read_ms(o, "fromMilisecond", out.errors, has_from);
  out.to_ms = read_ms(o, "toMilisecond", out.errors, has_to);
  if (!has_from || !has_to) out.errors.push_back("fromMilisecond and toMilisecond are required.");
  if (out.from_ms && out.to_ms && *out.to_ms <= *out.from_ms)
    out.errors.push_back("toMilisecond must be greater than fromMilisecond.");
  auto vis = o.find("videoVisibilityOptionId");
  if (vis == o.end() || !vis->value().is_int64() || vis->value().get_int64() < 1 ||
      vis->value().get_int64() > 3)
    out.errors.push_back("videoVisibilityOptionId is required and must be 1, 2 or 3.");
  return out;
}

// A query parameter, percent-decoded ('+' is a space); nullopt when absent.
std::optional<std::string> query_param(std::string_view target, std::string_view name) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      const std::string_view raw = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
      std::string out;
      for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '+') {
          out += ' ';
        } else if (raw[i] == '%' && i + 2 < raw.size() && std::isxdigit(static_cast<unsigned char>(raw[i + 1])) &&
                   std::isxdigit(static_cast<unsigned char>(raw[i + 2]))) {
          out += static_cast<char>(std::stoi(std::string(raw.substr(i + 1, 2)), nullptr, 16));
          i += 2;
        } else {
          out += raw[i];
        }
      }
      return out;
    }
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

// ---- routing ----

enum class Route { none, cut_v2, cut_v1, clip_v2, get_video, stats, videos, vod_get, vod_list };

const char* kind_of(Route r) {
  switch (r) {
    case Route::cut_v2:
    case Route::cut_v1: return "stop-and-cut";
    case Route::clip_v2: return "cut-and-publish";
    case Route::get_video: return "live-video";
    case Route::vod_get: return "vod";
    case Route::vod_list: return "vod-list";
    case Route::stats:
    case Route::videos: return "emulator";
    case Route::none: return "other";
  }
  return "other";
}

struct Routed {
  Route route = Route::none;
  std::string_view project, video;
  const char* allow = nullptr;  // set when the path matched but the method did not
};

Routed route_request(std::string_view method, std::string_view target) {
  Routed r;
  std::string_view path = target.substr(0, target.find('?'));
  if (path == "/_emulator/stats" || path == "/_emulator/videos") {
    if (method == "GET") r.route = path == "/_emulator/stats" ? Route::stats : Route::videos;
    else r.allow = "GET";
    return r;
  }
  std::array<std::string_view, 7> seg{};
  std::size_t n = 0;
  if (path.empty() || path[0] != '/') return r;
  path.remove_prefix(1);
  while (true) {
    if (n == seg.size()) return r;
    const auto slash = path.find('/');
    seg[n++] = path.substr(0, slash);
    if (seg[n - 1].empty()) return r;
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  // The manage API: /api/projects/{projectId}/videos[/{id}]
  if (n >= 4 && n <= 5 && seg[0] == "api" && seg[1] == "projects" && seg[3] == "videos") {
    r.project = seg[2];
    if (n == 5) r.video = seg[4];
    if (method == "GET") r.route = n == 5 ? Route::vod_get : Route::vod_list;
    else r.allow = "GET";
    return r;
  }
  if (n < 4 || seg[0] != "api" || seg[3] != "live-videos") return r;
  r.project = seg[2];
  if (seg[1] == "v2" && n == 6 && (seg[5] == "stop-and-cut" || seg[5] == "cut-and-publish")) {
    r.video = seg[4];
    if (method == "POST") r.route = seg[5] == "stop-and-cut" ? Route::cut_v2 : Route::clip_v2;
    else r.allow = "POST";
  } else if (seg[1] == "v1" && n == 5) {
    r.video = seg[4];
    if (method == "GET") r.route = Route::get_video;
    else if (method == "POST" && seg[4] == "stop-and-cut") r.route = Route::cut_v1;
    else r.allow = seg[4] == "stop-and-cut" ? "GET, POST" : "GET";
  }
  return r;
}

enum class Fault { none, f500, f503, f429, cut_drop, f500_after_cut, slow_cut };

// A plausible policy, exactly `bytes` long: a list of CDN hosts, as real ones grow to be.
std::string content_security_policy(std::size_t bytes) {
  if (bytes == 0) return {};
  std::string v = "default-src 'self'; script-src 'self'";
  for (int i = 0; v.size() < bytes; ++i) v += " https://s" + std::to_string(i) + ".cdn.example";
  v.resize(bytes);
  if (v.back() == ' ') v.back() = 'x';  // a trailing space would be trimmed by parsers
  return v;
}

}  // namespace

// ---- state ----

// A VOD made by a stop-and-cut or a clip. Guarded by State::mu.
struct VodState {
  EmulatedVod vod;
  std::string insert_date, cut_start, cut_end;  // .NET style, 7 digits, no zone
  std::chrono::steady_clock::time_point made;
};

struct VideoState {
  std::string project_id, live_video_id, start_date;
  std::int64_t start_ticks = 0;
  // Guarded by State::mu:
  bool stopped = false;
  int cut_count = 0;
  std::string video_public_id, end_date;
  bool id_delivered = false;
};

struct EmulatorCore::State {
  EmulatorFaults faults;
  std::string expected_auth;
  AuthScheme scheme;
  std::uint64_t seed_mix;
  clock::time_point started;
  std::unordered_set<std::string, sv_hash, sv_equal> projects;
  // The key set never changes after construction, so lookups need no lock.
  std::unordered_map<std::string, VideoState, sv_hash, sv_equal> videos;

  mutable std::mutex mu;  // video state, VODs and the id counter; held for a few instructions
  std::uint64_t id_counter = 0;
  std::vector<VodState> vods;
  std::unordered_map<std::string, std::size_t> vod_at;  // publicId -> position in vods

  std::mutex bucket_mu;
  double tokens = 0;
  clock::time_point bucket_last;

  std::string extra_header;  // the Content-Security-Policy value; empty when off

  std::atomic<std::uint64_t> fault_seq{0}, latency_seq{0}, xid{32770};
  std::atomic<std::uint64_t> requests{0}, connections{0}, cuts{0}, repeated{0}, dropped{0},
      delivered{0}, clips{0}, repeated_clips{0}, vod_reads{0};
  std::array<std::atomic<std::uint64_t>, 600> by_status{};

  void count_status(int status) {
    if (status >= 0 && status < static_cast<int>(by_status.size()))
      by_status[static_cast<std::size_t>(status)].fetch_add(1, std::memory_order_relaxed);
  }

  const VideoState* find_video(std::string_view project, std::string_view id) const {
    std::string key;
    key.reserve(project.size() + 1 + id.size());
    key.append(project).append("/").append(id);
    auto it = videos.find(std::string_view(key));
    return it == videos.end() ? nullptr : &it->second;
  }

  void add_video(std::string project, std::string id, std::int64_t base_ticks) {
    VideoState v;
    const auto index = static_cast<std::int64_t>(videos.size());
    // Streams started at different, realistic instants, with .NET's 7 fractional digits.
    const std::int64_t ticks =
        base_ticks + index * ticks_per_second +
        static_cast<std::int64_t>(splitmix64_at(seed_mix, static_cast<std::uint64_t>(index)) %
                                  static_cast<std::uint64_t>(ticks_per_second));
    v.start_date = format_ticks(ticks, 7, false);
    v.start_ticks = ticks;
    v.project_id = project;
    v.live_video_id = id;
    projects.insert(project);
    videos.emplace(project + "/" + id, std::move(v));
  }

  // Token bucket over all API requests; returns seconds to wait, or 0 when admitted.
  int rate_limited(clock::time_point now) {
    if (faults.rate_limit_rps <= 0) return 0;
    std::lock_guard lock(bucket_mu);
    const double cap = std::max(1.0, faults.rate_limit_burst);
    const double elapsed = duration<double>(now - bucket_last).count();
    if (elapsed > 0) {
      tokens = std::min(cap, tokens + elapsed * faults.rate_limit_rps);
      bucket_last = now;
    }
    if (tokens >= 1) {
      tokens -= 1;
      return 0;
    }
    return std::max(1, static_cast<int>(std::ceil((1 - tokens) / faults.rate_limit_rps)));
  }

  bool in_outage(clock::time_point now) const {
    if (faults.outage_duration.count() <= 0) return false;
    const auto from = started + faults.outage_start;
    return now >= from && now < from + faults.outage_duration;
  }

  Fault draw_fault() {
    const double p_total = faults.p500 + faults.p503 + faults.p429 + faults.p_cut_drop +
                           faults.p500_after_cut + faults.p_slow_cut;
    if (p_total <= 0) return Fault::none;
    const double u =
        unit_draw(splitmix64_at(seed_mix, fault_seq.fetch_add(1, std::memory_order_relaxed)));
    double acc = 0;
    const std::pair<double, Fault> table[] = {
        {faults.p500, Fault::f500},         {faults.p503, Fault::f503},
        {faults.p429, Fault::f429},         {faults.p_cut_drop, Fault::cut_drop},
        {faults.p500_after_cut, Fault::f500_after_cut}, {faults.p_slow_cut, Fault::slow_cut}};
    for (const auto& [p, f] : table) {
      acc += p;
      if (u < acc) return f;
    }
    return Fault::none;
  }

  milliseconds latency() {
    const auto jitter = faults.latency_jitter.count();
    if (jitter <= 0) return faults.latency;
    const auto bits =
        splitmix64_at(seed_mix ^ 0x6a09e667f3bcc909ULL,
                      latency_seq.fetch_add(1, std::memory_order_relaxed));
    return faults.latency + milliseconds(static_cast<std::int64_t>(
                                bits % static_cast<std::uint64_t>(jitter + 1)));
  }

  void html_503(EmulatorResponse& r) {
    const auto x = xid.fetch_add(2, std::memory_order_relaxed);
    r.status = 503;
    r.content_type = "text/html; charset=utf-8";
    r.body = varnish_503_page(x);
    r.headers.emplace_back("X-Varnish", std::to_string(x));
    r.headers.emplace_back("Via", "1.1 varnish (Varnish/7.1)");
  }

  void too_many(EmulatorResponse& r, int retry_after) {
    r.status = 429;
    r.body = error_envelope(429, {"Too many requests."});
    r.headers.emplace_back("Retry-After", std::to_string(retry_after));
  }

  std::string video_json(const VideoState& v) const;
  std::string videos_json() const;

  // Makes a VOD (under mu). `seconds`: the duration asked for.
  const VodState& make_vod(const VideoState& v, std::string title, bool clip, double seconds,
                           clock::time_point now) {
    const auto n = id_counter++;
    VodState d;
    d.vod.video_public_id = emulator_video_public_id(faults.seed, n);
    d.vod.project_id = v.project_id;
    d.vod.live_video_id = v.live_video_id;
    d.vod.title = std::move(title);
    d.vod.clip = clip;
    // Drawn from their own streams, so the request faults' sequence stays as it was.
    d.vod.will_fail = unit_draw(splitmix64_at(seed_mix ^ 0x3c6ef372fe94f82bULL, n)) < faults.p_encode_fail;
    const bool short_one = unit_draw(splitmix64_at(seed_mix ^ 0xa54ff53a5f1d36f1ULL, n)) < faults.p_short_duration;
    d.vod.duration_s = short_one ? seconds / 2 : seconds;
    const std::int64_t now_ticks = to_ticks(system_clock::now());
    d.insert_date = format_ticks(now_ticks, 7, false);
    d.cut_start = v.start_date;
    d.cut_end = d.insert_date;
    d.made = now;
    vod_at[d.vod.video_public_id] = vods.size();
    vods.push_back(std::move(d));
    return vods.back();
  }

  // The VOD as the manage API shows it at `now` (under mu).
  json::object vod_json(const VodState& d, clock::time_point now, bool with_parent) const {
    int status = 1;
    if (now - d.made >= faults.encode_time) status = d.vod.will_fail ? 4 : 2;
    static constexpr const char* names[] = {"", "Processing", "Ready", "", "Failed"};
    json::object o{{"publicId", d.vod.video_public_id},
                   {"mediaId", d.vod.video_public_id},
                   {"title", d.vod.title},
                   {"duration", d.vod.duration_s},
                   {"insertDate", d.insert_date},
                   {"publishStatusId", status},
                   {"publishStatusName", names[status]},
                   {"liveCutStartDate", d.cut_start},
                   {"liveCutEndDate", d.cut_end}};
    if (with_parent) o["parentVideoId"] = d.vod.live_video_id;
    return o;
  }

  std::string vod_list_json(std::string_view project, std::string_view target, clock::time_point now) const {
    const auto search = query_param(target, "search");
    const auto parent = faults.list_omits_parent ? std::nullopt : query_param(target, "parentVideoId");
    auto number = [&](std::string_view name, long fallback, long lo, long hi) {
      const auto v = query_param(target, name);
      long x = fallback;
      if (v && !v->empty()) x = std::strtol(v->c_str(), nullptr, 10);
      return std::clamp(x, lo, hi);
    };
    const long page = number("page", 1, 1, 1000000), take = number("take", 20, 1, 100);
    auto lower = [](std::string t) {
      std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      return t;
    };
    const std::string needle = search ? lower(*search) : std::string();
    json::array items;
    long total = 0;
    std::lock_guard lock(mu);
    for (auto it = vods.rbegin(); it != vods.rend(); ++it) {  // newest first
      const VodState& d = *it;
      if (d.vod.project_id != project) continue;
      if (parent && !parent->empty() && d.vod.live_video_id != *parent) continue;
      if (!needle.empty() && lower(d.vod.title).find(needle) == std::string::npos) continue;
      if (++total > (page - 1) * take && static_cast<long>(items.size()) < take)
        items.push_back(vod_json(d, now, !faults.list_omits_parent));
    }
    json::object result{{"currentPage", page},
                        {"totalPages", (total + take - 1) / take},
                        {"pageSize", take},
                        {"totalCount", total},
                        {"items", std::move(items)}};
    return json::serialize(result);
  }
};

std::string EmulatorCore::State::video_json(const VideoState& v) const {
  json::object o;
  std::lock_guard lock(mu);
  o["publicId"] = v.live_video_id;
  o["title"] = "Live stream " + v.live_video_id;
  o["liveStatus"] = v.stopped ? "Offline" : "Live";
  o["isLiveStreaming"] = !v.stopped;
  o["canStopAndCut"] = !v.stopped;
  o["canStopWithoutSaving"] = !v.stopped;
  o["canCutAndPublish"] = true;
  o["dvrEnabled"] = true;
  o["startDateUTC"] = v.start_date;
  if (v.stopped) o["endDateUTC"] = v.end_date;
  else o["endDateUTC"] = nullptr;
  return json::serialize(o);
}

std::string EmulatorCore::State::videos_json() const {
  json::array a;
  std::lock_guard lock(mu);
  for (const auto& [key, v] : videos) {
    a.push_back(json::object{{"projectId", v.project_id},
                             {"liveVideoId", v.live_video_id},
                             {"stopped", v.stopped},
                             {"cutCount", v.cut_count},
                             {"videoPublicId", v.video_public_id},
                             {"idDelivered", v.id_delivered}});
  }
  return json::serialize(json::object{{"videos", std::move(a)}});
}

EmulatorCore::EmulatorCore(const EmulatorOptions& options, clock::time_point started)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.faults = options.faults;
  s.scheme = options.auth_scheme;
  s.expected_auth = authorization_value(options.auth_scheme, options.api_key);
  s.seed_mix = mix64(options.faults.seed);
  s.started = started;
  s.bucket_last = started;
  s.tokens = std::max(1.0, options.faults.rate_limit_burst);
  s.extra_header = content_security_policy(options.faults.extra_header_bytes);
  const std::int64_t base = to_ticks(system_clock::now() - hours(2));
  if (options.videos_file) {
    std::ifstream in(*options.videos_file);
    if (!in)
      throw std::runtime_error("cannot read videos file " + options.videos_file->string());
    std::string line;
    std::size_t line_no = 0;
    while (std::getline(in, line)) {
      ++line_no;
      auto trim = [](std::string_view v) {
        while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front())))
          v.remove_prefix(1);
        while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back())))
          v.remove_suffix(1);
        return v;
      };
      const std::string_view t = trim(line);
      if (t.empty() || t.front() == '#') continue;
      const auto comma = t.find(',');
      const auto project = trim(t.substr(0, comma));
      const auto video = comma == std::string_view::npos ? std::string_view{}
                                                         : trim(t.substr(comma + 1));
      if (project == "projectId" && video == "liveVideoId") continue;  // a header row
      if (project.empty() || video.empty() || video.find(',') != std::string_view::npos ||
          project.find('/') != std::string_view::npos ||
          video.find('/') != std::string_view::npos)
        throw std::runtime_error(options.videos_file->string() + ":" +
                                 std::to_string(line_no) +
                                 ": expected \"projectId,liveVideoId\"");
      s.add_video(std::string(project), std::string(video), base);
    }
    for (const auto& p : options.projects) s.projects.insert(p);
  } else {
    for (const auto& p : options.projects) {
      s.projects.insert(p);
      for (int i = 0; i < options.videos_per_project; ++i)
        s.add_video(p, "lv" + std::to_string(i), base);
    }
  }
}

EmulatorCore::~EmulatorCore() = default;

void EmulatorCore::on_connection_accepted() {
  state_->connections.fetch_add(1, std::memory_order_relaxed);
}

void EmulatorCore::on_rejected(int status) {
  state_->requests.fetch_add(1, std::memory_order_relaxed);
  state_->count_status(status);
}

void EmulatorCore::on_delivered(const EmulatorResponse& response) {
  if (!response.carries_id) return;
  State& s = *state_;
  {
    std::lock_guard lock(s.mu);
    auto it = s.videos.find(std::string_view(response.video_key));
    if (it == s.videos.end() || it->second.video_public_id != response.video_public_id) return;
    it->second.id_delivered = true;
  }
  s.delivered.fetch_add(1, std::memory_order_relaxed);
}

EmulatorResponse EmulatorCore::handle(const EmulatorRequest& req, clock::time_point now) {
  State& s = *state_;
  EmulatorResponse r;
  s.requests.fetch_add(1, std::memory_order_relaxed);
  r.auth_scheme = classify_auth(req.authorization);
  r.authorized = req.authorization && *req.authorization == s.expected_auth;
  const Routed routed = route_request(req.method, req.target);
  r.kind = kind_of(routed.route);
  r.project_id = routed.project;
  r.live_video_id = routed.video;

  auto finish = [&](EmulatorResponse&& out) {
    if (!out.drop) s.count_status(out.status);
    const bool own_endpoint = routed.route == Route::stats || routed.route == Route::videos;
    if (!s.extra_header.empty() && !own_endpoint && !out.drop)
      out.headers.emplace_back("Content-Security-Policy", s.extra_header);
    return std::move(out);
  };
  auto fail = [&](int status, std::initializer_list<std::string_view> errors) {
    r.status = status;
    if (s.faults.echo_authorization && req.authorization) {
      std::vector<std::string> echoed{"Authorization was: " + std::string(*req.authorization)};
      echoed.insert(echoed.end(), errors.begin(), errors.end());
      r.body = error_envelope(status, echoed);
      return finish(std::move(r));
    }
    r.body = error_envelope(status, errors);
    return finish(std::move(r));
  };

  // The backend faults that strike once a cut or a clip is made: its answer is lost (the
  // connection drops), or is a 500, or comes late. nullopt: it is answered as usual.
  auto after_made = [&](Fault fault) -> std::optional<EmulatorResponse> {
    switch (fault) {
      case Fault::cut_drop:
        r.fault = "cut_drop";
        r.drop = true;
        r.status = 0;
        s.dropped.fetch_add(1, std::memory_order_relaxed);
        return finish(std::move(r));
      case Fault::f500_after_cut:
        r.fault = "500_after_cut";
        return fail(500, {"An unexpected error occurred."});
      case Fault::slow_cut:
        r.fault = "slow_cut";
        r.delay += s.faults.slow_cut_delay;
        return std::nullopt;
      default:
        return std::nullopt;
    }
  };

  // The emulator's own endpoints: no auth, no faults, no latency.
  if (routed.route == Route::stats) {
    r.body = emulator_stats_json(stats());
    return finish(std::move(r));
  }
  if (routed.route == Route::videos) {
    r.body = s.videos_json();
    return finish(std::move(r));
  }

  // Proxy level: latency, outage and rate limit hit every API request, before auth.
  r.delay = s.latency();
  if (s.in_outage(now)) {
    r.fault = "outage";
    s.html_503(r);
    return finish(std::move(r));
  }
  if (int wait = s.rate_limited(now)) {
    r.fault = "rate_limit";
    s.too_many(r, wait);
    return finish(std::move(r));
  }

  if (routed.allow) {
    r.headers.emplace_back("Allow", routed.allow);
    return fail(405, {"Method not allowed."});
  }
  if (routed.route == Route::none) return fail(404, {"Not found."});

  const bool is_cut = routed.route == Route::cut_v2 || routed.route == Route::cut_v1 || routed.route == Route::clip_v2;
  Fault fault = is_cut ? s.draw_fault() : Fault::none;
  if (fault == Fault::f503) {
    r.fault = "503";
    s.html_503(r);
    return finish(std::move(r));
  }
  if (fault == Fault::f429) {
    r.fault = "429";
    s.too_many(r, s.faults.retry_after_seconds);
    return finish(std::move(r));
  }

  if (!r.authorized) {
    r.headers.emplace_back("WWW-Authenticate",
                           s.scheme == AuthScheme::bearer ? "Bearer" : "ApiKey");
    return fail(401, {"Unauthorized: the API key is missing or invalid."});
  }
  if (s.projects.find(routed.project) == s.projects.end())
    return fail(403, {"Forbidden: the API key has no access to this project."});

  if (routed.route == Route::get_video) {
    const VideoState* v = s.find_video(routed.project, routed.video);
    if (!v) return fail(404, {"Result Not Found: no such live video."});
    r.body = success_envelope(s.video_json(*v));
    return finish(std::move(r));
  }
  if (routed.route == Route::vod_get) {
    s.vod_reads.fetch_add(1, std::memory_order_relaxed);
    std::unique_lock lock(s.mu);
    const auto at = s.vod_at.find(std::string(routed.video));
    if (at == s.vod_at.end() || s.vods[at->second].vod.project_id != routed.project) {
      lock.unlock();
      return fail(404, {"Result Not Found: no such video."});
    }
    r.body = success_envelope(json::serialize(s.vod_json(s.vods[at->second], now, true)));
    return finish(std::move(r));
  }
  if (routed.route == Route::vod_list) {
    s.vod_reads.fetch_add(1, std::memory_order_relaxed);
    r.body = success_envelope(s.vod_list_json(routed.project, req.target, now));
    return finish(std::move(r));
  }
  if (routed.route == Route::clip_v2) {
    // cut-and-publish: a new clip every call, on a live or a stopped stream alike.
    const VideoState* v = s.find_video(routed.project, routed.video);
    if (!v) return fail(404, {"Result Not Found: no such live video."});
    CutBody body = validate_clip_body(req.body);
    r.title = body.title;
    if (!body.errors.empty()) {
      r.status = 400;
      r.body = error_envelope(400, body.errors);
      return finish(std::move(r));
    }
    if (fault == Fault::f500) {
      r.fault = "500";
      return fail(500, {"An unexpected error occurred."});
    }
    {
      std::lock_guard lock(s.mu);
      const bool again = std::any_of(s.vods.begin(), s.vods.end(), [&](const VodState& d) {
        return d.vod.clip && d.vod.title == body.title && d.vod.live_video_id == v->live_video_id &&
               d.vod.project_id == v->project_id;
      });
      if (again) s.repeated_clips.fetch_add(1, std::memory_order_relaxed);
      r.video_public_id =
          s.make_vod(*v, body.title, true, static_cast<double>(*body.to_ms - *body.from_ms) / 1000.0, now).vod.video_public_id;
    }
    s.clips.fetch_add(1, std::memory_order_relaxed);
    if (auto answered = after_made(fault)) return std::move(*answered);
    json::object result{{"videoPublicId", r.video_public_id}, {"name", body.title}, {"originalFile", nullptr}};
    r.body = success_envelope(json::serialize(result));
    return finish(std::move(r));
  }

  // stop-and-cut. The v1 form names the video in the body, so the body comes first there.
  const VideoState* v = nullptr;
  if (routed.route == Route::cut_v2) {
    v = s.find_video(routed.project, routed.video);
    if (!v) return fail(404, {"Result Not Found: no such live video."});
  }
  CutBody body = validate_cut_body(req.body, routed.route == Route::cut_v1);
  if (routed.route == Route::cut_v1 && !body.v1_video_id.empty()) {
    v = s.find_video(routed.project, body.v1_video_id);
    if (!v) return fail(404, {"Result Not Found: no such live video."});
  }
  if (!body.errors.empty()) {
    r.status = 400;
    r.body = error_envelope(400, body.errors);
    return finish(std::move(r));
  }

  VideoState& video = const_cast<VideoState&>(*v);
  {
    std::unique_lock lock(s.mu);
    if (video.stopped) {
      lock.unlock();
      s.repeated.fetch_add(1, std::memory_order_relaxed);
      return fail(400, {"The live video cannot be stopped: it is not live."});
    }
    if (fault == Fault::f500) {
      lock.unlock();
      r.fault = "500";
      return fail(500, {"An unexpected error occurred."});
    }
    video.stopped = true;
    ++video.cut_count;
    const std::int64_t now_ticks = to_ticks(system_clock::now());
    double seconds = static_cast<double>(now_ticks - video.start_ticks) / ticks_per_second;  // the whole stream
    if (body.from_ms && body.to_ms) seconds = static_cast<double>(*body.to_ms - *body.from_ms) / 1000.0;
    if (body.from_t && body.to_t) seconds = static_cast<double>(*body.to_t - *body.from_t) / ticks_per_second;
    video.video_public_id = s.make_vod(video, "Live stream " + video.live_video_id, false, seconds, now).vod.video_public_id;
    video.end_date = format_ticks(now_ticks, 7, false);
    r.video_public_id = video.video_public_id;
  }
  s.cuts.fetch_add(1, std::memory_order_relaxed);
  r.video_key.reserve(video.project_id.size() + 1 + video.live_video_id.size());
  r.video_key.append(video.project_id).append("/").append(video.live_video_id);

  if (auto answered = after_made(fault)) return std::move(*answered);
  r.carries_id = true;
  r.body = R"({"success":true,"errors":[],"messages":[],"result":{"videoPublicId":")" +
           r.video_public_id + R"("},"resultInfo":null,"statusCode":200})";
  return finish(std::move(r));
}

EmulatorStats EmulatorCore::stats() const {
  const State& s = *state_;
  EmulatorStats out;
  out.requests = s.requests.load();
  out.connections_accepted = s.connections.load();
  out.cuts_made = s.cuts.load();
  out.repeated_cuts = s.repeated.load();
  out.dropped_connections = s.dropped.load();
  out.ids_delivered = s.delivered.load();
  out.clips_made = s.clips.load();
  out.repeated_clips = s.repeated_clips.load();
  out.vod_reads = s.vod_reads.load();
  for (std::size_t i = 0; i < s.by_status.size(); ++i)
    if (auto n = s.by_status[i].load()) out.requests_by_status[static_cast<int>(i)] = n;
  return out;
}

std::vector<EmulatedVod> EmulatorCore::vods() const {
  const State& s = *state_;
  std::lock_guard lock(s.mu);
  std::vector<EmulatedVod> out;
  out.reserve(s.vods.size());
  for (const VodState& d : s.vods) out.push_back(d.vod);
  return out;
}

std::vector<EmulatorVideo> EmulatorCore::videos() const {
  const State& s = *state_;
  std::vector<EmulatorVideo> out;
  out.reserve(s.videos.size());
  {
    std::lock_guard lock(s.mu);
    for (const auto& [key, v] : s.videos)
      out.push_back({v.project_id, v.live_video_id, v.stopped, v.cut_count, v.video_public_id,
                     v.id_delivered});
  }
  std::sort(out.begin(), out.end(), [](const EmulatorVideo& a, const EmulatorVideo& b) {
    return std::tie(a.project_id, a.live_video_id) < std::tie(b.project_id, b.live_video_id);
  });
  return out;
}

std::string EmulatorCore::record_line(const EmulatorRequest& req, const EmulatorResponse& resp,
                                      int status_sent, system_clock::time_point received) {
  json::object o;
  o["ts"] = format_ticks(to_ticks(received), 3, true);
  o["method"] = req.method;
  o["target"] = req.target;
  o["authorized"] = resp.authorized;
  o["authScheme"] = resp.auth_scheme;
  o["contentType"] = req.content_type;
  o["body"] = req.body;
  o["status"] = status_sent;
  if (resp.fault) o["fault"] = resp.fault;
  else o["fault"] = nullptr;
  if (!resp.video_public_id.empty()) o["videoPublicId"] = resp.video_public_id;
  else o["videoPublicId"] = nullptr;
  o["kind"] = resp.kind;
  o["projectId"] = resp.project_id;
  o["liveVideoId"] = resp.live_video_id;
  if (!resp.title.empty()) o["title"] = resp.title;
  o["made"] = !resp.video_public_id.empty();  // a VOD was made (its answer may still have been lost)
  return json::serialize(o);
}

std::string emulator_stats_json(const EmulatorStats& st) {
  json::object by;
  for (const auto& [status, n] : st.requests_by_status) by[std::to_string(status)] = n;
  json::object o;
  o["requests"] = st.requests;
  o["requestsByStatus"] = std::move(by);
  o["connectionsAccepted"] = st.connections_accepted;
  o["cutsMade"] = st.cuts_made;
  o["repeatedCuts"] = st.repeated_cuts;
  o["droppedConnections"] = st.dropped_connections;
  o["idsDelivered"] = st.ids_delivered;
  o["clipsMade"] = st.clips_made;
  o["repeatedClips"] = st.repeated_clips;
  o["vodReads"] = st.vod_reads;
  return json::serialize(o);
}

std::string emulator_video_public_id(std::uint64_t seed, std::uint64_t counter) {
  // Cycle-walking a keyed 64-bit bijection into [0, 36^12) keeps it a bijection there,
  // so distinct counters always give distinct, random-looking ids.
  constexpr std::uint64_t range = 4738381338321616896ULL;  // 36^12
  const std::uint64_t key = mix64(seed ^ 0xbb67ae8584caa73bULL);
  std::uint64_t x = counter % range;
  do {
    x = mix64(x + key);
  } while (x >= range);
  static constexpr char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string out = "vjs000000000000";
  for (std::size_t i = out.size(); i > 3; --i) {
    out[i - 1] = digits[x % 36];
    x /= 36;
  }
  return out;
}

std::optional<std::int64_t> emulator_parse_iso8601(std::string_view s) {
  std::size_t pos = 0;
  auto num = [&](std::size_t width, int& out) {
    if (pos + width > s.size()) return false;
    out = 0;
    for (std::size_t i = 0; i < width; ++i) {
      const char c = s[pos + i];
      if (c < '0' || c > '9') return false;
      out = out * 10 + (c - '0');
    }
    pos += width;
    return true;
  };
  auto lit = [&](char c) {
    if (pos < s.size() && s[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  };
  int y, mo, d, h, mi, sec;
  if (!num(4, y) || !lit('-') || !num(2, mo) || !lit('-') || !num(2, d)) return std::nullopt;
  if (!(lit('T') || lit('t') || lit(' '))) return std::nullopt;
  if (!num(2, h) || !lit(':') || !num(2, mi) || !lit(':') || !num(2, sec)) return std::nullopt;
  std::int64_t frac = 0;
  if (lit('.') || lit(',')) {
    int digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (++digits > 7) return std::nullopt;
      frac = frac * 10 + (s[pos++] - '0');
    }
    if (digits == 0) return std::nullopt;
    for (; digits < 7; ++digits) frac *= 10;
  }
  int offset = 0;  // seconds east of UTC
  if (lit('Z') || lit('z')) {
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    const int sign = s[pos++] == '-' ? -1 : 1;
    int oh, om = 0;
    if (!num(2, oh)) return std::nullopt;
    if (lit(':')) {
      if (!num(2, om)) return std::nullopt;
    } else if (pos < s.size()) {
      if (!num(2, om)) return std::nullopt;
    }
    if (oh > 23 || om > 59) return std::nullopt;
    offset = sign * (oh * 3600 + om * 60);
  }
  if (pos != s.size()) return std::nullopt;
  static constexpr int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12 || d < 1) return std::nullopt;
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > mdays[mo - 1] + (mo == 2 && leap ? 1 : 0)) return std::nullopt;
  if (h > 23 || mi > 59 || sec > 59) return std::nullopt;
  const std::int64_t secs = days_from_civil(y, static_cast<unsigned>(mo),
                                            static_cast<unsigned>(d)) * 86400 +
                            h * 3600 + mi * 60 + sec - offset;
  return secs * ticks_per_second + frac;
}

}  // namespace batchcut
