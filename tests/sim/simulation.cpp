#include "simulation.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>
#include <functional>
#include <iomanip>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>

#include "batchcut/job/lifecycle.hpp"
#include "batchcut/ledger/ledger.hpp"
#include "batchcut/ledger/writer.hpp"
#include "batchcut/net/api.hpp"
#include "batchcut/run/clock.hpp"
#include "batchcut/run/plan.hpp"
#include "batchcut/run/runner.hpp"
#include "batchcut/util/time_util.hpp"

namespace batchcut::sim {

namespace asio = boost::asio;
using ms = std::chrono::milliseconds;
using namespace std::chrono_literals;

namespace {

constexpr const char* kLedgerName = "sim.ledger.jsonl";

// ---- the history's random choices: one generator, drawn in a fixed order ----

struct Rng {
  std::mt19937_64 gen;
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(gen) < p; }
  int between(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen); }
  ms millis(int lo, int hi) { return ms(between(lo, hi)); }
  double fraction(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(gen); }
};

class Trace {
 public:
  Trace(const SimulatedClock& clock, bool on, bool echo) : clock_(clock), on_(on || echo), echo_(echo) {}
  template <class... Parts>
  void operator()(const Parts&... parts) {
    if (!on_) return;
    const auto t = std::chrono::duration_cast<ms>(clock_.now() - start_).count();
    std::ostringstream line;
    line << "t=" << t / 1000 << "." << std::setfill('0') << std::setw(3) << t % 1000 << " ";
    (line << ... << parts);
    text_ += line.str() + "\n";
    if (echo_) std::cerr << line.str() << std::endl;
  }
  const std::string& text() const { return text_; }

 private:
  const SimulatedClock& clock_;
  bool on_;
  bool echo_;
  steady_time start_ = clock_.now();
  std::string text_;
};

// ---- the server: a model of the API's behaviour, with faults ----

// A VOD the server made: of a stop-and-cut, or a clip.
struct Vod {
  std::string id;
  std::string parent;  // the live video's key
  std::string title;
  bool clip = false;
  std::string inserted;  // insertDate (wall clock at creation: a lookup's window is in wall time)
};

struct Video {
  std::string key;
  std::string title;  // the live video's own title
  bool stopped = false;
  steady_time processing_until{};  // a stop under way: reads say Processing
  std::vector<std::string> vods;   // ids of the VODs made from it
  int cuts_after_stop = 0;         // cut requests that reached the backend once it was stopped
  bool id_delivered = false;       // a running client received the id of a VOD of it
  int refuse_with = 0;             // a permanent status for every cut of it (0: none)
  std::map<std::string, int> clips_made;         // by title: clips made of it
  std::set<std::string> clips_delivered;         // titles whose clip id a running client received
};

struct Faults {
  double p503 = 0, p429 = 0, p500 = 0, p_cut_drop = 0, p500_after_cut = 0, p_garbled = 0,
         p_slow = 0, p_read_fail = 0, p_refused = 0, p_late = 0;
  bool lenient = false;  // a cut of a stopped stream makes another VOD instead of a 400
  bool omit_parent = false;  // the video list answers no parentVideoId (and ignores that filter)
  steady_time revoked_from{}, revoked_until{};  // a window in which the key gets 401
};

struct Answer {
  int status = 0;
  std::string body;
  std::string retry_after;
  bool drop = false;  // the connection closes without an answer
  ms delay{0};        // server time before the answer leaves

  Answer(int s, std::string b, std::string ra = {}, bool d = false, ms wait = ms(0))
      : status(s), body(std::move(b)), retry_after(std::move(ra)), drop(d), delay(wait) {}
};

class Server {
 public:
  Server(Rng& rng, Trace& trace) : rng_(rng), trace_(trace) {}

  Video& add(const std::string& key) {
    videos_[key].key = key;
    return videos_[key];
  }
  std::map<std::string, Video>& videos() { return videos_; }
  void set_faults(const Faults& f) { faults_ = f; }
  const Faults& faults() const { return faults_; }

  Answer handle(const HttpRequest& request, steady_time now) {
    if (request.target.rfind("/api/projects/", 0) == 0) {  // the manage API's video list
      if (now >= faults_.revoked_from && now < faults_.revoked_until) return {401, R"({"errors":["expired key"]})"};
      return list(request.target);
    }
    Video* v = video_of(request.target);
    if (!v) return {404, R"({"success":false,"errors":["no such live video"]})"};
    if (now >= faults_.revoked_from && now < faults_.revoked_until) return {401, R"({"errors":["expired key"]})"};
    if (request.post && request.target.ends_with("/cut-and-publish")) return clip(*v, request.body, now);
    return request.post ? cut(*v, now) : read(*v, now);
  }

  const std::vector<Vod>& vods() const { return vods_; }

