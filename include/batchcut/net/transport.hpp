// The transport seam: the runner asks a Connection for one HTTP round trip and gets an
// AttemptResult back, never an exception. The real one is Beast over TCP or TLS; tests
// can put a double here. Beast stays out of this header so most files compile fast.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "batchcut/net/api.hpp"

namespace batchcut {

struct HttpRequest {
  bool post = true;  // POST with a JSON body, or GET
  std::string target;
  std::string body;
};

// One keep-alive connection. It connects lazily, reconnects after an error or a
// "Connection: close", and is used by one worker at a time.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual boost::asio::awaitable<AttemptResult> round_trip(const HttpRequest& request,
                                                           std::chrono::milliseconds timeout) = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual std::unique_ptr<Connection> make_connection() = 0;
  // How many TCP (and TLS) connections were opened so far.
  virtual std::size_t connections_opened() const = 0;
};

struct TransportOptions {
  BaseUrl base;
  std::optional<std::filesystem::path> ca_file;  // trusted in addition to the system store
  // Off only by --insecure: no chain and no name check (the run warns each time).
  bool verify_peer = true;
  std::string authorization;  // the full header value; never logged
  std::size_t max_body = 1 << 20;  // answers with a larger body are cut off (too_large)
  // Answers with larger headers are refused (protocol). Beast's 8 KiB default is too small:
  // a CDN's Content-Security-Policy alone can pass it, and every success would be in doubt.
  std::uint32_t max_header = 128 * 1024;
  std::string user_agent = "batchcut/0.1";
  // Connect only when every address the host resolves to is loopback (see loopback.hpp):
  // for clear text, so a DNS change during a run cannot send the key off this machine.
  bool loopback_only = false;
};

// Beast over TCP or TLS (OpenSSL, peer + host name verification, SNI). Throws
// std::runtime_error at construction when the CA file cannot be loaded.
std::unique_ptr<Transport> make_http_transport(boost::asio::any_io_executor executor,
                                               TransportOptions options);

}  // namespace batchcut
