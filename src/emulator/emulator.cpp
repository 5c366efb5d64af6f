// The emulator's server: Beast over TCP or TLS, HTTP/1.1 keep-alive, one coroutine per
// connection on `threads` threads sharing one io_context. It only moves bytes: every
// decision comes from EmulatorCore (core.cpp); this file waits the delay it asks for on an
// async timer, drops the connection when told, and writes the --record lines.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "batchcut/emulator/emulator.hpp"
#include "emulator/tls_cert.hpp"

namespace batchcut {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Time limits of the server side (a client's own limits are usually shorter).
constexpr std::chrono::seconds idle_timeout{75};  // between requests on a kept-alive socket
constexpr std::chrono::seconds io_timeout{30};    // reading a started request, writing
constexpr std::chrono::seconds handshake_timeout{10};
constexpr std::chrono::seconds shutdown_timeout{2};
constexpr std::chrono::seconds stop_drain_timeout{2};  // stop() waits this long for writes
constexpr std::size_t body_limit = 64 * 1024;

std::string_view sv(beast::string_view s) { return {s.data(), s.size()}; }

// Errors that mean "the peer sent something that is not HTTP", worth a 400 before closing.
bool is_parse_error(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message &&
         ec != http::error::body_limit;
}

// One JSON line per request, flushed at once, so the file is complete when stop() returns.
class RecordWriter {
 public:
  explicit RecordWriter(const std::filesystem::path& path)
      : file_(std::fopen(path.c_str(), "w")) {
    if (!file_) throw std::runtime_error("cannot open record file " + path.string());
  }
  ~RecordWriter() { std::fclose(file_); }
  RecordWriter(const RecordWriter&) = delete;
  RecordWriter& operator=(const RecordWriter&) = delete;
  void write(const std::string& line) {
    std::lock_guard lock(mu_);
    std::fwrite(line.data(), 1, line.size(), file_);
    std::fputc('\n', file_);
    std::fflush(file_);
  }

 private:
  std::FILE* file_;
  std::mutex mu_;
};

}  // namespace

class Emulator::Impl {
 public:
  explicit Impl(EmulatorOptions options) : opt_(std::move(options)) {}
  ~Impl() { stop(); }

  void start();
  void stop();

  EmulatorOptions opt_;
  std::unique_ptr<EmulatorCore> core_;
  std::unique_ptr<RecordWriter> record_;
  std::unique_ptr<ssl::context> ssl_;  // outlives the io_context (declared before it)
  std::string ca_pem_;
  std::unique_ptr<asio::io_context> ioc_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
  std::mutex lifecycle_mu_;

  // Responses being written. stop() lets them finish, so whatever a client has received
  // is also counted as delivered and recorded by the time stop() returns.
  std::atomic<int> writing_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> hooked_requests_{0};
  std::mutex drain_mu_;
  std::condition_variable drained_;
  void begin_write() { writing_.fetch_add(1); }
  void end_write() {
    if (writing_.fetch_sub(1) == 1 && stopping_.load()) {
      std::lock_guard lock(drain_mu_);
      drained_.notify_all();
    }
  }

 private:
  void setup_tls();
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> session_plain(tcp::socket socket);
  asio::awaitable<void> session_tls(tcp::socket socket);
  // Serves requests until the peer goes away or we decide to close; returns true when
  // the connection should be shut down gracefully (we chose to close it).
  template <class Stream>
  asio::awaitable<bool> serve(Stream& stream);
  template <class Stream>
  asio::awaitable<void> reject(Stream& stream, http::status status, unsigned version);
};

void Emulator::Impl::setup_tls() {
  if (opt_.tls == EmulatorTls::none) return;
  ssl_ = std::make_unique<ssl::context>(ssl::context::tls_server);
  if (opt_.tls_legacy_only) {
    SSL_CTX* ctx = ssl_->native_handle();
    SSL_CTX_set_security_level(ctx, 0);  // TLS 1.0/1.1 sign with SHA-1
    SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_1_VERSION);
    SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0");
  } else {
    ssl_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                      ssl::context::no_tlsv1_1);
  }
  try {
    if (opt_.tls == EmulatorTls::files) {
      ssl_->use_certificate_chain_file(opt_.tls_cert.string());
      ssl_->use_private_key_file(opt_.tls_key.string(), ssl::context::pem);
    } else {
      const detail::SelfSignedTls tls = detail::make_self_signed_tls(std::chrono::hours(24 * 30), opt_.tls_alt_names);
      ssl_->use_certificate_chain(asio::buffer(tls.server_cert_pem));
      ssl_->use_private_key(asio::buffer(tls.server_key_pem), ssl::context::pem);
      ca_pem_ = tls.ca_cert_pem;
      if (opt_.ca_out) {
        std::ofstream out(*opt_.ca_out, std::ios::binary | std::ios::trunc);
        out << ca_pem_;
        if (!out.flush())
          throw std::runtime_error("cannot write the CA certificate to " +
                                   opt_.ca_out->string());
      }
    }
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("vp-emulator: TLS setup failed: " + std::string(e.what()));
  }
}

