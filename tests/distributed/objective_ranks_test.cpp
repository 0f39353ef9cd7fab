// One rank with global batch B equals two ranks with B/2 each, for every registered objective,
// through the real executable (`pretext train` against `pretext launch --nproc-per-node 2`,
// SyncBatchNorm on): the first loss to rounding, later losses and the final weights as close
// as the same one-rank run with another thread count comes (rounding alone), and a two-rank
// run stopped mid-epoch and resumed ends bit for bit where the uninterrupted one does.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "objectives/registry.h"
#include "tests/distributed/free_port.h"
#include "tests/launch/process.h"
#include "tests/test_util.h"
#include "train/tensor_file.h"

namespace pretext {
namespace {

namespace fs = std::filesystem;
using testing::free_port;
using testing::fresh_dir;
using testing::logged_losses;
using testing::run_pretext;
using testing::shell_quoted;

/// 128 Fashion-MNIST images at global batch 32: 4 steps per epoch, one thread per rank. The
/// learning rate is 40 times below the recipe's: at full rate this tiny network is chaotic,
/// and the same one-rank run with 1 and 2 compute threads already differs by 0.7% in its
/// second loss; at this rate rounding differences stay near 1e-4 over six steps.
std::string run_flags(const std::string& objective) {
  // The narrow ResNet first: small_heads puts a ViT (width 1) in its place for MAE.
  return "train --config configs/simclr_resnet18_fmnist.cfg --model.width=0.125 " +
         testing::small_heads(objective) +
         "--data.limit=128 --train.batch_size=32 --train.log_every=1 --train.threads=1 "
         "--data.num_workers=1 --train.progress=false --eval.after_train=false "
         "--dist.sync_batch_norm=true --dist.timeout_s=60 --optim.lr=0.01 ";
}

TensorFile last_checkpoint(const fs::path& run) {
  return read_tensor_file((run / "checkpoints" / "last.ckpt").string());
}

/// The model tensors of `actual` are as close to `expected` as rounding alone moves them: the
/// yardstick is the same one-rank run with another compute-thread count (`rounded`), whose
/// differences come only from summing in another order. Two ranks sum the gradients in
/// another order too; an error of the method (a missing average, a statistic over the local
/// batch only) moves them far more. Integer tensors (counters, queue pointers) are equal.
void expect_within_rounding(const TensorFile& actual, const TensorFile& expected,
                            const TensorFile& rounded, const std::string& what) {
  EXPECT_EQ(actual.meta("step"), expected.meta("step")) << what;
  ASSERT_EQ(actual.tensors.size(), expected.tensors.size()) << what;
  ASSERT_EQ(rounded.tensors.size(), expected.tensors.size()) << what;
  for (size_t i = 0; i < expected.tensors.size(); ++i) {
    const auto& [name, y] = expected.tensors[i];
    ASSERT_EQ(actual.tensors[i].first, name) << what;
    if (name.rfind("model/", 0) != 0) continue;  // optimizer moments follow the weights
    const auto x = actual.tensors[i].second;
    ASSERT_EQ(x.sizes(), y.sizes()) << what << " " << name;
    if (!x.is_floating_point()) {
      EXPECT_TRUE(torch::equal(x, y)) << what << " " << name;
      continue;
    }
    const auto norm = [](const torch::Tensor& t) {
      return t.to(torch::kDouble).norm().item<double>();
    };
    const double error = norm(x.to(torch::kDouble) - y.to(torch::kDouble));
    const double yardstick =
        norm(rounded.tensors[i].second.to(torch::kDouble) - y.to(torch::kDouble));
    EXPECT_LE(error, 10.0 * yardstick + 1e-4 * norm(y) + 1e-6)
        << what << " " << name << ": off by " << error << ", rounding moves it by " << yardstick
        << ", norm " << norm(y);
  }
}

class ObjectiveRanks : public ::testing::TestWithParam<std::string> {};

TEST_P(ObjectiveRanks, TwoRanksMatchOneRankAndResumeMidEpoch) {
  const std::string objective = GetParam();
  const auto dir = fresh_dir("dist_ranks_" + objective);
  const std::string flags = run_flags(objective) + "--train.max_steps=6 ";
  const auto one = run_pretext(flags + "--output " + shell_quoted(dir / "one"));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  const auto rounded =
      run_pretext(flags + "--train.threads=2 --output " + shell_quoted(dir / "one_two_threads"));
  ASSERT_EQ(rounded.exit_code, 0) << rounded.output;
  const auto two =
      run_pretext("launch --nproc-per-node 2 --master-port " + std::to_string(free_port()) +
                  " -- " + flags + "--output " + shell_quoted(dir / "two"));
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_NE(two.output.find(", 2 ranks;"), std::string::npos) << two.output;

  // The same loss at every step: the first to rounding (nothing has been updated yet), the
  // later ones as close as the other thread count's.
  const std::vector<double> expected = logged_losses(dir / "one");
  const std::vector<double> actual = logged_losses(dir / "two");
  const std::vector<double> yardstick = logged_losses(dir / "one_two_threads");
  ASSERT_EQ(expected.size(), 6u);
  ASSERT_EQ(actual.size(), expected.size());
  ASSERT_EQ(yardstick.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const double rounding = i == 0 ? 0.0 : 10.0 * std::abs(yardstick[i] - expected[i]);
    EXPECT_NEAR(actual[i], expected[i], rounding + 1e-4 * std::abs(expected[i]) + 1e-6)
        << objective << " step " << i + 1;
  }
  const TensorFile reference = last_checkpoint(dir / "one");
  const TensorFile rounding = last_checkpoint(dir / "one_two_threads");
  expect_within_rounding(last_checkpoint(dir / "two"), reference, rounding, "two ranks");

  // Two ranks stopped mid-epoch (step 3 of 4 per epoch), then resumed to step 6.
  const auto first = run_pretext("launch --nproc-per-node 2 --master-port " +
                                 std::to_string(free_port()) + " -- " + run_flags(objective) +
                                 "--train.max_steps=3 --output " + shell_quoted(dir / "resumed"));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const auto rest =
      run_pretext("launch --nproc-per-node 2 --master-port " + std::to_string(free_port()) +
                  " -- " + flags + "--output " + shell_quoted(dir / "resumed") + " --resume auto");
  ASSERT_EQ(rest.exit_code, 0) << rest.output;
  EXPECT_NE(rest.output.find("at step 3"), std::string::npos) << rest.output;
  // Resuming is exact: the resumed two-rank run ends bit for bit where the uninterrupted one
  // does.
  const TensorFile uninterrupted = last_checkpoint(dir / "two");
  const TensorFile resumed = last_checkpoint(dir / "resumed");
  ASSERT_EQ(resumed.tensors.size(), uninterrupted.tensors.size());
  for (size_t i = 0; i < resumed.tensors.size(); ++i) {
    EXPECT_TRUE(torch::equal(resumed.tensors[i].second, uninterrupted.tensors[i].second))
        << resumed.tensors[i].first;
  }
}

INSTANTIATE_TEST_SUITE_P(Registry, ObjectiveRanks, ::testing::ValuesIn(objective_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace pretext
