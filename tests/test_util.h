// Shared test helpers: a fixture that seeds every RNG, and paths into the repo.
#pragma once

#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace pretext::testing {

/// Seeds LibTorch's generator so every test starts from the same state.
class Seeded : public ::testing::Test {
 protected:
  void SetUp() override { torch::manual_seed(1234); }
};

inline std::string source_path(const std::string& relative) {
  return std::string(PRETEXT_SOURCE_DIR) + "/" + relative;
}

/// Where Debian's dataset-fashion-mnist puts the real dataset.
inline std::string fashion_mnist_root() { return "/usr/share/datasets/fashion-mnist"; }

}  // namespace pretext::testing
