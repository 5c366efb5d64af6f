// Layered options (src/cli/config_file.*): command line over BATCHCUT_* over the --config
// file over the defaults, on a small CLI11 app built like the real one.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "cli/config_file.hpp"

using namespace batchcut;
using namespace batchcut::cli;
namespace fs = std::filesystem;

namespace {

// A file in a fresh temp folder, removed with the fixture.
class ConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("batchcut-config-test-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string file(const std::string& text, const std::string& name = "batchcut.yaml") {
    const auto path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  fs::path dir_;
};

// `run MANIFEST` and `replay LEDGER` with a few options of each kind, as in src/cli/main.cpp.
struct TestCli {
  CLI::App app{"test"};
  CLI::App* run = nullptr;
  CLI::App* replay = nullptr;
  std::string manifest, ledger_positional, base_url, auth_scheme, states, halt_rate;
  double rate = 10;
  int concurrency = 8;
  bool dry_run = false, retarget = false;
  std::map<std::string, std::string> env;

  TestCli() {
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    run = app.add_subcommand("run");
    run->add_option("manifest", manifest)->required();
    add_shared(run);
    replay = app.add_subcommand("replay");
    replay->add_option("ledger", ledger_positional)->required();
    replay->add_option("--states", states)->default_str("retry_exhausted,pending");
    add_shared(replay);
    app.add_subcommand("status")->add_option("--rate", rate);  // no --config: not layered
  }
  void add_shared(CLI::App* cmd) {
    add_config_option(cmd);
    cmd->add_option("--base-url", base_url);
    cmd->add_option("--rate", rate)->capture_default_str();
    cmd->add_option("--concurrency", concurrency)->capture_default_str();
    cmd->add_option("--auth-scheme", auth_scheme)->check(CLI::IsMember({"bearer", "raw"}));
    cmd->add_option("--halt-after-failure-rate", halt_rate);
    cmd->add_flag("--dry-run", dry_run);
    cmd->add_flag("--retarget", retarget);
  }

