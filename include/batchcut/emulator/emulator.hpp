// vp-emulator: a faithful fake of the VP livestream API, for tests, benchmarks, the demo
// and users rehearsing a manifest. Runs its own threads; start() returns once listening.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "batchcut/net/auth.hpp"

namespace batchcut {

struct EmulatorFaults {
  std::uint64_t seed = 1;  // same seed + same request order => same faults
  // Probabilities in [0,1], drawn once per stop-and-cut request, in this order:
  double p500 = 0;        // 500 with a JSON envelope body; the cut is NOT made
  double p503 = 0;        // 503 with Varnish's HTML "Backend fetch failed" page; no cut
  double p429 = 0;        // 429 with Retry-After: retry_after_seconds; no cut
  double p_cut_drop = 0;  // the cut IS made, then the connection is closed before a response
  double p500_after_cut = 0;  // the cut IS made, then a 500 is answered (in doubt)
  double p_slow_cut = 0;  // the cut IS made, but the answer comes only after slow_cut_delay
  std::chrono::milliseconds slow_cut_delay{5000};
  int retry_after_seconds = 1;
  // Latency added before answering any API request: fixed + uniform random in [0, jitter].
  std::chrono::milliseconds latency{0};
  std::chrono::milliseconds latency_jitter{0};
  // Server-side rate limit over all API requests (token bucket); 0 = off. Over it: 429.
  double rate_limit_rps = 0;
  double rate_limit_burst = 1;
  // Outage: every API request answers 503 (HTML) during [start, start+duration) after start().
  std::chrono::milliseconds outage_start{0};
  std::chrono::milliseconds outage_duration{0};
  // Every API answer carries a Content-Security-Policy header with a value this long, as a
  // CDN's can be; 0 = off. Over 8 KiB it passes a default Beast client's header limit.
  std::size_t extra_header_bytes = 0;
  // A careless server: every JSON error answer (401, 404, 500, ...) quotes the Authorization
  // header it received as its first error message. For tests that the key is redacted.
  bool echo_authorization = false;
  // The VOD after the cut (manage API): Processing for encode_time after it is made, then
  // Ready, or Failed with probability p_encode_fail (drawn when it is made).
  std::chrono::milliseconds encode_time{2000};
  double p_encode_fail = 0;
  double p_short_duration = 0;  // the VOD is half as long as asked
  // The video list answers no parentVideoId (and ignores that filter): the API may not.
  bool list_omits_parent = false;
};

enum class EmulatorTls { none, files, self_signed };

struct EmulatorOptions {
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 0;  // 0: pick an ephemeral port; see Emulator::port()
  std::string api_key = "test-key";
  AuthScheme auth_scheme = AuthScheme::bearer;
  std::vector<std::string> projects = {"proj1"};
  int videos_per_project = 100;             // lv0..lv{N-1} in every project
  std::optional<std::filesystem::path> videos_file;  // lines "projectId,liveVideoId" instead
  EmulatorTls tls = EmulatorTls::none;
  std::filesystem::path tls_cert, tls_key;  // for EmulatorTls::files
  std::optional<std::filesystem::path> ca_out;  // self_signed: where to write the CA PEM
  // self_signed: the names the server's certificate carries (OpenSSL subjectAltName syntax);
  // tests give it another name to prove clients refuse it.
  std::string tls_alt_names = "IP:127.0.0.1,DNS:localhost,IP:::1";
  // Speak only TLS 1.0 and 1.1 (with the old ciphers they need): proves clients refuse them.
  bool tls_legacy_only = false;
  std::optional<std::filesystem::path> record;  // one JSON line per request
  int threads = 1;
  EmulatorFaults faults;
  // Called (on a server thread) for every request received, with its 1-based number and
  // target, before it is handled. For tests that act at a chosen moment, e.g. kill a client.
  std::function<void(std::uint64_t, std::string_view)> on_request;
};

struct EmulatorStats {
  std::map<int, std::uint64_t> requests_by_status;  // responses sent, by status
  std::uint64_t requests = 0;                // every HTTP request received
  std::uint64_t connections_accepted = 0;
  std::uint64_t cuts_made = 0;               // stop-and-cuts that stopped a stream
  std::uint64_t repeated_cuts = 0;           // stop-and-cuts on an already stopped stream
  std::uint64_t dropped_connections = 0;     // cut-then-drop faults fired
  std::uint64_t ids_delivered = 0;           // videoPublicIds written in a complete response
  std::uint64_t clips_made = 0;              // cut-and-publish calls that made a clip
  std::uint64_t repeated_clips = 0;          // clips made with a title the live video already had one of
  std::uint64_t vod_reads = 0;               // manage-API reads: a VOD by id, or the video list
};

// One VOD the emulator made (for tests): of a stop-and-cut, or a clip.
struct EmulatedVod {
  std::string video_public_id, project_id, live_video_id, title;
  bool clip = false;
  bool will_fail = false;      // its encoding ends Failed
  double duration_s = 0;
};

// One entry of the emulator's knowledge of a live video (for tests).
struct EmulatorVideo {
  std::string project_id, live_video_id;
  bool stopped = false;
  int cut_count = 0;               // > 1 would mean a duplicate VOD
  std::string video_public_id;     // of the VOD made, if any
  bool id_delivered = false;       // the id went out in a complete response
};

class Emulator {
 public:
  explicit Emulator(EmulatorOptions options);
  ~Emulator();  // stops
  Emulator(const Emulator&) = delete;
  Emulator& operator=(const Emulator&) = delete;

