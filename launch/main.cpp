// The `pretext` executable: dispatch, and the one place where errors become exit codes
// (2: usage or configuration, 1: runtime failure).
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "launch/cli.h"
#include "launch/commands.h"
#include "launch/version_text.h"
#include "train/allocator.h"

namespace {

std::string first_line(const std::string& text) {
  const auto end = text.find('\n');
  return end == std::string::npos ? text : text.substr(0, end);
}

}  // namespace

int main(int argc, char** argv) {
  pretext::keep_freed_memory_for_reuse();
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    const pretext::CommandLine line = pretext::parse_command_line(args);
    if (line.command == "help") {
      std::cout << pretext::usage_text();
      return 0;
    }
    if (line.command == "version") {
      std::cout << pretext::version_text();
      return 0;
    }
    if (line.help) {
      std::cout << pretext::command_help(line.command);
      return 0;
    }
    // One line per command of launch/cli.cpp's command table.
    static const std::map<std::string, int (*)(const pretext::CommandLine&)> commands = {
        {"train", pretext::run_train_command},
        {"knn", pretext::run_knn_command},
        {"linear", pretext::run_linear_command},
        {"extract", pretext::run_extract_command},
        {"reconstruct", pretext::run_reconstruct_command},
        {"audit", pretext::run_audit_command},
        {"pack", pretext::run_pack_command},
        {"compare", pretext::run_compare_command},
        {"export", pretext::run_export_command},
        {"import", pretext::run_import_command},
        {"launch", pretext::run_launch_command},
    };
    return commands.at(line.command)(line);
  } catch (const pretext::UsageError& e) {
    std::cerr << "pretext: " << e.what() << "\n";
    return 2;
  } catch (const c10::ValueError& e) {
    std::cerr << "pretext: " << first_line(e.what_without_backtrace()) << "\n";
    return 2;
  } catch (const c10::Error& e) {
    std::cerr << "pretext: error: " << e.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "pretext: error: " << e.what() << "\n";
    return 1;
  }
}
