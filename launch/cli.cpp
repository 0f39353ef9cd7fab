// Command-line parsing and help text.
#include "launch/cli.h"

#include <map>
#include <set>
#include <sstream>

#include "launch/config.h"

namespace pretext {
namespace {

// Flags that take a value, per command.
const std::map<std::string, std::set<std::string>>& value_flags() {
  static const std::map<std::string, std::set<std::string>> flags = {
      {"train", {"--config", "--output", "--resume"}},
      {"knn", {"--config", "--checkpoint", "--out"}},
      {"reconstruct", {"--config", "--checkpoint", "--out"}},
  };
  return flags;
}

void assign_flag(CommandLine& line, const std::string& flag, const std::string& value) {
  if (value.empty()) throw UsageError(flag + " needs a value");
  if (flag == "--config") line.config_path = value;
  if (flag == "--output") line.output = value;
  if (flag == "--resume") line.resume = value;
  if (flag == "--checkpoint") line.checkpoint = value;
  if (flag == "--out") line.out = value;
}

}  // namespace

CommandLine parse_command_line(const std::vector<std::string>& args) {
  CommandLine line;
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    line.command = "help";
    return line;
  }
  if (args[0] == "--version") {
    line.command = "version";
    return line;
  }
  line.command = args[0];
  const auto flags = value_flags().find(line.command);
  if (flags == value_flags().end()) {
    throw UsageError("unknown command '" + line.command + "'; commands: train, knn, reconstruct");
  }
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      line.help = true;
      continue;
    }
    if (line.command == "knn" && arg == "--baselines") {
      line.baselines = true;
      continue;
    }
    const auto equals = arg.find('=');
    const std::string name = arg.substr(0, equals);
    if (flags->second.count(name)) {
      if (equals != std::string::npos) {
        assign_flag(line, name, arg.substr(equals + 1));
      } else if (i + 1 < args.size()) {
        assign_flag(line, name, args[++i]);
      } else {
        throw UsageError(name + " needs a value");
      }
      continue;
    }
    if (arg.rfind("--", 0) == 0 && name.find('.') != std::string::npos) {
      if (equals == std::string::npos) {
        throw UsageError("override '" + arg + "' needs a value: " + arg + "=VALUE");
      }
      line.overrides.push_back(arg.substr(2));
      continue;
    }
    throw UsageError("unknown argument '" + arg + "' for 'pretext " + line.command +
                     "'; see 'pretext " + line.command + " --help'");
  }
  if (line.help) return line;
  if (line.command == "train" && line.config_path.empty()) {
    throw UsageError("pretext train needs --config FILE");
  }
  if ((line.command == "knn" || line.command == "reconstruct") && line.checkpoint.empty()) {
    throw UsageError("pretext " + line.command + " needs --checkpoint PATH");
  }
  return line;
}

std::string usage_text() {
  return "pretext " PRETEXT_VERSION
         " - self-supervised pretraining of vision backbones\n\n"
         "usage:\n"
         "  pretext train --config FILE [--section.key=value ...] [--output DIR]\n"
         "                [--resume auto|PATH]\n"
         "  pretext knn --checkpoint PATH [--config FILE] [--knn.k=20 --knn.temperature=0.07]\n"
         "              [--baselines] [--out FILE.json]\n"
         "  pretext reconstruct --checkpoint PATH [--out FILE.png]   (MAE checkpoints)\n"
         "  pretext --version\n\n"
         "'pretext <command> --help' lists every config key with its default.\n"
         "Exit codes: 0 success, 1 runtime failure, 2 bad usage or configuration, 130 stopped\n"
         "by a signal after checkpointing.\n";
}

std::string command_help(const std::string& command) {
  std::ostringstream out;
  if (command == "train") {
    out << "pretext train --config FILE [--section.key=value ...] [--output DIR]"
           " [--resume auto|PATH]\n\n"
           "Pretrains the configured backbone with the configured objective. The run directory\n"
           "(--output, default runs/<config name>) receives config.cfg, metrics.jsonl,\n"
           "checkpoints/last.ckpt and checkpoints/epoch_NNNN.ckpt, and knn.json.\n"
           "--resume auto continues from the run directory's last checkpoint when there is one.\n";
  } else if (command == "reconstruct") {
    out << "pretext reconstruct --checkpoint PATH [--config FILE] [--section.key=value ...]"
           " [--out FILE.png]\n\n"
           "For an MAE checkpoint: the first 8 test images in three rows (original, what the\n"
           "encoder sees with masked patches grey, reconstruction with the visible patches pasted\n"
           "back), written as a PNG to --out (default: reconstruction.png in the run directory).\n";
  } else {
    out << "pretext knn --checkpoint PATH [--config FILE] [--section.key=value ...]"
           " [--baselines] [--out FILE]\n\n"
           "Weighted k-NN of the checkpoint's evaluation encoder: train split as the bank, test\n"
           "split as queries. The checkpoint's own config is the base; --config and overrides\n"
           "change it. --baselines adds random init and raw pixels. Writes JSON to --out\n"
           "(default: knn.json in the run directory).\n";
  }
  out << "\nconfig keys (section.key = default: meaning):\n";
  RunConfig defaults;
  for (auto& section : config_sections(defaults)) {
    for (const auto& binding : section.bindings) {
      out << "  " << section.name << "." << binding.key << " = " << format_option(binding) << ": "
          << binding.help << "\n";
    }
  }
  return out.str();
}

}  // namespace pretext
