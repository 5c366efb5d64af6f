// The emulator's request-handling logic, without sockets: routing, auth, validation,
// state, faults, stats and the record line. Time is a plain value passed in.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "batchcut/emulator/emulator.hpp"

using namespace batchcut;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

using clock_type = EmulatorCore::clock;
const clock_type::time_point t0{};

EmulatorOptions small_options() {
  EmulatorOptions o;
  o.projects = {"p1", "p2"};
  o.videos_per_project = 50;
  o.api_key = "sekret-key";
  return o;
}

constexpr std::string_view auth = "Bearer sekret-key";
constexpr std::string_view ms_body =
    R"({"dateTimeFrom":null,"dateTimeTo":null,"fromMilisecond":1000,"toMilisecond":5000,"videoVisibilityOptionId":1})";

std::string cut_target(std::string_view project, std::string_view video) {
  return "/api/v2/" + std::string(project) + "/live-videos/" + std::string(video) +
         "/stop-and-cut";
}

EmulatorResponse cut(EmulatorCore& core, std::string_view video, std::string_view body = ms_body,
                     std::optional<std::string_view> authorization = auth,
                     std::string_view project = "p1", clock_type::time_point now = t0) {
  const std::string target = cut_target(project, video);
  return core.handle({"POST", target, authorization, "application/json", body}, now);
}

EmulatorResponse get_video(EmulatorCore& core, std::string_view video,
                           std::string_view project = "p1") {
  const std::string target = "/api/v1/" + std::string(project) + "/live-videos/" + std::string(video);
  return core.handle({"GET", target, auth, "", ""}, t0);
}

json::object parse_object(const std::string& body) { return json::parse(body).as_object(); }

void expect_envelope(const EmulatorResponse& r, int status) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  const auto o = parse_object(r.body);
  EXPECT_EQ(o.at("success").as_bool(), status == 200);
  EXPECT_EQ(o.at("statusCode").as_int64(), status);
  EXPECT_TRUE(o.at("messages").is_array());
  EXPECT_TRUE(o.at("resultInfo").is_null());
  if (status != 200) {
    EXPECT_FALSE(o.at("errors").as_array().empty()) << r.body;
  }
}

}  // namespace

TEST(EmulatorCore, CutSucceedsWithARealisticId) {
  EmulatorCore core(small_options(), t0);
  const auto r = cut(core, "lv0");
  expect_envelope(r, 200);
  const auto id = parse_object(r.body).at("result").at("videoPublicId").as_string();
  EXPECT_TRUE(std::regex_match(std::string(id), std::regex("vjs[0-9a-z]{12}"))) << id;
  EXPECT_EQ(r.video_public_id, id);
  EXPECT_EQ(r.video_key, "p1/lv0");
  EXPECT_TRUE(r.carries_id);
  EXPECT_EQ(r.fault, nullptr);
  EXPECT_EQ(core.stats().cuts_made, 1u);
}

TEST(EmulatorCore, AuthRules) {
  EmulatorCore core(small_options(), t0);
  expect_envelope(cut(core, "lv0", ms_body, std::nullopt), 401);
  expect_envelope(cut(core, "lv0", ms_body, ""), 401);
  expect_envelope(cut(core, "lv0", ms_body, "sekret-key"), 401);  // raw, but bearer wanted
  expect_envelope(cut(core, "lv0", ms_body, "Bearer wrong"), 401);
  expect_envelope(cut(core, "lv0", ms_body, "bearer sekret-key"), 401);  // exact match only
  expect_envelope(cut(core, "lv0", ms_body, "Bearer sekret-key "), 401);
  EXPECT_EQ(core.stats().cuts_made, 0u);

  auto raw = small_options();
  raw.auth_scheme = AuthScheme::raw;
  EmulatorCore raw_core(raw, t0);
  expect_envelope(cut(raw_core, "lv0", ms_body, "Bearer sekret-key"), 401);
  expect_envelope(cut(raw_core, "lv0", ms_body, "sekret-key"), 200);
}

