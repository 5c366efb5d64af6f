#include "config_file.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <ostream>
#include <set>

#include "batchcut/ops/log.hpp"
#include "batchcut/util/suggest.hpp"

namespace batchcut::cli {
namespace {

constexpr const char* config_option = "--config";

// Names no layer sets: they are about the command line itself.
bool is_meta(const std::string& key) {
  return key == "config" || key == "help" || key == "help-all" || key == "version";
}

// The key itself has no option, on purpose (it must never be on a command line); a config
// file is no place for it either.
bool names_api_key(std::string key) {
  std::erase_if(key, [](char c) { return c == '-' || c == '_'; });
  std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
  return key == "apikey" || key == "vpapikey";
}

// Options that turn a safety off are taken from the command line only, where each run shows
// them: a config file or a variable set once would hide them from every run after.
bool command_line_only(const std::string& key) { return key == "insecure"; }
constexpr const char* command_line_only_why =
    "only on the command line: turning certificate checks off must be visible in each run's command";

bool takes_config(const CLI::App* cmd) { return cmd->get_option_no_throw(config_option) != nullptr; }

bool is_flag(const CLI::Option& o) { return o.get_expected_max() == 0; }

// The options a layer may set: named (not positional), neither help nor --config.
bool layerable(const CLI::App& cmd, const CLI::Option& o) {
  return o.nonpositional() && !o.get_lnames().empty() && &o != cmd.get_help_ptr() &&
         &o != cmd.get_help_all_ptr() && !is_meta(o.get_lnames().front());
}

// Every subcommand (at any depth) that takes --config.
void configurable_commands(CLI::App* app, std::vector<CLI::App*>& out) {
  for (CLI::App* sub : app->get_subcommands({})) {
    if (takes_config(sub)) out.push_back(sub);
    configurable_commands(sub, out);
  }
}

std::optional<bool> parse_switch(std::string v) {
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  if (v == "true" || v == "yes" || v == "on" || v == "1") return true;
  if (v == "false" || v == "no" || v == "off" || v == "0") return false;
  return std::nullopt;
}

// One value a layer gives one option.
struct Setting {
  CLI::Option* option;
  std::string key;                  // the option's long name
  std::vector<std::string> values;  // one, or one per item for an option taking several
  std::string file;                 // where, for a message: the file, or the variable
  std::size_t line = 0;             // 0 for a variable
};

// The arguments a setting becomes, checked by CLI11 itself (conversion and validators) so
// that a bad value is reported with its file:line or variable, not as if typed. Returns the
// number of results the option gets from them; a problem is added to `problems`.
std::size_t to_arguments(const Setting& s, std::vector<std::string>& args, Diagnostics& problems) {
  CLI::Option& o = *s.option;
  const std::string name = "--" + s.key;
  if (is_flag(o)) {
    const auto on = parse_switch(s.values.front());
    if (!on) {
      problems.push_back({s.file, s.line, s.line ? s.key : "", "expected true or false"});
      return 0;
    }
    args.push_back(*on ? name : name + "=false");
    return 1;
  }
  std::size_t results = 0;
  try {
    o.clear();
    for (const auto& v : s.values) {
      int added = 0;
      o.add_result(v, added);
      results += static_cast<std::size_t>(added);
    }
    o.run_callback();  // assigns the variable too; the real parse assigns it again
    o.clear();
  } catch (const CLI::ParseError& e) {
    o.clear();
    problems.push_back({s.file, s.line, s.line ? s.key : "", e.what()});
    return 0;
  }
  for (const auto& v : s.values) args.push_back(name + "=" + v);
  return results;
}

// A YAML value as option values: a scalar, or a list (comma-joined for an option taking one
// value). nullopt with a problem for a mapping; an empty list for null (`key:` = not set).
std::optional<std::vector<std::string>> yaml_values(const YAML::Node& v, const CLI::Option& o) {
  if (v.IsNull()) return std::vector<std::string>{};
  if (v.IsScalar()) return std::vector<std::string>{v.Scalar()};
  if (!v.IsSequence()) return std::nullopt;
  std::vector<std::string> items;
  for (const auto& item : v) {
    if (!item.IsScalar()) return std::nullopt;
    items.push_back(item.Scalar());
  }
  if (o.get_items_expected_max() > 1 || items.empty()) return items;
  std::string joined;
  for (const auto& item : items) joined += (joined.empty() ? "" : ",") + item;
  return std::vector<std::string>{joined};
}

}  // namespace

void add_config_option(CLI::App* cmd) {
  cmd->add_option(config_option,
                  "YAML file of option values, keyed by the long option names (else $BATCHCUT_CONFIG); "
                  "flags and BATCHCUT_<OPTION> variables override it")
      ->type_name("FILE");
}

std::string Origin::to_string() const {
  switch (layer) {
    case Layer::flag: return "flag";
    case Layer::env: return "env " + where;
    case Layer::file: return where;
    case Layer::default_value: break;
  }
  return "default";
}

ConfigError::ConfigError(Diagnostics problems)
    : std::runtime_error(problems.empty() ? "configuration error" : problems.front().to_string()),
      problems_(std::move(problems)) {}

Getenv process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    if (const char* v = std::getenv(name.c_str())) return std::string(v);
    return std::nullopt;
  };
}

