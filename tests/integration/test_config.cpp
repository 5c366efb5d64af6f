// --config, BATCHCUT_* variables and `config show`, through the real batchcut binary.
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "batchcut/emulator/emulator.hpp"
#include "batchcut/ledger/ledger.hpp"
#include "emulated.hpp"
#include "support.hpp"

using namespace batchcut;
using namespace batchcut::test;
namespace fs = std::filesystem;

namespace {

const fs::path example = fs::path(BATCHCUT_SOURCE_DIR) / "config/batchcut.example.yaml";

ProcessResult batchcut(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  return run_process(BATCHCUT_BINARY, args, env, 60);
}

// `config show` output: option -> {value, origin}.
std::map<std::string, std::pair<std::string, std::string>> shown(const std::string& out) {
  std::map<std::string, std::pair<std::string, std::string>> rows;
  std::istringstream in(out);
  std::string line;
  // name, value (may hold single spaces: "(not set)"), origin; columns are two spaces apart
  const std::regex row(R"(^([a-z][a-z0-9-]*)  +(\S(?:.*?\S)?)  +(\S.*)$)");
  std::smatch m;
  while (std::getline(in, line))
    if (std::regex_match(line, m, row)) rows[m[1]] = {m[2], m[3]};
  return rows;
}

// The long options a command's --help lists (from the CLI definition itself).
std::set<std::string> long_options(const std::string& command) {
  const auto help = batchcut({command, "--help"});
  EXPECT_EQ(help.exit_code, 0) << help.err;
  std::set<std::string> names;
  std::istringstream in(help.out);
  std::string line;
  const std::regex option(R"(^\s+(?:-\w,)?--([a-z][a-z0-9-]*))");
  std::smatch m;
  while (std::getline(in, line))
    if (std::regex_search(line, m, option)) names.insert(m[1]);
  names.erase("help");
  names.erase("config");
  return names;
}

TEST(Config, ShowSaysWhereEachValueComesFrom) {
  TempDir dir;
  const auto cfg = dir / "batchcut.yaml";
  write_file(cfg, "rate: 2\nburst: 5\nconcurrency: 7\nno-reconcile: true\n");
  const auto r = batchcut({"config", "show", "--config", cfg.string(), "--concurrency", "3"},
                          {"BATCHCUT_RATE=4", "BATCHCUT_LOG=info"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("config file: " + cfg.string() + " (flag)\n"), std::string::npos) << r.out;
  const auto rows = shown(r.out);
  EXPECT_EQ(rows.at("concurrency"), std::make_pair(std::string("3"), std::string("flag")));
  EXPECT_EQ(rows.at("rate"), std::make_pair(std::string("4"), std::string("env BATCHCUT_RATE")));
  EXPECT_EQ(rows.at("burst"), std::make_pair(std::string("5"), cfg.string() + ":2"));
  EXPECT_EQ(rows.at("no-reconcile"), std::make_pair(std::string("true"), cfg.string() + ":4"));
  EXPECT_EQ(rows.at("timeout"), std::make_pair(std::string("60"), std::string("default")));
  EXPECT_EQ(rows.at("dry-run"), std::make_pair(std::string("false"), std::string("default")));
}

TEST(Config, AnUnknownKeyStopsARunBeforeAnythingHappens) {
  TempDir dir;
  write_file(dir / "jobs.csv", manifest_csv(1));
  write_file(dir / "c.yaml", "rate: 1\nmax-attemps: 3\n");
  const auto r = batchcut({"run", (dir / "jobs.csv").string(), "--config", (dir / "c.yaml").string()}, key_env);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, (dir / "c.yaml").string() + ":2: max-attemps: not an option (did you mean 'max-attempts'?)\n");
  EXPECT_FALSE(fs::exists(dir / "jobs.ledger.jsonl"));

  write_file(dir / "d.yaml", "timeout: soon\n");
  const auto bad = batchcut({"replay", (dir / "x.jsonl").string(), "--config", (dir / "d.yaml").string()}, key_env);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.err, (dir / "d.yaml").string() + ":1: timeout: Could not convert: --timeout = soon\n");
}

// The file, the environment and the command line drive a real run: the file says dry-run,
// the environment says no, so the cuts are sent, where and how the file says.
TEST(Config, ARunTakesItsSettingsFromTheLayers) {
  TempDir dir;
  Emulator emulator(tls_options(dir, 10));
  emulator.start();
  write_file(dir / "jobs.csv", manifest_csv(3));
  write_file(dir / "c.yaml", "base-url: " + emulator.base_url() + "\nca-file: " + (dir / "ca.pem").string() +
                                 "\nrate: 0\ndry-run: true\nledger: " + (dir / "out.jsonl").string() +
                                 "\nstates: failed  # replay's; run leaves it alone\n");
  auto env = key_env;
  env.push_back("BATCHCUT_DRY_RUN=false");
  const auto r = batchcut({"run", (dir / "jobs.csv").string(), "--config", (dir / "c.yaml").string(),
                           "--concurrency", "2"}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto ledger = read_ledger(dir / "out.jsonl");
  ASSERT_TRUE(ledger.errors.empty());
  ASSERT_EQ(ledger.jobs.size(), 3u);
  for (const auto& j : ledger.jobs) EXPECT_EQ(j.life.state, JobState::succeeded) << j.spec.key();
}

// The example documents every option of run and replay, and its values are the defaults.
TEST(Config, TheExampleCoversEveryOptionAndStatesTheDefaults) {
  const std::string text = read_file(example);
  std::set<std::string> keys;
  const std::regex key_line(R"(^# ([a-z][a-z0-9-]*):(.*)$)");
  std::istringstream in(text);
  std::string line, uncommented;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, key_line)) {
      keys.insert(m[1]);
      uncommented += line.substr(2) + "\n";
    } else {
      uncommented += line + "\n";
    }
  }
  for (const char* command : {"run", "replay"})
    for (const auto& option : long_options(command))
      if (option != "insecure")  // the command line's alone, and the file says so
        EXPECT_TRUE(keys.count(option)) << command << " --" << option << " is missing from " << example;

  // As it is (all commented out), and with every key uncommented: no errors, same values.
  EXPECT_NE(text.find("--insecure is taken from the command line only"), std::string::npos);
  const auto plain = batchcut({"config", "show"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  const auto as_is = batchcut({"config", "show", "--config", example.string()});
  ASSERT_EQ(as_is.exit_code, 0) << as_is.err;
  EXPECT_EQ(shown(as_is.out), shown(plain.out));

  TempDir dir;
  write_file(dir / "all.yaml", uncommented);
  const auto all = batchcut({"config", "show", "--config", (dir / "all.yaml").string()});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  const auto defaults = shown(plain.out), from_example = shown(all.out);
  ASSERT_FALSE(defaults.empty());
  ASSERT_EQ(from_example.size(), defaults.size());
  for (const auto& [option, row] : defaults) {
    EXPECT_EQ(row.second, "default") << option;
    EXPECT_EQ(from_example.at(option).first, row.first) << option << ": the example says another default";
  }
  EXPECT_EQ(from_example.at("rate").second.rfind((dir / "all.yaml").string() + ":", 0), 0u);
}

}  // namespace