  Layers parse(std::vector<std::string> args) {
    args.insert(args.begin(), "batchcut");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    return parse_layered(app, static_cast<int>(argv.size()), argv.data(),
                         [this](const std::string& name) -> std::optional<std::string> {
                           auto it = env.find(name);
                           if (it == env.end()) return std::nullopt;
                           return it->second;
                         });
  }
  std::string origin(const Layers& layers, const std::string& option) {
    return layers.origin(*run->get_option(option)).to_string();
  }
};

// The problems of a parse that must fail, one string each.
std::vector<std::string> problems_of(TestCli& cli, std::vector<std::string> args) {
  try {
    cli.parse(std::move(args));
  } catch (const ConfigError& e) {
    std::vector<std::string> out;
    for (const auto& p : e.problems()) out.push_back(p.to_string());
    return out;
  }
  ADD_FAILURE() << "the parse succeeded";
  return {};
}

TEST_F(ConfigFileTest, EachLayerBeatsTheOnesBelowIt) {
  const auto cfg = file("concurrency: 3\nrate: 2.5\n");
  {
    TestCli cli;
    auto layers = cli.parse({"run", "m.yaml"});
    EXPECT_EQ(cli.rate, 10);
    EXPECT_EQ(cli.origin(layers, "--rate"), "default");
    EXPECT_EQ(layers.config_file(), "");
  }
  {
    TestCli cli;
    auto layers = cli.parse({"run", "m.yaml", "--config", cfg});
    EXPECT_EQ(cli.rate, 2.5);
    EXPECT_EQ(cli.origin(layers, "--rate"), cfg + ":2");
    EXPECT_EQ(cli.concurrency, 3);
    EXPECT_EQ(cli.origin(layers, "--concurrency"), cfg + ":1");
  }
  {
    TestCli cli;
    cli.env["BATCHCUT_RATE"] = "4";
    auto layers = cli.parse({"run", "--config=" + cfg, "m.yaml"});
    EXPECT_EQ(cli.rate, 4);
    EXPECT_EQ(cli.origin(layers, "--rate"), "env BATCHCUT_RATE");
    EXPECT_EQ(cli.concurrency, 3);  // the file still sets what the environment does not
  }
  {
    TestCli cli;
    cli.env["BATCHCUT_RATE"] = "4";
    auto layers = cli.parse({"run", "m.yaml", "--rate", "5", "--config", cfg});
    EXPECT_EQ(cli.rate, 5);
    EXPECT_EQ(cli.origin(layers, "--rate"), "flag");
    EXPECT_EQ(cli.manifest, "m.yaml");
  }
}

TEST_F(ConfigFileTest, TheConfigFileMayBeNamedByBatchcutConfig) {
  const auto from_env = file("rate: 3\n", "env.yaml");
  const auto from_flag = file("rate: 7\n", "flag.yaml");
  TestCli cli;
  cli.env["BATCHCUT_CONFIG"] = from_env;
  auto layers = cli.parse({"run", "m.yaml"});
  EXPECT_EQ(cli.rate, 3);
  EXPECT_EQ(layers.config_origin().to_string(), "env BATCHCUT_CONFIG");

  TestCli flagged;
  flagged.env["BATCHCUT_CONFIG"] = from_env;
  layers = flagged.parse({"run", "m.yaml", "--config", from_flag});
  EXPECT_EQ(flagged.rate, 7);
  EXPECT_EQ(layers.config_file(), from_flag);
  EXPECT_EQ(layers.config_origin().to_string(), "flag");
}

TEST_F(ConfigFileTest, AnUnknownKeyIsReportedWithItsLineAndTheClosestName) {
  const auto cfg = file("rate: 2\n\nconcurency: 4\nwhatever: 1\n");
  TestCli cli;
  EXPECT_EQ(problems_of(cli, {"run", "m.yaml", "--config", cfg}),
            (std::vector<std::string>{cfg + ":3: concurency: not an option (did you mean 'concurrency'?)",
                                      cfg + ":4: whatever: not an option"}));
}

TEST_F(ConfigFileTest, ABadValueIsReportedWithItsFileAndLine) {
  const auto cfg = file("# pacing\nrate: fast\nauth-scheme: basic\nconcurrency: [1, 2]\n");
  TestCli cli;
  const auto problems = problems_of(cli, {"run", "m.yaml", "--config", cfg});
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_EQ(problems[0], cfg + ":2: rate: Could not convert: --rate = fast");
  EXPECT_EQ(problems[1], cfg + ":3: auth-scheme: --auth-scheme: basic not in {bearer,raw}");
  EXPECT_EQ(problems[2].rfind(cfg + ":4: concurrency: ", 0), 0u) << problems[2];
}

TEST_F(ConfigFileTest, ABadValueInTheEnvironmentNamesTheVariable) {
  TestCli cli;
  cli.env["BATCHCUT_RATE"] = "fast";
  cli.env["BATCHCUT_DRY_RUN"] = "maybe";
  const auto problems = problems_of(cli, {"run", "m.yaml"});
  EXPECT_EQ(problems, (std::vector<std::string>{"BATCHCUT_RATE: Could not convert: --rate = fast",
                                                "BATCHCUT_DRY_RUN: expected true or false"}));
}

TEST_F(ConfigFileTest, FlagsAreTrueOrFalseAndALaterLayerMayTurnThemOff) {
  const auto on = file("dry-run: true\nretarget: yes\n");
  {
    TestCli cli;
    auto layers = cli.parse({"run", "m.yaml", "--config", on});
    EXPECT_TRUE(cli.dry_run);
    EXPECT_TRUE(cli.retarget);
    EXPECT_EQ(cli.origin(layers, "--dry-run"), on + ":1");
  }
  {
    TestCli cli;
    cli.env["BATCHCUT_DRY_RUN"] = "false";
    auto layers = cli.parse({"run", "m.yaml", "--config", on});
    EXPECT_FALSE(cli.dry_run);
    EXPECT_EQ(cli.origin(layers, "--dry-run"), "env BATCHCUT_DRY_RUN");
  }
  {
    TestCli cli;
    cli.env["BATCHCUT_DRY_RUN"] = "0";
    auto layers = cli.parse({"run", "m.yaml", "--config", on, "--dry-run"});
    EXPECT_TRUE(cli.dry_run);
    EXPECT_EQ(cli.origin(layers, "--dry-run"), "flag");
  }
  {
    TestCli cli;
    auto layers = cli.parse({"run", "m.yaml", "--config", file("dry-run: false\n", "off.yaml")});
    EXPECT_FALSE(cli.dry_run);
  }
  TestCli cli;
  EXPECT_EQ(problems_of(cli, {"run", "m.yaml", "--config", file("dry-run: maybe\n", "bad.yaml")}),
            (std::vector<std::string>{(dir_ / "bad.yaml").string() + ":1: dry-run: expected true or false"}));
}

TEST_F(ConfigFileTest, TheApiKeyIsNeverTakenFromTheFile) {
  const auto cfg = file("api-key: s3cr3t-value\nVP_API_KEY: s3cr3t-value\n");
  TestCli cli;
  const auto problems = problems_of(cli, {"run", "m.yaml", "--config", cfg});
  const std::string why = "the key itself is never read from the config file; use api-key-file or VP_API_KEY";
  EXPECT_EQ(problems, (std::vector<std::string>{cfg + ":1: api-key: " + why, cfg + ":2: VP_API_KEY: " + why}));
}

TEST_F(ConfigFileTest, PositionalsAndTheConfigItselfStayOnTheCommandLine) {
  const auto cfg = file("manifest: jobs.yaml\nconfig: other.yaml\nhelp: true\nrate: 1\nrate: 2\n");
  TestCli cli;
  EXPECT_EQ(problems_of(cli, {"run", "m.yaml", "--config", cfg}),
            (std::vector<std::string>{
                cfg + ":1: manifest: a positional argument; give it on the command line",
                cfg + ":2: config: a config file cannot name another; use --config or BATCHCUT_CONFIG",
                cfg + ":3: help: not an option a config file can set",
                cfg + ":5: rate: given twice (first on line 4)"}));
}

TEST_F(ConfigFileTest, OneFileServesRunAndReplay) {
  const auto cfg = file("rate: 3\nstates: [failed, in_doubt]\n");
  TestCli run;
  auto layers = run.parse({"run", "m.yaml", "--config", cfg});
  EXPECT_EQ(run.rate, 3);
  ASSERT_EQ(layers.other_keys().size(), 1u);
  EXPECT_EQ(layers.other_keys()[0], (std::pair<std::string, std::size_t>{"states", 2}));

  TestCli replay;
  replay.parse({"replay", "l.jsonl", "--config", cfg});
  EXPECT_EQ(replay.states, "failed,in_doubt");  // a list becomes one comma-separated value
  EXPECT_EQ(replay.ledger_positional, "l.jsonl");
}

TEST_F(ConfigFileTest, OtherBatchcutVariablesAndOtherCommandsAreLeftAlone) {
  TestCli cli;
  cli.env = {{"BATCHCUT_LOG", "nonsense"}, {"BATCHCUT_SIM_SEEDS", "x"}, {"BATCHCUT_API_KEY", "k"},
             {"BATCHCUT_CONCURRENCY", ""}};  // empty: not set
  auto layers = cli.parse({"run", "m.yaml"});
  EXPECT_EQ(cli.concurrency, 8);
  EXPECT_EQ(cli.origin(layers, "--concurrency"), "default");

  TestCli status;  // a command without --config reads neither the file nor the environment
  status.env["BATCHCUT_RATE"] = "fast";
  status.parse({"status", "--rate", "3"});
  EXPECT_EQ(status.rate, 3);
}

TEST_F(ConfigFileTest, AFileThatIsNotYamlOrNotThereIsReported) {
  const auto broken = file("rate: 2\nconcurrency: [1\n");
  TestCli cli;
  const auto problems = problems_of(cli, {"run", "m.yaml", "--config", broken});
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].rfind(broken + ":", 0), 0u) << problems[0];

  TestCli missing;
  EXPECT_EQ(problems_of(missing, {"run", "m.yaml", "--config", (dir_ / "nope.yaml").string()}),
            (std::vector<std::string>{(dir_ / "nope.yaml").string() + ": cannot open the config file"}));

  TestCli list;
  EXPECT_EQ(problems_of(list, {"run", "m.yaml", "--config", file("- rate\n", "list.yaml")}),
            (std::vector<std::string>{(dir_ / "list.yaml").string() +
                                      ":1: expected a mapping of option names (e.g. rate: 10) to values"}));
}