std::string env_name(const std::string& key) {
  std::string name = "BATCHCUT_";
  for (unsigned char c : key) name += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  return name;
}

Origin Layers::origin(const CLI::Option& option) const {
  const auto it = supplied_.find(&option);
  const Supplied none;
  const Supplied& s = it == supplied_.end() ? none : it->second;
  if (option.count() > s.file_results + s.env_results) return {Origin::Layer::flag, ""};
  if (s.env_results) return {Origin::Layer::env, s.env_where};
  if (s.file_results) return {Origin::Layer::file, s.file_where};
  return {};
}

namespace {

// The file's settings for `cmd`; its problems (each with file:line) go to `problems`, and
// the keys of other commands' options to `other_keys`.
std::vector<Setting> read_file_layer(const std::string& file, CLI::App* app, CLI::App* cmd, Diagnostics& problems,
                                     std::vector<std::pair<std::string, std::size_t>>& other_keys) {
  std::vector<Setting> settings;
  std::ifstream in(file);
  if (!in) {
    problems.push_back({file, 0, "", "cannot open the config file"});
    return settings;
  }
  YAML::Node root;
  try {
    root = YAML::Load(in);
  } catch (const YAML::ParserException& e) {
    problems.push_back({file, static_cast<std::size_t>(e.mark.line + 1), "", e.msg});
    return settings;
  }
  if (root.IsNull()) return settings;  // an empty file sets nothing
  if (!root.IsMap()) {
    problems.push_back({file, static_cast<std::size_t>(root.Mark().line + 1), "",
                        "expected a mapping of option names (e.g. rate: 10) to values"});
    return settings;
  }

  // The keys any command taking --config knows, for "did you mean" and for keys that are
  // another command's (one file serves run and replay).
  std::vector<CLI::App*> commands;
  configurable_commands(app, commands);
  std::vector<std::string> known;
  for (CLI::App* c : commands)
    for (const CLI::Option* o : c->get_options())
      if (layerable(*c, *o))
        for (const auto& n : o->get_lnames())
          if (std::find(known.begin(), known.end(), n) == known.end()) known.push_back(n);

  std::map<std::string, std::size_t> seen;  // key -> line
  for (const auto& entry : root) {
    const std::size_t line = static_cast<std::size_t>(entry.first.Mark().line + 1);
    if (!entry.first.IsScalar()) {
      problems.push_back({file, line, "", "expected an option name as the key"});
      continue;
    }
    const std::string key = entry.first.Scalar();
    const auto add = [&](std::string message) { problems.push_back({file, line, key, std::move(message)}); };
    if (auto [it, fresh] = seen.emplace(key, line); !fresh) {
      add("given twice (first on line " + std::to_string(it->second) + ")");
      continue;
    }
    if (names_api_key(key)) {
      add("the key itself is never read from the config file; use api-key-file or VP_API_KEY");
      continue;
    }
    if (command_line_only(key)) {
      add(command_line_only_why);
      continue;
    }
    if (is_meta(key)) {
      add(key == "config" ? "a config file cannot name another; use --config or BATCHCUT_CONFIG"
                          : "not an option a config file can set");
      continue;
    }
    CLI::Option* o = cmd->get_option_no_throw("--" + key);
    if (!o) {
      const CLI::Option* positional = cmd->get_option_no_throw(key);
      if (std::find(known.begin(), known.end(), key) != known.end()) {
        other_keys.emplace_back(key, line);  // another command's option: not for this one
      } else if (positional && positional->get_positional()) {
        add("a positional argument; give it on the command line");
      } else {
        add("not an option" + did_you_mean(key, known));
      }
      continue;
    }
    auto values = yaml_values(entry.second, *o);
    if (!values) {
      add(is_flag(*o) ? "expected true or false" : "expected a value or a list of values, not a mapping");
      continue;
    }
    if (values->empty()) continue;  // `key:` with no value: not set
    if (is_flag(*o) && values->size() != 1) {
      add("expected true or false");
      continue;
    }
    settings.push_back({o, key, std::move(*values), file, line});
  }
  return settings;
}

}  // namespace

