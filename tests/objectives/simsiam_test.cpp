// SimSiam: negative cosine similarity against a naive loop, its stop-gradient, the objective.
#include "objectives/simsiam.h"

#include <cmath>
#include <tuple>

#include <gtest/gtest.h>

#include "models/heads.h"
#include "objectives/similarity_losses.h"
#include "tests/objectives/small_objective.h"
#include "tests/test_util.h"

namespace pretext {
namespace {

// -mean_b (p_b . z_b) / (|p_b| |z_b|), every sum an explicit loop in double.
torch::Tensor naive_negative_cosine(const torch::Tensor& p, const torch::Tensor& z) {
  const int64_t b = p.size(0);
  const int64_t d = p.size(1);
  auto total = torch::zeros({}, torch::kFloat64);
  for (int64_t i = 0; i < b; ++i) {
    auto dot = torch::zeros({}, torch::kFloat64);
    auto p_norm2 = torch::zeros({}, torch::kFloat64);
    auto z_norm2 = torch::zeros({}, torch::kFloat64);
    for (int64_t k = 0; k < d; ++k) {
      dot = dot + p[i][k] * z[i][k];
      p_norm2 = p_norm2 + p[i][k] * p[i][k];
      z_norm2 = z_norm2 + z[i][k] * z[i][k];
    }
    total = total - dot / (torch::sqrt(p_norm2) * torch::sqrt(z_norm2));
  }
  return total / static_cast<double>(b);
}

class NegativeCosineTest : public testing::Seeded,
                           public ::testing::WithParamInterface<std::tuple<int64_t, int64_t>> {};

TEST_P(NegativeCosineTest, MatchesNaiveLoopInValueAndGradient) {
  const auto [batch, dim] = GetParam();
  const auto p = torch::randn({batch, dim}, torch::kFloat64);
  const auto z = torch::randn({batch, dim}, torch::kFloat64) * 0.5;

  auto p_fast = p.to(torch::kFloat32).requires_grad_();
  auto z_fast = z.to(torch::kFloat32).requires_grad_();
  const auto fast = negative_cosine_similarity(p_fast, z_fast);
  fast.backward();

  auto p_ref = p.clone().requires_grad_();
  const auto ref = naive_negative_cosine(p_ref, z);
  ref.backward();

  EXPECT_EQ(fast.dim(), 0);
  EXPECT_NEAR(fast.item<double>(), ref.item<double>(), 1e-5);
  EXPECT_TRUE(torch::allclose(p_fast.grad().to(torch::kFloat64), p_ref.grad(), 1e-4, 1e-6));
  // Stop-gradient: nothing reaches the target even though it requires grad.
  EXPECT_FALSE(z_fast.grad().defined());
}

INSTANTIATE_TEST_SUITE_P(Shapes, NegativeCosineTest,
                         ::testing::Values(std::make_tuple(1, 4), std::make_tuple(3, 7),
                                           std::make_tuple(8, 16), std::make_tuple(16, 3)));

TEST(NegativeCosine, StopGradientHoldsWhenTargetAndPredictionShareAGraph) {
  // p = W z as in SimSiam: the gradient wrt z only comes through the prediction branch.
  auto z = torch::randn({4, 5}).requires_grad_();
  const auto w = torch::randn({5, 5});
  const auto p = torch::mm(z, w);
  const auto loss = negative_cosine_similarity(p, z);
  const auto grad_z = torch::autograd::grad({loss}, {z})[0];
  auto z_leaf = z.detach().clone().requires_grad_();
  const auto through_p_only = negative_cosine_similarity(torch::mm(z_leaf, w), z.detach());
  const auto expected = torch::autograd::grad({through_p_only}, {z_leaf})[0];
  EXPECT_TRUE(torch::allclose(grad_z, expected, 1e-6, 1e-7));
}

TEST(NegativeCosine, ClosedFormsAndShapeCheck) {
  const auto x = torch::tensor({{3.0f, -1.0f}, {0.5f, 2.0f}});
  EXPECT_NEAR(negative_cosine_similarity(x, 2.0 * x).item<double>(), -1.0, 1e-6);
  EXPECT_NEAR(negative_cosine_similarity(x, -x).item<double>(), 1.0, 1e-6);
  EXPECT_THROW(negative_cosine_similarity(torch::ones({2, 3}), torch::ones({3, 3})), c10::Error);
}

class SimsiamTest : public testing::Seeded {
 protected:
  static std::shared_ptr<SimsiamObjective> build(SimsiamOptions options) {
    return std::make_shared<SimsiamObjective>(testing::small_context(), options);
  }
};

TEST_F(SimsiamTest, LossIsTheSymmetrizedNegativeCosineAndEveryParameterTrains) {
  auto simsiam = build(SimsiamOptions().proj_hidden_dim(32).proj_output_dim(32).pred_hidden_dim(8));
  simsiam->train();
  Batch batch;
  batch.views = {torch::randn({8, 1, 16, 16}), torch::randn({8, 1, 16, 16})};
  Step step;
  const auto out = simsiam->compute_loss(batch, step);
  {
    // The paper's eq. 2 from the networks' outputs, in float64:
    // L = -cos(p0, z1) / 2 - cos(p1, z0) / 2, batch means.
    auto& backbone = testing::child_as<Backbone>(*simsiam, "backbone");
    auto& projector = testing::child_as<MlpHeadImpl>(*simsiam, "projector");
    auto& predictor = testing::child_as<MlpHeadImpl>(*simsiam, "predictor");
    torch::NoGradGuard no_grad;
    const auto z0 = projector.forward(backbone.forward(batch.views[0]));
    const auto z1 = projector.forward(backbone.forward(batch.views[1]));
    const auto p0 = predictor.forward(z0);
    const auto p1 = predictor.forward(z1);
    const double expected = -0.5 * testing::cosine64(p0, z1).mean().item<double>() -
                            0.5 * testing::cosine64(p1, z0).mean().item<double>();
    EXPECT_NEAR(out.loss.item<double>(), expected, 1e-5 * std::abs(expected) + 1e-7);
  }
  out.loss.backward();
  for (const auto& item : simsiam->named_parameters()) {
    EXPECT_TRUE(item.value().requires_grad()) << item.key();
    EXPECT_TRUE(item.value().grad().defined()) << item.key();
  }
  EXPECT_EQ(simsiam->view_spec().global_size, 16);
}

TEST_F(SimsiamTest, RejectsBadOptions) {
  EXPECT_THROW(build(SimsiamOptions().pred_hidden_dim(0)), c10::ValueError);
  EXPECT_THROW(build(SimsiamOptions().proj_output_dim(-1)), c10::ValueError);
}

}  // namespace
}  // namespace pretext
