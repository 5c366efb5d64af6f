// Layered options: the command line, over BATCHCUT_* environment variables, over a YAML
// --config file, over the defaults. Generic over the CLI11 definitions: any long option of a
// subcommand that has --config is a config key and an environment variable, with no list
// kept here. Part of the command line (it needs CLI11), not of the core library.
#pragma once

#include <CLI/CLI.hpp>

#include <cstddef>
#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "batchcut/util/diagnostic.hpp"

namespace batchcut::cli {

// Gives a subcommand --config FILE; every subcommand that has it takes layered options.
void add_config_option(CLI::App* cmd);

// Where an option's effective value came from.
struct Origin {
  enum class Layer { default_value, file, env, flag };
  Layer layer = Layer::default_value;
  std::string where;  // "FILE:LINE" (file) or "BATCHCUT_X" (env)

  // "flag", "env BATCHCUT_RATE", "batchcut.yaml:3" or "default"
  std::string to_string() const;
};

// A config file or an environment variable that cannot be used: every problem, each naming
// its FILE:LINE or its variable.
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(Diagnostics problems);
  const Diagnostics& problems() const { return problems_; }

 private:
  Diagnostics problems_;
};

// Looks up an environment variable (injected so tests need not change the process's).
using Getenv = std::function<std::optional<std::string>(const std::string& name)>;
Getenv process_environment();

// "BATCHCUT_MAX_ATTEMPTS" for "max-attempts".
std::string env_name(const std::string& key);

// What parse_layered layered, to say afterwards where each value came from.
class Layers {
 public:
  // The config file read ("" for none) and how it was named (--config or BATCHCUT_CONFIG).
  const std::string& config_file() const { return config_file_; }
  const Origin& config_origin() const { return config_origin_; }
  // Keys of the file that belong to other commands (e.g. `states` for `run`): key and line.
  const std::vector<std::pair<std::string, std::size_t>>& other_keys() const { return other_keys_; }
  // After the parse: which layer the option's value came from.
  Origin origin(const CLI::Option& option) const;

 private:
  friend Layers parse_layered(CLI::App&, int, const char* const*, const Getenv&);
  struct Supplied {
    std::size_t file_results = 0, env_results = 0;  // results the option got from each layer
    std::string file_where, env_where;
  };
  std::map<const CLI::Option*, Supplied> supplied_;
  std::string config_file_;
  Origin config_origin_;
  std::vector<std::pair<std::string, std::size_t>> other_keys_;
};

// Parses argv like app.parse(argc, argv), with the values of the --config file (or
// $BATCHCUT_CONFIG) and of the BATCHCUT_* variables of the chosen subcommand's options put
// before the command line's, so that (options taking their last value) the command line
// beats the environment, which beats the file, which beats the defaults. Throws ConfigError
// for a file or variable that cannot be used, CLI::ParseError as app.parse does.
Layers parse_layered(CLI::App& app, int argc, const char* const* argv,
                     const Getenv& getenv = process_environment());

// `config show`: every option of `cmd`, its effective value and where it came from.
void print_effective(std::ostream& out, const CLI::App& cmd, const Layers& layers);

}  // namespace batchcut::cli