TEST(EmulatorCore, ChecksInOrderAuthProjectVideoBodyState) {
  EmulatorCore core(small_options(), t0);
  // Bad everything: auth wins.
  expect_envelope(cut(core, "nope", "{", "Bearer x", "nope"), 401);
  // Unknown project beats unknown video and a bad body.
  expect_envelope(cut(core, "nope", "{", auth, "nope"), 403);
  // Unknown video beats a bad body.
  expect_envelope(cut(core, "nope", "{", auth, "p1"), 404);
  // A bad body on a stopped video is a validation error, not a repeated cut.
  expect_envelope(cut(core, "lv1"), 200);
  expect_envelope(cut(core, "lv1", "{"), 400);
  EXPECT_EQ(core.stats().repeated_cuts, 0u);
  // GET follows the same auth/project/video order.
  expect_envelope(core.handle({"GET", "/api/v1/p1/live-videos/lv0", std::nullopt, "", ""}, t0),
                  401);
  expect_envelope(get_video(core, "lv0", "nope"), 403);
  expect_envelope(get_video(core, "nope"), 404);
}

TEST(EmulatorCore, RoutingUnknownPathsAndMethods) {
  EmulatorCore core(small_options(), t0);
  auto req = [&](std::string_view method, std::string_view target) {
    return core.handle({method, target, auth, "application/json", ms_body}, t0);
  };
  expect_envelope(req("POST", "/api/v2/p1/live-videos/lv0/stop"), 404);
  expect_envelope(req("POST", "/api/v3/p1/live-videos/lv0/stop-and-cut"), 404);
  expect_envelope(req("POST", "/api/v2/p1//live-videos/lv0/stop-and-cut"), 404);
  expect_envelope(req("GET", "/"), 404);
  expect_envelope(req("GET", "/api/v2/p1/live-videos/lv0/stop-and-cut/extra"), 404);
  const auto r = req("GET", "/api/v2/p1/live-videos/lv0/stop-and-cut");
  expect_envelope(r, 405);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Allow");
  EXPECT_EQ(r.headers[0].second, "POST");
  expect_envelope(req("DELETE", "/api/v1/p1/live-videos/lv0"), 405);
  // A query string is ignored.
  expect_envelope(req("POST", "/api/v2/p1/live-videos/lv0/stop-and-cut?x=1"), 200);
}