 private:
  Video* video_of(const std::string& target) {
    // /api/vN/{project}/live-videos/{id}[/stop-and-cut]
    const auto p0 = target.find('/', std::string("/api/v1/").size());
    const auto lv = target.find("/live-videos/");
    if (p0 == std::string::npos || lv == std::string::npos) return nullptr;
    const std::string project = target.substr(std::string("/api/v1/").size(), p0 - std::string("/api/v1/").size());
    std::string id = target.substr(lv + 13);
    if (auto slash = id.find('/'); slash != std::string::npos) id.resize(slash);
    auto it = videos_.find(project + "/" + id);
    return it == videos_.end() ? nullptr : &it->second;
  }

  Answer cut(Video& v, steady_time now) {
    // The proxy in front answers first: nothing reaches the backend.
    if (rng_.chance(faults_.p503)) return {503, "<html><body><h1>Error 503 Backend fetch failed</h1>Guru Meditation</body></html>"};
    if (rng_.chance(faults_.p429)) return {429, "{}", "1"};
    if (v.refuse_with) return {v.refuse_with, R"({"success":false,"errors":["refused"]})"};
    if (v.stopped) {
      ++v.cuts_after_stop;
      trace_("server: ", v.key, " cut again after it was stopped", faults_.lenient ? " (made another VOD)" : "");
      if (!faults_.lenient) return {400, R"({"success":false,"errors":["live video cannot be stopped"]})"};
      v.vods.push_back(make_vod(v, v.title, false));
      return {200, ok_body(v.vods.back())};
    }
    if (rng_.chance(faults_.p500)) return {500, R"({"success":false,"errors":["internal"]})"};
    // The backend stops the stream and makes the VOD.
    v.stopped = true;
    v.vods.push_back(make_vod(v, v.title, false));
    const ms processing = rng_.chance(faults_.p_slow) ? rng_.millis(1000, 6000) : rng_.millis(0, 50);
    v.processing_until = now + processing;
    trace_("server: cut ", v.key, " -> ", v.vods.back(), " (processing ", processing.count(), " ms)");
    if (rng_.chance(faults_.p_cut_drop)) return {0, "", "", true, processing};
    if (rng_.chance(faults_.p500_after_cut)) return {500, R"({"errors":["timeout talking to encoder"]})", "", false, processing};
    if (rng_.chance(faults_.p_garbled)) return {200, "<html>stray bytes", "", false, processing};
    return {200, ok_body(v.vods.back()), "", false, processing};
  }

  // cut-and-publish: a new clip every call, whether the stream runs or not.
  Answer clip(Video& v, const std::string& body, steady_time) {
    if (rng_.chance(faults_.p503)) return {503, "<html><body><h1>Error 503 Backend fetch failed</h1>Guru Meditation</body></html>"};
    if (rng_.chance(faults_.p429)) return {429, "{}", "1"};
    if (v.refuse_with) return {v.refuse_with, R"({"success":false,"errors":["refused"]})"};
    if (rng_.chance(faults_.p500)) return {500, R"({"success":false,"errors":["internal"]})"};
    const std::string title(boost::json::parse(body).at("title").as_string());
    const std::string id = make_vod(v, title, true);
    const int made = ++v.clips_made[title];
    const ms processing = rng_.chance(faults_.p_slow) ? rng_.millis(1000, 6000) : rng_.millis(0, 50);
    trace_("server: clip ", v.key, " \"", title, "\" -> ", id, made > 1 ? " (a DUPLICATE)" : "");
    if (rng_.chance(faults_.p_cut_drop)) return {0, "", "", true, processing};
    if (rng_.chance(faults_.p500_after_cut)) return {500, R"({"errors":["timeout talking to encoder"]})", "", false, processing};
    if (rng_.chance(faults_.p_garbled)) return {200, "<html>stray bytes", "", false, processing};
    return {200, ok_body(id), "", false, processing};
  }

  // GET /api/projects/{p}/videos?search=..&parentVideoId=..&page=1&take=N
  Answer list(const std::string& target) {
    if (rng_.chance(faults_.p_read_fail)) return {503, "<html>Backend fetch failed</html>"};
    auto param = [&](const std::string& name) -> std::optional<std::string> {
      const auto at = target.find(name + "=");
      if (at == std::string::npos) return std::nullopt;
      const auto end = target.find('&', at);
      return percent_decoded(target.substr(at + name.size() + 1, end == std::string::npos ? std::string::npos : end - at - name.size() - 1));
    };
    const auto search = param("search");
    const auto parent = param("parentVideoId");
    boost::json::array items;
    for (const Vod& vod : vods_) {
      if (search && vod.title.find(*search) == std::string::npos) continue;
      if (parent && !faults_.omit_parent && vod.parent.substr(vod.parent.find('/') + 1) != *parent) continue;
      boost::json::object item{{"publicId", vod.id}, {"title", vod.title}, {"insertDate", vod.inserted},
                               {"liveCutStartDate", "2026-01-01T00:00:00Z"}};
      if (!faults_.omit_parent) item["parentVideoId"] = vod.parent.substr(vod.parent.find('/') + 1);
      items.push_back(std::move(item));
    }
    boost::json::object result{{"currentPage", 1}, {"totalPages", 1}, {"pageSize", 100},
                               {"totalCount", items.size()}, {"items", std::move(items)}};
    return {200, boost::json::serialize(boost::json::object{{"success", true}, {"result", std::move(result)}})};
  }

