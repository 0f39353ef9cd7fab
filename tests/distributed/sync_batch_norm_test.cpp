// SyncBatchNorm (models/batch_norm.h with distributed/all_reduce_grad.h): outputs, input and
// affine gradients and running statistics against torch::nn::BatchNorm on the whole batch in
// one process; without a group, BatchNorm is torch::nn::BatchNorm exactly.
#include "models/batch_norm.h"

#include <gtest/gtest.h>

#include "distributed/all_reduce_grad.h"
#include "tests/distributed/rank_threads.h"
#include "tests/test_util.h"

namespace pretext {
namespace {

using pretext::testing::rows_of;
using pretext::testing::run_ranks;

struct RankResult {
  torch::Tensor y, x_grad, weight_grad, bias_grad, running_mean, running_var;
};

/// Runs BatchNorm over `world` ranks, rank r holding rows_of(x, r); loss_r = sum(y_r * g_r).
std::vector<RankResult> synced_run(int64_t world, const torch::Tensor& x, const torch::Tensor& g,
                                   bool affine, int steps) {
  std::vector<RankResult> results(static_cast<size_t>(world));
  run_ranks(world, [&](Comm& comm, int64_t rank) {
    BatchNorm bn(BatchNormOptions(x.size(1)).affine(affine));
    EXPECT_EQ(
        set_batch_norm_all_reduce(
            *bn, [&comm](const torch::Tensor& t) { return all_reduce_sum_with_grad(comm, t); }),
        1);
    if (affine) {
      torch::NoGradGuard no_grad;
      bn->weight.copy_(torch::linspace(0.5, 1.5, x.size(1)));
      bn->bias.copy_(torch::linspace(-1.0, 1.0, x.size(1)));
    }
    auto mine = rows_of(x, rank, world).clone().requires_grad_(true);
    torch::Tensor y;
    for (int s = 0; s < steps; ++s) y = bn(mine * (1.0 + s));
    (y * rows_of(g, rank, world)).sum().backward();
    RankResult& out = results[static_cast<size_t>(rank)];
    out.y = y.detach();
    out.x_grad = mine.grad();
    if (affine) {
      out.weight_grad = bn->weight.grad();
      out.bias_grad = bn->bias.grad();
    }
    out.running_mean = bn->running_mean.clone();
    out.running_var = bn->running_var.clone();
  });
  return results;
}

template <typename TorchBatchNorm>
void expect_matches_torch(TorchBatchNorm reference, int64_t world, const torch::Tensor& x,
                          const torch::Tensor& g, bool affine) {
  const int steps = 3;  // running statistics after several updates
  if (affine) {
    torch::NoGradGuard no_grad;
    reference->weight.copy_(torch::linspace(0.5, 1.5, x.size(1)));
    reference->bias.copy_(torch::linspace(-1.0, 1.0, x.size(1)));
  }
  auto whole = x.clone().requires_grad_(true);
  torch::Tensor y;
  for (int s = 0; s < steps; ++s) y = reference(whole * (1.0 + s));
  (y * g).sum().backward();

  const auto results = synced_run(world, x, g, affine, steps);
  torch::Tensor weight_grad = torch::zeros({x.size(1)});
  torch::Tensor bias_grad = torch::zeros({x.size(1)});
  for (int64_t r = 0; r < world; ++r) {
    const RankResult& got = results[static_cast<size_t>(r)];
    EXPECT_TRUE(torch::allclose(got.y, rows_of(y.detach(), r, world), 1e-4, 1e-5)) << "rank " << r;
    EXPECT_TRUE(torch::allclose(got.x_grad, rows_of(whole.grad(), r, world), 1e-4, 1e-5))
        << "rank " << r;
    EXPECT_TRUE(torch::allclose(got.running_mean, reference->running_mean, 1e-5, 1e-6));
    EXPECT_TRUE(torch::allclose(got.running_var, reference->running_var, 1e-5, 1e-6));
    if (affine) {
      weight_grad += got.weight_grad;
      bias_grad += got.bias_grad;
    }
  }
  if (affine) {
    // Each rank holds its share; the gradient all-reduce adds them up.
    EXPECT_TRUE(torch::allclose(weight_grad, reference->weight.grad(), 1e-4, 1e-5));
    EXPECT_TRUE(torch::allclose(bias_grad, reference->bias.grad(), 1e-4, 1e-5));
  }
}

class SyncBatchNormTest : public pretext::testing::Seeded,
                          public ::testing::WithParamInterface<int64_t> {};

TEST_P(SyncBatchNormTest, Conv2dMatchesBatchNormOnTheWholeBatch) {
  const int64_t world = GetParam();
  const auto x = torch::randn({world * 2, 3, 4, 5}) * 3.0 + 1.0;
  const auto g = torch::randn({world * 2, 3, 4, 5});
  expect_matches_torch(torch::nn::BatchNorm2d(3), world, x, g, /*affine=*/true);
}

TEST_P(SyncBatchNormTest, AffineFree1dMatchesBatchNormOnTheWholeBatch) {
  const int64_t world = GetParam();
  const auto x = torch::randn({world * 3, 4}) - 2.0;
  const auto g = torch::randn({world * 3, 4});
  expect_matches_torch(torch::nn::BatchNorm1d(torch::nn::BatchNorm1dOptions(4).affine(false)),
                       world, x, g, /*affine=*/false);
}

INSTANTIATE_TEST_SUITE_P(Worlds, SyncBatchNormTest, ::testing::Values(2, 3));

TEST(BatchNormTest, WithoutAGroupItIsTorchBatchNorm) {
  torch::manual_seed(3);
  BatchNorm ours(5);
  torch::nn::BatchNorm2d theirs(5);
  EXPECT_EQ(pretext::testing::names_of(ours->named_parameters()),
            pretext::testing::names_of(theirs->named_parameters()));
  EXPECT_EQ(pretext::testing::names_of(ours->named_buffers()),
            pretext::testing::names_of(theirs->named_buffers()));
  const auto x = torch::randn({4, 5, 3, 3});
  for (int s = 0; s < 2; ++s) {
    EXPECT_TRUE(torch::allclose(ours(x), theirs(x)));
  }
  EXPECT_TRUE(torch::equal(ours->running_var, theirs->running_var));
  EXPECT_TRUE(torch::equal(ours->num_batches_tracked, theirs->num_batches_tracked));
  ours->eval();
  theirs->eval();
  EXPECT_TRUE(torch::allclose(ours(x), theirs(x)));
}

}  // namespace
}  // namespace pretext