TEST(EmulatorCore, BodyValidationRules) {
  EmulatorCore core(small_options(), t0);
  struct Case {
    const char* body;
    int status;
  };
  const Case cases[] = {
      {"", 400},
      {"{", 400},
      {"[1,2]", 400},
      {"\"text\"", 400},
      {R"({"videoVisibilityOptionId":1})", 200},  // whole stream
      {R"({"fromMilisecond":null,"toMilisecond":null,"dateTimeFrom":null,"dateTimeTo":null,"videoVisibilityOptionId":2})", 200},
      {R"({"fromMilisecond":0,"toMilisecond":1,"videoVisibilityOptionId":3})", 200},
      {R"({"fromMilisecond":0,"toMilisecond":1})", 400},                           // no visibility
      {R"({"fromMilisecond":0,"toMilisecond":1,"videoVisibilityOptionId":0})", 400},
      {R"({"fromMilisecond":0,"toMilisecond":1,"videoVisibilityOptionId":4})", 400},
      {R"({"fromMilisecond":0,"toMilisecond":1,"videoVisibilityOptionId":"1"})", 400},
      {R"({"fromMilisecond":0,"toMilisecond":1,"videoVisibilityOptionId":null})", 400},
      {R"({"fromMilisecond":5,"toMilisecond":5,"videoVisibilityOptionId":1})", 400},  // to <= from
      {R"({"fromMilisecond":6,"toMilisecond":5,"videoVisibilityOptionId":1})", 400},
      {R"({"fromMilisecond":-1,"toMilisecond":5,"videoVisibilityOptionId":1})", 400},
      {R"({"fromMilisecond":1.5,"toMilisecond":5,"videoVisibilityOptionId":1})", 400},
      {R"({"fromMilisecond":"1","toMilisecond":5,"videoVisibilityOptionId":1})", 400},
      {R"({"fromMilisecond":1,"toMilisecond":null,"videoVisibilityOptionId":1})", 400},  // half
      {R"({"toMilisecond":1,"videoVisibilityOptionId":1})", 400},
      {R"({"dateTimeFrom":"2024-05-23T20:00:00Z","videoVisibilityOptionId":1})", 400},
      {R"({"fromMilisecond":0,"toMilisecond":1,"dateTimeFrom":"2024-05-23T20:00:00Z","dateTimeTo":"2024-05-23T20:01:00Z","videoVisibilityOptionId":1})", 400},  // both
      {R"({"dateTimeFrom":"2024-05-23T20:00:00Z","dateTimeTo":"2024-05-23T20:01:00Z","videoVisibilityOptionId":1})", 200},
      {R"({"dateTimeFrom":"2024-05-23T20:09:29.8106349","dateTimeTo":"2024-05-23T20:09:29.8106350","videoVisibilityOptionId":1})", 200},
      {R"({"dateTimeFrom":"2024-05-23T22:00:00+02:00","dateTimeTo":"2024-05-23T20:00:01Z","videoVisibilityOptionId":1})", 200},
      {R"({"dateTimeFrom":"2024-05-23T22:00:00+02:00","dateTimeTo":"2024-05-23T20:00:00Z","videoVisibilityOptionId":1})", 400},  // equal instants
      {R"({"dateTimeFrom":"2024-05-23T20:01:00Z","dateTimeTo":"2024-05-23T20:00:00Z","videoVisibilityOptionId":1})", 400},
      {R"({"dateTimeFrom":"yesterday","dateTimeTo":"2024-05-23T20:00:00Z","videoVisibilityOptionId":1})", 400},
      {R"({"dateTimeFrom":"2024-02-30T20:00:00Z","dateTimeTo":"2024-05-23T20:00:00Z","videoVisibilityOptionId":1})", 400},
      {R"({"dateTimeFrom":12,"dateTimeTo":"2024-05-23T20:00:00Z","videoVisibilityOptionId":1})", 400},
  };
  int i = 0;
  for (const auto& c : cases) {
    const std::string video = "lv" + std::to_string(i++);
    SCOPED_TRACE(c.body);
    expect_envelope(cut(core, video, c.body), c.status);
  }
  EXPECT_EQ(core.stats().repeated_cuts, 0u);
}

TEST(EmulatorCore, SecondCutIsRefusedAndCounted) {
  EmulatorCore core(small_options(), t0);
  const auto first = cut(core, "lv3");
  expect_envelope(first, 200);
  const auto second = cut(core, "lv3");
  expect_envelope(second, 400);
  EXPECT_NE(parse_object(second.body).at("errors").as_array()[0].as_string().find("cannot be stopped"),
            std::string::npos);
  EXPECT_TRUE(second.video_public_id.empty());
  const auto st = core.stats();
  EXPECT_EQ(st.cuts_made, 1u);
  EXPECT_EQ(st.repeated_cuts, 1u);
  EXPECT_EQ(st.requests, 2u);
  EXPECT_EQ(st.requests_by_status.at(200), 1u);
  EXPECT_EQ(st.requests_by_status.at(400), 1u);
  for (const auto& v : core.videos()) {
    if (v.project_id == "p1" && v.live_video_id == "lv3") {
      EXPECT_TRUE(v.stopped);
      EXPECT_EQ(v.cut_count, 1);
      EXPECT_EQ(v.video_public_id, first.video_public_id);
      EXPECT_FALSE(v.id_delivered);  // not until the server says the write completed
    } else {
      EXPECT_FALSE(v.stopped) << v.project_id << "/" << v.live_video_id;
    }
  }
  core.on_delivered(first);
  EXPECT_EQ(core.stats().ids_delivered, 1u);
  core.on_delivered(second);  // carries no id
  EXPECT_EQ(core.stats().ids_delivered, 1u);
}