  static std::string percent_decoded(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '%' && i + 2 < s.size()) {
        out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
        i += 2;
      } else {
        out += s[i];
      }
    }
    return out;
  }

  std::string make_vod(const Video& v, const std::string& title, bool is_clip) {
    const auto now = std::chrono::time_point_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now());
    vods_.push_back({new_id(), v.key, title, is_clip, format_iso8601(utc_time(now.time_since_epoch()))});
    return vods_.back().id;
  }

  Answer read(Video& v, steady_time now) {
    if (rng_.chance(faults_.p_read_fail)) return {503, "<html>Backend fetch failed</html>"};
    if (now < v.processing_until)
      return {200, R"({"success":true,"result":{"liveStatus":"Processing","canStopAndCut":true}})"};
    return {200, std::string(R"({"success":true,"result":{"title":")") + v.title + R"(","liveStatus":")" +
                     (v.stopped ? "Offline" : "Live") + R"(","canStopAndCut":)" + (v.stopped ? "false" : "true") + "}}"};
  }

  std::string ok_body(const std::string& id) {
    return R"({"success":true,"errors":[],"messages":[],"result":{"videoPublicId":")" + id + R"("},"statusCode":200})";
  }
  std::string new_id() { return "vod" + std::to_string(++made_); }

  Rng& rng_;
  Trace& trace_;
  Faults faults_;
  std::map<std::string, Video> videos_;
  std::vector<Vod> vods_;
  int made_ = 0;
};

// ---- one batchcut process ----

struct Process {
  int number = 0;
  bool crashed = false;  // dead: no more code of it runs, nothing more of it reaches anyone
  std::unique_ptr<asio::io_context> io = std::make_unique<asio::io_context>(1);
  std::unique_ptr<Transport> transport;
  std::unique_ptr<LedgerLog> ledger;
  std::unique_ptr<Runner> runner;
  std::optional<RunSummary> summary;
  bool forced = false;
};

// A completion that one of several clock events delivers (the first wins).
struct Pending {
  asio::any_io_executor executor;
  // (optional + emplace: Boost 1.81's any_completion_handler cannot be move-assigned)
  std::optional<asio::any_completion_handler<void(AttemptResult)>> handler;
  bool done = false;
  void complete(AttemptResult r) {
    if (done) return;
    done = true;
    asio::post(executor, [h = std::move(*handler), r = std::move(r)]() mutable { std::move(h)(std::move(r)); });
  }
};

struct SentPost {
  int process;
  std::string target;
};

struct Network {
  SimulatedClock& clock;
  Server& server;
  Rng& rng;
  Trace& trace;
  Result& stats;
  std::vector<SentPost> sent_posts = {};  // every cut and clip that left a client, in order
};

class SimConnection final : public Connection {
 public:
  SimConnection(Network& net, Process& proc) : net_(net), proc_(proc) {}

  asio::awaitable<AttemptResult> round_trip(const HttpRequest& request, ms timeout) override {
    auto ex = co_await asio::this_coro::executor;
    // The Pending lives in the clock's events only: were this frame to hold it too, a
    // frame parked for good (a dead process) would keep itself alive.
    auto initiate = [&](asio::any_completion_handler<void(AttemptResult)> h) {
      auto pending = std::make_shared<Pending>();
      pending->executor = ex;
      pending->handler.emplace(std::move(h));
      send(request, timeout, pending);
    };
    AttemptResult r = co_await asio::async_initiate<decltype(asio::use_awaitable), void(AttemptResult)>(
        initiate, asio::use_awaitable);
    r.elapsed = std::chrono::duration_cast<ms>(net_.clock.now() - sent_at_);
    if (request.post && r.status >= 200 && r.status < 300) note_delivered(request, r.body);
    co_return r;
  }

