// TLS as the issue "Hardening" wants it, against the real emulator: verification on by
// default (chain and name), TLS 1.2 or later only, a name mismatch said as such, and no way
// to turn checks off but --insecure on the command line, which warns on every run.
#include <gtest/gtest.h>

#include "batchcut/emulator/emulator.hpp"
#include "emulated.hpp"
#include "support.hpp"

using namespace batchcut;
using namespace batchcut::test;

namespace {

std::string url_with_host(const Emulator& e, const std::string& host) {
  return "https://" + host + ":" + std::to_string(e.port());
}

// `run` of three jobs at `base_url`, trusting the emulator's CA, one attempt each.
std::vector<std::string> three_jobs(const TempDir& dir, const std::string& base_url,
                                    std::vector<std::string> extra = {}) {
  write_file(dir / "jobs.csv", manifest_csv(3));
  std::vector<std::string> a{"run", (dir / "jobs.csv").string(), "--base-url", base_url, "--ca-file",
                             (dir / "ca.pem").string(), "--max-attempts", "1", "--rate", "0"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

}  // namespace

TEST(Tls, TheDefaultRefusesACertificateNoTrustedCaSigned) {
  TempDir dir;
  Emulator emulator(tls_options(dir, 3));
  emulator.start();
  write_file(dir / "jobs.csv", manifest_csv(3));
  const auto r = run_process(BATCHCUT_BINARY, {"run", (dir / "jobs.csv").string(), "--base-url", emulator.base_url()},
                             key_env);
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("certificate verify failed"), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find("WARNING: --insecure"), std::string::npos) << r.err;
  EXPECT_EQ(emulator.stats().requests, 0u);  // not one request, so not the key, went out
}

TEST(Tls, ACertificateForAnotherNameIsAHostnameMismatch) {
  TempDir dir;
  auto o = tls_options(dir, 3);
  o.tls_alt_names = "DNS:elsewhere.example,IP:192.0.2.7";  // signed by the trusted CA, for others
  Emulator emulator(o);
  emulator.start();
  const auto by_name = run_process(BATCHCUT_BINARY, three_jobs(dir, url_with_host(emulator, "localhost")), key_env);
  EXPECT_EQ(by_name.exit_code, 3) << by_name.out << by_name.err;
  EXPECT_NE(by_name.out.find("(hostname mismatch)"), std::string::npos) << by_name.out;
  EXPECT_EQ(by_name.out.find("unspecified"), std::string::npos) << by_name.out;
  EXPECT_NE(by_name.out.find("the server's certificate is for another host name (hostname mismatch): check --base-url"),
            std::string::npos) << by_name.out;
  const auto by_address = run_process(BATCHCUT_BINARY, three_jobs(dir, url_with_host(emulator, "127.0.0.1"),
                                                                {"--ledger", (dir / "by-address.ledger.jsonl").string()}),
                                            key_env);
  EXPECT_EQ(by_address.exit_code, 3) << by_address.out << by_address.err;
  EXPECT_NE(by_address.out.find("(IP address mismatch)"), std::string::npos) << by_address.out;
  EXPECT_EQ(emulator.stats().requests, 0u);
}

TEST(Tls, AServerOfferingOnlyTls11IsRefused) {
  TempDir dir;
  auto o = tls_options(dir, 3);
  o.tls_legacy_only = true;
  Emulator emulator(o);
  emulator.start();
  const auto r = run_process(BATCHCUT_BINARY, three_jobs(dir, emulator.base_url()), key_env);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;  // each job's one attempt failed: nothing sent
  EXPECT_NE(r.err.find("tls_handshake"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("protocol version (SSL routines) (batchcut speaks TLS 1.2 or later only)"), std::string::npos)
      << r.err;
  EXPECT_EQ(emulator.stats().requests, 0u);
}

TEST(Tls, InsecureIsOnlyOnTheCommandLineAndWarnsOnEveryRun) {
  TempDir dir;
  Emulator emulator(tls_options(dir, 6));
  emulator.start();
  write_file(dir / "jobs.csv", manifest_csv(3));
  const std::vector<std::string> untrusted{"run", (dir / "jobs.csv").string(), "--base-url", emulator.base_url(),
                                           "--rate", "0", "--insecure"};
  const std::string warning =
      "batchcut: WARNING: --insecure: the server's certificate is not verified; anyone on the way can pose as the "
      "server and read the API key";
  const auto first = run_process(BATCHCUT_BINARY, untrusted, key_env);
  EXPECT_EQ(first.exit_code, 0) << first.out << first.err;
  EXPECT_NE(first.err.find(warning), std::string::npos) << first.err;
  // A second run (all three done already) warns again.
  const auto second = run_process(BATCHCUT_BINARY, untrusted, key_env);
  EXPECT_EQ(second.exit_code, 0) << second.out << second.err;
  EXPECT_NE(second.err.find(warning), std::string::npos) << second.err;
  const auto requests = emulator.stats().requests;
  EXPECT_EQ(requests, 3u);

  // Not from a config file, not from the environment: nothing is sent.
  write_file(dir / "more.csv", manifest_csv(6));
  write_file(dir / "batchcut.yaml", "rate: 0\ninsecure: true\n");
  const auto from_file = run_process(BATCHCUT_BINARY,
                                     {"run", (dir / "more.csv").string(), "--base-url", emulator.base_url(),
                                      "--config", (dir / "batchcut.yaml").string()},
                                     key_env);
  EXPECT_EQ(from_file.exit_code, 2) << from_file.err;
  EXPECT_NE(from_file.err.find("batchcut.yaml:2: insecure: only on the command line"), std::string::npos)
      << from_file.err;
  auto env = key_env;
  env.push_back("BATCHCUT_INSECURE=true");
  const auto from_env = run_process(
      BATCHCUT_BINARY, {"run", (dir / "more.csv").string(), "--base-url", emulator.base_url(), "--rate", "0"}, env);
  EXPECT_EQ(from_env.exit_code, 2) << from_env.err;
  EXPECT_NE(from_env.err.find("BATCHCUT_INSECURE"), std::string::npos) << from_env.err;
  EXPECT_NE(from_env.err.find("only on the command line"), std::string::npos) << from_env.err;
  EXPECT_EQ(emulator.stats().requests, requests);
}
