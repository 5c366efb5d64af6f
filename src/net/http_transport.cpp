// The real transport: Beast HTTP/1.1 over TCP or TLS, one keep-alive stream per Connection.
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <string_view>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <variant>

#include "batchcut/net/http_read.hpp"
#include "batchcut/net/loopback.hpp"
#include "batchcut/net/transport.hpp"

namespace batchcut {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

constexpr auto token = asio::as_tuple(asio::use_awaitable);

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// Tells OpenSSL the name the peer's certificate must carry: an IP address for an IP literal
// (its iPAddress entries), else the host name (its dNSName entries, no partial wildcards).
bool check_peer_name(SSL* ssl, const std::string& host) {
  if (is_ip_literal(host)) return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) == 1;
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return SSL_set1_host(ssl, host.c_str()) == 1;
}

// Why a request target cannot go on the request line as it is, or nullptr when it can: only
// origin form and visible ASCII (a CR, LF or space would end the line and let the rest become
// headers), and no "." or ".." segment, which a server or proxy resolves into another path.
const char* target_refusal(std::string_view target) {
  if (target.empty() || target.front() != '/') return "not a path";
  for (const char ch : target) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x21 || c > 0x7e) return "a byte outside visible ASCII";
  }
  const auto path = target.substr(0, target.find('?'));
  for (std::size_t start = 1; start <= path.size();) {
    const auto end = std::min(path.find('/', start), path.size());
    const auto segment = path.substr(start, end - start);
    if (segment == "." || segment == "..") return "a dot segment";
    start = end + 1;
  }
  return nullptr;
}

bool is_verify_failure(const boost::system::error_code& ec) {
  if (ec.category() != asio::error::get_ssl_category()) return false;
  return ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_CERTIFICATE_VERIFY_FAILED;
}

// The two sides share no TLS version: the server offers only TLS 1.0/1.1 (or older).
bool is_protocol_version_failure(const boost::system::error_code& ec) {
  if (ec.category() != asio::error::get_ssl_category()) return false;
  const int reason = ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
  return reason == SSL_R_TLSV1_ALERT_PROTOCOL_VERSION || reason == SSL_R_UNSUPPORTED_PROTOCOL;
}

class HttpTransport;

class HttpConnection final : public Connection {
 public:
  explicit HttpConnection(HttpTransport& transport);
  asio::awaitable<AttemptResult> round_trip(const HttpRequest& request,
                                            std::chrono::milliseconds timeout) override;

 private:
  using tls_stream = beast::ssl_stream<beast::tcp_stream>;

  beast::tcp_stream& lowest() {
    return tls_ ? beast::get_lowest_layer(*tls_) : *plain_;
  }
  void close() {
    if (tls_) beast::get_lowest_layer(*tls_).close();
    if (plain_) plain_->close();
    tls_.reset();
    plain_.reset();
    connected_ = false;
  }
  using deadline_t = std::chrono::steady_clock::time_point;
  asio::awaitable<bool> ensure_connected(deadline_t deadline, AttemptResult& r);
  template <class Stream>
  asio::awaitable<void> exchange(Stream& stream, const HttpRequest& request, deadline_t deadline,
                                 AttemptResult& r);
  bool idle_and_clean();

  HttpTransport& transport_;
  std::string host_header_;  // computed once
  std::string wire_;         // the request being written; its capacity is reused
  std::optional<tls_stream> tls_;
  std::optional<beast::tcp_stream> plain_;
  beast::flat_buffer buffer_;
  bool connected_ = false;
};