TEST(EmulatorCore, GetLiveVideoReflectsTheCut) {
  EmulatorCore core(small_options(), t0);
  auto before = get_video(core, "lv7", "p2");
  expect_envelope(before, 200);
  auto r = parse_object(before.body).at("result").as_object();
  EXPECT_EQ(r.at("publicId").as_string(), "lv7");
  EXPECT_EQ(r.at("liveStatus").as_string(), "Live");
  EXPECT_TRUE(r.at("isLiveStreaming").as_bool());
  EXPECT_TRUE(r.at("canStopAndCut").as_bool());
  EXPECT_TRUE(r.at("canStopWithoutSaving").as_bool());
  EXPECT_TRUE(r.at("dvrEnabled").is_bool());
  EXPECT_TRUE(r.at("title").is_string());
  EXPECT_TRUE(r.at("endDateUTC").is_null());
  const std::regex dotnet(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7})");
  EXPECT_TRUE(std::regex_match(std::string(r.at("startDateUTC").as_string()), dotnet));
  EXPECT_TRUE(emulator_parse_iso8601(std::string(r.at("startDateUTC").as_string())));

  expect_envelope(cut(core, "lv7", ms_body, auth, "p2"), 200);
  r = parse_object(get_video(core, "lv7", "p2").body).at("result").as_object();
  EXPECT_EQ(r.at("liveStatus").as_string(), "Offline");
  EXPECT_FALSE(r.at("isLiveStreaming").as_bool());
  EXPECT_FALSE(r.at("canStopAndCut").as_bool());
  ASSERT_TRUE(r.at("endDateUTC").is_string());
  EXPECT_TRUE(std::regex_match(std::string(r.at("endDateUTC").as_string()), dotnet));
  // The same id in the other project is untouched.
  r = parse_object(get_video(core, "lv7", "p1").body).at("result").as_object();
  EXPECT_TRUE(r.at("canStopAndCut").as_bool());
}

TEST(EmulatorCore, V1StopAndCutNamesTheVideoInTheBody) {
  EmulatorCore core(small_options(), t0);
  auto v1 = [&](std::string_view body) {
    return core.handle({"POST", "/api/v1/p1/live-videos/stop-and-cut", auth, "application/json", body}, t0);
  };
  expect_envelope(v1(R"({"videoVisibilityOptionId":1})"), 400);
  expect_envelope(v1(R"({"videoPublicId":"nope","videoVisibilityOptionId":1})"), 404);
  expect_envelope(v1(R"({"videoPublicId":"lv2","videoVisibilityOptionId":1})"), 200);
  expect_envelope(v1(R"({"videoPublicId":"lv2","videoVisibilityOptionId":1})"), 400);
  EXPECT_EQ(core.stats().repeated_cuts, 1u);
}

TEST(EmulatorCore, IdsAreUniqueAndSeeded) {
  std::set<std::string> seen;
  const std::regex shape("vjs[0-9a-z]{12}");
  for (std::uint64_t i = 0; i < 20000; ++i) {
    const auto id = emulator_video_public_id(7, i);
    ASSERT_TRUE(std::regex_match(id, shape)) << id;
    ASSERT_TRUE(seen.insert(id).second) << "repeated id " << id << " at " << i;
  }
  EXPECT_EQ(emulator_video_public_id(7, 5), emulator_video_public_id(7, 5));
  EXPECT_NE(emulator_video_public_id(7, 5), emulator_video_public_id(8, 5));
  // Consecutive counters do not give look-alike ids.
  EXPECT_NE(emulator_video_public_id(7, 0).substr(0, 8), emulator_video_public_id(7, 1).substr(0, 8));
}

