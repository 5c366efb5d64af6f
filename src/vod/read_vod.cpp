#include "batchcut/vod/read_vod.hpp"

#include <boost/json.hpp>
#include <charconv>
#include <cmath>

#include "batchcut/net/api.hpp"

namespace batchcut {

namespace json = boost::json;

namespace {

VodObservation unknown(VodObservation o, std::string why) {
  o.status = PublishStatus::unknown;
  o.error = std::move(why);
  return o;
}

// `duration`: a number, or a numeric string (some endpoints quote numbers); null: not known.
// Returns false for anything else.
bool read_duration(const json::value& v, std::optional<double>& out) {
  if (v.is_null()) return true;
  if (v.is_number()) {
    out = v.to_number<double>();
  } else if (v.is_string()) {
    const auto& s = v.get_string();
    double d = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
    if (ec != std::errc{} || end != s.data() + s.size()) return false;
    out = d;
  } else {
    return false;
  }
  return std::isfinite(*out) && *out >= 0;
}

}  // namespace

std::string vod_target(const BaseUrl& manage, std::string_view project_id, std::string_view video_public_id) {
  std::string t = manage.path_prefix + "/api/projects/";
  append_percent_encoded(t, project_id);
  t += "/videos/";
  append_percent_encoded(t, video_public_id);
  return t;
}

VodObservation parse_vod_answer(int http_status, std::string_view body, std::string_view video_public_id) {
  VodObservation o;
  o.video_public_id = std::string(video_public_id);
  o.http_status = http_status;
  if (http_status == 404) return unknown(std::move(o), "not found (yet)");
  if (http_status < 200 || http_status > 299) return unknown(std::move(o), "HTTP " + std::to_string(http_status));
  json::error_code ec;
  const json::value v = json::parse(body, ec);
  if (ec) return unknown(std::move(o), "HTTP " + std::to_string(http_status) + ": the body is not JSON");
  const json::object* env = v.if_object();
  const json::value* result = env ? env->if_contains("result") : nullptr;
  const json::object* r = result ? result->if_object() : nullptr;
  if (!r) return unknown(std::move(o), "HTTP " + std::to_string(http_status) + ": the body has no result object");
  const json::value* id = r->if_contains("publishStatusId");
  if (!id || !id->is_int64()) {
    if (id && id->is_uint64()) return unknown(std::move(o), "unknown publishStatusId " + std::to_string(id->get_uint64()));
    return unknown(std::move(o), "the result has no publishStatusId (a whole number)");
  }
  if (const json::value* d = r->if_contains("duration"); d && !read_duration(*d, o.duration_s)) {
    o.duration_s.reset();
    return unknown(std::move(o), "the result's duration is not a number of seconds");
  }
  const auto status = publish_status_from_id(id->get_int64());
  if (!status) return unknown(std::move(o), "unknown publishStatusId " + std::to_string(id->get_int64()));
  o.status = *status;
  return o;
}

std::optional<double> requested_duration_s(const JobSpec& job) {
  switch (job.range) {
    case RangeKind::whole: return std::nullopt;
    case RangeKind::ms: return (static_cast<double>(job.to_ms) - static_cast<double>(job.from_ms)) / 1000.0;
    case RangeKind::datetime: return std::chrono::duration<double>(job.to_time - job.from_time).count();
  }
  return std::nullopt;
}

double default_duration_tolerance_s(double expected_s) { return std::max(2.0, 0.01 * expected_s); }

bool duration_mismatch(std::optional<double> duration_s, std::optional<double> expected_s,
                       std::optional<double> tolerance_s) {
  if (!duration_s || !expected_s) return false;
  const double tolerance = tolerance_s ? *tolerance_s : default_duration_tolerance_s(*expected_s);
  return std::abs(*duration_s - *expected_s) > tolerance;
}

}  // namespace batchcut