  void start();  // binds, listens, starts threads; throws std::runtime_error on failure
  void stop();
  std::uint16_t port() const;
  std::string base_url() const;  // http(s)://HOST:PORT
  std::string ca_pem() const;    // self-signed CA, PEM; empty without TLS

  // A delivery counts once the server's write has completed, which can trail the client's
  // read by a moment; after stop() (which lets writes in progress finish, up to 2 s) the
  // numbers are settled. GET /_emulator/stats on the same keep-alive connection is too.
  EmulatorStats stats() const;
  std::vector<EmulatorVideo> videos() const;  // sorted by project, then live video id
  std::vector<EmulatedVod> vods() const;      // in the order they were made

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// ---- The request-handling logic, without sockets ----
// EmulatorCore decides "given method, target, Authorization, body, state, fault draw ->
// response"; the Beast server in emulator.cpp only moves bytes, waits `delay` on an async
// timer and drops the connection when told. Thread-safe; unit-tested directly.
//
// Where faults sit (a deliberate choice, mirroring a Varnish proxy in front of the API):
//  * proxy level, before routing and auth: the outage window (HTML 503), the rate limit
//    (429 + Retry-After), latency (on every API request), the extra header (on every API
//    answer), and the p503 / p429 draws of a POST stop-and-cut. None of these makes a cut.
//  * the same draws for a POST cut-and-publish (a clip), which is valid on a stopped stream too;
//  * backend level, only on an otherwise valid stop-and-cut of a live video (after auth,
//    project, video, body and state checks): p500 (no cut), p_cut_drop, p500_after_cut and
//    p_slow_cut (all three make the cut).
// One uniform draw per routed POST stop-and-cut decides the fault, compared with the
// cumulative probabilities in the order of EmulatorFaults; the draw is
// splitmix64(seed + request sequence number), so the same seed and request order give
// the same faults.

struct EmulatorRequest {
  std::string_view method;  // "GET", "POST", ...
  std::string_view target;  // origin form; a query string is ignored
  std::optional<std::string_view> authorization;  // nullopt: no Authorization header
  std::string_view content_type;
  std::string_view body;
};

struct EmulatorResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // Retry-After, Allow, X-Varnish..
  bool drop = false;  // close the connection without answering (the cut was made)
  std::chrono::milliseconds delay{0};  // wait this long before answering (latency, slow cut)
  const char* fault = nullptr;  // the fault that fired, if any ("outage", "503", ...)
  bool authorized = false;      // the Authorization header was exactly the expected value
  const char* auth_scheme = "none";  // how it was presented: bearer | raw | none | other
  std::string video_key;        // "project/id" of the video cut by this request, if any
  std::string video_public_id;  // id of the VOD made by this request, if any
  bool carries_id = false;      // the body holds video_public_id (a 200 after a cut)
  // For the record: what the request was ("stop-and-cut", "cut-and-publish", "live-video",
  // "vod", "vod-list", ...), for which live video, and a clip's title.
  const char* kind = "other";
  std::string project_id, live_video_id, title;
};

class EmulatorCore {
 public:
  using clock = std::chrono::steady_clock;
  // Loads the videos (throws std::runtime_error for an unreadable or malformed videos_file).
  // `started` anchors the outage window.
  EmulatorCore(const EmulatorOptions& options, clock::time_point started);
  ~EmulatorCore();
  EmulatorCore(const EmulatorCore&) = delete;
  EmulatorCore& operator=(const EmulatorCore&) = delete;

  EmulatorResponse handle(const EmulatorRequest& request, clock::time_point now);
  // The response went out completely (its async_write succeeded).
  void on_delivered(const EmulatorResponse& response);
  void on_connection_accepted();
  // A request refused before it could be parsed (413 too large, 400 malformed HTTP).
  void on_rejected(int status);

  EmulatorStats stats() const;
  std::vector<EmulatorVideo> videos() const;  // sorted by key
  std::vector<EmulatedVod> vods() const;

  // One line of the --record file (no trailing newline). `status_sent` is 0 for a dropped
  // connection. The Authorization value never appears, only authorized/authScheme.
  static std::string record_line(const EmulatorRequest& request,
                                 const EmulatorResponse& response, int status_sent,
                                 std::chrono::system_clock::time_point received);

  struct State;

 private:
  std::unique_ptr<State> state_;
};

// JSON of EmulatorStats, as served at GET /_emulator/stats.
std::string emulator_stats_json(const EmulatorStats& stats);

// "vjs" + 12 base36 chars: a keyed bijection of the counter, so ids never repeat.
std::string emulator_video_public_id(std::uint64_t seed, std::uint64_t counter);

// ISO 8601 as the emulator accepts it: YYYY-MM-DD[T ]HH:MM:SS[.f{1,7}][Z|+HH:MM|+HHMM|+HH];
// no zone = UTC. Returns 100 ns ticks since the Unix epoch, nullopt when malformed.
std::optional<std::int64_t> emulator_parse_iso8601(std::string_view text);

}  // namespace batchcut
