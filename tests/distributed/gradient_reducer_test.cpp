// GradientReducer: after backward on each rank's shard, every rank holds the gradient of the
// mean per-rank loss, computed here by autograd on one replica over all shards.
#include "distributed/gradient_reducer.h"

#include <gtest/gtest.h>

#include "tests/distributed/rank_threads.h"
#include "tests/test_util.h"

namespace pretext {
namespace {

using pretext::testing::rows_of;
using pretext::testing::run_ranks;

struct NetImpl : torch::nn::Module {
  NetImpl()
      : first(register_module("first", torch::nn::Linear(6, 5))),
        second(register_module("second", torch::nn::Linear(5, 3))),
        rank_one_only(register_module("rank_one_only", torch::nn::Linear(3, 3))),
        unused(register_module("unused", torch::nn::Linear(3, 3))) {}
  /// `extra`: route through a layer only some ranks use in this step.
  torch::Tensor forward(const torch::Tensor& x, bool extra) {
    auto y = second(torch::tanh(first(x)));
    return extra ? rank_one_only(y) : y;
  }
  torch::nn::Linear first, second, rank_one_only, unused;
};
TORCH_MODULE(Net);

std::vector<torch::Tensor> parameters_of(Net& net) { return net->parameters(); }

class GradientReducerTest : public pretext::testing::Seeded,
                            public ::testing::WithParamInterface<int64_t> {};

TEST_P(GradientReducerTest, AveragesGradientsOverRanks) {
  const int64_t world = 3;
  const int64_t bucket_bytes = GetParam();
  const auto x = torch::randn({world * 4, 6});
  const auto target = torch::randn({world * 4, 3});
  std::vector<Net> nets;
  for (int64_t r = 0; r <= world; ++r) {
    torch::manual_seed(7);
    nets.emplace_back();
  }
  // Reference: the mean over ranks of each rank's loss, on one replica.
  Net& reference = nets[world];
  torch::Tensor mean_loss = torch::zeros({});
  for (int64_t r = 0; r < world; ++r) {
    const auto out = reference->forward(rows_of(x, r, world), /*extra=*/r == 1);
    mean_loss = mean_loss + torch::mse_loss(out, rows_of(target, r, world)) / world;
  }
  mean_loss.backward();

  int64_t buckets = 0;
  run_ranks(world, [&](Comm& comm, int64_t rank) {
    Net& net = nets[rank];
    GradientReducer reducer(parameters_of(net), comm, bucket_bytes);
    if (rank == 0) buckets = reducer.num_buckets();
    for (int step = 0; step < 2; ++step) {  // the second step reuses the buckets
      for (auto& p : net->parameters()) p.mutable_grad() = torch::Tensor();
      reducer.prepare();
      const auto out = net->forward(rows_of(x, rank, world), /*extra=*/rank == 1);
      torch::mse_loss(out, rows_of(target, rank, world)).backward();
      reducer.finish();
      const auto got = net->named_parameters();
      for (const auto& item : reference->named_parameters()) {
        const auto& g = got[item.key()].grad();
        if (item.key().rfind("unused", 0) == 0) {
          EXPECT_FALSE(g.defined()) << item.key() << " was used by no rank";
          continue;
        }
        ASSERT_TRUE(g.defined()) << item.key() << " on rank " << rank;
        EXPECT_TRUE(torch::allclose(g, item.value().grad(), 1e-5, 1e-7))
            << item.key() << " on rank " << rank;
      }
    }
  });
  if (bucket_bytes < 64) {
    EXPECT_EQ(buckets, 8);  // each parameter alone: a bucket never holds two
  } else {
    EXPECT_EQ(buckets, 1);
  }
}

// 4 bytes: one parameter per bucket; 1 MiB: all in one.
INSTANTIATE_TEST_SUITE_P(BucketSizes, GradientReducerTest, ::testing::Values(4, 1 << 20));

TEST(GradientReducerLocalTest, GradientsOutsidePrepareAreLeftAlone) {
  LocalComm comm;
  auto w = torch::ones({3}, torch::requires_grad());
  GradientReducer reducer({w}, comm, 1024);
  (w * 2).sum().backward();
  EXPECT_TRUE(torch::equal(w.grad(), torch::full({3}, 2.0)));
  reducer.prepare();
  (w * 3).sum().backward();
  reducer.finish();
  // The reduced gradient of this backward replaces what autograd accumulated (the trainer
  // zeroes gradients before every step).
  EXPECT_TRUE(torch::equal(w.grad(), torch::full({3}, 3.0)));
}

}  // namespace
}  // namespace pretext