Layers parse_layered(CLI::App& app, int argc, const char* const* argv, const Getenv& getenv) {
  std::vector<std::string> args(argv, argv + argc);
  Layers layers;

  // The subcommand (say `run`, or `config show`): the words naming it, skipping the
  // options of the commands above it.
  CLI::App* cmd = &app;
  std::size_t after_cmd = 1;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i].starts_with("-")) continue;
    const auto subs = cmd->get_subcommands([&](CLI::App* s) { return s->check_name(args[i]); });
    if (subs.empty()) break;
    CLI::App* sub = subs.front();
    cmd = sub;
    after_cmd = i + 1;
  }

  // What the command line says of --config (its last value wins, as for every option),
  // and whether it asks for help (which a broken config file must not hide).
  std::optional<std::string> config_flag;
  bool help = false;
  for (std::size_t i = after_cmd; i < args.size() && args[i] != "--"; ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help" || a == "--help-all") help = true;
    if (a == config_option && i + 1 < args.size()) config_flag = args[i + 1];
    if (a.starts_with(std::string(config_option) + "=")) config_flag = a.substr(std::string(config_option).size() + 1);
  }

  std::vector<std::string> layered;
  if (cmd != &app && takes_config(cmd) && !help) {
    Diagnostics problems;

    // The file, named by --config or else by BATCHCUT_CONFIG.
    if (config_flag) {
      layers.config_file_ = *config_flag;
      layers.config_origin_ = {Origin::Layer::flag, ""};
    } else if (auto v = getenv(env_name("config")); v && !v->empty()) {
      layers.config_file_ = *v;
      layers.config_origin_ = {Origin::Layer::env, env_name("config")};
    }
    if (!layers.config_file_.empty()) {
      for (const auto& s : read_file_layer(layers.config_file_, &app, cmd, problems, layers.other_keys_)) {
        auto& supplied = layers.supplied_[s.option];
        supplied.file_results += to_arguments(s, layered, problems);
        supplied.file_where = s.file + ":" + std::to_string(s.line);
      }
    }

    // Then the environment: BATCHCUT_<NAME> for each option of the command. Other
    // BATCHCUT_* variables are none of this layer's business.
    for (CLI::Option* o : cmd->get_options({})) {
      if (!layerable(*cmd, *o)) continue;
      const std::string key = o->get_lnames().front();
      const std::string var = env_name(key);
      const auto v = getenv(var);
      if (!v || v->empty()) continue;  // empty: not set
      if (command_line_only(key)) {
        problems.push_back({var, 0, "", command_line_only_why});
        continue;
      }
      auto& supplied = layers.supplied_[o];
      supplied.env_results += to_arguments({o, key, {*v}, var, 0}, layered, problems);
      supplied.env_where = var;
    }

    if (!problems.empty()) throw ConfigError(std::move(problems));
  }

  // The command words, then the file's and the environment's values, then the rest of the
  // command line: later values win.
  args.insert(args.begin() + static_cast<std::ptrdiff_t>(after_cmd), layered.begin(), layered.end());
  std::vector<const char*> ptrs;
  for (const auto& a : args) ptrs.push_back(a.c_str());
  app.parse(static_cast<int>(ptrs.size()), ptrs.data());
  return layers;
}

namespace {

std::string effective_value(const CLI::Option& o) {
  if (o.count() > 0) return without_url_credentials(o.as<std::string>());
  if (!o.get_default_str().empty()) return without_url_credentials(o.get_default_str());
  return is_flag(o) ? "false" : "(not set)";
}

}  // namespace

void print_effective(std::ostream& out, const CLI::App& cmd, const Layers& layers) {
  if (layers.config_file().empty()) {
    out << "config file: none\n";
  } else {
    out << "config file: " << layers.config_file() << " (" << layers.config_origin().to_string() << ")\n";
  }
  struct Row {
    std::string key, value, origin;
  };
  std::vector<Row> rows;
  std::size_t key_width = 0, value_width = 0;
  for (const CLI::Option* o : cmd.get_options()) {
    if (!layerable(cmd, *o)) continue;
    rows.push_back({o->get_lnames().front(), effective_value(*o), layers.origin(*o).to_string()});
    key_width = std::max(key_width, rows.back().key.size());
    value_width = std::max(value_width, rows.back().value.size());
  }
  for (const auto& r : rows)
    out << std::left << std::setw(static_cast<int>(key_width)) << r.key << "  "
        << std::setw(static_cast<int>(value_width)) << r.value << "  " << r.origin << "\n";
  for (const auto& [key, line] : layers.other_keys())
    out << key << ": " << layers.config_file() << ":" << line << " (an option of another command)\n";
}

}  // namespace batchcut::cli
