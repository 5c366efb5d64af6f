#include "batchcut/ops/metrics.hpp"

#include <fmt/format.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <cmath>
#include <fstream>
#include <mutex>
#include <ostream>
#include <sstream>
#include <thread>

#include "batchcut/ops/report.hpp"

namespace batchcut {

namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// With a listener, scrapes see the run at most this old.
constexpr std::chrono::milliseconds listen_refresh{1000};

constexpr const char* last_success_name = "batchcut_last_success_timestamp_seconds";
constexpr const char* last_duration_name = "batchcut_last_run_duration_seconds";
constexpr const char* last_exit_name = "batchcut_last_run_exit_status";

double seconds_since_epoch(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

double seconds(std::chrono::microseconds d) { return static_cast<double>(d.count()) / 1e6; }

std::string escape_label(const std::string& v) {
  std::string out;
  for (char ch : v) {
    if (ch == '\\') out += "\\\\";
    else if (ch == '"') out += "\\\"";
    else if (ch == '\n') out += "\\n";
    else out += ch;
  }
  return out;
}

// Appends one family at a time: HELP and TYPE, then its samples.
class Exposition {
 public:
  void family(const char* name, const char* type, const char* help) {
    text_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  // `labels` is already formatted: `kind="read",code="200"` or empty.
  template <typename Value>
  void sample(const std::string& name, const std::string& labels, Value v) {
    text_ += labels.empty() ? fmt::format("{} {}\n", name, v) : fmt::format("{}{{{}}} {}\n", name, labels, v);
  }
  std::string take() { return std::move(text_); }

 private:
  std::string text_;
};

std::string label(const char* name, const std::string& value) {
  return fmt::format("{}=\"{}\"", name, escape_label(value));
}

}  // namespace

std::map<JobState, std::size_t> jobs_by_state(const std::map<JobState, std::size_t>& kept,
                                              const std::map<JobState, std::size_t>& this_run,
                                              std::size_t total) {
  std::map<JobState, std::size_t> jobs;
  std::size_t settled = 0;
  for (auto s : all_job_states) {
    if (s == JobState::pending) continue;
    const auto k = kept.find(s), r = this_run.find(s);
    jobs[s] = (k == kept.end() ? 0 : k->second) + (r == this_run.end() ? 0 : r->second);
    settled += jobs[s];
  }
  jobs[JobState::pending] = total > settled ? total - settled : 0;
  return jobs;
}

std::string render_metrics(const MetricsSample& m) {
  Exposition x;
  x.family("batchcut_run_in_progress", "gauge", "1 while a run is going, 0 once it has ended.");
  x.sample("batchcut_run_in_progress", "", m.in_progress ? 1 : 0);
  x.family("batchcut_run_start_timestamp_seconds", "gauge",
           "When the run in progress (else the last run) started, in seconds since the epoch.");
  x.sample("batchcut_run_start_timestamp_seconds", "", seconds_since_epoch(m.started));

  x.family("batchcut_jobs", "gauge",
           "Jobs of the manifest (or the replay) by state, those settled by earlier runs included; "
           "a job not settled yet is pending.");
  for (auto s : all_job_states) {
    const auto it = m.jobs.find(s);
    x.sample("batchcut_jobs", label("state", to_string(s)), it == m.jobs.end() ? 0 : it->second);
  }
  x.family("batchcut_manifest_jobs", "gauge",
           "Jobs of the manifest (or selected for the replay): batchcut_jobs summed over state.");
  x.sample("batchcut_manifest_jobs", "", m.total_jobs);
  x.family("batchcut_requests_in_flight", "gauge", "Requests on the wire now.");
  x.sample("batchcut_requests_in_flight", "", m.in_flight);

  x.family("batchcut_requests_total", "counter", "Requests answered in this run, by kind and HTTP status.");
  for (const auto& [key, n] : m.stats.requests)
    if (key.second != 0)
      x.sample("batchcut_requests_total",
               label("kind", to_string(key.first)) + "," + label("code", std::to_string(key.second)), n);
  x.family("batchcut_request_errors_total", "counter",
           "Requests in this run that got no HTTP answer, by kind and transport error.");
  for (const auto& [key, n] : m.stats.request_errors)
    x.sample("batchcut_request_errors_total", label("kind", to_string(key.first)) + "," + label("error", key.second), n);
  x.family("batchcut_retries_total", "counter",
           "Cuts sent again in this run, by what the attempt before got (http_503, timeout, ...).");
  for (const auto& [cause, n] : m.stats.retries_by_cause) x.sample("batchcut_retries_total", label("cause", cause), n);
  x.family("batchcut_rate_limiter_wait_seconds_total", "counter",
           "Time requests waited for a send slot of the rate limiter, summed over requests.");
  x.sample("batchcut_rate_limiter_wait_seconds_total", "", seconds(m.stats.rate_limiter_wait));
  x.family("batchcut_retry_after_pause_seconds_total", "counter",
           "Time all workers stood still on a Retry-After.");
  x.sample("batchcut_retry_after_pause_seconds_total", "",
           seconds(std::chrono::duration_cast<std::chrono::microseconds>(m.paused)));

  x.family("batchcut_request_duration_seconds", "histogram", "Request latency in this run, by kind.");
  for (auto kind : all_request_kinds) {
    const auto& h = m.stats.latency_of(kind);
    const std::string k = label("kind", to_string(kind));
    for (std::size_t i = 0; i < LatencyHistogram::prometheus_bounds.size(); ++i)
      x.sample("batchcut_request_duration_seconds_bucket",
               k + "," + label("le", fmt::format("{}", LatencyHistogram::prometheus_bounds[i])), h.cumulative(i));
    x.sample("batchcut_request_duration_seconds_bucket", k + "," + label("le", "+Inf"), h.count());
    x.sample("batchcut_request_duration_seconds_sum", k, h.sum_seconds());
    x.sample("batchcut_request_duration_seconds_count", k, h.count());
  }

  x.family(last_success_name, "gauge",
           "When the last run that exited 0 ended, in seconds since the epoch (kept by runs that fail).");
  if (m.last.success_timestamp) x.sample(last_success_name, "", *m.last.success_timestamp);
  x.family(last_duration_name, "gauge", "How long the last finished run took.");
  if (m.last.duration_seconds) x.sample(last_duration_name, "", *m.last.duration_seconds);
  x.family(last_exit_name, "gauge",
           "The exit status of the last finished run (0 all succeeded, 1 some did not, 3 aborted, "
           "4 deadline, 128+N signal N).");
  if (m.last.exit_status) x.sample(last_exit_name, "", *m.last.exit_status);
  return x.take();
}

LastRunMetrics read_last_run_metrics(const std::string& text, const std::string& source,
                                     std::vector<std::string>& warnings) {
  LastRunMetrics last;
  std::istringstream in(text);
  std::size_t line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    const auto space = line.find(' ');
    if (line.empty() || line[0] == '#' || space == std::string::npos) continue;
    const std::string name = line.substr(0, space);
    if (name != last_success_name && name != last_duration_name && name != last_exit_name) continue;
    std::string value = line.substr(space + 1);
    if (const auto end = value.find(' '); end != std::string::npos) value.resize(end);  // a timestamp after it
    double v = 0;
    const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc{} || ptr != value.data() + value.size() || !std::isfinite(v) || v < 0) {
      warnings.push_back(fmt::format("{}:{}: {}: \"{}\" is not a number of seconds or a status; not carried forward",
                                     source, line_no, name, value));
      continue;
    }
    if (name == last_success_name) last.success_timestamp = v;
    else if (name == last_duration_name) last.duration_seconds = v;
    else last.exit_status = static_cast<int>(v);
  }
  return last;
}

