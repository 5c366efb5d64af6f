// The metrics of a real run: the `batchcut` binary against the emulator over TLS, with
// --metrics-file and --metrics-listen 127.0.0.1:0. The emulator holds one request back until
// the test has scraped /metrics, so the scrape happens during the run by construction.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <regex>
#include <thread>

#include "emulated.hpp"

using namespace batchcut;
using namespace batchcut::test;
using namespace std::chrono_literals;

namespace {

// Polls `done` until it holds or `limit` passes (a hang guard); true if it held.
template <typename Pred>
bool poll_until(Pred done, std::chrono::seconds limit = 60s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);  // the poll's period, not a wait for an outcome
  }
  return done();
}

// promtool's complaints about an exposition in `file` (empty when it has none).
std::string promtool_complaints(const std::filesystem::path& file) {
  const auto r = run_process("/bin/sh", {"-c", "promtool check metrics < '" + file.string() + "' 2>&1"}, {}, 60);
  return r.exit_code == 0 && r.out.empty() ? "" : "exit " + std::to_string(r.exit_code) + ": " + r.out;
}

// The value of an unlabelled (or exactly labelled) sample, e.g. `batchcut_jobs{state="succeeded"}`.
std::optional<double> sample(const std::string& text, const std::string& series) {
  const auto at = ("\n" + text).find("\n" + series + " ");
  if (at == std::string::npos) return std::nullopt;
  return std::stod(text.substr(at + series.size() + 1));
}

// Holds request number `at` on the emulator's thread until released (or a minute passes).
struct Gate {
  std::mutex m;
  std::condition_variable cv;
  bool reached = false, released = false;
  std::uint64_t at = 0;
  void on_request(std::uint64_t n) {
    if (n != at) return;
    std::unique_lock lock(m);
    reached = true;
    cv.notify_all();
    cv.wait_for(lock, 60s, [this] { return released; });
  }
  bool wait_reached() {
    std::unique_lock lock(m);
    return cv.wait_for(lock, 60s, [this] { return reached; });
  }
  void release() {
    std::lock_guard lock(m);
    released = true;
    cv.notify_all();
  }
};

}  // namespace

