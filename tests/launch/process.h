// Runs the `pretext` executable as a user would, capturing its exit code and output.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

namespace pretext::testing {

struct ProcessResult {
  int exit_code = -1;
  std::string output;  ///< stdout and stderr together
};

inline std::string pretext_binary() { return std::string(PRETEXT_BINARY_DIR) + "/launch/pretext"; }

/// Runs `pretext <args>` (args already shell-quoted) from the repo root.
inline ProcessResult run_pretext(const std::string& args) {
  const std::string command = "cd '" + std::string(PRETEXT_SOURCE_DIR) + "' && '" +
                              pretext_binary() + "' " + args + " 2>&1";
  ProcessResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    result.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

/// A fresh empty folder under the build tree for one test.
inline std::filesystem::path fresh_dir(const std::string& name) {
  const auto dir = std::filesystem::path(PRETEXT_BINARY_DIR) / "test_runs" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace pretext::testing
