// vp-emulator: runs the fake VP livestream API until SIGINT/SIGTERM, then prints the final
// stats JSON to stderr. Parses arguments and calls the core; nothing else.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "batchcut/emulator/emulator.hpp"

namespace {

using batchcut::EmulatorOptions;

struct Listen {
  std::string host;
  std::uint16_t port = 0;
};

// HOST:PORT or [V6]:PORT; port 0 picks a free one.
std::optional<Listen> parse_listen(const std::string& s) {
  Listen out;
  std::string port;
  if (!s.empty() && s.front() == '[') {
    const auto close = s.find(']');
    if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':')
      return std::nullopt;
    out.host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    const auto colon = s.rfind(':');
    if (colon == std::string::npos) return std::nullopt;
    out.host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  if (out.host.empty() || port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  const int p = std::stoi(port);
  if (p > 65535) return std::nullopt;
  out.port = static_cast<std::uint16_t>(p);
  return out;
}

int usage_error(const std::string& message) {
  std::cerr << "vp-emulator: " << message << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vp-emulator: a fake of the VP livestream API (stop-and-cut, live video details)",
               "vp-emulator"};
  app.set_version_flag("--version", "vp-emulator " BATCHCUT_VERSION);
  EmulatorOptions opt;
  auto& f = opt.faults;
  std::string listen = "127.0.0.1:8080";
  std::string api_key;
  std::string auth_scheme = "bearer";
  std::string projects = "proj1";
  std::string videos_file, tls_cert, tls_key, tls_self_signed, record, port_file;
  double slow_cut_ms = 5000, latency_ms = 0, jitter_ms = 0, outage_start_ms = 0, outage_ms = 0, encode_ms = 2000;

  app.add_option("--listen", listen, "HOST:PORT to listen on (port 0: any free port)")
      ->capture_default_str();
  app.add_option("--port-file", port_file, "write the port number to this file once listening");
  app.add_option("--api-key", api_key,
                 "the accepted API key (default: $VP_EMULATOR_API_KEY, else test-key)");
  app.add_option("--auth-scheme", auth_scheme, "how the key is presented: bearer | raw")
      ->check(CLI::IsMember({"bearer", "raw"}))
      ->capture_default_str();
  app.add_option("--projects", projects, "comma-separated project ids")->capture_default_str();
  app.add_option("--videos", opt.videos_per_project, "live videos lv0..lv{N-1} per project")
      ->check(CLI::Range(0, 10'000'000))
      ->capture_default_str();
  app.add_option("--videos-file", videos_file, "file of \"projectId,liveVideoId\" lines")
      ->check(CLI::ExistingFile);
  auto* cert_opt =
      app.add_option("--tls-cert", tls_cert, "TLS certificate chain (PEM)")->check(CLI::ExistingFile);
  auto* key_opt =
      app.add_option("--tls-key", tls_key, "TLS private key (PEM)")->check(CLI::ExistingFile);
  cert_opt->needs(key_opt);
  key_opt->needs(cert_opt);
  app.add_option("--tls-self-signed", tls_self_signed,
                 "serve TLS with a generated CA; write the CA certificate (PEM) to this file")
      ->excludes(cert_opt)
      ->excludes(key_opt);
  app.add_option("--threads", opt.threads, "I/O threads")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--record", record, "append one JSON line per request to this file");
  app.add_option("--seed", f.seed, "seed of the fault draws")->capture_default_str();
  const auto prob = CLI::Range(0.0, 1.0);
  app.add_option("--p500", f.p500, "probability of a 500 (no cut)")->check(prob);
  app.add_option("--p503", f.p503, "probability of Varnish's HTML 503 (no cut)")->check(prob);
  app.add_option("--p429", f.p429, "probability of a 429 with Retry-After (no cut)")->check(prob);
  app.add_option("--p-cut-drop", f.p_cut_drop,
                 "probability of cutting, then closing the connection unanswered")
      ->check(prob);
  app.add_option("--p500-after-cut", f.p500_after_cut,
                 "probability of cutting, then answering 500")
      ->check(prob);
  app.add_option("--p-slow-cut", f.p_slow_cut,
                 "probability of cutting, then answering after --slow-cut-ms")
      ->check(prob);
  app.add_option("--slow-cut-ms", slow_cut_ms, "delay of a slow cut")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_flag("--echo-authorization", f.echo_authorization,
               "quote the Authorization header received in every JSON error (to check a client redacts its key)");
  app.add_option("--retry-after", f.retry_after_seconds, "Retry-After seconds of an injected 429")
      ->check(CLI::Range(0, 86400))
      ->capture_default_str();
  app.add_option("--latency-ms", latency_ms, "fixed latency before every API answer")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--latency-jitter-ms", jitter_ms, "plus uniform random latency in [0, J]")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--rate-limit", f.rate_limit_rps, "server-side limit, requests/s (0: off)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--rate-limit-burst", f.rate_limit_burst, "token bucket size")
      ->check(CLI::Range(1.0, 1e9));
  app.add_option("--outage-start-ms", outage_start_ms, "outage begins this long after start")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--outage-ms", outage_ms, "outage length (every API request: HTML 503)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--encode-time", encode_ms,
                 "a VOD is Processing this many ms after it is made, then Ready (or Failed)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--p-encode-fail", f.p_encode_fail, "probability that a VOD's encoding ends Failed")->check(prob);
  app.add_option("--p-short-duration", f.p_short_duration,
                 "probability that a VOD is half as long as its cut asked")
      ->check(prob);
  app.add_flag("--list-omits-parent", f.list_omits_parent,
               "the video list answers no parentVideoId and ignores that filter");
  app.add_option("--extra-header-bytes", f.extra_header_bytes,
                 "every API answer carries a Content-Security-Policy header this long, as "
                 "behind a CDN (0: off)")
      ->check(CLI::Range(0, 1 << 20));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return usage_error(e.what() + std::string(" (see --help)"));
  }

  const auto where = parse_listen(listen);
  if (!where) return usage_error("--listen wants HOST:PORT, got \"" + listen + "\"");
  opt.listen_host = where->host;
  opt.listen_port = where->port;

  if (api_key.empty()) {
    const char* env = std::getenv("VP_EMULATOR_API_KEY");
    api_key = env && *env ? env : "test-key";
  }
  opt.api_key = api_key;
  opt.auth_scheme = *batchcut::parse_auth_scheme(auth_scheme);

  opt.projects.clear();
  for (std::size_t pos = 0; pos <= projects.size();) {
    const auto comma = std::min(projects.find(',', pos), projects.size());
    std::string p = projects.substr(pos, comma - pos);
    if (!p.empty()) {
      if (p.find('/') != std::string::npos)
        return usage_error("--projects: a project id cannot contain '/': " + p);
      opt.projects.push_back(p);
    }
    pos = comma + 1;
  }
  if (!videos_file.empty()) opt.videos_file = videos_file;
  if (!tls_cert.empty()) {
    opt.tls = batchcut::EmulatorTls::files;
    opt.tls_cert = tls_cert;
    opt.tls_key = tls_key;
  } else if (!tls_self_signed.empty()) {
    opt.tls = batchcut::EmulatorTls::self_signed;
    opt.ca_out = tls_self_signed;
  }
  if (!record.empty()) opt.record = record;

  const double p_sum = f.p500 + f.p503 + f.p429 + f.p_cut_drop + f.p500_after_cut + f.p_slow_cut;
  if (p_sum > 1.0 + 1e-9)
    return usage_error("the fault probabilities add up to more than 1 (" +
                       std::to_string(p_sum) + ")");
  auto ms = [](double v) { return std::chrono::milliseconds(static_cast<std::int64_t>(v)); };
  f.slow_cut_delay = ms(slow_cut_ms);
  f.encode_time = ms(encode_ms);
  f.latency = ms(latency_ms);
  f.latency_jitter = ms(jitter_ms);
  f.outage_start = ms(outage_start_ms);
  f.outage_duration = ms(outage_ms);

  // Block the stop signals before any thread starts, so only sigwait below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  batchcut::Emulator emulator(opt);
  try {
    emulator.start();
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  if (!port_file.empty()) {
    // Write then rename, so a watcher never reads a half-written number.
    const std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << emulator.port() << "\n";
    std::error_code ec;
    std::filesystem::rename(tmp, port_file, ec);
    if (ec) {
      std::cerr << "vp-emulator: cannot write " << port_file << ": " << ec.message() << "\n";
      return 1;
    }
  }
  std::cout << "listening on " << emulator.base_url() << std::endl;

  int sig = 0;
  sigwait(&stop_signals, &sig);
  emulator.stop();
  std::cerr << batchcut::emulator_stats_json(emulator.stats()) << std::endl;
  return 0;
}
