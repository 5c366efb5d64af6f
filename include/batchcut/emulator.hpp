// vp-emulator: a faithful fake of the VP livestream API, for tests, benchmarks, the demo
// and users rehearsing a manifest. Runs its own threads; start() returns once listening.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "batchcut/auth.hpp"

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
  std::optional<std::filesystem::path> record;  // one JSON line per request
  int threads = 1;
  EmulatorFaults faults;
};

struct EmulatorStats {
  std::map<int, std::uint64_t> requests_by_status;  // responses sent, by status
  std::uint64_t requests = 0;                // every HTTP request received
  std::uint64_t connections_accepted = 0;
  std::uint64_t cuts_made = 0;               // stop-and-cuts that stopped a stream
  std::uint64_t repeated_cuts = 0;           // stop-and-cuts on an already stopped stream
  std::uint64_t dropped_connections = 0;     // cut-then-drop faults fired
  std::uint64_t ids_delivered = 0;           // videoPublicIds written in a complete response
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

  EmulatorStats stats() const;
  std::vector<EmulatorVideo> videos() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace batchcut
