// Command-line parsing for the `pretext` subcommands. Each command is one entry of the command
// table in cli.cpp: its value flags, switches, required flags and help. Every other
// `--section.key=value` argument is a config override; arguments after a bare `--` are kept
// verbatim (for commands that wrap another command line, such as `launch`).
#pragma once

#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace pretext {

/// Wrong command-line usage: main prints the message and exits with code 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CommandLine {
  std::string command;  ///< a command of the table, or help | version
  bool help = false;
  std::map<std::string, std::string> values;  ///< "--flag" -> value (last one wins)
  std::set<std::string> switches;             ///< switches given, e.g. "--baselines"
  /// List flags: "--runs" -> every argument after it up to the next "--..." argument.
  std::map<std::string, std::vector<std::string>> lists;
  std::vector<std::string> overrides;    ///< "section.key=value"
  std::vector<std::string> passthrough;  ///< everything after a bare "--"

  /// The flag's value, or `fallback` when it was not given.
  std::string value(const std::string& flag, const std::string& fallback = "") const;
  bool has(const std::string& flag_or_switch) const;

  // The flags most commands share.
  std::string config_path() const { return value("--config"); }
  std::string checkpoint() const { return value("--checkpoint"); }
  std::string out() const { return value("--out"); }
};

/// One `pretext` command as the parser and the help text see it.
struct CommandSpec {
  std::string name;
  std::set<std::string> value_flags;
  std::set<std::string> switches;
  std::vector<std::string> required;      ///< value flags that must be given
  bool accepts_overrides = true;          ///< --section.key=value arguments
  bool accepts_passthrough = false;       ///< a bare "--" followed by anything
  std::string usage;                      ///< the synopsis line(s) for `pretext --help`
  std::string help;                       ///< the paragraph for `pretext <command> --help`
  bool lists_config_keys = true;          ///< `--help` appends every config key
  std::set<std::string> list_flags = {};  ///< flags taking one or more values
};

/// Every command, in the order `pretext --help` lists them.
const std::vector<CommandSpec>& command_table();

/// argv[1] is the command. Throws UsageError naming the offending argument.
CommandLine parse_command_line(const std::vector<std::string>& args);

std::string usage_text();
/// Usage of one command, with every config key, its current default and its help.
std::string command_help(const std::string& command);

}  // namespace pretext
