// MoCo v2: InfoNCE with a queue against a naive loop, the queue's pointer and contents, the
// frozen key encoder and its EMA.
#include "objectives/moco_v2.h"

#include <cmath>
#include <tuple>

#include <gtest/gtest.h>

#include "objectives/info_nce.h"
#include "tests/objectives/small_objective.h"
#include "tests/test_util.h"

namespace pretext {
namespace {

// mean_b -log(exp(q_b.k_b / T) / (exp(q_b.k_b / T) + sum_j exp(q_b.queue_j / T))), every dot
// product an explicit loop in double.
torch::Tensor naive_info_nce(const torch::Tensor& q, const torch::Tensor& k,
                             const torch::Tensor& queue, double t) {
  const int64_t b = q.size(0);
  const int64_t d = q.size(1);
  const auto dot = [d](const torch::Tensor& x, const torch::Tensor& y) {
    auto s = torch::zeros({}, torch::kFloat64);
    for (int64_t i = 0; i < d; ++i) s = s + x[i] * y[i];
    return s;
  };
  auto total = torch::zeros({}, torch::kFloat64);
  for (int64_t i = 0; i < b; ++i) {
    const auto positive = torch::exp(dot(q[i], k[i]) / t);
    auto denominator = positive;
    for (int64_t j = 0; j < queue.size(0); ++j)
      denominator = denominator + torch::exp(dot(q[i], queue[j]) / t);
    total = total - torch::log(positive / denominator);
  }
  return total / static_cast<double>(b);
}

torch::Tensor unit_rows(torch::Tensor x) { return x / x.norm(2, {1}, /*keepdim=*/true); }

class InfoNceTest : public testing::Seeded,
                    public ::testing::WithParamInterface<std::tuple<int64_t, int64_t, int64_t>> {};

TEST_P(InfoNceTest, MatchesNaiveLoopInValueAndGradient) {
  const auto [batch, dim, queue_size] = GetParam();
  const auto q = unit_rows(torch::randn({batch, dim}, torch::kFloat64));
  const auto k = unit_rows(torch::randn({batch, dim}, torch::kFloat64));
  const auto queue = unit_rows(torch::randn({queue_size, dim}, torch::kFloat64));
  const double t = 0.2;

  auto q_fast = q.to(torch::kFloat32).requires_grad_();
  const auto fast =
      info_nce_with_queue(q_fast, k.to(torch::kFloat32), queue.to(torch::kFloat32), t);
  fast.loss.backward();
  auto q_ref = q.clone().requires_grad_();
  const auto ref = naive_info_nce(q_ref, k, queue, t);
  ref.backward();

  EXPECT_NEAR(fast.loss.item<double>(), ref.item<double>(), 1e-4);
  EXPECT_TRUE(torch::allclose(q_fast.grad().to(torch::kFloat64), q_ref.grad(), 1e-3, 1e-5));
}

INSTANTIATE_TEST_SUITE_P(Shapes, InfoNceTest,
                         ::testing::Values(std::make_tuple(1, 3, 1), std::make_tuple(4, 8, 5),
                                           std::make_tuple(6, 16, 20)));

TEST(InfoNce, PositiveAccuracyCountsQueriesWhoseKeyWins) {
  // Query 0 equals its key; query 1 is closer to the queued key than to its own.
  const auto q = torch::tensor({{1.0f, 0.0f}, {0.0f, 1.0f}});
  const auto k = torch::tensor({{1.0f, 0.0f}, {1.0f, 0.0f}});
  const auto queue = torch::tensor({{0.0f, 1.0f}});
  EXPECT_NEAR(info_nce_with_queue(q, k, queue, 0.2).positive_acc.item<double>(), 0.5, 1e-6);
  EXPECT_THROW(info_nce_with_queue(q, k, torch::ones({3, 5}), 0.2), c10::Error);
}

class MocoV2Test : public testing::Seeded {
 protected:
  static std::shared_ptr<MocoV2Objective> build(MocoV2Options options) {
    return std::make_shared<MocoV2Objective>(testing::small_context(), options);
  }
  static MocoV2Options small(int64_t queue_size, bool symmetric) {
    return MocoV2Options()
        .proj_hidden_dim(32)
        .proj_output_dim(8)
        .queue_size(queue_size)
        .symmetric(symmetric);
  }
  static Batch batch(int64_t size) { return testing::random_views(size, {16, 16}); }
  /// The keys MoCo enqueues for view v: normalized key-encoder output, computed independently.
  static torch::Tensor keys_of(MocoV2Objective& moco, const torch::Tensor& view) {
    torch::NoGradGuard no_grad;
    auto head = moco.named_children()["key_head"];
    auto features = moco.key_encoder().forward(view);
    auto z = head->as<MlpHeadImpl>()->forward(features);
    return unit_rows(z);
  }
};

TEST_F(MocoV2Test, QueueHoldsExactlyTheLastKeysAndThePointerWraps) {
  // K = 10 with batches of 4: the pointer runs 0, 4, 8, 2 (wrapped), 6.
  auto moco = build(small(10, /*symmetric=*/false));
  moco->train();
  EXPECT_EQ(moco->queue().sizes(), torch::IntArrayRef({1, 10, 8}));
  EXPECT_TRUE(torch::allclose(moco->queue().norm(2, {2}), torch::ones({1, 10}), 1e-5, 1e-5));
  std::vector<torch::Tensor> all_keys;
  Step step;
  step.total = 100;
  const std::vector<int64_t> expected_pointer = {4, 8, 2, 6};
  for (int64_t i = 0; i < 4; ++i) {
    step.index = i;
    const Batch b = batch(4);
    moco->compute_loss(b, step);
    // Keys of view 2 as the key encoder sees them before this step's EMA (momentum 1: none).
    all_keys.push_back(keys_of(*moco, b.views[1]));
    moco->after_optimizer_step(step);
    EXPECT_EQ(moco->queue_pointer(), expected_pointer[static_cast<size_t>(i)]) << "step " << i;
  }
  // The last 10 keys, in the slots a ring buffer puts them: key n lives in slot n % 10.
  const auto keys = torch::cat(all_keys);  // [16, 8]
  for (int64_t n = 6; n < 16; ++n) {
    EXPECT_TRUE(torch::allclose(moco->queue()[0][n % 10], keys[n], 1e-5, 1e-6)) << "key " << n;
  }
}

TEST_F(MocoV2Test, SymmetricKeepsOneQueuePerViewAndMoreKeysThanSlotsKeepsTheNewest) {
  auto moco = build(small(3, /*symmetric=*/true));
  moco->train();
  ASSERT_EQ(moco->queue().sizes(), torch::IntArrayRef({2, 3, 8}));
  Step step;
  step.total = 10;
  const Batch b = batch(5);  // 5 keys into 3 slots: keys 2, 3, 4 survive in slots 2, 0, 1
  moco->compute_loss(b, step);
  const auto k0 = keys_of(*moco, b.views[0]);
  const auto k1 = keys_of(*moco, b.views[1]);
  moco->after_optimizer_step(step);
  EXPECT_EQ(moco->queue_pointer(), 2);
  for (int64_t n = 2; n < 5; ++n) {
    EXPECT_TRUE(torch::allclose(moco->queue()[0][n % 3], k0[n], 1e-5, 1e-6)) << "view 0 key " << n;
    EXPECT_TRUE(torch::allclose(moco->queue()[1][n % 3], k1[n], 1e-5, 1e-6)) << "view 1 key " << n;
  }
}

TEST_F(MocoV2Test, LossUsesTheQueueAsNegativesAndTheKeyEncoderGetsNoGradient) {
  auto moco = build(small(12, /*symmetric=*/false).temperature(0.2));
  moco->train();
  Step step;
  step.total = 10;
  const Batch b = batch(6);
  const auto out = moco->compute_loss(b, step);
  // Recompute the asymmetric loss from the parts: query view 1, key view 2, queue 0.
  torch::Tensor q;
  {
    auto head = moco->named_children()["query_head"];
    q = unit_rows(head->as<MlpHeadImpl>()->forward(moco->encoder().forward(b.views[0])));
  }
  const auto k = keys_of(*moco, b.views[1]);
  const auto expected = naive_info_nce(q.to(torch::kFloat64), k.to(torch::kFloat64),
                                       moco->queue()[0].to(torch::kFloat64), 0.2);
  EXPECT_NEAR(out.loss.item<double>(), expected.item<double>(), 1e-4);
  out.loss.backward();
  for (const auto& p : moco->key_encoder().parameters()) {
    EXPECT_FALSE(p.requires_grad());
    EXPECT_FALSE(p.grad().defined());
  }
}

TEST_F(MocoV2Test, KeyEncoderFollowsTheEmaFormulaAndTheCosineRamp) {
  auto moco = build(small(8, false).momentum_base(0.9).momentum_final(1.0));
  moco->train();
  Step step;
  step.total = 4;
  step.index = 2;  // halfway: m = 1 - 0.1 * (cos(pi / 2) + 1) / 2 = 0.95
  EXPECT_NEAR(moco->momentum(step), 0.95, 1e-12);
  // Move the query encoder so the EMA has something to follow.
  for (auto& p : moco->encoder().parameters()) {
    torch::NoGradGuard no_grad;
    p.add_(torch::randn_like(p) * 0.1);
  }
  std::vector<torch::Tensor> query_before;
  std::vector<torch::Tensor> key_before;
  for (const auto& p : moco->encoder().parameters()) query_before.push_back(p.detach().clone());
  for (const auto& p : moco->key_encoder().parameters()) key_before.push_back(p.detach().clone());
  moco->compute_loss(batch(4), step);
  moco->after_optimizer_step(step);
  const auto key_after = moco->key_encoder().parameters();
  for (size_t i = 0; i < key_after.size(); ++i) {
    const auto expected = key_before[i] * 0.95 + query_before[i] * 0.05;
    EXPECT_TRUE(torch::allclose(key_after[i], expected, 1e-6, 1e-7)) << "parameter " << i;
  }
}

TEST_F(MocoV2Test, RejectsBadOptions) {
  EXPECT_THROW(build(small(0, false)), c10::ValueError);
  EXPECT_THROW(build(small(8, false).temperature(0.0)), c10::ValueError);
  EXPECT_THROW(build(small(8, false).momentum_base(0.99).momentum_final(0.9)), c10::ValueError);
}

}  // namespace
}  // namespace pretext
