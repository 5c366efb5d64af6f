#include "batchcut/net/api.hpp"

#include <boost/json.hpp>
#include <cctype>
#include <charconv>

#include "batchcut/util/time_util.hpp"

namespace batchcut {

namespace json = boost::json;

std::string BaseUrl::to_string() const {
  return std::string(tls ? "https://" : "http://") + host_header() + path_prefix;
}

std::string BaseUrl::host_header() const {
  const bool v6 = host.find(':') != std::string::npos;
  std::string h = v6 ? "[" + host + "]" : host;
  if (port != (tls ? 443 : 80)) h += ":" + std::to_string(port);
  return h;
}

std::optional<BaseUrl> parse_base_url(std::string_view text, std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<BaseUrl> {
    if (error) *error = why;
    return std::nullopt;
  };
  BaseUrl url;
  if (text.starts_with("https://")) {
    text.remove_prefix(8);
  } else if (text.starts_with("http://")) {
    url.tls = false;
    url.port = 80;
    text.remove_prefix(7);
  } else {
    return fail("must start with http:// or https://");
  }
  const auto slash = text.find('/');
  std::string_view authority = text.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : text.substr(slash);
  if (authority.find('@') != std::string_view::npos)
    return fail("must not carry credentials; use VP_API_KEY or --api-key-file");
  std::string_view port_text;
  if (authority.starts_with("[")) {  // [v6]:port
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return fail("unclosed '[' in host");
    url.host = std::string(authority.substr(1, close - 1));
    auto rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return fail("junk after ']'");
      port_text = rest.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (url.host.empty()) return fail("has no host");
  if (!port_text.empty() || authority.ends_with(":")) {
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), p);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || p == 0 || p > 65535)
      return fail("has a bad port '" + std::string(port_text) + "'");
    url.port = static_cast<std::uint16_t>(p);
  }
  if (path.find_first_of("?#") != std::string_view::npos)
    return fail("must not have a query or fragment");
  for (unsigned char ch : path) {  // RFC 3986 path characters only: it goes into the request line
    if (!(std::isalnum(ch) || std::string_view("-._~/%!$&'()*+,;=:@").find(static_cast<char>(ch)) !=
                                  std::string_view::npos))
      return fail("has a character a URL path cannot hold");
  }
  while (path.ends_with("/")) path.remove_suffix(1);
  url.path_prefix = std::string(path);
  return url;
}

// Ids are validated to [A-Za-z0-9_-] elsewhere; should a crafted one get into a path anyway,
// it is encoded here, so it cannot hold a '/', '?', '#' or line break. (An id of "." or ".."
// is refused by the transport.)
void append_percent_encoded(std::string& out, std::string_view id) {
  static constexpr char hex[] = "0123456789ABCDEF";
  for (const char ch : id) {
    const auto c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0xf];
    }
  }
}

namespace {

void append_segment(std::string& out, std::string_view id) { append_percent_encoded(out, id); }

std::string video_path(const BaseUrl& base, const char* api, const JobSpec& job) {
  std::string t;
  t.reserve(base.path_prefix.size() + 40 + job.project_id.size() + job.live_video_id.size());
  t += base.path_prefix;
  t += api;
  append_segment(t, job.project_id);
  t += "/live-videos/";
  append_segment(t, job.live_video_id);
  return t;
}

}  // namespace

std::string stop_and_cut_target(const BaseUrl& base, const JobSpec& job) {
  return video_path(base, "/api/v2/", job) + "/stop-and-cut";
}

std::string live_video_target(const BaseUrl& base, const JobSpec& job) {
  return video_path(base, "/api/v1/", job);
}

std::string stop_and_cut_body(const JobSpec& job) {
  // Built by hand: every value is a number, null, or a date we formatted ourselves.
  std::string body;
  body.reserve(160);
  auto quoted = [](utc_time t) { return "\"" + format_api_time(t) + "\""; };
  const bool dt = job.range == RangeKind::datetime;
  const bool ms = job.range == RangeKind::ms;
  body += "{\"dateTimeFrom\":";
  body += dt ? quoted(job.from_time) : "null";
  body += ",\"dateTimeTo\":";
  body += dt ? quoted(job.to_time) : "null";
  body += ",\"fromMilisecond\":";
  body += ms ? std::to_string(job.from_ms) : "null";
  body += ",\"toMilisecond\":";
  body += ms ? std::to_string(job.to_ms) : "null";
  body += ",\"videoVisibilityOptionId\":";
  body += std::to_string(static_cast<int>(job.visibility));
  body += "}";
  return body;
}

