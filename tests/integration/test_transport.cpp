// The real transport against a scripted raw HTTP(S) server on 127.0.0.1:0: answers that a
// well-behaved API never sends, but proxies and servers do.
#include <gtest/gtest.h>

#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <functional>

#include "batchcut/emulator/emulator.hpp"
#include "batchcut/net/transport.hpp"
#include "support.hpp"
// The emulator's throwaway CA and certificate for 127.0.0.1, for the TLS scripted server.
#include "../../src/emulator/tls_cert.hpp"

using namespace batchcut;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Accepts connections (plain, or TLS after use_tls()); for each request read (up to the
// blank line plus body), calls `script(connection_number, request_number)` and writes what
// it returns; an empty answer closes the connection.
struct ScriptedServer {
  explicit ScriptedServer(asio::io_context& context) : io(context) {}
  asio::io_context& io;
  tcp::acceptor acceptor{io, {asio::ip::make_address("127.0.0.1"), 0}};
  std::function<std::string(int, int)> script;
  // Hang up, without a word, right after this answer (as an idle timeout would).
  std::function<bool(int, int)> hang_up_after = [](int, int) { return false; };
  // Bytes no request asked for, written on connection 1 after its first answer: once the test
  // calls release_stray(), so they arrive after the client has read that answer; or, with
  // stray_with_answer, at once, in the same TCP segment but a write (a TLS record) of their own.
  std::string stray;
  bool stray_with_answer = false;
  asio::steady_timer stray_released{io, asio::steady_timer::time_point::max()};
  void release_stray() { stray_released.cancel(); }
  int connections = 0;
  int requests = 0;
  int hung_up = 0;
  int strays_delivered = 0;  // written, and acknowledged by the client's kernel

  std::optional<asio::ssl::context> tls;
  std::string ca_pem;  // what the client must trust, after use_tls()
  void use_tls() {
    const auto material = detail::make_self_signed_tls();
    tls.emplace(asio::ssl::context::tls_server);
    tls->use_certificate_chain(asio::buffer(material.server_cert_pem));
    tls->use_private_key(asio::buffer(material.server_key_pem), asio::ssl::context::pem);
    ca_pem = material.ca_cert_pem;
  }

  std::uint16_t port() const { return acceptor.local_endpoint().port(); }

  asio::awaitable<void> serve() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
      if (ec) co_return;
      socket.set_option(tcp::no_delay(true));  // stray bytes leave at once, not after an ACK
      if (tls)
        asio::co_spawn(io, tls_session(std::move(socket), ++connections), asio::detached);
      else
        asio::co_spawn(io, plain_session(std::move(socket), ++connections), asio::detached);
    }
  }

  asio::awaitable<void> plain_session(tcp::socket socket, int conn) { co_await session(socket, conn); }

  asio::awaitable<void> tls_session(tcp::socket socket, int conn) {
    asio::ssl::stream<tcp::socket> stream(std::move(socket), *tls);
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, use_tuple);
    if (!ec) co_await session(stream, conn);
  }

  template <class Stream>
  asio::awaitable<void> session(Stream& stream, int conn) {
    auto& socket = stream.lowest_layer();
    std::string buf;
    for (int n = 1;; ++n) {
      // Read a whole request: headers, then Content-Length bytes of body.
      for (;;) {
        auto end = buf.find("\r\n\r\n");
        if (end != std::string::npos) {
          std::size_t length = 0;
          auto cl = buf.find("Content-Length: ");
          if (cl != std::string::npos && cl < end) length = std::stoul(buf.substr(cl + 16));
          if (buf.size() >= end + 4 + length) {
            buf.erase(0, end + 4 + length);
            break;
          }
        }
        char chunk[4096];
        auto [ec, got] = co_await stream.async_read_some(asio::buffer(chunk), use_tuple);
        if (ec) co_return;
        buf.append(chunk, got);
      }
      ++requests;
      const std::string answer = script(conn, n);
      if (answer.empty()) co_return;  // closes
      const bool stray_now = !stray.empty() && conn == 1 && n == 1;
      // Corked, the answer waits in the kernel for the stray bytes: one segment carries both.
      if (stray_now && stray_with_answer) cork(socket.native_handle(), true);
      auto [ec, w] = co_await asio::async_write(stream, asio::buffer(answer), use_tuple);
      if (ec) co_return;
      if (answer.find("Connection: close") != std::string::npos) co_return;
      if (stray_now) {
        if (!stray_with_answer) co_await stray_released.async_wait(use_tuple);
        auto [sec, sw] = co_await asio::async_write(stream, asio::buffer(stray), use_tuple);
        if (sec) co_return;
        if (stray_with_answer) cork(socket.native_handle(), false);
        // Until the client's kernel has acknowledged them, so they are in its receive queue.
        for (int outstanding = 1; outstanding > 0;) {
          if (::ioctl(socket.native_handle(), SIOCOUTQ, &outstanding) != 0) co_return;
          if (outstanding > 0) co_await asio::post(io, asio::use_awaitable);
        }
        ++strays_delivered;
      }
      if (hang_up_after(conn, n)) {
        socket.close();
        ++hung_up;
        co_return;
      }
    }
  }

  static void cork(int fd, bool on) {
    const int value = on ? 1 : 0;
    ASSERT_EQ(::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &value, sizeof value), 0);
  }
};