class HttpTransport final : public Transport {
 public:
  HttpTransport(asio::any_io_executor executor, TransportOptions options)
      : executor_(std::move(executor)),
        options_(std::move(options)),
        tls_context_(ssl::context::tls_client) {
    if (options_.base.tls) {
      // TLS 1.2 or later, whatever the system's OpenSSL configuration allows.
      tls_context_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                               ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                               ssl::context::no_tlsv1_1);
      if (SSL_CTX_set_min_proto_version(tls_context_.native_handle(), TLS1_2_VERSION) != 1)
        throw std::runtime_error("cannot require TLS 1.2 or later");
      tls_context_.set_default_verify_paths();
      if (options_.ca_file) {
        boost::system::error_code ec;
        tls_context_.load_verify_file(options_.ca_file->string(), ec);
        if (ec)
          throw std::runtime_error("cannot load CA file " + options_.ca_file->string() + ": " +
                                   ec.message());
      }
      tls_context_.set_verify_mode(options_.verify_peer ? ssl::verify_peer : ssl::verify_none);
    }
  }

  std::unique_ptr<Connection> make_connection() override {
    return std::make_unique<HttpConnection>(*this);
  }
  std::size_t connections_opened() const override { return connections_opened_; }

  // Resolves once and caches: thousands of reconnects must not each hit the resolver. The
  // lookup is bounded by the attempt's deadline (a hung DNS server must not hang the run),
  // and a failed connect drops the cache (the address may have moved overnight).
  asio::awaitable<boost::system::error_code> endpoints(tcp::resolver::results_type& out,
                                                       std::chrono::steady_clock::time_point deadline) {
    if (!resolved_.empty()) {
      out = resolved_;
      co_return boost::system::error_code{};
    }
    auto resolver = std::make_shared<tcp::resolver>(executor_);
    asio::steady_timer guard(executor_, deadline);
    guard.async_wait([resolver](boost::system::error_code ec) {
      if (!ec) resolver->cancel();
    });
    auto [ec, results] = co_await resolver->async_resolve(
        options_.base.host, std::to_string(options_.base.port), token);
    guard.cancel();
    if (ec == asio::error::operation_aborted) ec = asio::error::timed_out;
    if (!ec) resolved_ = results;
    out = results;
    co_return ec;
  }

  void forget_endpoints() { resolved_ = {}; }

  asio::any_io_executor executor_;
  TransportOptions options_;
  ssl::context tls_context_;
  tcp::resolver::results_type resolved_;
  std::size_t connections_opened_ = 0;
};

HttpConnection::HttpConnection(HttpTransport& transport)
    : transport_(transport), host_header_(transport.options_.base.host_header()) {}

// A kept-alive connection may carry the next request only if nothing is waiting on it: bytes
// that arrived before the request was written belong to no request of ours, and reading them
// as its answer would give this job another job's id. Nor may the server have closed it: the
// write would "succeed" into a dead socket and the attempt would look in doubt. Checked before
// every reuse: Beast's buffer, OpenSSL's buffers, then a non-blocking peek at the socket.
bool HttpConnection::idle_and_clean() {
  if (buffer_.size() > 0) return false;
  if (tls_) {
    SSL* ssl = tls_->native_handle();
    // Records OpenSSL holds (decrypted or not), and bytes in Asio's BIO pair not yet read.
    if (SSL_has_pending(ssl) || BIO_ctrl_pending(SSL_get_rbio(ssl)) > 0) return false;
  }
  char byte;
  const ssize_t n = ::recv(lowest().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n >= 0) return false;  // data, or 0: the server closed
  return errno == EAGAIN || errno == EWOULDBLOCK;
}

asio::awaitable<bool> HttpConnection::ensure_connected(deadline_t deadline, AttemptResult& r) {
  if (connected_ && idle_and_clean()) co_return true;
  close();
  const auto& opts = transport_.options_;
  tcp::resolver::results_type endpoints;
  if (auto ec = co_await transport_.endpoints(endpoints, deadline)) {
    r.error = TransportError::resolve;
    r.error_text = opts.base.host + ": " + ec.message();
    co_return false;
  }
  // At every connect: a name that moved off this machine during the run gets nothing.
  if (opts.loopback_only) {
    for (const auto& entry : endpoints) {
      if (is_loopback(entry.endpoint().address())) continue;
      r.error = TransportError::resolve;
      r.error_text = opts.base.host + " resolves to " + entry.endpoint().address().to_string() +
                     ", which is not a loopback address: the key would leave in clear text";
      transport_.forget_endpoints();
      co_return false;
    }
  }
  if (opts.base.tls)
    tls_.emplace(transport_.executor_, transport_.tls_context_);
  else
    plain_.emplace(transport_.executor_);

  // Connect, within the attempt's timeout.
  lowest().expires_at(deadline);
  auto [ec, ep] = co_await lowest().async_connect(endpoints, token);
  if (ec) {
    r.error = TransportError::connect;
    r.error_text = "connect to " + opts.base.host_header() + ": " + ec.message();
    transport_.forget_endpoints();
    close();
    co_return false;
  }
  lowest().socket().set_option(tcp::no_delay(true));
  ++transport_.connections_opened_;

  if (tls_) {
    // SNI (not for IP literals), then verify the peer's chain and its name.
    if (!is_ip_literal(opts.base.host) &&
        !SSL_set_tlsext_host_name(tls_->native_handle(), opts.base.host.c_str())) {
      r.error = TransportError::tls_handshake;
      r.error_text = "cannot set SNI";
      close();
      co_return false;
    }
    // The name is checked by OpenSSL itself during verification (not by a callback), so a
    // certificate for another host fails as X509_V_ERR_HOSTNAME_MISMATCH: "hostname mismatch".
    if (opts.verify_peer && !check_peer_name(tls_->native_handle(), opts.base.host)) {
      r.error = TransportError::tls_handshake;
      r.error_text = "cannot set the host name to verify";
      close();
      co_return false;
    }
    lowest().expires_at(deadline);
    auto [hs_ec] = co_await tls_->async_handshake(ssl::stream_base::client, token);
    if (hs_ec) {
      r.error = is_verify_failure(hs_ec) ? TransportError::tls_verify : TransportError::tls_handshake;
      r.error_text = "TLS handshake with " + opts.base.host_header() + ": " + hs_ec.message();
      if (is_protocol_version_failure(hs_ec)) r.error_text += " (batchcut speaks TLS 1.2 or later only)";
      if (r.error == TransportError::tls_verify) {
        const long verify = SSL_get_verify_result(tls_->native_handle());
        if (verify != X509_V_OK)
          r.error_text += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
        r.name_mismatch = verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH;
      }
      close();
      co_return false;
    }
  }
  buffer_.clear();
  connected_ = true;
  co_return true;
}