void Emulator::Impl::start() {
  std::lock_guard lock(lifecycle_mu_);
  if (ioc_) throw std::runtime_error("vp-emulator: already started");
  core_ = std::make_unique<EmulatorCore>(opt_, std::chrono::steady_clock::now());
  setup_tls();
  if (opt_.record) record_ = std::make_unique<RecordWriter>(*opt_.record);

  const int threads = std::max(1, opt_.threads);
  ioc_ = std::make_unique<asio::io_context>(threads);
  const std::string where = opt_.listen_host + ":" + std::to_string(opt_.listen_port);
  beast::error_code ec;
  tcp::resolver resolver(*ioc_);
  auto results = resolver.resolve(opt_.listen_host, std::to_string(opt_.listen_port),
                                  tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    ioc_.reset();
    throw std::runtime_error("vp-emulator: cannot resolve listen address " + where + ": " +
                             (ec ? ec.message() : "no address"));
  }
  const tcp::endpoint endpoint = results.begin()->endpoint();
  acceptor_ = std::make_unique<tcp::acceptor>(*ioc_);
  auto fail = [&](const char* step) {
    const std::string msg = "vp-emulator: cannot listen on " + where + " (" + step +
                            "): " + ec.message();
    acceptor_.reset();
    ioc_.reset();
    throw std::runtime_error(msg);
  };
  acceptor_->open(endpoint.protocol(), ec);
  if (ec) fail("open");
  acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) fail("reuse_address");
  acceptor_->bind(endpoint, ec);
  if (ec) fail("bind");
  acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) fail("listen");
  port_ = acceptor_->local_endpoint().port();

  asio::co_spawn(*ioc_, accept_loop(), asio::detached);
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { ioc_->run(); });
}

void Emulator::Impl::stop() {
  std::lock_guard lock(lifecycle_mu_);
  if (!ioc_) return;
  stopping_ = true;
  {
    std::unique_lock drain(drain_mu_);
    drained_.wait_for(drain, stop_drain_timeout, [this] { return writing_.load() == 0; });
  }
  // Stopping the io_context and destroying it closes the acceptor and every connection:
  // the pending coroutines (and the sockets they own) are destroyed with it.
  ioc_->stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  beast::error_code ignored;
  acceptor_->close(ignored);
  acceptor_.reset();
  ioc_.reset();
  writing_ = 0;  // writes cut short by the drain timeout died with the io_context
  record_.reset();  // every line was flushed by a thread that has been joined
  stopping_ = false;
}

asio::awaitable<void> Emulator::Impl::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_->async_accept(use_tuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_->is_open()) co_return;
      // Out of descriptors and the like: back off a little instead of spinning.
      asio::steady_timer pause(acceptor_->get_executor(), 10ms);
      co_await pause.async_wait(use_tuple);
      continue;
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    core_->on_connection_accepted();
    if (ssl_)
      asio::co_spawn(*ioc_, session_tls(std::move(socket)), asio::detached);
    else
      asio::co_spawn(*ioc_, session_plain(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> Emulator::Impl::session_plain(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  if (co_await serve(stream)) {
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }
}

asio::awaitable<void> Emulator::Impl::session_tls(tcp::socket socket) {
  beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *ssl_);
  // Handshake, bounded so a silent client cannot hold the connection.
  beast::get_lowest_layer(stream).expires_after(handshake_timeout);
  auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, use_tuple);
  if (ec) co_return;
  if (co_await serve(stream)) {
    // close_notify; a peer that just closes the socket is fine too.
    beast::get_lowest_layer(stream).expires_after(shutdown_timeout);
    co_await stream.async_shutdown(use_tuple);
  }
}

template <class Stream>
asio::awaitable<void> Emulator::Impl::reject(Stream& stream, http::status status,
                                             unsigned version) {
  core_->on_rejected(static_cast<int>(status));
  http::response<http::string_body> res{status, version ? version : 11};
  res.set(http::field::server, "vp-emulator");
  res.set(http::field::content_type, "application/json");
  const int code = static_cast<int>(status);
  res.body() = R"({"success":false,"errors":[")" + std::string(http::obsolete_reason(status)) +
               R"("],"messages":[],"result":null,"resultInfo":null,"statusCode":)" +
               std::to_string(code) + "}";
  res.keep_alive(false);
  res.prepare_payload();
  beast::get_lowest_layer(stream).expires_after(io_timeout);
  co_await http::async_write(stream, res, use_tuple);
}