std::string cut_and_publish_target(const BaseUrl& base, const JobSpec& job) {
  return video_path(base, "/api/v2/", job) + "/cut-and-publish";
}

std::string cut_and_publish_body(const JobSpec& job) {
  // Only the millisecond pair is documented for this call; the validator refuses the rest.
  std::string body = "{\"title\":";
  body += json::serialize(json::string(job.title));
  body += ",\"fromMilisecond\":" + std::to_string(job.from_ms);
  body += ",\"toMilisecond\":" + std::to_string(job.to_ms);
  body += ",\"videoVisibilityOptionId\":" + std::to_string(static_cast<int>(job.visibility));
  body += "}";
  return body;
}

std::string cut_target(const BaseUrl& base, const JobSpec& job) {
  return job.kind == JobKind::clip ? cut_and_publish_target(base, job) : stop_and_cut_target(base, job);
}

std::string cut_body(const JobSpec& job) {
  return job.kind == JobKind::clip ? cut_and_publish_body(job) : stop_and_cut_body(job);
}

const char* to_string(TransportError e) {
  switch (e) {
    case TransportError::none: return "none";
    case TransportError::resolve: return "resolve";
    case TransportError::connect: return "connect";
    case TransportError::tls_handshake: return "tls_handshake";
    case TransportError::tls_verify: return "tls_verify";
    case TransportError::write: return "write";
    case TransportError::timeout: return "timeout";
    case TransportError::closed: return "closed";
    case TransportError::protocol: return "protocol";
    case TransportError::too_large: return "too_large";
  }
  return "?";
}

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::success: return "success";
    case Verdict::retry: return "retry";
    case Verdict::permanent: return "permanent";
    case Verdict::fatal: return "fatal";
  }
  return "?";
}

namespace {

constexpr std::size_t max_messages = 10;
constexpr std::size_t max_message_length = 500;

std::string clip(std::string_view s) {
  std::string out(s.substr(0, max_message_length));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return out;
}

// What the envelope says, when the body is one. Never throws.
struct Envelope {
  bool is_json_object = false;
  std::string video_public_id;
  std::vector<std::string> messages;
};

void collect_messages(const json::value* v, std::vector<std::string>& out) {
  if (!v || !v->is_array()) return;
  for (const auto& m : v->get_array()) {
    if (out.size() >= max_messages) return;
    if (m.is_string()) {
      out.push_back(clip(m.get_string()));
    } else if (m.is_object()) {  // {"message": ".."} or {"code":..,"description":..}
      for (const char* key : {"message", "description", "errorMessage"}) {
        if (auto* s = m.get_object().if_contains(key); s && s->is_string()) {
          out.push_back(clip(s->get_string()));
          break;
        }
      }
    }
  }
}

Envelope read_envelope(std::string_view body) {
  Envelope env;
  json::error_code ec;
  // Parsed into a stack buffer (spilling to the heap only for a large body): this runs once
  // per answer, on the hot path.
  unsigned char scratch[4096];
  json::monotonic_resource mr(scratch, sizeof scratch);
  json::value v = json::parse(body, ec, &mr);
  if (ec || !v.is_object()) return env;
  env.is_json_object = true;
  const auto& obj = v.get_object();
  if (auto* result = obj.if_contains("result"); result && result->is_object()) {
    if (auto* id = result->get_object().if_contains("videoPublicId"); id && id->is_string())
      env.video_public_id = std::string(id->get_string());
  }
  collect_messages(obj.if_contains("errors"), env.messages);
  collect_messages(obj.if_contains("messages"), env.messages);
  return env;
}

bool plausible_id(std::string_view id) {
  if (id.empty() || id.size() > 256) return false;
  for (unsigned char c : id)
    if (c < 0x21 || c > 0x7e) return false;
  return true;
}

std::string reason_phrase(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
  }
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  // Anything past a day is read as a day (more likely a bug than a wish); the caller's
  // --max-retry-after decides what to do with a long one.
  constexpr long long day = 86400;
  long long seconds = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (end == value.data() + value.size() && value.front() != '-') {
    if (ec == std::errc{}) return std::chrono::seconds(std::min(seconds, day));
    if (ec == std::errc::result_out_of_range) return std::chrono::seconds(day);  // all digits, huge
  }
  if (auto date = parse_http_date(value)) {
    // In whole seconds: a date far in the future must not overflow a nanosecond clock.
    const auto now_s = std::chrono::floor<std::chrono::seconds>(now).time_since_epoch().count();
    const long long delta = date->time_since_epoch().count() - now_s;
    if (delta <= 0) return std::chrono::milliseconds(0);
    return std::chrono::seconds(std::min(delta, day));
  }
  return std::nullopt;
}