 private:
  void send(const HttpRequest& request, ms timeout, const std::shared_ptr<Pending>& pending) {
    SimulatedClock& clock = net_.clock;
    sent_at_ = clock.now();
    if (proc_.crashed) {
      // The process died before this line: the request never leaves. The coroutine is parked
      // for good (destroyed with the clock's events).
      clock.at(steady_time::max(), [pending] {});
      return;
    }
    (request.post ? net_.stats.cuts_sent : net_.stats.reads_sent)++;
    if (request.post) net_.sent_posts.push_back({proc_.number, request.target});
    if (net_.rng.chance(net_.server.faults().p_refused)) {
      clock.at(clock.now() + net_.rng.millis(1, 20), [pending] {
        AttemptResult r;
        r.error = TransportError::connect;
        r.error_text = "connection refused";
        pending->complete(r);
      });
      return;
    }
    // It may sit in a socket buffer a while (never as long as the settle delay).
    const ms in = net_.rng.chance(net_.server.faults().p_late) ? net_.rng.millis(200, 1500) : net_.rng.millis(1, 30);
    const ms out = net_.rng.millis(1, 30);
    Server* server = &net_.server;
    Trace* trace = &net_.trace;
    const int proc = proc_.number;
    clock.at(clock.now() + in, [&clock, server, trace, request, pending, out, proc] {
      const Answer a = server->handle(request, clock.now());
      (*trace)("server: run ", proc, " ", request.post ? "POST " : "GET ", request.target, " -> ",
               a.drop ? std::string("drop") : std::to_string(a.status));
      clock.at(clock.now() + a.delay + out, [pending, a] {
        AttemptResult r;
        r.request_sent = true;
        if (a.drop) {
          r.error = TransportError::closed;
          r.error_text = "connection closed before an answer";
        } else {
          r.status = a.status;
          r.body = a.body;
          r.retry_after = a.retry_after;
        }
        pending->complete(r);
      });
    });
    clock.at(clock.now() + timeout, [pending] {
      AttemptResult r;
      r.request_sent = true;
      r.error = TransportError::timeout;
      r.error_text = "no answer in time";
      pending->complete(r);
    });
  }

  // The client has the id in hand now: from here, losing it is the client's fault.
  void note_delivered(const HttpRequest& request, const std::string& body) {
    boost::system::error_code ec;
    auto v = boost::json::parse(body, ec);
    if (ec || !v.is_object()) return;
    auto* result = v.as_object().if_contains("result");
    if (!result || !result->is_object() || !result->as_object().if_contains("videoPublicId")) return;
    if (request.target.ends_with("/cut-and-publish")) {
      const std::string id(result->as_object().at("videoPublicId").as_string());
      for (const Vod& vod : net_.server.vods())
        if (vod.id == id) {
          net_.server.videos()[vod.parent].clips_delivered.insert(vod.title);
          ++net_.stats.ids_delivered;
        }
      return;
    }
    for (auto& [key, video] : net_.server.videos()) {
      if (request.target.find("/" + key.substr(key.find('/') + 1) + "/stop-and-cut") != std::string::npos &&
          request.target.find("/" + key.substr(0, key.find('/')) + "/") != std::string::npos) {
        video.id_delivered = true;
        ++net_.stats.ids_delivered;
      }
    }
  }

  Network& net_;
  Process& proc_;
  steady_time sent_at_{};
};

class SimTransport final : public Transport {
 public:
  SimTransport(Network& net, Process& proc) : net_(net), proc_(proc) {}
  std::unique_ptr<Connection> make_connection() override {
    ++opened_;
    return std::make_unique<SimConnection>(net_, proc_);
  }
  std::size_t connections_opened() const override { return opened_; }

 private:
  Network& net_;
  Process& proc_;
  std::size_t opened_ = 0;
};

// ---- the ledger's disk: group commit with a simulated fsync, and crashes ----

class MemoryLedger final : public LedgerLog {
 public:
  MemoryLedger(SimulatedClock& clock, Rng& rng, Trace& trace, Process& proc, const std::string& existing)
      : clock_(clock), rng_(rng), trace_(trace), proc_(proc) {
    std::size_t pos = 0;
    while (pos < existing.size()) {
      auto nl = existing.find('\n', pos);
      // A whole last record that lost only its newline: the writer ends it before appending.
      if (nl == std::string::npos) nl = existing.size();
      lines_.push_back(existing.substr(pos, nl - pos) + "\n");
      pos = nl + 1;
    }
    durable_ = appended_ = lines_.size();
  }

  std::optional<Seq> crash_at;  // the process dies as this record is appended
  Seq appended() const { return appended_; }

  Seq append(std::string_view line) override {
    const Seq seq = ++appended_;
    if (crash_at && seq == *crash_at && !proc_.crashed) {
      proc_.crashed = true;
      trace_("run ", proc_.number, " dies as it appends: ", without_ts(line));
    }
    if (!proc_.crashed) {
      lines_.emplace_back(line);
      trace_("run ", proc_.number, " ledger: ", without_ts(line));
    }
    return seq;
  }

  void when_durable(Seq seq, std::function<void()> done) override {
    if (seq <= durable_) {
      done();
      return;
    }
    callbacks_.emplace(seq, std::move(done));
    sync();
  }

