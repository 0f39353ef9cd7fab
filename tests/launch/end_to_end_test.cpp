// End to end through the real executable on a Fashion-MNIST subset: train, evaluate, resume
// bit-for-bit, and survive a torn checkpoint write.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "objectives/registry.h"
#include "tests/launch/process.h"
#include "tests/test_util.h"
#include "train/tensor_file.h"

namespace pretext {
namespace {

namespace fs = std::filesystem;
using testing::fresh_dir;
using testing::run_pretext;
using testing::small_heads;

const std::string kSmallRun = testing::small_run_flags();

std::vector<std::string> lines_of(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(EndToEnd, TrainsEvaluatesAndWritesTheRunDirectory) {
  const auto dir = fresh_dir("e2e_train");
  const auto result =
      run_pretext("train " + kSmallRun + "--eval.baselines=true --output '" + dir.string() + "'");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(fs::exists(dir / "config.cfg"));
  EXPECT_TRUE(fs::exists(dir / "checkpoints" / "last.ckpt"));
  EXPECT_TRUE(fs::exists(dir / "checkpoints" / "epoch_0001.ckpt"));
  EXPECT_TRUE(fs::exists(dir / "checkpoints" / "epoch_0002.ckpt"));
  const auto metrics = lines_of(dir / "metrics.jsonl");
  ASSERT_EQ(metrics.size(), 16u);
  for (const char* key :
       {"\"step\"", "\"epoch\"", "\"loss\"", "\"lr\"", "\"images_per_s\"", "\"embedding/std\""}) {
    EXPECT_NE(metrics.back().find(key), std::string::npos) << key << " in " << metrics.back();
  }
  const auto knn = lines_of(dir / "knn.json");
  ASSERT_FALSE(knn.empty());
  for (const char* row : {"\"pretrained\"", "\"random init\"", "\"raw pixels\"", "\"top1\""}) {
    EXPECT_NE(knn[0].find(row), std::string::npos) << row;
  }
  EXPECT_NE(result.output.find("random init"), std::string::npos) << result.output;

  // knn on the checkpoint alone rebuilds the model from the stored config.
  const auto evaluated =
      run_pretext("knn --checkpoint '" + (dir / "checkpoints" / "last.ckpt").string() +
                  "' --knn.k=5 --out '" + (dir / "knn_k5.json").string() + "'");
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.output;
  EXPECT_NE(lines_of(dir / "knn_k5.json").at(0).find("\"k\": 5"), std::string::npos);
}

class ResumeEveryObjective : public ::testing::TestWithParam<std::string> {};

// Model, teacher, optimizer state, schedules and data position all survive the restart.
TEST_P(ResumeEveryObjective, IsBitForBit) {
  const std::string name = GetParam();
  const auto straight = fresh_dir("e2e_resume_straight_" + name);
  const auto split = fresh_dir("e2e_resume_split_" + name);
  const std::string common = "train " + kSmallRun + small_heads(name) + "--eval.after_train=false ";
  // 12 steps straight vs 6 + stop + resume + 6, crossing the epoch boundary at step 8.
  ASSERT_EQ(
      run_pretext(common + "--train.max_steps=12 --output '" + straight.string() + "'").exit_code,
      0);
  ASSERT_EQ(run_pretext(common + "--train.max_steps=6 --output '" + split.string() + "'").exit_code,
            0);
  {
    // As if the first run had logged a step past its last checkpoint and then crashed.
    std::ofstream metrics(split / "metrics.jsonl", std::ios::app);
    metrics << "{\"step\": 7, \"epoch\": 0, \"loss\": 99.0}\n";
  }
  const auto resumed =
      run_pretext(common + "--train.max_steps=12 --resume auto --output '" + split.string() + "'");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resuming from"), std::string::npos);

  const TensorFile a = read_tensor_file((straight / "checkpoints" / "last.ckpt").string());
  const TensorFile b = read_tensor_file((split / "checkpoints" / "last.ckpt").string());
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    EXPECT_EQ(a.tensors[i].first, b.tensors[i].first);
    EXPECT_TRUE(torch::equal(a.tensors[i].second, b.tensors[i].second)) << a.tensors[i].first;
  }
  EXPECT_EQ(a.meta("step"), "12");
  EXPECT_EQ(a.meta("step"), b.meta("step"));
  // The loss curve, line for line (images_per_s differs, so compare up to it).
  const auto curve = [](const fs::path& path) {
    std::vector<std::string> losses;
    for (const auto& line : lines_of(path)) losses.push_back(line.substr(0, line.find("\"lr\"")));
    return losses;
  };
  EXPECT_EQ(curve(straight / "metrics.jsonl"), curve(split / "metrics.jsonl"));
}

TEST(EndToEnd, TornCheckpointWriteKeepsThePreviousOneAndCorruptionIsRefused) {
  const auto dir = fresh_dir("e2e_torn");
  ASSERT_EQ(run_pretext("train " + kSmallRun +
                        "--eval.after_train=false --train.epochs=1 "
                        "--output '" +
                        dir.string() + "'")
                .exit_code,
            0);
  const auto last = dir / "checkpoints" / "last.ckpt";
  // A write killed half way leaves only a partial temporary file behind.
  fs::copy_file(last, fs::path(last.string() + ".tmp"));
  fs::resize_file(fs::path(last.string() + ".tmp"), fs::file_size(last) / 2);
  const auto good = run_pretext("knn --checkpoint '" + last.string() + "' --data.limit=64 --out '" +
                                (dir / "k.json").string() + "'");
  EXPECT_EQ(good.exit_code, 0) << good.output;

  const auto truncated = dir / "truncated.ckpt";
  fs::copy_file(last, truncated);
  fs::resize_file(truncated, fs::file_size(last) - 100);
  const auto refused = run_pretext("knn --checkpoint '" + truncated.string() + "'");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.output.find("truncated.ckpt"), std::string::npos) << refused.output;

  const auto flipped = dir / "flipped.ckpt";
  fs::copy_file(last, flipped);
  {
    std::fstream file(flipped, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(static_cast<std::streamoff>(fs::file_size(flipped) / 2));
    char byte = 0;
    file.read(&byte, 1);
    byte ^= 0x10;
    file.seekp(static_cast<std::streamoff>(fs::file_size(flipped) / 2));
    file.write(&byte, 1);
  }
  const auto corrupt = run_pretext("knn --checkpoint '" + flipped.string() + "'");
  EXPECT_EQ(corrupt.exit_code, 1);
  EXPECT_NE(corrupt.output.find("checksum"), std::string::npos) << corrupt.output;
}

INSTANTIATE_TEST_SUITE_P(Registry, ResumeEveryObjective, ::testing::ValuesIn(objective_names()));

}  // namespace
}  // namespace pretext
