// The emulator over real sockets on 127.0.0.1:0, driven by a tiny Beast client written
// here. Every exchange runs under io_context::run_for, a hang guard; nothing sleeps.
#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <unistd.h>

#include "batchcut/emulator/emulator.hpp"

using namespace batchcut;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace json = boost::json;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr auto hang_guard = 10s;

struct Reply {
  beast::error_code ec;  // transport error (then status is 0)
  int status = 0;
  std::string body;
  std::string content_type;

  json::object json_body() const { return json::parse(body).as_object(); }
};

// A keep-alive client: one connection, reopened only when the previous one ended.
class TestClient {
 public:
  explicit TestClient(std::uint16_t port) : port_(port) {}
  TestClient(std::uint16_t port, const std::string& ca_pem, std::string verify_host)
      : port_(port), verify_host_(std::move(verify_host)), ctx_(ssl::context::tls_client) {
    ctx_->set_verify_mode(ssl::verify_peer);
    if (!ca_pem.empty()) ctx_->add_certificate_authority(asio::buffer(ca_pem));
    ctx_->set_verify_callback(ssl::host_name_verification(verify_host_));
  }

  Reply request(http::verb verb, std::string target, std::optional<std::string> authorization,
                std::string body = {}) {
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (authorization) req.set(http::field::authorization, *authorization);
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    req.body() = std::move(body);
    req.prepare_payload();
    return run(exchange(std::move(req)));
  }

  Reply post_cut(std::string_view project, std::string_view video, std::string auth,
                 std::string body = R"({"videoVisibilityOptionId":1})") {
    return request(http::verb::post,
                   "/api/v2/" + std::string(project) + "/live-videos/" + std::string(video) +
                       "/stop-and-cut",
                   std::move(auth), std::move(body));
  }

  json::object stats() {
    const Reply r = request(http::verb::get, "/_emulator/stats", std::nullopt);
    EXPECT_EQ(r.status, 200) << r.ec.message();
    return r.status == 200 ? r.json_body() : json::object{};
  }

  // Connects (and handshakes) now; returns the error, if any.
  beast::error_code connect() { return run(open()); }

 private:
  template <class T>
  T run(asio::awaitable<T> work) {
    std::optional<T> result;
    std::exception_ptr error;
    asio::co_spawn(ioc_, std::move(work), [&](std::exception_ptr e, T value) {
      error = e;
      result = std::move(value);
    });
    ioc_.restart();
    ioc_.run_for(hang_guard);
    if (error) std::rethrow_exception(error);
    if (!result) throw std::runtime_error("hang guard: the exchange did not finish");
    return std::move(*result);
  }

  asio::awaitable<beast::error_code> open() {
    plain_.reset();
    tls_.reset();
    buffer_.clear();
    const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port_);
    if (!ctx_) {
      plain_ = std::make_unique<beast::tcp_stream>(ioc_);
      auto [ec] = co_await plain_->async_connect(ep, use_tuple);
      co_return ec;
    }
    tls_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ioc_, *ctx_);
    if (verify_host_ != "127.0.0.1")  // SNI takes names, not addresses
      SSL_set_tlsext_host_name(tls_->native_handle(), verify_host_.c_str());
    auto [ec] = co_await beast::get_lowest_layer(*tls_).async_connect(ep, use_tuple);
    if (ec) co_return ec;
    auto [hec] = co_await tls_->async_handshake(ssl::stream_base::client, use_tuple);
    co_return hec;
  }

  template <class Stream>
  asio::awaitable<Reply> exchange_on(Stream& stream, http::request<http::string_body> req) {
    Reply r;
    auto [wec, wn] = co_await http::async_write(stream, req, use_tuple);
    if (wec) {
      r.ec = wec;
      co_return r;
    }
    http::response<http::string_body> res;
    auto [rec, rn] = co_await http::async_read(stream, buffer_, res, use_tuple);
    if (rec) {
      r.ec = rec;
      co_return r;
    }
    r.status = static_cast<int>(res.result_int());
    r.body = res.body();
    r.content_type = std::string(res[http::field::content_type]);
    if (!res.keep_alive()) connected_ = false;
    co_return r;
  }

  asio::awaitable<Reply> exchange(http::request<http::string_body> req) {
    if (!connected_) {
      if (auto ec = co_await open()) {
        Reply r;
        r.ec = ec;
        co_return r;
      }
      connected_ = true;
    }
    // (Two statements: GCC 12 miscompiles co_await inside a conditional expression.)
    Reply r;
    if (plain_)
      r = co_await exchange_on(*plain_, std::move(req));
    else
      r = co_await exchange_on(*tls_, std::move(req));
    if (r.ec) connected_ = false;
    co_return r;
  }

  std::uint16_t port_;
  std::string verify_host_;
  std::optional<ssl::context> ctx_;
  asio::io_context ioc_;
  std::unique_ptr<beast::tcp_stream> plain_;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls_;
  beast::flat_buffer buffer_;
  bool connected_ = false;
};

