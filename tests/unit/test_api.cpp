// The wire contract: URLs, request bodies, and what each kind of answer means.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "batchcut/net/api.hpp"
#include "batchcut/net/loopback.hpp"
#include "batchcut/util/time_util.hpp"

using namespace batchcut;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

JobSpec job(RangeKind kind) {
  JobSpec j;
  j.project_id = "proj_1";
  j.live_video_id = "lv-42";
  j.visibility = Visibility::password;
  j.range = kind;
  if (kind == RangeKind::ms) {
    j.from_ms = 1000;
    j.to_ms = 2147483647;
  }
  if (kind == RangeKind::datetime) {
    j.from_time = *parse_iso8601("2024-05-23T20:09:29.8106349");
    j.to_time = *parse_iso8601("2024-05-23T22:09:29+02:00");
  }
  return j;
}

AttemptResult answer(int status, std::string body, std::string retry_after = "") {
  AttemptResult r;
  r.request_sent = true;
  r.status = status;
  r.body = std::move(body);
  r.retry_after = std::move(retry_after);
  return r;
}

AttemptResult transport_error(TransportError e, bool sent) {
  AttemptResult r;
  r.error = e;
  r.request_sent = sent;
  return r;
}

const char* ok_body =
    R"({"success":true,"errors":[],"messages":[],"result":{"videoPublicId":"vjsabc123"},"resultInfo":null,"statusCode":200})";
const char* varnish_503 =
    "<!DOCTYPE html>\n<html><head><title>503 Backend fetch failed</title></head><body>"
    "<h1>Error 503 Backend fetch failed</h1><p>Guru Meditation:</p><p>XID: 12345</p></body></html>";

}  // namespace

TEST(BaseUrlTest, ParsesSchemesPortsAndPrefixes) {
  auto u = parse_base_url("https://livestream.vp.gjirafa.tech");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "livestream.vp.gjirafa.tech");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->host_header(), "livestream.vp.gjirafa.tech");

  u = parse_base_url("http://127.0.0.1:8080/proxy/");
  ASSERT_TRUE(u);
  EXPECT_FALSE(u->tls);
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->path_prefix, "/proxy");
  EXPECT_EQ(u->host_header(), "127.0.0.1:8080");
  EXPECT_EQ(u->to_string(), "http://127.0.0.1:8080/proxy");

  u = parse_base_url("https://[::1]:9443");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->host_header(), "[::1]:9443");
}

TEST(BaseUrlTest, RejectsWhatItCannotUse) {
  std::string why;
  EXPECT_FALSE(parse_base_url("ftp://x", &why));
  EXPECT_NE(why.find("http"), std::string::npos);
  EXPECT_FALSE(parse_base_url("https://", &why));
  EXPECT_FALSE(parse_base_url("https://host:99999", &why));
  EXPECT_FALSE(parse_base_url("https://host:", &why));
  EXPECT_FALSE(parse_base_url("https://user:secret@host", &why));
  EXPECT_EQ(why.find("secret"), std::string::npos);  // never echo a credential
  EXPECT_FALSE(parse_base_url("https://host/x?y=1", &why));
  EXPECT_FALSE(parse_base_url("https://host/a b", &why));
  EXPECT_FALSE(parse_base_url("https://host/a\r\nX-Evil: 1", &why));
}

TEST(Request, TargetsFollowTheApi) {
  auto base = *parse_base_url("https://h");
  EXPECT_EQ(stop_and_cut_target(base, job(RangeKind::whole)),
            "/api/v2/proj_1/live-videos/lv-42/stop-and-cut");
  EXPECT_EQ(live_video_target(base, job(RangeKind::whole)), "/api/v1/proj_1/live-videos/lv-42");
  auto prefixed = *parse_base_url("http://h:1/gw");
  EXPECT_EQ(stop_and_cut_target(prefixed, job(RangeKind::whole)),
            "/gw/api/v2/proj_1/live-videos/lv-42/stop-and-cut");
}

