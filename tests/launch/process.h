// Runs the `pretext` executable as a user would, capturing its exit code and output.
#pragma once

#include <filesystem>
#include <string>

#include "tests/test_util.h"

namespace pretext::testing {

inline std::string pretext_binary() { return std::string(PRETEXT_BINARY_DIR) + "/launch/pretext"; }

/// Runs `pretext <args>` (args already shell-quoted) from the repo root; output holds stdout
/// and stderr together.
inline ProcessResult run_pretext(const std::string& args) {
  return run_command("cd '" + std::string(PRETEXT_SOURCE_DIR) + "' && '" + pretext_binary() + "' " +
                     args + " 2>&1");
}

/// A fresh empty folder under the build tree for one test.
inline std::filesystem::path fresh_dir(const std::string& name) {
  const auto dir = std::filesystem::path(PRETEXT_BINARY_DIR) / "test_runs" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace pretext::testing
