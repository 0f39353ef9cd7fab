// Runs the `pretext` executable as a user would, capturing its exit code and output.
#pragma once

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "objectives/registry.h"
#include "tests/test_util.h"

namespace pretext::testing {

inline std::string pretext_binary() { return std::string(PRETEXT_BINARY_DIR) + "/launch/pretext"; }

/// Runs `pretext <args>` (args already shell-quoted) from the repo root; output holds stdout
/// and stderr together.
inline ProcessResult run_pretext(const std::string& args) {
  return run_command("cd '" + std::string(PRETEXT_SOURCE_DIR) + "' && '" + pretext_binary() + "' " +
                     args + " 2>&1");
}

/// `path` in single quotes, for the shell commands the tests build.
inline std::string shell_quoted(const std::filesystem::path& path) {
  return "'" + path.string() + "'";
}

/// The whole text of a file ("" when it cannot be read).
inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// The "loss" of every record of a run folder's metrics.jsonl, in order.
inline std::vector<double> logged_losses(const std::filesystem::path& run) {
  std::vector<double> losses;
  const std::string text = read_file(run / "metrics.jsonl");
  const std::regex loss("\"loss\": ([-+0-9.eE]+)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), loss); it != std::sregex_iterator();
       ++it) {
    losses.push_back(std::stod((*it)[1]));
  }
  return losses;
}

/// A fresh empty folder under the build tree for one test.
inline std::filesystem::path fresh_dir(const std::string& name) {
  const auto dir = std::filesystem::path(PRETEXT_BINARY_DIR) / "test_runs" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

/// Overrides for a tiny run on 256 Fashion-MNIST images: 8 steps per epoch at batch 32,
/// 2 epochs, a narrow ResNet-18, a metrics line per step.
inline std::string small_run_overrides() {
  return "--data.limit=256 --train.batch_size=32 --train.epochs=2 "
         "--model.width=0.125 --simclr.proj_hidden_dim=32 --simclr.proj_output_dim=16 "
         "--train.log_every=1 --train.threads=2 --data.num_workers=2 --data.eval_batch_size=128 "
         "--train.progress=false ";
}

/// The tiny run with the SimCLR Fashion-MNIST config.
inline std::string small_run_flags() {
  return "--config configs/simclr_resnet18_fmnist.cfg " + small_run_overrides();
}

/// Flags selecting `objective` with small heads, queues and crops (a ViT where it needs one).
inline std::string small_heads(const std::string& objective) {
  std::string flags = "--objective.name=" + objective + " ";
  if (needs_vit(objective)) flags += "--model.arch=vit_tiny --model.patch_size=7 --model.width=1 ";
  for (const auto& binding : make_objective_spec(objective)->bindings()) {
    const std::string small = small_objective_option(binding.key);
    if (!small.empty()) flags += "--" + objective + "." + binding.key + "=" + small + " ";
  }
  return flags;
}

}  // namespace pretext::testing