std::string ok(const std::string& id, const std::string& extra = "") {
  const std::string body = R"({"success":true,"result":{"videoPublicId":")" + id + R"("}})";
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + extra +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

struct Client {
  asio::io_context& io;
  std::unique_ptr<Transport> transport;
  std::unique_ptr<Connection> connection;
  Client(asio::io_context& io, std::uint16_t port)
      : Client(io, "http://127.0.0.1:" + std::to_string(port), "Bearer k") {}
  Client(asio::io_context& io, const std::string& base_url, const std::string& authorization)
      : Client(io, [&] {
          TransportOptions o;
          o.base = *parse_base_url(base_url);
          o.authorization = authorization;
          return o;
        }()) {}
  Client(asio::io_context& io, TransportOptions o) : io(io) {
    transport = make_http_transport(io.get_executor(), o);
    connection = transport->make_connection();
  }
  // One round trip, run on the loop with a hang guard.
  AttemptResult send(const std::string& target, const std::string& body = "{}") {
    const HttpRequest request{true, target, body};  // round_trip holds a reference to it
    std::optional<AttemptResult> out;
    asio::co_spawn(io, connection->round_trip(request, 5s),
                   [&](std::exception_ptr, AttemptResult r) { out = std::move(r); });
    while (!out) {
      if (io.run_one_for(10s) == 0) break;  // hang guard
    }
    EXPECT_TRUE(out.has_value()) << "hung";
    return out.value_or(AttemptResult{});
  }
};

}  // namespace

TEST(Transport, InterimAnswersAreSkippedNotTakenForTheAnswer) {
  asio::io_context io;
  ScriptedServer server(io);
  server.script = [](int, int n) {
    return "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" +
           ok("vod-" + std::to_string(n));
  };
  asio::co_spawn(io, server.serve(), asio::detached);
  Client client(io, server.port());
  auto first = client.send("/a");
  EXPECT_EQ(first.status, 200);
  EXPECT_NE(first.body.find("vod-1"), std::string::npos);
  auto second = client.send("/b");  // must not see the first one's leftovers
  EXPECT_EQ(second.status, 200);
  EXPECT_NE(second.body.find("vod-2"), std::string::npos);
  EXPECT_EQ(server.connections, 1);
}

TEST(Transport, AConnectionTheServerClosedWhileIdleIsReplacedBeforeSending) {
  asio::io_context io;
  ScriptedServer server(io);
  server.script = [](int conn, int n) { return ok("vod-c" + std::to_string(conn) + "-" + std::to_string(n)); };
  server.hang_up_after = [](int conn, int) { return conn == 1; };
  asio::co_spawn(io, server.serve(), asio::detached);
  Client client(io, server.port());
  ASSERT_EQ(client.send("/a").status, 200);
  while (server.hung_up == 0 && io.run_one_for(10s) > 0) {
  }  // until the server has hung up (hang guard: 10 s without an event)
  ASSERT_EQ(server.hung_up, 1);

  // Without the check, this request would go into the dead socket and come back "closed"
  // after it was sent: an attempt in doubt for no reason.
  auto second = client.send("/b");
  EXPECT_EQ(second.error, TransportError::none) << second.error_text;
  EXPECT_EQ(second.status, 200);
  EXPECT_NE(second.body.find("vod-c2-1"), std::string::npos);
  EXPECT_EQ(server.connections, 2);
  EXPECT_EQ(server.requests, 2);
}

TEST(Transport, StrayBytesAfterAnAnswerAreNotTheNextAnswer) {
  asio::io_context io;
  ScriptedServer server(io);
  server.script = [](int conn, int n) {
    // The first answer is followed by a whole second one nobody asked for.
    if (conn == 1 && n == 1) return ok("vod-mine") + ok("vod-stray");
    return ok("vod-c" + std::to_string(conn) + "-" + std::to_string(n));
  };
  asio::co_spawn(io, server.serve(), asio::detached);
  Client client(io, server.port());
  auto first = client.send("/a");
  EXPECT_NE(first.body.find("vod-mine"), std::string::npos);
  auto second = client.send("/b");
  EXPECT_EQ(second.body.find("vod-stray"), std::string::npos) << second.body;
  EXPECT_NE(second.body.find("vod-c2-1"), std::string::npos) << second.body;  // a new connection
}