TEST(Metrics, ARunIsScrapedWhileItGoesAndItsFileCarriesTheLastSuccessOverAFailedRun) {
  TempDir dir;
  Gate gate;
  gate.at = 5;
  auto o = tls_options(dir, 20);
  o.on_request = [&gate](std::uint64_t n, std::string_view) { gate.on_request(n); };
  Emulator emulator(o);
  emulator.start();
  struct Release {
    Gate& g;
    ~Release() { g.release(); }
  } release_at_exit{gate};

  const auto prom = dir / "batchcut.prom";
  write_file(dir / "jobs.csv", manifest_csv(8));
  auto args = run_args("run", dir / "jobs.csv", emulator, dir,
                       {"--metrics-file", prom.string(), "--metrics-listen", "127.0.0.1:0",
                        "--metrics-interval", "1"});
  ASSERT_EQ(args[args.size() - 8], "--concurrency");
  args[args.size() - 7] = "1";  // request 5 leaves only once 1..4 are answered
  auto child = start_process(BATCHCUT_BINARY, args, key_env, dir.path());

  // The listener's address, from the line batchcut prints at start.
  std::string url;
  ASSERT_TRUE(poll_until([&] {
    std::smatch m;
    const std::string err = read_file(child.err);
    if (!std::regex_search(err, m, std::regex("batchcut: metrics on (http://127\\.0\\.0\\.1:[0-9]+/metrics)\n")))
      return false;
    url = m[1];
    return true;
  })) << read_file(child.err);

  // Request 5 is held: the run is in progress, with four cuts answered.
  ASSERT_TRUE(gate.wait_reached());
  std::string scraped;
  const bool seen = poll_until([&] {
    const auto r = run_process("/usr/bin/curl", {"-sS", "--fail", "--max-time", "10", url}, {}, 30);
    scraped = r.out;
    return r.exit_code == 0 &&
           sample(scraped, "batchcut_requests_total{kind=\"stop_and_cut\",code=\"200\"}") == 4.0;
  });
  ASSERT_TRUE(seen) << scraped;
  EXPECT_EQ(sample(scraped, "batchcut_run_in_progress"), 1.0);
  EXPECT_EQ(sample(scraped, "batchcut_jobs{state=\"succeeded\"}"), 4.0);
  EXPECT_EQ(sample(scraped, "batchcut_jobs{state=\"pending\"}"), 4.0);
  EXPECT_EQ(sample(scraped, "batchcut_requests_in_flight"), 1.0);
  EXPECT_EQ(sample(scraped, "batchcut_request_duration_seconds_count{kind=\"stop_and_cut\"}"), 4.0);
  EXPECT_FALSE(sample(scraped, "batchcut_last_success_timestamp_seconds"));  // no run has finished yet
  write_file(dir / "scraped.prom", scraped);
  EXPECT_EQ(promtool_complaints(dir / "scraped.prom"), "");
  // The file is there during the run too, and as valid.
  ASSERT_TRUE(poll_until([&] { return sample(read_file(prom), "batchcut_run_in_progress") == 1.0; }));
  EXPECT_EQ(promtool_complaints(prom), "");

  gate.release();
  const auto before = std::chrono::system_clock::now();
  const auto r = child.wait(120);
  const auto after = std::chrono::system_clock::now();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

  // The final file says what the run did.
  const std::string final_text = read_file(prom);
  EXPECT_EQ(promtool_complaints(prom), "");
  EXPECT_EQ(sample(final_text, "batchcut_run_in_progress"), 0.0);
  EXPECT_EQ(sample(final_text, "batchcut_jobs{state=\"succeeded\"}"), 8.0);
  EXPECT_EQ(sample(final_text, "batchcut_jobs{state=\"pending\"}"), 0.0);
  EXPECT_EQ(sample(final_text, "batchcut_manifest_jobs"), 8.0);
  EXPECT_EQ(sample(final_text, "batchcut_requests_total{kind=\"stop_and_cut\",code=\"200\"}"), 8.0);
  EXPECT_EQ(sample(final_text, "batchcut_request_duration_seconds_count{kind=\"stop_and_cut\"}"), 8.0);
  EXPECT_EQ(sample(final_text, "batchcut_last_run_exit_status"), 0.0);
  EXPECT_GT(sample(final_text, "batchcut_last_run_duration_seconds").value_or(0), 0.0);
  const auto success = sample(final_text, "batchcut_last_success_timestamp_seconds");
  ASSERT_TRUE(success);
  const auto epoch = [](auto t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); };
  EXPECT_GE(*success, epoch(before) - 1);
  EXPECT_LE(*success, epoch(after) + 1);
  EXPECT_EQ(emulator.stats().cuts_made, 8u);

  // A failed run (the key refused: 401, exit 3) keeps the earlier last success.
  write_file(dir / "more.csv", manifest_csv(12));  // with a ledger of its own
  const auto failed = run_process(BATCHCUT_BINARY,
                                  run_args("run", dir / "more.csv", emulator, dir, {"--metrics-file", prom.string()}),
                                  {"VP_API_KEY=not-the-key"}, 120);
  ASSERT_EQ(failed.exit_code, 3) << failed.out << failed.err;
  const std::string failed_text = read_file(prom);
  EXPECT_EQ(promtool_complaints(prom), "");
  EXPECT_EQ(sample(failed_text, "batchcut_last_success_timestamp_seconds"), success);
  EXPECT_EQ(sample(failed_text, "batchcut_last_run_exit_status"), 3.0);
  EXPECT_EQ(sample(failed_text, "batchcut_run_in_progress"), 0.0);
  EXPECT_GE(sample(failed_text, "batchcut_requests_total{kind=\"stop_and_cut\",code=\"401\"}").value_or(0), 1.0);
  EXPECT_EQ(failed_text.find("not-the-key"), std::string::npos);
  EXPECT_EQ(final_text.find(api_key), std::string::npos);
  EXPECT_EQ(scraped.find(api_key), std::string::npos);
}