template <class Stream>
asio::awaitable<void> HttpConnection::exchange(Stream& stream, const HttpRequest& request,
                                               deadline_t deadline, AttemptResult& r) {
  const auto& opts = transport_.options_;
  // The request is small and every part of it is ours (the target checked in round_trip, the
  // key checked for header-safe characters at start-up), so it is written as one buffer: no
  // field map, no serializer, one allocation.
  std::string& wire = wire_;
  wire.clear();
  wire += request.post ? "POST " : "GET ";
  wire += request.target;
  wire += " HTTP/1.1\r\nHost: ";
  wire += host_header_;
  wire += "\r\nUser-Agent: ";
  wire += opts.user_agent;
  wire += "\r\nAccept: application/json\r\n";
  if (!opts.authorization.empty()) {
    wire += "Authorization: ";
    wire += opts.authorization;
    wire += "\r\n";
  }
  if (request.post) {
    wire += "Content-Type: application/json\r\nContent-Length: ";
    wire += std::to_string(request.body.size());
    wire += "\r\n\r\n";
    wire += request.body;
  } else {
    wire += "\r\n";
  }

  // Send the request; one deadline covers the whole attempt, connect included.
  lowest().expires_at(deadline);
  auto [write_ec, written] = co_await asio::async_write(stream, asio::buffer(wire), token);
  // The key is in there: do not keep it around longer than the write.
  std::fill(wire.begin(), wire.end(), '\0');
  if (write_ec) {
    r.error = write_ec == beast::error::timeout ? TransportError::timeout : TransportError::write;
    r.error_text = "write: " + write_ec.message();
    close();
    co_return;
  }
  r.request_sent = true;

  // Read the answer, with caps on its header and body (http_read.hpp). Stray bytes after it
  // are caught before the next request (idle_and_clean).
  if (!co_await read_answer(stream, buffer_, {opts.max_header, opts.max_body}, r)) close();
}

asio::awaitable<AttemptResult> HttpConnection::round_trip(const HttpRequest& request,
                                                          std::chrono::milliseconds timeout) {
  AttemptResult r;
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + timeout;
  // Refused before connecting: nothing of such a request may reach the server.
  if (const char* why = target_refusal(request.target)) {
    r.error = TransportError::protocol;
    r.error_text = std::string("request target refused: ") + why;
  } else if (co_await ensure_connected(deadline, r)) {
    if (tls_)
      co_await exchange(*tls_, request, deadline, r);
    else
      co_await exchange(*plain_, request, deadline, r);
  }
  r.elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - start);
  co_return r;
}

}  // namespace

std::unique_ptr<Transport> make_http_transport(asio::any_io_executor executor,
                                               TransportOptions options) {
  return std::make_unique<HttpTransport>(std::move(executor), std::move(options));
}

}  // namespace batchcut