std::optional<ListenAddress> parse_listen_address(const std::string& text, std::string& error) {
  ListenAddress a;
  std::string port = text;
  if (const auto colon = text.rfind(':'); colon != std::string::npos) {
    std::string host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (!host.empty()) a.host = host;
  }
  boost::system::error_code ec;
  asio::ip::make_address(a.host, ec);
  if (ec) {
    error = "\"" + a.host + "\" is not an IP address (expected HOST:PORT, :PORT or PORT, e.g. 127.0.0.1:9464)";
    return std::nullopt;
  }
  unsigned value = 0;
  const auto [ptr, perr] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || perr != std::errc{} || ptr != port.data() + port.size() || value > 65535) {
    error = "\"" + port + "\" is not a port number (0..65535; 0 picks a free one)";
    return std::nullopt;
  }
  a.port = static_cast<std::uint16_t>(value);
  return a;
}

// ---- the listener: GET /metrics, on a thread and an io_context of its own ----

class RunMetrics::Server {
 public:
  explicit Server(const ListenAddress& a) : acceptor_(ioc_) {
    const tcp::endpoint endpoint(asio::ip::make_address(a.host), a.port);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen();
    asio::co_spawn(ioc_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~Server() {
    ioc_.stop();
    thread_.join();
  }

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

  void publish(std::string text) {
    std::lock_guard lock(mutex_);
    text_ = std::move(text);
  }

 private:
  static constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

  std::string latest() {
    std::lock_guard lock(mutex_);
    return text_;
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
      if (ec == asio::error::operation_aborted) co_return;
      if (!ec) asio::co_spawn(ioc_, session(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
      // Read a request; a client that sends nothing for 10 s is let go.
      http::request<http::string_body> req;
      stream.expires_after(std::chrono::seconds(10));
      auto [rec, rn] = co_await http::async_read(stream, buffer, req, use_tuple);
      if (rec) break;
      // Answer: the latest rendering for GET /metrics, 404 for anything else.
      const std::string_view target(req.target().data(), req.target().size());
      const bool metrics = req.method() == http::verb::get && target.substr(0, target.find('?')) == "/metrics";
      http::response<http::string_body> res(metrics ? http::status::ok : http::status::not_found, req.version());
      res.set(http::field::content_type, metrics ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain");
      res.body() = metrics ? latest() : "not found: batchcut serves GET /metrics only\n";
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
      if (wec || !res.keep_alive()) break;
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  asio::io_context ioc_{1};
  tcp::acceptor acceptor_;
  std::mutex mutex_;
  std::string text_;
  std::thread thread_;
};

// ---- the run's metrics ----

RunMetrics::RunMetrics(MetricsOptions options, std::ostream& err) : options_(std::move(options)), err_(err) {}

RunMetrics::~RunMetrics() {
  // A run that started but never reached finish() (it failed before sending anything) is
  // not a finished run: last_* stay as they were, and it is no longer in progress.
  if (started_ && !finished_ && options_.file) {
    sample_.in_progress = false;
    write_file();
  }
}

bool RunMetrics::start(const std::map<JobState, std::size_t>& kept, std::size_t total) {
  if (!enabled()) return true;
  kept_ = kept;
  sample_.total_jobs = total;
  sample_.jobs = jobs_by_state(kept_, {}, total);
  sample_.started = std::chrono::system_clock::now();
  if (options_.file && fs::exists(*options_.file)) {
    std::ifstream in(*options_.file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    std::vector<std::string> warnings;
    sample_.last = read_last_run_metrics(text.str(), options_.file->string(), warnings);
    for (const auto& w : warnings) err_ << "batchcut: --metrics-file " << w << "\n";
  }
  if (options_.listen) {
    std::string error;
    const auto address = parse_listen_address(*options_.listen, error);
    if (!address) {
      err_ << "batchcut: --metrics-listen " << *options_.listen << ": " << error << "\n";
      return false;
    }
    try {
      server_ = std::make_unique<Server>(*address);
    } catch (const boost::system::system_error& e) {
      err_ << "batchcut: --metrics-listen " << *options_.listen << ": " << e.code().message() << "\n";
      return false;
    }
    const std::string host = address->host.find(':') == std::string::npos ? address->host : "[" + address->host + "]";
    err_ << "batchcut: metrics on http://" << host << ":" << server_->port() << "/metrics\n";
  }
  started_ = true;
  publish();
  if (options_.file) write_file();
  return true;
}

std::chrono::milliseconds RunMetrics::tick_interval() const {
  if (!enabled()) return std::chrono::milliseconds(0);
  if (!options_.listen) return options_.interval;
  return options_.file ? std::min(options_.interval, listen_refresh) : listen_refresh;
}

void RunMetrics::on_tick(const RunSnapshot& s) {
  if (!started_ || finished_) return;
  sample_.jobs = jobs_by_state(kept_, s.settled, sample_.total_jobs);
  sample_.in_flight = s.in_flight;
  sample_.paused = s.paused;
  sample_.stats = s.stats;
  publish();
  if (options_.file && s.elapsed - last_write_ >= options_.interval) {
    last_write_ = s.elapsed;
    write_file();
  }
}

void RunMetrics::finish(const RunReport& r) {
  if (!started_ || finished_) return;
  finished_ = true;
  sample_.jobs = jobs_by_state(r.kept, r.run.states, r.total);
  sample_.total_jobs = r.total;
  sample_.in_flight = 0;
  sample_.paused = r.run.paused;
  sample_.stats = r.run.stats;
  sample_.started = r.started;
  sample_.in_progress = false;
  sample_.last.duration_seconds = std::chrono::duration<double>(r.ended - r.started).count();
  sample_.last.exit_status = r.exit_status;
  if (r.exit_status == 0) sample_.last.success_timestamp = seconds_since_epoch(r.ended);
  publish();
  if (options_.file) write_file();
}

std::uint16_t RunMetrics::port() const { return server_ ? server_->port() : 0; }

void RunMetrics::publish() {
  if (server_) server_->publish(render_metrics(sample_));
}

void RunMetrics::write_file() {
  std::string why;
  const bool ok = write_file_atomically(*options_.file, render_metrics(sample_), why);
  if (!ok && !write_failed_) err_ << "batchcut: --metrics-file: " << why << "\n";  // once, not every tick
  write_failed_ = !ok;
}

}  // namespace batchcut