TEST(EmulatorCore, ParsesIso8601Forms) {
  const auto base = emulator_parse_iso8601("2024-05-23T20:09:29Z");
  ASSERT_TRUE(base);
  EXPECT_EQ(*base, 17164949690000000LL);  // 1716494969 s since the epoch, in 100 ns ticks
  EXPECT_EQ(emulator_parse_iso8601("2024-05-23T20:09:29"), base);
  EXPECT_EQ(emulator_parse_iso8601("2024-05-23 20:09:29"), base);
  EXPECT_EQ(emulator_parse_iso8601("2024-05-23T22:09:29+02:00"), base);
  EXPECT_EQ(emulator_parse_iso8601("2024-05-23T22:09:29+0200"), base);
  EXPECT_EQ(emulator_parse_iso8601("2024-05-23T22:09:29+02"), base);
  EXPECT_EQ(emulator_parse_iso8601("2024-05-23T19:39:29-00:30"), base);
  EXPECT_EQ(emulator_parse_iso8601("2024-05-23T20:09:29.8106349"), *base + 8106349);
  EXPECT_EQ(emulator_parse_iso8601("2024-05-23T20:09:29.392Z"), *base + 3920000);
  EXPECT_EQ(emulator_parse_iso8601("2024-02-29T00:00:00Z").has_value(), true);
  for (const char* bad : {"", "2024-05-23", "2024-05-23T20:09", "2024-05-23T20:09:29.", 
                          "2024-05-23T20:09:29.81063491", "2024-13-01T00:00:00Z",
                          "2023-02-29T00:00:00Z", "2024-05-23T24:00:00Z", "2024-05-23T20:60:00Z",
                          "2024-05-23T20:09:29+24:00", "2024-05-23T20:09:29Zjunk",
                          "2024-5-23T20:09:29Z", "x2024-05-23T20:09:29Z"})
    EXPECT_FALSE(emulator_parse_iso8601(bad)) << bad;
}

namespace {

std::vector<int> status_sequence(std::uint64_t seed, int n) {
  auto o = small_options();
  o.videos_per_project = n;
  o.faults.seed = seed;
  o.faults.p500 = 0.15;
  o.faults.p503 = 0.15;
  o.faults.p429 = 0.15;
  o.faults.p_cut_drop = 0.1;
  o.faults.p500_after_cut = 0.1;
  o.faults.p_slow_cut = 0.1;
  EmulatorCore core(o, t0);
  std::vector<int> out;
  for (int i = 0; i < n; ++i) {
    const auto r = cut(core, "lv" + std::to_string(i));
    out.push_back(r.drop ? 0 : (r.delay > 0ms ? 1000 + r.status : r.status));
  }
  return out;
}

}  // namespace

TEST(EmulatorCoreFaults, SameSeedSameSequence) {
  const auto a = status_sequence(42, 200);
  EXPECT_EQ(a, status_sequence(42, 200));
  EXPECT_NE(a, status_sequence(43, 200));
  const std::set<int> kinds(a.begin(), a.end());
  // 200, slow 200, 500 (either kind), 503, 429, drop: every fault fired in 200 draws.
  EXPECT_EQ(kinds, (std::set<int>{0, 200, 1200, 429, 500, 503})) << ::testing::PrintToString(a);
}