EmulatorOptions options() {
  EmulatorOptions o;
  o.projects = {"p1"};
  o.videos_per_project = 40;
  o.api_key = "k-123-secret";
  o.threads = 2;
  return o;
}

const std::string auth = "Bearer k-123-secret";

std::filesystem::path temp_file(const std::string& name) {
  return std::filesystem::temp_directory_path() /
         (name + "-" + std::to_string(::getpid()) + "-" +
          ::testing::UnitTest::GetInstance()->current_test_info()->name());
}

std::vector<std::string> read_lines(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace

TEST(EmulatorServer, PlainHttpRulesCutsAndStats) {
  Emulator emu(options());
  emu.start();
  ASSERT_NE(emu.port(), 0);
  EXPECT_EQ(emu.base_url(), "http://127.0.0.1:" + std::to_string(emu.port()));
  TestClient c(emu.port());

  EXPECT_EQ(c.post_cut("p1", "lv0", "").status, 401);
  EXPECT_EQ(c.post_cut("p1", "lv0", "Bearer nope").status, 401);
  EXPECT_EQ(c.post_cut("p1", "lv0", "k-123-secret").status, 401);
  EXPECT_EQ(c.post_cut("p9", "lv0", auth).status, 403);
  EXPECT_EQ(c.post_cut("p1", "nope", auth).status, 404);
  EXPECT_EQ(c.post_cut("p1", "lv0", auth, R"({"fromMilisecond":5})").status, 400);
  EXPECT_EQ(c.request(http::verb::get, "/elsewhere", auth).status, 404);
  EXPECT_EQ(c.request(http::verb::put, "/api/v1/p1/live-videos/lv0", auth).status, 405);

  const Reply made = c.post_cut("p1", "lv0", auth);
  ASSERT_EQ(made.status, 200) << made.body;
  EXPECT_EQ(made.content_type, "application/json");
  const std::string id(made.json_body().at("result").at("videoPublicId").as_string());
  EXPECT_EQ(id.substr(0, 3), "vjs");

  const Reply again = c.post_cut("p1", "lv0", auth);
  EXPECT_EQ(again.status, 400);
  EXPECT_NE(again.body.find("cannot be stopped"), std::string::npos);

  const Reply live = c.request(http::verb::get, "/api/v1/p1/live-videos/lv0", auth);
  ASSERT_EQ(live.status, 200);
  EXPECT_FALSE(live.json_body().at("result").at("canStopAndCut").as_bool());
  const Reply other = c.request(http::verb::get, "/api/v1/p1/live-videos/lv1", auth);
  EXPECT_TRUE(other.json_body().at("result").at("canStopAndCut").as_bool());

  // Same connection, so the server has finished (and counted) every earlier write.
  const auto s = c.stats();
  EXPECT_EQ(s.at("requests").as_int64(), 13);
  EXPECT_EQ(s.at("connectionsAccepted").as_int64(), 1);  // keep-alive held throughout
  EXPECT_EQ(s.at("cutsMade").as_int64(), 1);
  EXPECT_EQ(s.at("repeatedCuts").as_int64(), 1);
  EXPECT_EQ(s.at("idsDelivered").as_int64(), 1);
  EXPECT_EQ(s.at("droppedConnections").as_int64(), 0);
  EXPECT_EQ(s.at("requestsByStatus").at("401").as_int64(), 3);
  EXPECT_EQ(s.at("requestsByStatus").at("400").as_int64(), 2);

  const auto videos = emu.videos();
  ASSERT_EQ(videos.size(), 40u);
  EXPECT_EQ(videos[0].live_video_id, "lv0");
  EXPECT_EQ(videos[0].cut_count, 1);
  EXPECT_EQ(videos[0].video_public_id, id);
  EXPECT_TRUE(videos[0].id_delivered);
  EXPECT_EQ(emu.stats().repeated_cuts, 1u);
}

TEST(EmulatorServer, RejectsATooLargeBody) {
  Emulator emu(options());
  emu.start();
  TestClient c(emu.port());
  const Reply r = c.post_cut("p1", "lv0", auth, std::string(70 * 1024, ' '));
  EXPECT_EQ(r.status, 413) << r.ec.message();
  EXPECT_EQ(emu.stats().cuts_made, 0u);
}

TEST(EmulatorServer, TlsSelfSignedIsVerifiedWithItsCa) {
  auto o = options();
  o.tls = EmulatorTls::self_signed;
  o.ca_out = temp_file("emu-ca.pem");
  Emulator emu(o);
  emu.start();
  EXPECT_EQ(emu.base_url().substr(0, 8), "https://");
  const std::string ca = emu.ca_pem();
  ASSERT_EQ(ca.rfind("-----BEGIN CERTIFICATE-----", 0), 0u);
  std::stringstream written;
  written << std::ifstream(*o.ca_out).rdbuf();
  EXPECT_EQ(written.str(), ca);
  std::filesystem::remove(*o.ca_out);

  for (const char* host : {"127.0.0.1", "localhost"}) {
    SCOPED_TRACE(host);
    TestClient c(emu.port(), ca, host);
    const Reply cut = c.post_cut("p1", std::string("lv") + (host[0] == 'l' ? "1" : "2"), auth);
    EXPECT_EQ(cut.status, 200) << cut.ec.message();
    EXPECT_EQ(c.request(http::verb::get, "/api/v1/p1/live-videos/lv1", auth).status, 200);
  }
  // Verification really happens: a wrong name, or no trusted CA, fails the handshake.
  EXPECT_TRUE(TestClient(emu.port(), ca, "example.com").connect());
  EXPECT_TRUE(TestClient(emu.port(), "", "127.0.0.1").connect());
}

TEST(EmulatorServer, RecordFileHasEveryRequestAndNoKey) {
  auto o = options();
  o.record = temp_file("emu-record.jsonl");
  {
    Emulator emu(o);
    emu.start();
    TestClient c(emu.port());
    EXPECT_EQ(c.post_cut("p1", "lv0", auth).status, 200);
    EXPECT_EQ(c.post_cut("p1", "lv0", "k-123-secret").status, 401);
    EXPECT_EQ(c.request(http::verb::get, "/api/v1/p1/live-videos/lv0", auth).status, 200);
    emu.stop();  // the file is complete once stop() returns
    const auto lines = read_lines(*o.record);
    ASSERT_EQ(lines.size(), 3u);
    for (const auto& line : lines) {
      EXPECT_EQ(line.find("k-123-secret"), std::string::npos) << line;
      EXPECT_EQ(line.find("Bearer"), std::string::npos) << line;
    }
    const auto first = json::parse(lines[0]).as_object();
    EXPECT_EQ(first.at("method").as_string(), "POST");
    EXPECT_EQ(first.at("target").as_string(), "/api/v2/p1/live-videos/lv0/stop-and-cut");
    EXPECT_TRUE(first.at("authorized").as_bool());
    EXPECT_EQ(first.at("authScheme").as_string(), "bearer");
    EXPECT_EQ(first.at("contentType").as_string(), "application/json");
    EXPECT_EQ(first.at("body").as_string(), R"({"videoVisibilityOptionId":1})");
    EXPECT_EQ(first.at("status").as_int64(), 200);
    EXPECT_EQ(first.at("videoPublicId").as_string(), emu.videos()[0].video_public_id);
    const auto second = json::parse(lines[1]).as_object();
    EXPECT_FALSE(second.at("authorized").as_bool());
    EXPECT_EQ(second.at("authScheme").as_string(), "raw");
    EXPECT_EQ(second.at("status").as_int64(), 401);
    EXPECT_TRUE(second.at("videoPublicId").is_null());
  }
  std::filesystem::remove(*o.record);
}

TEST(EmulatorServer, CutThenDropClosesTheSocketAfterCutting) {
  auto o = options();
  o.faults.p_cut_drop = 1;
  o.record = temp_file("emu-drop.jsonl");
  Emulator emu(o);
  emu.start();
  TestClient c(emu.port());
  const Reply r = c.post_cut("p1", "lv5", auth);
  EXPECT_TRUE(r.ec) << "got a response: " << r.status;
  EXPECT_EQ(r.status, 0);
  const auto s = c.stats();  // a fresh connection
  EXPECT_EQ(s.at("cutsMade").as_int64(), 1);
  EXPECT_EQ(s.at("droppedConnections").as_int64(), 1);
  EXPECT_EQ(s.at("idsDelivered").as_int64(), 0);
  EXPECT_EQ(s.at("connectionsAccepted").as_int64(), 2);
  const auto videos = emu.videos();
  const auto it = std::find_if(videos.begin(), videos.end(),
                               [](const EmulatorVideo& x) { return x.live_video_id == "lv5"; });
  ASSERT_NE(it, videos.end());
  const EmulatorVideo v = *it;
  EXPECT_EQ(v.cut_count, 1);
  EXPECT_FALSE(v.video_public_id.empty());
  EXPECT_FALSE(v.id_delivered);
  emu.stop();
  const auto lines = read_lines(*o.record);
  ASSERT_EQ(lines.size(), 2u);
  const auto rec = json::parse(lines[0]).as_object();
  EXPECT_EQ(rec.at("status").as_int64(), 0);
  EXPECT_EQ(rec.at("fault").as_string(), "cut_drop");
  EXPECT_EQ(rec.at("videoPublicId").as_string(), v.video_public_id);
  std::filesystem::remove(*o.record);
}

TEST(EmulatorServer, SameSeedSameFaultSequence) {
  auto run = [](std::uint64_t seed) {
    auto o = options();
    o.faults.seed = seed;
    o.faults.p500 = 0.2;
    o.faults.p503 = 0.2;
    o.faults.p429 = 0.2;
    o.faults.p500_after_cut = 0.1;
    o.faults.retry_after_seconds = 3;
    Emulator emu(o);
    emu.start();
    TestClient c(emu.port());
    std::vector<int> statuses;
    for (int i = 0; i < 30; ++i) statuses.push_back(c.post_cut("p1", "lv" + std::to_string(i), auth).status);
    return statuses;
  };
  const auto a = run(99);
  EXPECT_EQ(a, run(99));
  EXPECT_NE(a, run(100));
  EXPECT_GE(std::set<int>(a.begin(), a.end()).size(), 3u) << ::testing::PrintToString(a);
}

TEST(EmulatorServer, StartFailsClearlyOnABusyPort) {
  Emulator first(options());
  first.start();
  auto o = options();
  o.listen_port = first.port();
  Emulator second(o);
  try {
    second.start();
    ADD_FAILURE() << "bound a port already in use";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot listen"), std::string::npos) << e.what();
  }
}

TEST(EmulatorServer, StopClosesIdleKeptAliveConnections) {
  auto emu = std::make_unique<Emulator>(options());
  emu->start();
  TestClient c(emu->port());
  EXPECT_EQ(c.request(http::verb::get, "/api/v1/p1/live-videos/lv0", auth).status, 200);
  emu->stop();  // must not wait for the client's idle connection
  emu->stop();  // idempotent
  const Reply after = c.request(http::verb::get, "/api/v1/p1/live-videos/lv0", auth);
  EXPECT_TRUE(after.ec);
  emu.reset();  // the destructor after stop() is fine too
}