TEST(Transport, BytesThatArriveAfterAnAnswerWasReadAreNotTheNextAnswer) {
  asio::io_context io;
  ScriptedServer server(io);
  server.script = [](int conn, int n) { return ok("vod-c" + std::to_string(conn) + "-" + std::to_string(n)); };
  server.stray = ok("vod-stray");
  asio::co_spawn(io, server.serve(), asio::detached);
  Client client(io, server.port());
  auto first = client.send("/a");
  ASSERT_NE(first.body.find("vod-c1-1"), std::string::npos) << first.body;

  // The answer has been read in full; only now does the server write a whole extra one.
  server.release_stray();
  while (server.strays_delivered == 0 && io.run_one_for(10s) > 0) {
  }  // until the stray answer sits in the client's receive queue (hang guard: 10 s)
  ASSERT_EQ(server.strays_delivered, 1);

  // At once (well under a second later), the next request on that connection.
  auto second = client.send("/b");
  EXPECT_EQ(second.error, TransportError::none) << second.error_text;
  EXPECT_EQ(second.body.find("vod-stray"), std::string::npos) << second.body;
  EXPECT_NE(second.body.find("vod-c2-1"), std::string::npos) << second.body;  // a new connection
  EXPECT_EQ(server.connections, 2);
}

TEST(Transport, AnAnswerWithA40KiBHeaderIsReadWithItsId) {
  asio::io_context io;
  ScriptedServer server(io);
  // A CDN's long Content-Security-Policy: five times Beast's default header limit.
  const std::string csp = "Content-Security-Policy: default-src 'self'" + std::string(40 * 1024, 'x') + "\r\n";
  server.script = [&](int, int) { return ok("vod-big-header", csp); };
  asio::co_spawn(io, server.serve(), asio::detached);
  Client client(io, server.port());
  auto r = client.send("/a");
  EXPECT_EQ(r.error, TransportError::none) << r.error_text;
  const auto c = classify(r);
  EXPECT_EQ(c.verdict, Verdict::success) << c.error;
  EXPECT_EQ(c.video_public_id, "vod-big-header");
}

TEST(Transport, TheEmulatorsCdnSizedHeaderStillYieldsTheId) {
  EmulatorOptions eo;
  eo.projects = {"p1"};
  eo.videos_per_project = 1;
  eo.api_key = "k";
  eo.faults.extra_header_bytes = 40 * 1024;
  Emulator emu(eo);
  emu.start();
  asio::io_context io;
  Client client(io, emu.base_url(), "Bearer k");
  auto r = client.send("/api/v2/p1/live-videos/lv0/stop-and-cut", R"({"videoVisibilityOptionId":1})");
  EXPECT_EQ(r.error, TransportError::none) << r.error_text;
  const auto c = classify(r);
  EXPECT_EQ(c.verdict, Verdict::success) << c.error;
  ASSERT_EQ(emu.videos().size(), 1u);
  EXPECT_EQ(c.video_public_id, emu.videos()[0].video_public_id);
  EXPECT_FALSE(c.video_public_id.empty());
}

TEST(Transport, LoopbackOnlyConnectsToLoopbackAndNowhereElse) {
  asio::io_context io;
  ScriptedServer server(io);
  server.script = [](int, int n) { return ok("vod-" + std::to_string(n)); };
  asio::co_spawn(io, server.serve(), asio::detached);
  auto options = [&](const std::string& host) {
    TransportOptions o;
    o.base = *parse_base_url("http://" + host + ":" + std::to_string(server.port()));
    o.authorization = "Bearer k";
    o.loopback_only = true;
    return o;
  };
  Client local(io, options("localhost"));
  EXPECT_EQ(local.send("/a").status, 200);
  EXPECT_EQ(server.requests, 1);

  // A documentation-only address (TEST-NET-1): refused before any connect.
  Client remote(io, options("192.0.2.1"));
  auto r = remote.send("/b");
  EXPECT_EQ(r.error, TransportError::resolve) << r.error_text;
  EXPECT_FALSE(r.request_sent);
  EXPECT_NE(r.error_text.find("192.0.2.1, which is not a loopback address"), std::string::npos) << r.error_text;
  EXPECT_EQ(remote.transport->connections_opened(), 0u);
  EXPECT_FALSE(classify(r).ambiguous);
}