TEST(EmulatorCoreFaults, EachFaultDoesWhatItSays) {
  auto with = [](auto set) {
    auto o = small_options();
    set(o.faults);
    return o;
  };
  {  // 500: no cut
    EmulatorCore core(with([](EmulatorFaults& f) { f.p500 = 1; }), t0);
    const auto r = cut(core, "lv0");
    expect_envelope(r, 500);
    EXPECT_STREQ(r.fault, "500");
    EXPECT_EQ(core.stats().cuts_made, 0u);
    // Backend faults only hit otherwise valid requests: these answer their own error.
    expect_envelope(cut(core, "lv0", ms_body, "Bearer bad"), 401);
    expect_envelope(cut(core, "lv0", "{"), 400);
    // And GETs are never drawn.
    expect_envelope(get_video(core, "lv0"), 200);
  }
  {  // 503: Varnish's HTML, before auth, no cut
    EmulatorCore core(with([](EmulatorFaults& f) { f.p503 = 1; }), t0);
    const auto r = cut(core, "lv0", ms_body, "Bearer bad");
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.content_type.substr(0, 9), "text/html");
    EXPECT_NE(r.body.find("Error 503 Backend fetch failed"), std::string::npos);
    EXPECT_NE(r.body.find("Guru Meditation:"), std::string::npos);
    EXPECT_NE(r.body.find("XID: "), std::string::npos);
    EXPECT_STREQ(r.fault, "503");
    EXPECT_EQ(core.stats().cuts_made, 0u);
  }
  {  // 429 with Retry-After, no cut
    EmulatorCore core(with([](EmulatorFaults& f) {
                        f.p429 = 1;
                        f.retry_after_seconds = 7;
                      }),
                      t0);
    const auto r = cut(core, "lv0");
    EXPECT_EQ(r.status, 429);
    ASSERT_EQ(r.headers.size(), 1u);
    EXPECT_EQ(r.headers[0], (std::pair<std::string, std::string>{"Retry-After", "7"}));
    EXPECT_EQ(core.stats().cuts_made, 0u);
  }
  {  // cut, then drop
    EmulatorCore core(with([](EmulatorFaults& f) { f.p_cut_drop = 1; }), t0);
    const auto r = cut(core, "lv0");
    EXPECT_TRUE(r.drop);
    EXPECT_FALSE(r.carries_id);
    EXPECT_FALSE(r.video_public_id.empty());
    const auto st = core.stats();
    EXPECT_EQ(st.cuts_made, 1u);
    EXPECT_EQ(st.dropped_connections, 1u);
    EXPECT_TRUE(st.requests_by_status.empty());  // nothing was answered
    expect_envelope(cut(core, "lv0"), 400);      // the stream is stopped
  }
  {  // cut, then 500: in doubt
    EmulatorCore core(with([](EmulatorFaults& f) { f.p500_after_cut = 1; }), t0);
    const auto r = cut(core, "lv0");
    expect_envelope(r, 500);
    EXPECT_FALSE(r.carries_id);
    EXPECT_EQ(r.body.find(r.video_public_id), std::string::npos);
    EXPECT_EQ(core.stats().cuts_made, 1u);
    EXPECT_FALSE(parse_object(get_video(core, "lv0").body).at("result").at("canStopAndCut").as_bool());
  }
  {  // slow cut
    EmulatorCore core(with([](EmulatorFaults& f) {
                        f.p_slow_cut = 1;
                        f.slow_cut_delay = 1234ms;
                      }),
                      t0);
    const auto r = cut(core, "lv0");
    expect_envelope(r, 200);
    EXPECT_EQ(r.delay, 1234ms);
    EXPECT_TRUE(r.carries_id);
  }
}

TEST(EmulatorCoreFaults, ExtraHeaderRidesOnEveryApiAnswer) {
  auto o = small_options();
  o.faults.extra_header_bytes = 40 * 1024;
  EmulatorCore core(o, t0);
  auto csp = [](const EmulatorResponse& r) -> std::string {
    for (const auto& [name, value] : r.headers)
      if (name == "Content-Security-Policy") return value;
    return "<none>";
  };
  const auto made = cut(core, "lv0");
  expect_envelope(made, 200);
  EXPECT_TRUE(made.carries_id);
  const std::string value = csp(made);
  EXPECT_EQ(value.size(), 40u * 1024);
  EXPECT_EQ(value.find_first_of("\r\n"), std::string::npos);
  EXPECT_NE(value.back(), ' ');
  EXPECT_EQ(csp(cut(core, "lv0", ms_body, "Bearer bad")), value);  // errors too
  EXPECT_EQ(csp(get_video(core, "lv1")), value);
  // The emulator's own endpoints are not behind the "CDN".
  EXPECT_EQ(csp(core.handle({"GET", "/_emulator/stats", std::nullopt, "", ""}, t0)), "<none>");
  // Off by default.
  EmulatorCore plain(small_options(), t0);
  EXPECT_EQ(csp(cut(plain, "lv0")), "<none>");
}