TEST_F(ConfigFileTest, HelpIsNotHiddenByABrokenFile) {
  TestCli cli;
  cli.env["BATCHCUT_RATE"] = "fast";
  EXPECT_THROW(cli.parse({"run", "--help"}), CLI::CallForHelp);
}

TEST_F(ConfigFileTest, ShowPrintsEachValueAndWhereItCameFrom) {
  const auto cfg = file("base-url: https://user:hunter2@example.com/api\nconcurrency: 3\nstates: failed\n");
  TestCli cli;
  cli.env["BATCHCUT_RATE"] = "4";
  auto layers = cli.parse({"run", "m.yaml", "--config", cfg, "--dry-run"});
  std::ostringstream out;
  print_effective(out, *cli.run, layers);
  EXPECT_EQ(out.str(),
            "config file: " + cfg + " (flag)\n"
            "base-url                 https://***@example.com/api  " + cfg + ":1\n"
            "rate                     4                            env BATCHCUT_RATE\n"
            "concurrency              3                            " + cfg + ":2\n"
            "auth-scheme              (not set)                    default\n"
            "halt-after-failure-rate  (not set)                    default\n"
            "dry-run                  true                         flag\n"
            "retarget                 false                        default\n"
            "states: " + cfg + ":3 (an option of another command)\n");
  EXPECT_EQ(out.str().find("hunter2"), std::string::npos);
}

TEST(EnvName, IsTheLongNameInCapitalsWithUnderscores) {
  EXPECT_EQ(env_name("max-attempts"), "BATCHCUT_MAX_ATTEMPTS");
  EXPECT_EQ(env_name("rate"), "BATCHCUT_RATE");
}

}  // namespace