  void flush() override { durable_ = appended_; }
  std::optional<std::string> failure() const override { return std::nullopt; }

  // The file after the process ends: everything on a normal exit; after a crash, what was
  // synced and perhaps some of what was only written, perhaps with a torn last line.
  std::string file_after(bool crashed) {
    std::size_t keep = lines_.size();
    std::string torn;
    if (crashed) {
      const std::size_t synced = std::min<std::size_t>(durable_, lines_.size());
      keep = static_cast<std::size_t>(rng_.between(static_cast<int>(synced), static_cast<int>(lines_.size())));
      if (keep < lines_.size() && rng_.chance(0.3))
        torn = lines_[keep].substr(0, static_cast<std::size_t>(rng_.between(1, static_cast<int>(lines_[keep].size()) - 1)));
    }
    std::string out;
    for (std::size_t i = 0; i < keep; ++i) out += lines_[i];
    return out + torn;
  }

 private:
  // A record as the trace shows it: its wall-clock "ts" would make two replays differ.
  static std::string without_ts(std::string_view line) {
    std::string s(line.substr(0, line.size() - 1));
    if (auto at = s.find(",\"ts\":\""); at != std::string::npos) s.erase(at, s.find('"', at + 7) + 1 - at);
    return s;
  }

  void sync() {
    if (syncing_ || proc_.crashed) return;
    syncing_ = true;
    const Seq upto = appended_;
    clock_.at(clock_.now() + rng_.millis(0, 8), [this, upto] {
      syncing_ = false;
      if (proc_.crashed) return;
      durable_ = std::max(durable_, upto);
      while (!callbacks_.empty() && callbacks_.begin()->first <= durable_) {
        auto f = std::move(callbacks_.begin()->second);
        callbacks_.erase(callbacks_.begin());
        f();
      }
      if (!callbacks_.empty()) sync();
    });
  }

  SimulatedClock& clock_;
  Rng& rng_;
  Trace& trace_;
  Process& proc_;
  std::vector<std::string> lines_;
  Seq appended_ = 0;
  Seq durable_ = 0;
  bool syncing_ = false;
  std::multimap<Seq, std::function<void()>> callbacks_;
};

// ---- the history ----

class History {
 public:
  explicit History(const Settings& s)
      : settings_(s), rng_{std::mt19937_64(s.seed)}, trace_(clock_, s.trace, s.echo), server_(rng_, trace_),
        net_{clock_, server_, rng_, trace_, result_} {}

  ~History() {
    // Coroutines go while what they point at still exists. Those parked in the clock's
    // events first: dropping one posts its unwinding to its event loop. Then the event loops
    // (which unwind what is queued in them), then the runners.
    clock_.clear();
    for (auto& p : processes_) p->io.reset();
    processes_.clear();
  }

  Result play() {
    make_manifest();
    const int runs = rng_.between(2, 8);
    for (int r = 1; r <= runs + 1 && result_.ok; ++r) {
      run_once(r, /*clean=*/r == runs + 1);
      check(r, r == runs + 1);
    }
    if (settings_.trace || !result_.ok) result_.trace = trace_.text();
    return result_;
  }

 private:
  void violation(const std::string& what) {
    result_.ok = false;
    result_.violations.push_back(what);
    trace_("VIOLATION: ", what);
  }

  void make_manifest() {
    omit_parent_ = rng_.chance(0.3);
    shared_titles_ = !omit_parent_ && rng_.chance(0.5);
    const int n = rng_.between(1, 8);
    for (int i = 0; i < n; ++i) {
      JobSpec j;
      j.project_id = "p";
      j.live_video_id = "lv" + std::to_string(i);
      j.line = static_cast<std::uint32_t>(i + 2);
      if (rng_.chance(0.5)) {
        j.range = RangeKind::ms;
        j.from_ms = rng_.between(0, 1000);
        j.to_ms = j.from_ms + rng_.between(1, 100000);
      }
      // Clips of it first, as a post-event manifest has them (the runner must order them anyway).
      const int clips = rng_.chance(0.5) ? rng_.between(1, 3) : 0;
      for (int c = 0; c < clips; ++c) {
        JobSpec clip = j;
        clip.kind = JobKind::clip;
        clip.range = RangeKind::ms;
        clip.from_ms = rng_.between(0, 1000);
        clip.to_ms = clip.from_ms + rng_.between(1, 100000);
        // Titles are unique in a live video (the manifest warns otherwise); across live
        // videos they repeat only while the list answers parentVideoId to tell them apart.
        clip.title = "Goal " + std::to_string(c + 1) + (shared_titles_ ? "" : " of " + j.live_video_id);
        if (rng_.chance(0.5)) clip.clip_id = "c" + std::to_string(c + 1);
        clip.line = static_cast<std::uint32_t>(100 + i * 10 + c);
        manifest_.push_back(clip);
      }
      if (rng_.chance(0.8) || clips == 0) manifest_.push_back(j);  // most streams are stopped at the end
      Video& v = server_.add(j.project_id + "/" + j.live_video_id);
      v.title = "Live video " + j.live_video_id;
      if (rng_.chance(0.1)) v.refuse_with = std::array{400, 403, 404}[rng_.between(0, 2)];
    }
    trace_("manifest: ", manifest_.size(), " jobs over ", n, " live videos", shared_titles_ ? ", clip titles shared across them" : "");
  }