TEST(EmulatorCoreFaults, LatencyIsBoundedAndReproducible) {
  auto o = small_options();
  o.faults.latency = 10ms;
  o.faults.latency_jitter = 5ms;
  EmulatorCore a(o, t0), b(o, t0);
  std::set<std::int64_t> seen;
  for (int i = 0; i < 100; ++i) {
    const auto ra = get_video(a, "lv0");
    const auto rb = get_video(b, "lv0");
    EXPECT_EQ(ra.delay, rb.delay);
    EXPECT_GE(ra.delay, 10ms);
    EXPECT_LE(ra.delay, 15ms);
    seen.insert(ra.delay.count());
  }
  EXPECT_GT(seen.size(), 3u);
  // The emulator's own endpoints are not delayed.
  EXPECT_EQ(a.handle({"GET", "/_emulator/stats", std::nullopt, "", ""}, t0).delay, 0ms);
}

TEST(EmulatorCoreFaults, OutageWindowAnswersHtml503BeforeAuth) {
  auto o = small_options();
  o.faults.outage_start = 100ms;
  o.faults.outage_duration = 50ms;
  EmulatorCore core(o, t0);
  EXPECT_EQ(get_video(core, "lv0").status, 200);
  const auto during = core.handle({"GET", "/nowhere", std::nullopt, "", ""}, t0 + 100ms);
  EXPECT_EQ(during.status, 503);
  EXPECT_STREQ(during.fault, "outage");
  EXPECT_EQ(cut(core, "lv0", ms_body, auth, "p1", t0 + 149ms).status, 503);
  EXPECT_EQ(core.stats().cuts_made, 0u);
  EXPECT_EQ(cut(core, "lv0", ms_body, auth, "p1", t0 + 150ms).status, 200);
  // Stats stay reachable during an outage.
  EXPECT_EQ(core.handle({"GET", "/_emulator/stats", std::nullopt, "", ""}, t0 + 120ms).status, 200);
}

TEST(EmulatorCoreFaults, RateLimitIsATokenBucket) {
  auto o = small_options();
  o.faults.rate_limit_rps = 2;
  o.faults.rate_limit_burst = 3;
  EmulatorCore core(o, t0);
  auto at = [&](clock_type::time_point t) {
    return core.handle({"GET", "/api/v1/p1/live-videos/lv0", auth, "", ""}, t);
  };
  EXPECT_EQ(at(t0).status, 200);
  EXPECT_EQ(at(t0).status, 200);
  EXPECT_EQ(at(t0).status, 200);
  const auto limited = at(t0);
  EXPECT_EQ(limited.status, 429);
  EXPECT_STREQ(limited.fault, "rate_limit");
  ASSERT_EQ(limited.headers.size(), 1u);
  EXPECT_EQ(limited.headers[0].first, "Retry-After");
  EXPECT_EQ(limited.headers[0].second, "1");
  EXPECT_EQ(at(t0 + 400ms).status, 429);  // 0.8 of a token
  EXPECT_EQ(at(t0 + 600ms).status, 200);  // 1.2 tokens
  EXPECT_EQ(at(t0 + 600ms).status, 429);
  EXPECT_EQ(at(t0 + 10s).status, 200);  // refilled, but only up to the burst
  EXPECT_EQ(at(t0 + 10s).status, 200);
  EXPECT_EQ(at(t0 + 10s).status, 200);
  EXPECT_EQ(at(t0 + 10s).status, 429);
}

