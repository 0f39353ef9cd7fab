// all_gather_with_grad and all_reduce_sum_with_grad: each rank's gradient against autograd
// through the same total loss computed on the whole batch in one process.
#include "distributed/all_gather_grad.h"

#include <gtest/gtest.h>

#include "distributed/all_reduce_grad.h"
#include "objectives/nt_xent.h"
#include "tests/distributed/rank_threads.h"
#include "tests/test_util.h"

namespace pretext {
namespace {

using pretext::testing::rows_of;
using pretext::testing::run_ranks;

class AllGatherGradTest : public pretext::testing::Seeded,
                          public ::testing::WithParamInterface<int64_t> {};

// Rank r's loss weighs the gathered batch with its own matrix, so every rank's rows get
// gradient from every rank's loss.
torch::Tensor rank_loss(const torch::Tensor& gathered, const torch::Tensor& weights) {
  return (gathered * weights).sin().sum();
}

TEST_P(AllGatherGradTest, GradientIsThatOfTheSummedLosses) {
  const int64_t world = GetParam();
  const int64_t rows = 2;
  const auto x = torch::randn({world * rows, 5});
  std::vector<torch::Tensor> weights;
  for (int64_t r = 0; r < world; ++r) weights.push_back(torch::randn({world * rows, 5}));

  auto reference = x.clone().requires_grad_(true);
  torch::Tensor total = torch::zeros({});
  for (int64_t r = 0; r < world; ++r) total = total + rank_loss(reference, weights[r]);
  total.backward();

  run_ranks(world, [&](Comm& comm, int64_t rank) {
    auto mine = rows_of(x, rank, world).clone().requires_grad_(true);
    const auto gathered = all_gather_with_grad(comm, mine);
    EXPECT_TRUE(torch::equal(gathered.detach(), x));
    rank_loss(gathered, weights[rank]).backward();
    EXPECT_TRUE(torch::allclose(mine.grad(), rows_of(reference.grad(), rank, world), 1e-5, 1e-6));
  });
}

TEST_P(AllGatherGradTest, AllReduceGradientIsThatOfTheSummedLosses) {
  const int64_t world = GetParam();
  const auto x = torch::randn({world, 4});
  const auto weights = torch::randn({world, 4});
  auto reference = x.clone().requires_grad_(true);
  const auto sum = reference.sum(0);
  torch::Tensor total = torch::zeros({});
  for (int64_t r = 0; r < world; ++r) total = total + (sum * weights[r]).cos().sum();
  total.backward();

  run_ranks(world, [&](Comm& comm, int64_t rank) {
    auto mine = x[rank].clone().requires_grad_(true);
    const auto reduced = all_reduce_sum_with_grad(comm, mine);
    EXPECT_TRUE(torch::allclose(reduced.detach(), x.sum(0), 1e-6, 1e-6));
    (reduced * weights[rank]).cos().sum().backward();
    EXPECT_TRUE(torch::allclose(mine.grad(), reference.grad()[rank], 1e-5, 1e-6));
  });
}

// SimCLR's loss on the global batch: the mean over ranks of each rank's NT-Xent equals the
// one-process NT-Xent, and the summed gradients match.
TEST_P(AllGatherGradTest, GlobalNtXentEqualsOneProcess) {
  const int64_t world = GetParam();
  const int64_t rows = 3;
  const auto z0 = torch::randn({world * rows, 8});
  const auto z1 = torch::randn({world * rows, 8});
  auto r0 = z0.clone().requires_grad_(true);
  auto r1 = z1.clone().requires_grad_(true);
  const auto expected = nt_xent(r0, r1, 0.5).loss;
  expected.backward();

  std::vector<double> losses(static_cast<size_t>(world));
  run_ranks(world, [&](Comm& comm, int64_t rank) {
    auto m0 = rows_of(z0, rank, world).clone().requires_grad_(true);
    auto m1 = rows_of(z1, rank, world).clone().requires_grad_(true);
    const auto out = nt_xent_global(m0, m1, all_gather_with_grad(comm, m0),
                                    all_gather_with_grad(comm, m1), rank * rows, 0.5);
    losses[static_cast<size_t>(rank)] = out.loss.item<double>();
    // The trainer averages gradients over ranks: the gradient of the mean per-rank loss.
    (out.loss / static_cast<double>(world)).backward();
    EXPECT_TRUE(torch::allclose(m0.grad(), rows_of(r0.grad(), rank, world), 1e-4, 1e-6));
    EXPECT_TRUE(torch::allclose(m1.grad(), rows_of(r1.grad(), rank, world), 1e-4, 1e-6));
  });
  double mean = 0.0;
  for (double l : losses) mean += l / static_cast<double>(world);
  EXPECT_NEAR(mean, expected.item<double>(), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Worlds, AllGatherGradTest, ::testing::Values(2, 3));

TEST(AllGatherGradLocalTest, WorldOfOneIsIdentity) {
  LocalComm comm;
  auto x = torch::randn({3, 2}, torch::requires_grad());
  EXPECT_TRUE(all_gather_with_grad(comm, x).is_same(x));
  EXPECT_TRUE(all_reduce_sum_with_grad(comm, x).is_same(x));
}

}  // namespace
}  // namespace pretext