Classification classify(const AttemptResult& r, std::chrono::system_clock::time_point now) {
  Classification c;
  if (r.status == 0) {  // no HTTP answer at all
    c.error = std::string(to_string(r.error)) + (r.error_text.empty() ? "" : ": " + r.error_text);
    // A certificate that does not verify: we may be talking to an impostor. Stop.
    if (r.error == TransportError::tls_verify) {
      c.verdict = Verdict::fatal;
      return c;
    }
    // Anything else is retried. It is in doubt only once the whole request left: a failed
    // resolve, connect, handshake or write means nothing complete reached the server.
    c.verdict = Verdict::retry;
    c.ambiguous = r.request_sent;
    return c;
  }

  const Envelope env = read_envelope(r.body);
  c.messages = env.messages;
  const std::string phrase = reason_phrase(r.status);
  c.error = "HTTP " + std::to_string(r.status) + (phrase.empty() ? "" : " " + phrase);
  if (!env.messages.empty()) c.error += ": " + env.messages.front();
  if (r.error != TransportError::none) c.error += " (" + std::string(to_string(r.error)) + ")";

  const int s = r.status;
  if (s < 200) {
    // An interim answer with nothing after it: the request was sent, and no final status
    // says whether the backend acted.
    c.verdict = Verdict::retry;
    c.ambiguous = true;
    c.error += ": no final answer";
    return c;
  }
  if (s >= 200 && s < 300) {
    if (r.error == TransportError::none && plausible_id(env.video_public_id)) {
      c.verdict = Verdict::success;
      c.video_public_id = env.video_public_id;
      c.error.clear();
      return c;
    }
    // The server says it acted, but we cannot read the id: the cut probably happened.
    c.verdict = Verdict::retry;
    c.ambiguous = true;
    c.error += env.is_json_object ? ": success without a videoPublicId" : ": unreadable body";
    return c;
  }
  if (s == 429 || s == 503) c.retry_after = parse_retry_after(r.retry_after, now);
  switch (s) {
    case 401:
      c.verdict = Verdict::fatal;
      return c;
    case 429:  // rate limited before reaching the backend
    case 408:  // the server gave up reading our request
      c.verdict = Verdict::retry;
      return c;
    default:
      if (s >= 500) {
        // 500, 502, 503, 504, and every other server-side answer (a CDN's 520-524, a 501
        // from a confused proxy): the backend may have acted. Retry, but in doubt.
        c.verdict = Verdict::retry;
        c.ambiguous = true;
        return c;
      }
      // 400, 403, 404 and every other 4xx or 3xx: this job will not succeed by repeating
      // it, and the server says it did not act.
      c.verdict = Verdict::permanent;
      return c;
  }
}

std::optional<bool> parse_can_stop_and_cut(std::string_view body) {
  json::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  auto* result = v.get_object().if_contains("result");
  if (!result || !result->is_object()) return std::nullopt;
  auto* flag = result->get_object().if_contains("canStopAndCut");
  if (!flag || !flag->is_bool()) return std::nullopt;
  if (flag->get_bool()) {
    auto* status = result->get_object().if_contains("liveStatus");
    if (status && status->is_string() && status->get_string() == "Processing") return std::nullopt;
  }
  return flag->get_bool();
}

std::string parse_live_video_title(std::string_view body) {
  json::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return {};
  auto* result = v.get_object().if_contains("result");
  if (!result || !result->is_object()) return {};
  auto* title = result->get_object().if_contains("title");
  if (!title || !title->is_string()) return {};
  return std::string(title->get_string());
}

}  // namespace batchcut