template <class Stream>
asio::awaitable<bool> Emulator::Impl::serve(Stream& stream) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(body_limit);

    // Wait for the next request's header (the keep-alive idle limit applies here).
    beast::get_lowest_layer(stream).expires_after(idle_timeout);
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
    if (!ec) {
      auto& header = parser.get();
      if (beast::iequals(header[http::field::expect], "100-continue")) {
        http::response<http::empty_body> cont{http::status::continue_, header.version()};
        beast::get_lowest_layer(stream).expires_after(io_timeout);
        auto [cec, cn] = co_await http::async_write(stream, cont, use_tuple);
        if (cec) co_return false;
      }
      // The body, if any.
      beast::get_lowest_layer(stream).expires_after(io_timeout);
      std::tie(ec, n) = co_await http::async_read(stream, buffer, parser, use_tuple);
    }
    if (ec == http::error::body_limit) {
      co_await reject(stream, http::status::payload_too_large, parser.get().version());
      co_return true;
    }
    if (is_parse_error(ec)) {
      co_await reject(stream, http::status::bad_request, 11);
      co_return true;
    }
    if (ec) co_return false;  // the peer left, timed out, or the server is stopping

    const auto received = std::chrono::system_clock::now();
    const auto& req = parser.get();
    EmulatorRequest request;
    request.method = sv(req.method_string());
    request.target = sv(req.target());
    if (auto it = req.find(http::field::authorization); it != req.end())
      request.authorization = sv(it->value());
    request.content_type = sv(req[http::field::content_type]);
    request.body = req.body();
    if (opt_.on_request) opt_.on_request(++hooked_requests_, request.target);
    EmulatorResponse response = core_->handle(request, std::chrono::steady_clock::now());

    // Latency and slow cuts: wait on a timer, never block the thread.
    if (response.delay.count() > 0) {
      asio::steady_timer timer(co_await asio::this_coro::executor, response.delay);
      co_await timer.async_wait(use_tuple);
    }

    if (response.drop) {
      // The cut was made; close without a word, as a dying backend would.
      if (record_)
        record_->write(EmulatorCore::record_line(request, response, 0, received));
      // (Recorded before closing, so the line exists once the client sees the close.)
      beast::error_code ignored;
      beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
      beast::get_lowest_layer(stream).socket().close(ignored);
      co_return false;
    }

    http::response<http::string_body> res{static_cast<http::status>(response.status),
                                          req.version()};
    res.set(http::field::server, "vp-emulator");
    res.set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) res.set(name, value);
    res.keep_alive(req.keep_alive());
    res.body() = std::move(response.body);
    res.prepare_payload();

    // Answer, then account for it.
    beast::get_lowest_layer(stream).expires_after(io_timeout);
    begin_write();
    auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
    if (!wec) core_->on_delivered(response);
    if (record_)
      record_->write(EmulatorCore::record_line(request, response, response.status, received));
    end_write();
    if (wec) co_return false;
    if (!res.keep_alive()) co_return true;
  }
}

// ---- the public face ----

Emulator::Emulator(EmulatorOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

Emulator::~Emulator() { stop(); }

void Emulator::start() { impl_->start(); }

void Emulator::stop() {
  if (impl_) impl_->stop();
}

std::uint16_t Emulator::port() const { return impl_->port_; }

std::string Emulator::base_url() const {
  const std::string& host = impl_->opt_.listen_host;
  const bool v6 = host.find(':') != std::string::npos;
  return std::string(impl_->opt_.tls == EmulatorTls::none ? "http://" : "https://") +
         (v6 ? "[" + host + "]" : host) + ":" + std::to_string(impl_->port_);
}

std::string Emulator::ca_pem() const { return impl_->ca_pem_; }

EmulatorStats Emulator::stats() const {
  return impl_->core_ ? impl_->core_->stats() : EmulatorStats{};
}

std::vector<EmulatedVod> Emulator::vods() const {
  return impl_->core_ ? impl_->core_->vods() : std::vector<EmulatedVod>{};
}

std::vector<EmulatorVideo> Emulator::videos() const {
  return impl_->core_ ? impl_->core_->videos() : std::vector<EmulatorVideo>{};
}

}  // namespace batchcut