  Faults random_faults(bool clean) {
    Faults f;
    f.omit_parent = omit_parent_;
    if (clean) return f;
    const double scale = rng_.fraction(0, 1);
    f.p503 = scale * rng_.fraction(0, 0.3);
    f.p429 = scale * rng_.fraction(0, 0.1);
    f.p500 = scale * rng_.fraction(0, 0.2);
    f.p_cut_drop = scale * rng_.fraction(0, 0.3);
    f.p500_after_cut = scale * rng_.fraction(0, 0.2);
    f.p_garbled = scale * rng_.fraction(0, 0.1);
    f.p_slow = scale * rng_.fraction(0, 0.3);
    f.p_read_fail = scale * rng_.fraction(0, 0.3);
    f.p_refused = scale * rng_.fraction(0, 0.1);
    f.p_late = scale * rng_.fraction(0, 0.3);
    f.lenient = rng_.chance(0.5);
    if (rng_.chance(0.15)) {
      f.revoked_from = clock_.now() + rng_.millis(0, 5000);
      f.revoked_until = f.revoked_from + rng_.millis(100, 10000);
    }
    return f;
  }

  RunOptions random_options(bool clean) {
    RunOptions o;
    o.concurrency = rng_.between(1, 4);
    o.rate = rng_.chance(0.5) ? 0 : rng_.between(2, 50);
    o.burst = rng_.between(1, 3);
    o.max_attempts = clean ? 30 : rng_.between(1, 5);
    o.timeout = rng_.millis(500, 3000);
    o.backoff.base = rng_.millis(10, 500);
    o.backoff.cap = o.backoff.base + rng_.millis(0, 3000);
    o.reconcile = clean || !rng_.chance(0.15);
    o.reconcile_delay = 2000ms;  // longer than any request sits in a socket buffer (1.5 s)
    o.retry_budget_percent = rng_.chance(0.5) ? 20 : 100;
    if (!clean && rng_.chance(0.2)) o.halt_after_failures = static_cast<std::size_t>(rng_.between(1, 5));
    if (!clean && rng_.chance(0.2)) o.deadline = clock_.now() + rng_.millis(0, 4000);
    o.seed = gen_seed();
    return o;
  }

  std::uint64_t gen_seed() { return rng_.gen() | 1; }

