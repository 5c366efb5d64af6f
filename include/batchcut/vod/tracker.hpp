// Tracking VODs until they are Ready: polls each succeeded job's VOD on the manage API until
// it is Ready or Failed, or the time is up. Paced like a run (one token bucket over all
// workers; 429, 503, 5xx and transport errors back off, Retry-After honoured); a 401 stops
// everything. Every answer goes to a callback (batchcut track appends it to the ledger).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "batchcut/job/spec.hpp"
#include "batchcut/net/transport.hpp"
#include "batchcut/run/policy.hpp"
#include "batchcut/vod/vod.hpp"

namespace batchcut {

struct TrackItem {
  JobSpec spec;
  std::string video_public_id;
};

struct TrackOptions {
  BaseUrl manage;
  int concurrency = 8;
  double rate = 10;  // requests per second over all workers; 0 = unlimited
  double burst = 1;
  std::chrono::milliseconds poll_interval{30000};  // between reads of a VOD still processing
  std::chrono::milliseconds timeout{std::chrono::hours(2)};  // for the whole tracking
  std::chrono::milliseconds request_timeout{60000};
  BackoffPolicy backoff;
  std::optional<double> duration_tolerance_s;  // nullopt: max(2 s, 1 % of the expected)
  std::uint64_t seed = 0;  // for the jitter; 0 = random
};

struct TrackSummary {
  // The latest observation of each item, in the order given (status unknown with error
  // "not read" when no answer came before the time was up).
  std::vector<VodObservation> latest;
  bool fatal = false;
  std::string fatal_error;  // 401, a certificate that does not verify
  bool timed_out = false;   // some VOD was still not final when the time was up
  std::size_t requests = 0;
};

// `index` is the item's position in the list given to start().
using ObservationSink = std::function<void(std::size_t index, const VodObservation&)>;

class Tracker {
 public:
  Tracker(TrackOptions options, Transport& transport, ObservationSink on_observation);
  ~Tracker();
  Tracker(const Tracker&) = delete;
  Tracker& operator=(const Tracker&) = delete;

  // Starts the workers on `executor` (time is RunClock's, so a SimulatedClock drives tests);
  // `done` is called once, when every VOD is final, the timeout passed, or a fatal answer came.
  void start(boost::asio::any_io_executor executor, std::vector<TrackItem> items,
             std::function<void(TrackSummary)> done);

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// Runs a Tracker on its own io_context over make_http_transport(transport) until it is done.
// Throws std::runtime_error when the transport cannot be made (the CA file).
TrackSummary track_vods(const TrackOptions& options, const TransportOptions& transport,
                        std::vector<TrackItem> items, ObservationSink on_observation);

}  // namespace batchcut