const std::string switching_protocols =
    "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";

TEST(Transport, A101IsSkippedAndTheFinalAnswerRead) {
  asio::io_context io;
  ScriptedServer server(io);
  server.script = [](int, int n) { return switching_protocols + ok("vod-" + std::to_string(n)); };
  asio::co_spawn(io, server.serve(), asio::detached);
  Client client(io, server.port());
  auto r = client.send("/a");
  EXPECT_EQ(r.error, TransportError::none) << r.error_text;
  const auto c = classify(r);
  EXPECT_EQ(c.verdict, Verdict::success) << c.error;
  EXPECT_EQ(c.video_public_id, "vod-1");
}

TEST(Transport, A101ThenACloseIsInDoubtNotFailed) {
  asio::io_context io;
  ScriptedServer server(io);
  server.script = [](int, int) { return switching_protocols; };
  server.hang_up_after = [](int, int) { return true; };
  asio::co_spawn(io, server.serve(), asio::detached);
  Client client(io, server.port());
  auto r = client.send("/a");
  EXPECT_TRUE(r.request_sent);
  EXPECT_EQ(r.error, TransportError::closed) << r.error_text;
  const auto c = classify(r);
  EXPECT_EQ(c.verdict, Verdict::retry) << c.error;
  EXPECT_TRUE(c.ambiguous);
}

TEST(Transport, ARequestTargetThatCouldEscapeItsLineOrPathIsNeverSent) {
  asio::io_context io;
  ScriptedServer server(io);
  server.script = [](int, int n) { return ok("vod-" + std::to_string(n)); };
  asio::co_spawn(io, server.serve(), asio::detached);
  Client client(io, server.port());
  const std::vector<std::string> targets = {
      "/api/v2/p/live-videos/lv\r\nX: y/stop-and-cut", "/a b", std::string("/a\0b", 4), "/a\x7f",
      "/\xc3\xa9", "/api/v2/p/live-videos/../../admin", "/api/v1/p/live-videos/..", "/a/./b",
      "http://elsewhere.example/api", ""};
  for (const auto& target : targets) {
    auto r = client.send(target);
    EXPECT_EQ(r.error, TransportError::protocol) << target;
    EXPECT_FALSE(r.request_sent) << target;
    EXPECT_FALSE(classify(r).ambiguous) << target;
  }
  EXPECT_EQ(server.connections, 0);  // nothing was even connected
  EXPECT_EQ(client.transport->connections_opened(), 0u);
  // Percent-encoded dots and slashes are plain bytes of a segment: they go out.
  EXPECT_EQ(client.send("/api/v2/p/live-videos/..%2F..%2Fadmin%3Fx%3D/stop-and-cut").status, 200);
}

TEST(Transport, OverTlsAStrayRecordThatCameWithTheAnswerIsNotTheNextAnswer) {
  asio::io_context io;
  ScriptedServer server(io);
  server.use_tls();
  server.script = [](int conn, int n) { return ok("vod-c" + std::to_string(conn) + "-" + std::to_string(n)); };
  // A record of its own, in the segment that carries the answer: the client's one socket read
  // takes both, so the stray one waits in OpenSSL's input, not in Beast's buffer or the socket.
  server.stray = ok("vod-stray");
  server.stray_with_answer = true;
  asio::co_spawn(io, server.serve(), asio::detached);
  test::TempDir dir;
  test::write_file(dir / "ca.pem", server.ca_pem);
  TransportOptions o;
  o.base = *parse_base_url("https://127.0.0.1:" + std::to_string(server.port()));
  o.ca_file = dir / "ca.pem";
  o.authorization = "Bearer k";
  Client client(io, o);

  auto first = client.send("/a");
  ASSERT_NE(first.body.find("vod-c1-1"), std::string::npos) << first.error_text;
  while (server.strays_delivered == 0 && io.run_one_for(10s) > 0) {
  }  // until the server has sent both (hang guard: 10 s)
  ASSERT_EQ(server.strays_delivered, 1);

  auto second = client.send("/b");
  EXPECT_EQ(second.error, TransportError::none) << second.error_text;
  EXPECT_NE(second.body.find("vod-c2-1"), std::string::npos) << second.body;
  // And a clean TLS connection is kept: the check does not reconnect for nothing.
  auto third = client.send("/c");
  EXPECT_NE(third.body.find("vod-c2-2"), std::string::npos) << third.body;
  EXPECT_EQ(server.connections, 2);
  EXPECT_EQ(client.transport->connections_opened(), 2u);
}