// The path's segments, as a server splits them (the query, if any, cut off).
std::vector<std::string> segments(const std::string& target) {
  std::vector<std::string> out;
  const std::string path = target.substr(0, target.find('?'));
  for (std::size_t start = 1; start <= path.size();) {
    const auto end = std::min(path.find('/', start), path.size());
    out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

TEST(Request, CraftedIdsCannotLeaveTheirPathSegment) {
  auto base = *parse_base_url("https://h/gw");
  auto crafted = job(RangeKind::whole);
  crafted.live_video_id = "../../admin?x=";
  const auto cut = stop_and_cut_target(base, crafted);
  EXPECT_EQ(cut, "/gw/api/v2/proj_1/live-videos/..%2F..%2Fadmin%3Fx%3D/stop-and-cut");
  EXPECT_EQ(cut.find('?'), std::string::npos);
  EXPECT_EQ(segments(cut), (std::vector<std::string>{"gw", "api", "v2", "proj_1", "live-videos",
                                                     "..%2F..%2Fadmin%3Fx%3D", "stop-and-cut"}));
  EXPECT_EQ(segments(live_video_target(base, crafted)).size(), 6u);

  crafted.project_id = "p\r\nX: y";
  crafted.live_video_id = "lv#frag\r\n\xff";
  for (const auto& t : {stop_and_cut_target(base, crafted), live_video_target(base, crafted)}) {
    EXPECT_EQ(t.find_first_of("\r\n #"), std::string::npos) << t;
    for (unsigned char c : t) EXPECT_TRUE(c > 0x20 && c < 0x7f) << t;
  }
  EXPECT_EQ(live_video_target(base, crafted), "/gw/api/v1/p%0D%0AX%3A%20y/live-videos/lv%23frag%0D%0A%FF");
}

TEST(Request, MillisecondBodySendsDatesAsNull) {
  const auto v = json::parse(stop_and_cut_body(job(RangeKind::ms)));
  const auto& o = v.as_object();
  EXPECT_EQ(o.size(), 5u);
  EXPECT_TRUE(o.at("dateTimeFrom").is_null());
  EXPECT_TRUE(o.at("dateTimeTo").is_null());
  EXPECT_EQ(o.at("fromMilisecond").as_int64(), 1000);
  EXPECT_EQ(o.at("toMilisecond").as_int64(), 2147483647);
  EXPECT_EQ(o.at("videoVisibilityOptionId").as_int64(), 3);
}

TEST(Request, DatetimeBodySendsUtcMillisecondsAndNullOffsets) {
  const auto v = json::parse(stop_and_cut_body(job(RangeKind::datetime)));
  const auto& o = v.as_object();
  EXPECT_EQ(o.at("dateTimeFrom").as_string(), "2024-05-23T20:09:29.810Z");
  EXPECT_EQ(o.at("dateTimeTo").as_string(), "2024-05-23T20:09:29.000Z");  // +02:00 -> UTC
  EXPECT_TRUE(o.at("fromMilisecond").is_null());
  EXPECT_TRUE(o.at("toMilisecond").is_null());
}

TEST(Request, WholeStreamBodyIsAllNullButVisibility) {
  EXPECT_EQ(stop_and_cut_body(job(RangeKind::whole)),
            R"({"dateTimeFrom":null,"dateTimeTo":null,"fromMilisecond":null,"toMilisecond":null,"videoVisibilityOptionId":3})");
}

TEST(Classify, SuccessNeedsAVideoPublicId) {
  auto c = classify(answer(200, ok_body));
  EXPECT_EQ(c.verdict, Verdict::success);
  EXPECT_EQ(c.video_public_id, "vjsabc123");
  EXPECT_EQ(classify(answer(201, ok_body)).verdict, Verdict::success);

  for (const char* body : {"", "{}", "{\"result\":null}", "{\"result\":{\"videoPublicId\":42}}",
                           "{\"result\":{\"videoPublicId\":\"\"}}", "[1,2]", "{\"result\":{\"videoPub",
                           "<html>ok</html>"}) {
    auto bad = classify(answer(200, body));
    EXPECT_EQ(bad.verdict, Verdict::retry) << body;
    EXPECT_TRUE(bad.ambiguous) << body;  // the server may well have cut
    EXPECT_TRUE(bad.video_public_id.empty());
  }
}

TEST(Classify, PermanentErrorsKeepTheApiMessages) {
  auto c = classify(answer(400, R"({"success":false,"errors":["Live video cannot be stopped"],"messages":[],"result":null,"statusCode":400})"));
  EXPECT_EQ(c.verdict, Verdict::permanent);
  ASSERT_EQ(c.messages.size(), 1u);
  EXPECT_EQ(c.messages[0], "Live video cannot be stopped");
  EXPECT_NE(c.error.find("400"), std::string::npos);
  EXPECT_EQ(classify(answer(403, "")).verdict, Verdict::permanent);
  EXPECT_EQ(classify(answer(404, "<html>nope</html>")).verdict, Verdict::permanent);
  EXPECT_EQ(classify(answer(409, "")).verdict, Verdict::permanent);
  EXPECT_EQ(classify(answer(301, "")).verdict, Verdict::permanent);
  EXPECT_FALSE(classify(answer(422, "")).ambiguous);
}

TEST(Classify, UnauthorizedStopsTheRun) {
  EXPECT_EQ(classify(answer(401, "")).verdict, Verdict::fatal);
  EXPECT_EQ(classify(transport_error(TransportError::tls_verify, false)).verdict, Verdict::fatal);
}

TEST(Classify, AnyOther2xxWithoutAnIdIsInDoubt) {
  for (int s : {202, 204}) {
    auto c = classify(answer(s, ""));
    EXPECT_EQ(c.verdict, Verdict::retry) << s;
    EXPECT_TRUE(c.ambiguous) << s;
  }
}

TEST(Classify, ServerErrorsAreRetriedAndInDoubt) {
  for (int s : {500, 501, 502, 503, 504, 505, 520, 524, 599}) {
    auto c = classify(answer(s, s == 503 ? varnish_503 : ""));
    EXPECT_EQ(c.verdict, Verdict::retry) << s;
    EXPECT_TRUE(c.ambiguous) << s;
  }
}

TEST(Classify, AnInterimStatusAsTheAnswerIsInDoubtNeverPermanent) {
  for (int s : {100, 101, 102, 103, 199}) {
    auto c = classify(answer(s, ""));
    EXPECT_EQ(c.verdict, Verdict::retry) << s;
    EXPECT_TRUE(c.ambiguous) << s;
  }
}

TEST(Classify, RateLimitIsRetriedAndNotInDoubt) {
  auto c = classify(answer(429, "", "7"));
  EXPECT_EQ(c.verdict, Verdict::retry);
  EXPECT_FALSE(c.ambiguous);
  ASSERT_TRUE(c.retry_after);
  EXPECT_EQ(*c.retry_after, 7s);
}

TEST(Classify, RetryAfterAsHttpDateIsRelativeToNow) {
  const auto now = std::chrono::sys_seconds{std::chrono::sys_days{std::chrono::year{2026} / 11 / 26}} + 10h;
  auto c = classify(answer(503, varnish_503, format_http_date(now + 90s)), now);
  ASSERT_TRUE(c.retry_after);
  EXPECT_EQ(*c.retry_after, 90s);
  // A date in the past means "now"; garbage means no floor at all.
  EXPECT_EQ(*classify(answer(429, "", format_http_date(now - 5s)), now).retry_after, 0s);
  EXPECT_FALSE(classify(answer(429, "", "soon")).retry_after);
  EXPECT_FALSE(classify(answer(429, "", "-3")).retry_after);
}

TEST(Classify, RetryAfterPastADayIsReadAsADayWithoutOverflow) {
  const auto now = std::chrono::system_clock::now();
  EXPECT_EQ(*parse_retry_after("999999999", now), 24h);
  EXPECT_EQ(*parse_retry_after("99999999999999999999999999", now), 24h);  // past long long
  EXPECT_EQ(*parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now), 24h);  // past a ns clock
  EXPECT_EQ(*parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", now), 0s);
  EXPECT_FALSE(parse_retry_after("-99999999999999999999999999", now));
  EXPECT_FALSE(parse_retry_after("12abc", now));
}

TEST(Classify, TransportFailuresAreAmbiguousOnlyOnceTheRequestLeft) {
  for (auto e : {TransportError::connect, TransportError::resolve, TransportError::tls_handshake,
                 TransportError::write}) {
    auto c = classify(transport_error(e, false));
    EXPECT_EQ(c.verdict, Verdict::retry) << to_string(e);
    EXPECT_FALSE(c.ambiguous) << to_string(e);
  }
  for (auto e : {TransportError::timeout, TransportError::closed, TransportError::protocol}) {
    EXPECT_TRUE(classify(transport_error(e, true)).ambiguous) << to_string(e);
    EXPECT_FALSE(classify(transport_error(e, false)).ambiguous) << to_string(e);
  }
}

TEST(Classify, TruncatedSuccessIsNotASuccess) {
  auto r = answer(200, R"({"success":true,"result":{"videoPublicId":"vjs1"}})");
  r.error = TransportError::closed;  // the body arrived, but the connection broke mid-answer
  auto c = classify(r);
  EXPECT_EQ(c.verdict, Verdict::retry);
  EXPECT_TRUE(c.ambiguous);
}

TEST(Classify, HugeOrHostileBodiesAreClipped) {
  std::string many = R"({"errors":[)";
  for (int i = 0; i < 1000; ++i) many += (i ? "," : "") + std::string("\"") + std::string(2000, 'x') + "\"";
  many += "]}";
  auto c = classify(answer(400, many));
  EXPECT_LE(c.messages.size(), 10u);
  for (const auto& m : c.messages) EXPECT_LE(m.size(), 500u);
  auto ctl = classify(answer(400, "{\"errors\":[\"a\\nb\\u0001c\"]}"));
  ASSERT_EQ(ctl.messages.size(), 1u);
  EXPECT_EQ(ctl.messages[0], "a b c");
}

TEST(LiveVideo, ReadsCanStopAndCut) {
  EXPECT_EQ(parse_can_stop_and_cut(R"({"result":{"canStopAndCut":false,"liveStatus":"Offline"}})"), false);
  EXPECT_EQ(parse_can_stop_and_cut(R"({"result":{"canStopAndCut":true}})"), true);
  EXPECT_FALSE(parse_can_stop_and_cut(R"({"result":{"canStopAndCut":"no"}})"));
  EXPECT_FALSE(parse_can_stop_and_cut("<html>"));
  EXPECT_FALSE(parse_can_stop_and_cut(""));
  // A stop under way: "can stop" is not yet to be trusted; read again later.
  EXPECT_FALSE(parse_can_stop_and_cut(R"({"result":{"canStopAndCut":true,"liveStatus":"Processing"}})"));
  EXPECT_EQ(parse_can_stop_and_cut(R"({"result":{"canStopAndCut":false,"liveStatus":"Processing"}})"), false);
  EXPECT_EQ(parse_can_stop_and_cut(R"({"result":{"canStopAndCut":true,"liveStatus":"Live"}})"), true);
}

TEST(ClearText, AcceptsOnlyHostsWhoseEveryAddressIsLoopback) {
  for (const char* host : {"127.0.0.1", "localhost", "::1", "127.0.0.2", "127.255.255.254"})
    EXPECT_EQ(clear_text_refusal(host, 8080), std::nullopt) << host;

  // "127." as text is not an address: with no such name, it does not resolve.
  const auto named = clear_text_refusal("127.attacker.example", 80);
  ASSERT_TRUE(named);
  EXPECT_NE(named->find("127.attacker.example does not resolve"), std::string::npos) << *named;
  for (const char* host : {"10.1.2.3", "192.0.2.1", "0.0.0.0", "::", "2001:db8::1", "::ffff:10.1.2.3"}) {
    const auto refused = clear_text_refusal(host, 80);
    ASSERT_TRUE(refused) << host;
    EXPECT_NE(refused->find("not a loopback address"), std::string::npos) << *refused;
    EXPECT_EQ(refused->find('\n'), std::string::npos);
  }
}

TEST(ClearText, LoopbackAddressesIncludeMappedIpv4) {
  namespace ip = boost::asio::ip;
  EXPECT_TRUE(is_loopback(ip::make_address("127.0.0.1")));
  EXPECT_TRUE(is_loopback(ip::make_address("127.9.8.7")));
  EXPECT_TRUE(is_loopback(ip::make_address("::1")));
  EXPECT_TRUE(is_loopback(ip::make_address("::ffff:127.0.0.1")));
  EXPECT_FALSE(is_loopback(ip::make_address("::ffff:10.0.0.1")));
  EXPECT_FALSE(is_loopback(ip::make_address("128.0.0.1")));
  EXPECT_FALSE(is_loopback(ip::make_address("126.255.255.255")));
  EXPECT_FALSE(is_loopback(ip::make_address("::127.0.0.1")));  // IPv4-compatible, not mapped
}
