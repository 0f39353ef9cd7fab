// Mixed precision and devices through the real executable: every objective trains with bf16
// autocast (loss close to fp32's, weights kept fp32), and where a CUDA device is visible, the
// same step gives the same loss on the GPU as on the CPU and every objective trains there.
// The GPU tests are skipped, saying so, on machines without one.
#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "models/json_value.h"
#include "objectives/registry.h"
#include "tests/launch/process.h"
#include "tests/test_util.h"
#include "train/tensor_file.h"

namespace pretext {
namespace {

namespace fs = std::filesystem;
using testing::fresh_dir;
using testing::run_pretext;

// Losses of the step records of a run's metrics.jsonl, in order.
std::vector<double> losses_of(const fs::path& run) {
  std::ifstream in(run / "metrics.jsonl");
  std::vector<double> losses;
  for (std::string line; std::getline(in, line);) {
    const JsonValue record = parse_json(line, "metrics.jsonl");
    if (const JsonValue* loss = record.find("loss")) losses.push_back(loss->number);
  }
  return losses;
}

// `steps` steps of the objective's tiny run with extra flags; returns the run directory.
fs::path train_steps(const std::string& objective, const std::string& tag, int steps,
                     const std::string& flags) {
  const auto dir = fresh_dir("precision_" + objective + "_" + tag);
  const auto result =
      run_pretext("train " + testing::small_run_flags() + testing::small_heads(objective) +
                  "--eval.after_train=false --train.max_steps=" + std::to_string(steps) + " " +
                  flags + " --output '" + dir.string() + "'");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  return dir;
}

class EveryObjective : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryObjective, TrainsInBf16WithFp32Weights) {
  const std::string name = GetParam();
  const auto fp32 = train_steps(name, "fp32", 1, "--train.precision=fp32");
  const auto bf16 = train_steps(name, "bf16", 3, "--train.precision=bf16");
  const auto reference = losses_of(fp32);
  const auto mixed = losses_of(bf16);
  ASSERT_EQ(reference.size(), 1u);
  ASSERT_EQ(mixed.size(), 3u);
  for (const double loss : mixed) EXPECT_TRUE(std::isfinite(loss)) << name;
  // The first step starts from the same weights and batch: bf16 rounding (8 bits of mantissa)
  // moves the loss by a little, not by a different computation's amount.
  EXPECT_NEAR(mixed[0], reference[0], 0.05 * (1.0 + std::abs(reference[0]))) << name;
  const TensorFile checkpoint = read_tensor_file((bf16 / "checkpoints" / "last.ckpt").string());
  for (const auto& [key, tensor] : checkpoint.tensors) {
    if (tensor.is_floating_point()) {
      EXPECT_EQ(tensor.scalar_type(), torch::kFloat) << key;
    }
  }
}

TEST_P(EveryObjective, GpuStepMatchesCpuAndTrains) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device: GPU test not run";
  const std::string name = GetParam();
  const auto cpu = train_steps(name, "cpu", 1, "--train.device=cpu");
  const auto gpu = train_steps(name, "gpu", 1, "--train.device=cuda --train.tf32=false");
  ASSERT_EQ(losses_of(cpu).size(), 1u);
  ASSERT_EQ(losses_of(gpu).size(), 1u);
  EXPECT_NEAR(losses_of(gpu)[0], losses_of(cpu)[0], 1e-3 * (1.0 + std::abs(losses_of(cpu)[0])))
      << name;
  const auto mixed = train_steps(name, "gpu_bf16", 4, "--train.device=cuda --train.precision=bf16");
  for (const double loss : losses_of(mixed)) EXPECT_TRUE(std::isfinite(loss)) << name;
  EXPECT_EQ(losses_of(mixed).size(), 4u);
}

INSTANTIATE_TEST_SUITE_P(Registry, EveryObjective, ::testing::ValuesIn(objective_names()));

TEST(Precision, UnknownPrecisionIsAConfigError) {
  const auto dir = fresh_dir("precision_bad");
  const auto result = run_pretext("train " + testing::small_run_flags() +
                                  "--train.precision=fp16 --output '" + dir.string() + "/run'");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("train.precision"), std::string::npos) << result.output;
  EXPECT_FALSE(fs::exists(dir / "run"));
}

}  // namespace
}  // namespace pretext