  void run_once(int number, bool clean) {
    result_.runs = number;
    auto& p = *processes_.emplace_back(std::make_unique<Process>());
    p.number = number;
    // Start: read the ledger, repair a torn tail, plan.
    LedgerContents known = read_ledger_text(file_, kLedgerName);
    if (!known.errors.empty()) {
      violation("run " + std::to_string(number) + " cannot read the ledger: " + known.errors.front().to_string());
      return;
    }
    if (known.torn_tail) {
      trace_("run ", number, ": repairing a torn last line");
      file_.resize(known.torn_tail_offset);
    }
    Plan plan;
    if (!clean && rng_.chance(0.3)) {
      std::set<JobState> states{JobState::pending};
      for (JobState s : {JobState::retry_exhausted, JobState::failed, JobState::in_doubt})
        if (rng_.chance(0.5)) states.insert(s);
      plan = plan_replay(known, states);
      trace_("run ", number, ": replay of ", plan.todo.size(), " jobs");
    } else {
      plan = plan_run(manifest_, "sim.csv", known, false);
      trace_("run ", number, ": run of ", plan.todo.size(), " jobs");
    }
    if (!plan.refused.empty()) violation("the unchanged manifest was refused: " + plan.refused.front().to_string());

    server_.set_faults(random_faults(clean));
    const RunOptions options = random_options(clean);
    if (!options.reconcile) {
      blind_ = true;
      ++result_.blind_runs;
    }
    auto* ledger = new MemoryLedger(clock_, rng_, trace_, p, file_);
    p.ledger.reset(ledger);
    p.transport = std::make_unique<SimTransport>(net_, p);
    if (!plan.todo.empty()) {
      append_run(*ledger, RunTarget{"https://sim.example", "bearer", std::nullopt});
      for (const std::size_t at : plan.job_records) append_job(*ledger, plan.todo[at].spec);
    }
    p.runner = std::make_unique<Runner>(options, *p.transport, *ledger, quiet_logger());

    // How this run may end early.
    const int jobs = static_cast<int>(plan.todo.size());
    if (!clean && rng_.chance(0.4))
      ledger->crash_at = ledger->appended() + static_cast<std::uint64_t>(rng_.between(1, 2 + 5 * jobs));
    std::optional<steady_time> kill_at, signal_at, force_at;
    if (!clean && rng_.chance(0.2)) kill_at = clock_.now() + rng_.millis(0, 4000);
    if (!clean && rng_.chance(0.2)) {
      signal_at = clock_.now() + rng_.millis(0, 3000);
      if (rng_.chance(0.5)) force_at = *signal_at + rng_.millis(0, 2000);
    }
    trace_("run ", number, ": concurrency ", options.concurrency, ", max attempts ", options.max_attempts,
           options.reconcile ? "" : ", --no-reconcile", options.deadline ? ", deadline" : "",
           options.halt_after_failures ? ", halt" : "", ledger->crash_at ? ", crash at a record" : "",
           kill_at ? ", kill" : "", signal_at ? ", signal" : "", force_at ? ", forced" : "");

    std::vector<std::uint64_t> events;
    if (kill_at) events.push_back(clock_.at(*kill_at, [&p] { p.crashed = true; }));
    if (signal_at) events.push_back(clock_.at(*signal_at, [&p] { if (!p.crashed) p.runner->stop(StopReason::signal, "SIGTERM", 15); }));
    if (force_at) events.push_back(clock_.at(*force_at, [&p] { p.forced = true; }));

    p.runner->start(p.io->get_executor(), std::move(plan.todo), [&p](RunSummary s) { p.summary = std::move(s); });
    const steady_time give_up_at = clock_.now() + std::chrono::hours(48);
    // One handler at a time: a crash stops the process between any two of them.
    for (;;) {
      if (p.summary || p.crashed || p.forced) break;
      p.io->restart();
      if (p.io->poll_one() > 0) continue;
      if (clock_.next_event() == steady_time::max() || clock_.now() > give_up_at) {
        violation("run " + std::to_string(number) + " hung: nothing more can happen, and it has not finished");
        break;
      }
      clock_.advance();
    }
    for (auto id : events) clock_.cancel(id);

    const bool crashed = p.crashed;
    if (crashed || p.forced || !p.summary) {
      p.runner->close_gate();
      p.runner->abandon();  // writes nothing
      ++(crashed ? result_.crashes : result_.early_stops);
      trace_("run ", number, crashed ? ": CRASHED" : ": forced stop");
    } else {
      if (p.summary->stopped_early()) ++result_.early_stops;
      trace_("run ", number, ": finished", p.summary->stopped_early() ? " early: " + p.summary->abort_reason : "");
    }
    p.crashed = true;  // whatever it had scheduled is void from now on
    check_order(number);
    file_ = ledger->file_after(crashed);

    // One lifecycle: what the runner believes is what the ledger it wrote folds to.
    if (!crashed && !p.forced && p.summary) compare_with_fold(*p.runner);
  }

  std::shared_ptr<spdlog::logger> quiet_logger() {
    static auto logger = [] {
      auto l = std::make_shared<spdlog::logger>("sim");
      l->set_level(spdlog::level::off);
      return l;
    }();
    return logger;
  }

  void compare_with_fold(const Runner& runner) {
    const LedgerContents folded = read_ledger_text(file_, kLedgerName);
    for (const RunJob& job : runner.jobs()) {
      const JobRecord* r = folded.find(job.spec);
      if (!r) {
        violation(job.spec.key() + " is not in the ledger its run wrote");
        continue;
      }
      const Lifecycle& a = job.life;
      const Lifecycle& b = r->life;
      const bool same = a.phase == b.phase && a.state == b.state && a.doubt == b.doubt &&
                        a.ever_doubt == b.ever_doubt && a.attempts == b.attempts &&
                        a.video_public_id == b.video_public_id && a.http_status == b.http_status &&
                        a.error == b.error && a.kind == b.kind && a.stopped == b.stopped &&
                        a.live_title == b.live_title && a.recovered == b.recovered &&
                        a.first_cut_at_ms == b.first_cut_at_ms;
      if (!same) violation(job.spec.key() + ": the runner has it " + describe(a) + ", the ledger folds to " + describe(b));
    }
  }

  // Within one run, no clip of a live video leaves after that run sent its stop-and-cut.
  void check_order(int run) {
    std::set<std::string> stopped;  // targets' live-video part
    for (const SentPost& post : net_.sent_posts) {
      if (post.process != run) continue;
      const std::string video = post.target.substr(0, post.target.rfind('/'));
      if (post.target.ends_with("/stop-and-cut")) stopped.insert(video);
      else if (stopped.count(video)) violation("run " + std::to_string(run) + " sent a clip of " + video + " after its stop-and-cut");
    }
  }