TEST(EmulatorCore, StatsEndpointNeedsNoAuth) {
  EmulatorCore core(small_options(), t0);
  cut(core, "lv0");
  cut(core, "lv0");
  const auto r = core.handle({"GET", "/_emulator/stats", std::nullopt, "", ""}, t0);
  ASSERT_EQ(r.status, 200);
  const auto o = parse_object(r.body);
  EXPECT_EQ(o.at("requests").as_int64(), 3);
  EXPECT_EQ(o.at("requestsByStatus").at("200").as_int64(), 1);
  EXPECT_EQ(o.at("requestsByStatus").at("400").as_int64(), 1);
  EXPECT_EQ(o.at("connectionsAccepted").as_int64(), 0);
  EXPECT_EQ(o.at("cutsMade").as_int64(), 1);
  EXPECT_EQ(o.at("repeatedCuts").as_int64(), 1);
  EXPECT_EQ(o.at("droppedConnections").as_int64(), 0);
  EXPECT_EQ(o.at("idsDelivered").as_int64(), 0);
  EXPECT_EQ(core.handle({"POST", "/_emulator/stats", std::nullopt, "", ""}, t0).status, 405);
}

TEST(EmulatorCore, RecordLineHoldsNoSecret) {
  EmulatorCore core(small_options(), t0);
  const std::string target = cut_target("p1", "lv0");
  const EmulatorRequest req{"POST", target, auth, "application/json", ms_body};
  const auto r = core.handle(req, t0);
  const std::string line =
      EmulatorCore::record_line(req, r, r.status, std::chrono::system_clock::now());
  EXPECT_EQ(line.find("sekret"), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const auto o = parse_object(line);
  EXPECT_EQ(o.at("method").as_string(), "POST");
  EXPECT_EQ(o.at("target").as_string(), target);
  EXPECT_TRUE(o.at("authorized").as_bool());
  EXPECT_EQ(o.at("authScheme").as_string(), "bearer");
  EXPECT_EQ(o.at("contentType").as_string(), "application/json");
  EXPECT_EQ(o.at("body").as_string(), ms_body);
  EXPECT_EQ(o.at("status").as_int64(), 200);
  EXPECT_TRUE(o.at("fault").is_null());
  EXPECT_EQ(o.at("videoPublicId").as_string(), r.video_public_id);
  EXPECT_TRUE(o.at("ts").is_string());

  const EmulatorRequest raw{"GET", "/x", std::string_view("sekret-key"), "", ""};
  const auto rr = core.handle(raw, t0);
  EXPECT_EQ(std::string(rr.auth_scheme), "raw");
  EXPECT_FALSE(rr.authorized);
  const EmulatorRequest other{"GET", "/x", std::string_view("Basic abc"), "", ""};
  EXPECT_EQ(std::string(core.handle(other, t0).auth_scheme), "other");
  EXPECT_EQ(std::string(core.handle({"GET", "/x", std::nullopt, "", ""}, t0).auth_scheme), "none");
}

TEST(EmulatorCore, VideosFileNamesProjectsAndVideos) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("emu-videos-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + ".csv");
  std::ofstream(path) << "projectId,liveVideoId\n# a comment\nalpha,stream-1\n\n beta , s2 \n";
  auto o = small_options();
  o.projects = {"gamma"};
  o.videos_file = path;
  EmulatorCore core(o, t0);
  const auto vids = core.videos();
  ASSERT_EQ(vids.size(), 2u);
  EXPECT_EQ(vids[0].project_id, "alpha");
  EXPECT_EQ(vids[0].live_video_id, "stream-1");
  EXPECT_EQ(vids[1].project_id, "beta");
  EXPECT_EQ(vids[1].live_video_id, "s2");
  expect_envelope(cut(core, "stream-1", ms_body, auth, "alpha"), 200);
  expect_envelope(cut(core, "lv0", ms_body, auth, "gamma"), 404);  // known project, no video
  expect_envelope(cut(core, "lv0", ms_body, auth, "p1"), 403);

  std::ofstream(path) << "alpha,stream-1\njust-one-column\n";
  try {
    EmulatorCore bad(o, t0);
    ADD_FAILURE() << "a malformed videos file was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(":2:"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
  EXPECT_THROW(EmulatorCore(o, t0), std::runtime_error);  // unreadable
}
