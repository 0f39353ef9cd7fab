// Shared test helpers: a fixture that seeds every RNG, and paths into the repo.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace pretext::testing {

/// Seeds LibTorch's generator so every test starts from the same state.
class Seeded : public ::testing::Test {
 protected:
  void SetUp() override { torch::manual_seed(1234); }
};

/// Runs fn, expects it to throw, and returns the message without the backtrace.
inline std::string thrown_message(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const c10::Error& e) {
    return e.what_without_backtrace();
  } catch (const std::exception& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an exception";
  return "";
}

struct ProcessResult {
  int exit_code = -1;  ///< -1 when the command could not be started or did not exit
  std::string output;  ///< the command's standard output
};

/// Runs `command` through the shell and captures its standard output.
inline ProcessResult run_command(const std::string& command) {
  ProcessResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    result.output.append(buffer.data(), n);
  }
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

/// The interpreter of pretext's Python environment (scripts/install_deps.sh): torch,
/// torchvision, timm, safetensors and h5py for the cross-checks against Python.
inline std::string python() { return PRETEXT_PYTHON; }

/// Writes `script` to dir/check.py and runs it there with python(); output holds stdout and
/// stderr, so a failing check shows its traceback.
inline ProcessResult run_python(const std::filesystem::path& dir, const std::string& script) {
  std::ofstream(dir / "check.py") << script;
  return run_command("cd '" + dir.string() + "' && '" + python() + "' check.py 2>&1");
}

/// A path under the system's temporary folder unique to this process and the running test
/// (prefix_<pid>_<test name>), so suites running side by side never share a folder.
inline std::filesystem::path unique_temp_path(const std::string& prefix) {
  return std::filesystem::temp_directory_path() /
         (prefix + "_" + std::to_string(getpid()) + "_" +
          ::testing::UnitTest::GetInstance()->current_test_info()->name());
}

/// Keys of a named_parameters() / named_buffers() dictionary, in order.
inline std::vector<std::string> names_of(
    const torch::OrderedDict<std::string, torch::Tensor>& dict) {
  std::vector<std::string> names;
  for (const auto& item : dict) names.push_back(item.key());
  return names;
}

/// Number of scalars in a module's parameters.
inline int64_t parameter_count(const torch::nn::Module& module) {
  int64_t count = 0;
  for (const auto& p : module.parameters()) count += p.numel();
  return count;
}

inline std::string source_path(const std::string& relative) {
  return std::string(PRETEXT_SOURCE_DIR) + "/" + relative;
}

/// A small value for an objective option that sizes the model or the views, so tests over every
/// registered objective stay fast; empty for options that keep their default.
inline std::string small_objective_option(const std::string& key) {
  if (key.find("_dim") != std::string::npos) return "32";
  if (key == "queue_size") return "48";  // not a multiple of the test batches: the pointer wraps
  if (key == "local_crops_number") return "2";
  if (key == "local_crops_size") return "8";
  if (key == "decoder_depth") return "1";
  if (key == "decoder_heads") return "2";
  return "";
}

/// Objectives that only run on a Vision Transformer (masked-image modelling).
inline bool needs_vit(const std::string& objective) { return objective == "mae"; }

/// Where Debian's dataset-fashion-mnist puts the real dataset.
inline std::string fashion_mnist_root() { return "/usr/share/datasets/fashion-mnist"; }

}  // namespace pretext::testing