  // The promises, checked against what really happened at the server.
  void check(int run, bool last) {
    const LedgerContents ledger = read_ledger_text(file_, kLedgerName);
    if (!ledger.errors.empty()) {
      violation("after run " + std::to_string(run) + " the ledger does not fold: " + ledger.errors.front().to_string());
      return;
    }
    const std::string after = " (after run " + std::to_string(run) + ")";
    check_clips(ledger, after, last);
    for (auto& [key, v] : server_.videos()) {
      const JobRecord* r = nullptr;
      bool in_manifest = false;
      for (const auto& spec : manifest_)
        if (spec.kind == JobKind::stop_and_cut && spec.key() == key) {
          r = ledger.find(spec);
          in_manifest = true;
        }
      if (!in_manifest) continue;  // only clips of it were asked for
      const bool cut = !v.vods.empty();
      if (!r) {
        if (cut) violation(key + " was cut, but the ledger has no job for it" + after);
        continue;
      }
      const Lifecycle& l = r->life;
      // "A cut may be out" is never forgotten: a cut stream's job is succeeded, in_doubt, or
      // pending with the doubt (or the request) on record.
      const bool knows = l.state == JobState::succeeded || l.state == JobState::in_doubt ||
                         (l.state == JobState::pending && (l.doubt || l.request_out()));
      if (cut && !knows) violation(key + " was cut, but the ledger says " + describe(l) + after);
      if (v.id_delivered && !knows) violation(key + "'s id was delivered, but the ledger says " + describe(l) + after);
      if (l.state == JobState::succeeded &&
          std::find(v.vods.begin(), v.vods.end(), l.video_public_id) == v.vods.end())
        violation(key + " succeeded with " + l.video_public_id + ", which is no VOD of its stop-and-cut" + after);
      if (last && l.recovered) ++result_.recovered;
      // At most one cut per live video, unless the operator chose blind retries.
      if (!blind_ && v.cuts_after_stop > 0) violation(key + " was cut " + std::to_string(v.cuts_after_stop + 1) + " times" + after);
      if (last && l.state == JobState::pending) violation(key + " is still pending after a clean run: " + describe(l));
      if (last) ++result_.final_states[to_string(l.state)];
    }
  }

  // The same promises for clips: at most one clip per clip job (unless blind), every clip made
  // or delivered known to the ledger, and a succeeded clip's id is a clip of its own.
  void check_clips(const LedgerContents& ledger, const std::string& after, bool last) {
    for (const JobSpec& spec : manifest_) {
      if (spec.kind != JobKind::clip) continue;
      Video& v = server_.videos()[spec.project_id + "/" + spec.live_video_id];
      const JobRecord* r = ledger.find(spec);
      const int made = v.clips_made.count(spec.title) ? v.clips_made.at(spec.title) : 0;
      if (!r) {
        if (made) violation(spec.key() + " was made, but the ledger has no job for it" + after);
        continue;
      }
      const Lifecycle& l = r->life;
      const bool knows = l.state == JobState::succeeded || l.state == JobState::in_doubt ||
                         (l.state == JobState::pending && (l.doubt || l.request_out()));
      if (made && !knows) violation(spec.key() + " was made, but the ledger says " + describe(l) + after);
      if (v.clips_delivered.count(spec.title) && !knows)
        violation(spec.key() + "'s id was delivered, but the ledger says " + describe(l) + after);
      if (!blind_ && made > 1) violation(spec.key() + " was made " + std::to_string(made) + " times" + after);
      if (l.state == JobState::succeeded) {
        const auto& vods = server_.vods();
        const auto it = std::find_if(vods.begin(), vods.end(), [&](const Vod& d) { return d.id == l.video_public_id; });
        if (it == vods.end() || !it->clip || it->title != spec.title || it->parent != v.key)
          violation(spec.key() + " succeeded with " + l.video_public_id + ", which is no clip of its own" + after);
        if (last && l.recovered) ++result_.recovered;
      }
      if (last && l.state == JobState::pending) violation(spec.key() + " is still pending after a clean run: " + describe(l));
      if (last) ++result_.final_states[std::string("clip ") + to_string(l.state)];
    }
  }

  bool omit_parent_ = false;
  bool shared_titles_ = false;
  Settings settings_;
  Rng rng_;
  SimulatedClock clock_;
  Trace trace_;
  Result result_;
  Server server_;
  Network net_;
  std::vector<JobSpec> manifest_;
  std::string file_;  // the ledger on disk
  std::vector<std::unique_ptr<Process>> processes_;
  bool blind_ = false;
};

}  // namespace

Result run_history(const Settings& settings) { return History(settings).play(); }

}  // namespace batchcut::sim
