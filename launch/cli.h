// Command-line parsing for the `pretext` subcommands. Flags are fixed per command; every other
// `--section.key=value` argument is a config override.
#pragma once

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
  std::string command;  ///< train | knn | reconstruct | help | version
  bool help = false;
  std::string config_path;
  std::string output;
  std::string resume;                  ///< "" | auto | PATH
  std::string checkpoint;              ///< knn, reconstruct
  std::string out;                     ///< knn: JSON path; reconstruct: PNG path
  bool baselines = false;              ///< knn
  std::vector<std::string> overrides;  ///< "section.key=value"
};

/// argv[1] is the command. Throws UsageError naming the offending argument.
CommandLine parse_command_line(const std::vector<std::string>& args);

std::string usage_text();
/// Usage of one command, with every config key, its current default and its help.
std::string command_help(const std::string& command);

}  // namespace pretext
