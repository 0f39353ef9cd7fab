// BYOL: normalized MSE against a naive loop, the EMA target update, and the frozen target.
#include "objectives/byol.h"

#include <cmath>
#include <tuple>

#include <gtest/gtest.h>

#include "models/heads.h"
#include "objectives/momentum.h"
#include "objectives/similarity_losses.h"
#include "tests/objectives/small_objective.h"
#include "tests/test_util.h"

namespace pretext {
namespace {

// mean_b ||p_b/|p_b| - z_b/|z_b|||^2, with every norm and difference an explicit loop in double.
torch::Tensor naive_normalized_mse(const torch::Tensor& p, const torch::Tensor& z) {
  const int64_t b = p.size(0);
  const int64_t d = p.size(1);
  auto total = torch::zeros({}, torch::kFloat64);
  for (int64_t i = 0; i < b; ++i) {
    auto p_norm2 = torch::zeros({}, torch::kFloat64);
    auto z_norm2 = torch::zeros({}, torch::kFloat64);
    for (int64_t k = 0; k < d; ++k) {
      p_norm2 = p_norm2 + p[i][k] * p[i][k];
      z_norm2 = z_norm2 + z[i][k] * z[i][k];
    }
    for (int64_t k = 0; k < d; ++k) {
      const auto diff = p[i][k] / torch::sqrt(p_norm2) - z[i][k] / torch::sqrt(z_norm2);
      total = total + diff * diff;
    }
  }
  return total / static_cast<double>(b);
}

class NormalizedMseTest : public testing::Seeded,
                          public ::testing::WithParamInterface<std::tuple<int64_t, int64_t>> {};

TEST_P(NormalizedMseTest, MatchesNaiveLoopInValueAndGradient) {
  const auto [batch, dim] = GetParam();
  const auto p = torch::randn({batch, dim}, torch::kFloat64);
  const auto z = torch::randn({batch, dim}, torch::kFloat64) * 3.0;

  auto p_fast = p.to(torch::kFloat32).requires_grad_();
  auto z_fast = z.to(torch::kFloat32).requires_grad_();
  const auto fast = normalized_mse(p_fast, z_fast);
  fast.backward();

  auto p_ref = p.clone().requires_grad_();
  const auto ref = naive_normalized_mse(p_ref, z);
  ref.backward();

  EXPECT_EQ(fast.dim(), 0);
  EXPECT_NEAR(fast.item<double>(), ref.item<double>(), 1e-5);
  EXPECT_TRUE(torch::allclose(p_fast.grad().to(torch::kFloat64), p_ref.grad(), 1e-4, 1e-6));
  // The target is a stop-gradient input.
  EXPECT_FALSE(z_fast.grad().defined());
}

INSTANTIATE_TEST_SUITE_P(Shapes, NormalizedMseTest,
                         ::testing::Values(std::make_tuple(1, 3), std::make_tuple(4, 8),
                                           std::make_tuple(7, 5), std::make_tuple(16, 32)));

TEST(NormalizedMse, ClosedFormsForAlignedOppositeAndOrthogonalVectors) {
  const auto x = torch::tensor({{1.0f, 2.0f, -1.0f}});
  EXPECT_NEAR(normalized_mse(x, 5.0 * x).item<double>(), 0.0, 1e-6);
  EXPECT_NEAR(normalized_mse(x, -x).item<double>(), 4.0, 1e-6);
  EXPECT_NEAR(
      normalized_mse(torch::tensor({{1.0f, 0.0f}}), torch::tensor({{0.0f, 2.0f}})).item<double>(),
      2.0, 1e-6);
  EXPECT_THROW(normalized_mse(torch::ones({2, 3}), torch::ones({2, 4})), c10::Error);
}

class ByolTest : public testing::Seeded {
 protected:
  static std::shared_ptr<ByolObjective> build(ByolOptions options = small_options()) {
    return std::make_shared<ByolObjective>(testing::small_context(), options);
  }
  static ByolOptions small_options() {
    return ByolOptions().proj_hidden_dim(32).proj_output_dim(16).pred_hidden_dim(32);
  }
  static Batch batch(int64_t size) { return testing::random_views(size, {16, 16}); }
  static std::vector<torch::Tensor> snapshot(const std::vector<torch::Tensor>& tensors) {
    std::vector<torch::Tensor> out;
    for (const auto& t : tensors) out.push_back(t.detach().clone());
    return out;
  }
};

TEST_F(ByolTest, TargetStartsEqualToOnlineAndIsFrozen) {
  auto byol = build();
  const auto pairs = byol->momentum_pairs();
  ASSERT_EQ(pairs.size(), 2u);
  for (const auto& pair : pairs) {
    const auto online = pair.online->parameters();
    const auto target = pair.target->parameters();
    ASSERT_EQ(online.size(), target.size());
    for (size_t i = 0; i < online.size(); ++i) {
      EXPECT_TRUE(online[i].requires_grad());
      EXPECT_FALSE(target[i].requires_grad());
      EXPECT_TRUE(torch::equal(online[i], target[i])) << "parameter " << i;
    }
  }
}

TEST_F(ByolTest, TargetGetsNoGradientAndFollowsTheEmaFormula) {
  auto byol = build();
  byol->train();
  std::vector<torch::Tensor> trainable;
  for (const auto& p : byol->parameters()) {
    if (p.requires_grad()) trainable.push_back(p);
  }
  torch::optim::SGD sgd(trainable, torch::optim::SGDOptions(0.1));
  Step step;
  step.index = 3;
  step.total = 10;
  const auto pairs = byol->momentum_pairs();
  std::vector<std::vector<torch::Tensor>> target_before;
  for (const auto& pair : pairs) target_before.push_back(snapshot(pair.target->parameters()));

  sgd.zero_grad();
  byol->compute_loss(batch(8), step).loss.backward();
  sgd.step();
  for (size_t k = 0; k < pairs.size(); ++k) {
    const auto target = pairs[k].target->parameters();
    for (size_t i = 0; i < target.size(); ++i) {
      EXPECT_FALSE(target[i].grad().defined()) << "pair " << k << " parameter " << i;
      EXPECT_TRUE(torch::equal(target[i], target_before[k][i])) << "pair " << k << " param " << i;
    }
  }

  const double m = cosine_schedule(0.996, 1.0, step);
  EXPECT_DOUBLE_EQ(byol->momentum(step), m);
  std::vector<std::vector<torch::Tensor>> online_after;
  for (const auto& pair : pairs) online_after.push_back(snapshot(pair.online->parameters()));
  byol->after_optimizer_step(step);
  int64_t moved = 0;
  for (size_t k = 0; k < pairs.size(); ++k) {
    const auto target = pairs[k].target->parameters();
    for (size_t i = 0; i < target.size(); ++i) {
      const auto expected = m * target_before[k][i] + (1.0 - m) * online_after[k][i];
      EXPECT_TRUE(torch::allclose(target[i], expected, 1e-6, 1e-7))
          << "pair " << k << " parameter " << i;
      if (!torch::equal(target[i], target_before[k][i])) ++moved;
    }
  }
  EXPECT_GT(moved, 0);
}

TEST_F(ByolTest, MomentumScheduleRunsFromBaseToFinal) {
  auto byol = build(small_options().momentum_base(0.99).momentum_final(1.0));
  Step step;
  step.total = 50;
  step.index = 0;
  EXPECT_DOUBLE_EQ(byol->momentum(step), 0.99);
  step.index = 25;
  EXPECT_NEAR(byol->momentum(step), 0.995, 1e-12);
  step.index = 50;
  EXPECT_DOUBLE_EQ(byol->momentum(step), 1.0);
}

TEST_F(ByolTest, LossIsTheSymmetrizedNormalizedMse) {
  auto byol = build();
  byol->train();
  Step step;
  const Batch views = batch(8);
  const double loss = byol->compute_loss(views, step).loss.item<double>();
  // The paper's loss from the networks' outputs, in float64: each view's prediction against
  // the target projection of the other view, ||p/|p| - t/|t|||^2 = 2 - 2 cos, batch means.
  auto& online = testing::child_as<Backbone>(*byol, "online");
  auto& projector = testing::child_as<MlpHeadImpl>(*byol, "projector");
  auto& predictor = testing::child_as<MlpHeadImpl>(*byol, "predictor");
  auto& target = testing::child_as<Backbone>(*byol, "target");
  auto& target_projector = testing::child_as<MlpHeadImpl>(*byol, "target_projector");
  torch::NoGradGuard no_grad;
  const auto p0 = predictor.forward(projector.forward(online.forward(views.views[0])));
  const auto p1 = predictor.forward(projector.forward(online.forward(views.views[1])));
  const auto t0 = target_projector.forward(target.forward(views.views[0]));
  const auto t1 = target_projector.forward(target.forward(views.views[1]));
  const double expected = (2.0 - 2.0 * testing::cosine64(p0, t1)).mean().item<double>() +
                          (2.0 - 2.0 * testing::cosine64(p1, t0)).mean().item<double>();
  EXPECT_NEAR(loss, expected, 1e-5 * std::abs(expected));
}

TEST_F(ByolTest, RejectsBadOptions) {
  EXPECT_THROW(build(small_options().momentum_base(1.0).momentum_final(0.99)), c10::ValueError);
  EXPECT_THROW(build(small_options().momentum_final(1.5)), c10::ValueError);
  EXPECT_THROW(build(small_options().pred_hidden_dim(0)), c10::ValueError);
}

}  // namespace
}  // namespace pretext
