// VICReg: each loss term against its formula written as explicit loops, and closed forms.
#include "objectives/vicreg.h"

#include <cmath>
#include <tuple>

#include <gtest/gtest.h>

#include "objectives/vicreg_loss.h"
#include "tests/objectives/small_objective.h"
#include "tests/test_util.h"

namespace pretext {
namespace {

struct NaiveTerms {
  torch::Tensor invariance;
  torch::Tensor variance;
  torch::Tensor covariance;
};

// Variance hinge and off-diagonal covariance of one branch (paper, eqs. 1-4), loops in double.
void naive_branch(const torch::Tensor& z, torch::Tensor& variance, torch::Tensor& covariance) {
  const int64_t b = z.size(0);
  const int64_t d = z.size(1);
  std::vector<torch::Tensor> mean(d);
  for (int64_t k = 0; k < d; ++k) {
    mean[k] = torch::zeros({}, torch::kFloat64);
    for (int64_t i = 0; i < b; ++i) mean[k] = mean[k] + z[i][k];
    mean[k] = mean[k] / static_cast<double>(b);
  }
  auto hinge = torch::zeros({}, torch::kFloat64);
  for (int64_t k = 0; k < d; ++k) {
    auto var = torch::zeros({}, torch::kFloat64);
    for (int64_t i = 0; i < b; ++i) var = var + (z[i][k] - mean[k]) * (z[i][k] - mean[k]);
    var = var / static_cast<double>(b - 1);
    hinge = hinge + torch::relu(1.0 - torch::sqrt(var + 1e-4));
  }
  variance = variance + hinge / static_cast<double>(d) / 2.0;
  auto off = torch::zeros({}, torch::kFloat64);
  for (int64_t k = 0; k < d; ++k) {
    for (int64_t l = 0; l < d; ++l) {
      if (k == l) continue;
      auto cov = torch::zeros({}, torch::kFloat64);
      for (int64_t i = 0; i < b; ++i) cov = cov + (z[i][k] - mean[k]) * (z[i][l] - mean[l]);
      cov = cov / static_cast<double>(b - 1);
      off = off + cov * cov;
    }
  }
  covariance = covariance + off / static_cast<double>(d);
}

NaiveTerms naive_vicreg(const torch::Tensor& z0, const torch::Tensor& z1) {
  const int64_t b = z0.size(0);
  const int64_t d = z0.size(1);
  NaiveTerms t{torch::zeros({}, torch::kFloat64), torch::zeros({}, torch::kFloat64),
               torch::zeros({}, torch::kFloat64)};
  for (int64_t i = 0; i < b; ++i) {
    for (int64_t k = 0; k < d; ++k) {
      t.invariance = t.invariance + (z0[i][k] - z1[i][k]) * (z0[i][k] - z1[i][k]);
    }
  }
  t.invariance = t.invariance / static_cast<double>(b * d);
  naive_branch(z0, t.variance, t.covariance);
  naive_branch(z1, t.variance, t.covariance);
  return t;
}

class VicregLossTest : public testing::Seeded,
                       public ::testing::WithParamInterface<std::tuple<int64_t, int64_t>> {};

TEST_P(VicregLossTest, EveryTermMatchesItsFormulaInValueAndGradient) {
  const auto [batch, dim] = GetParam();
  // Mixed scales so some dimensions sit below the variance hinge's threshold and some above.
  const auto scales = torch::linspace(0.2, 2.0, dim, torch::kFloat64);
  const auto a = torch::randn({batch, dim}, torch::kFloat64) * scales;
  const auto b = a + 0.3 * torch::randn({batch, dim}, torch::kFloat64);
  const std::vector<std::tuple<double, double, double>> weights = {
      {1.0, 0.0, 0.0}, {0.0, 1.0, 0.0}, {0.0, 0.0, 1.0}, {25.0, 25.0, 1.0}};
  for (const auto& [sim, std_w, cov] : weights) {
    auto a_fast = a.to(torch::kFloat32).requires_grad_();
    auto b_fast = b.to(torch::kFloat32).requires_grad_();
    const auto fast = vicreg_loss(a_fast, b_fast, sim, std_w, cov);
    fast.loss.backward();

    auto a_ref = a.clone().requires_grad_();
    auto b_ref = b.clone().requires_grad_();
    const auto ref = naive_vicreg(a_ref, b_ref);
    const auto ref_loss = sim * ref.invariance + std_w * ref.variance + cov * ref.covariance;
    ref_loss.backward();

    const std::string where =
        "weights " + std::to_string(sim) + " " + std::to_string(std_w) + " " + std::to_string(cov);
    EXPECT_NEAR(fast.invariance.item<double>(), ref.invariance.item<double>(), 1e-5) << where;
    EXPECT_NEAR(fast.variance.item<double>(), ref.variance.item<double>(), 1e-5) << where;
    EXPECT_NEAR(fast.covariance.item<double>(), ref.covariance.item<double>(),
                1e-5 * std::max(1.0, ref.covariance.item<double>()))
        << where;
    EXPECT_NEAR(fast.loss.item<double>(), ref_loss.item<double>(),
                1e-5 * std::max(1.0, ref_loss.item<double>()))
        << where;
    EXPECT_TRUE(torch::allclose(a_fast.grad().to(torch::kFloat64), a_ref.grad(), 1e-3, 1e-5))
        << where;
    EXPECT_TRUE(torch::allclose(b_fast.grad().to(torch::kFloat64), b_ref.grad(), 1e-3, 1e-5))
        << where;
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, VicregLossTest,
                         ::testing::Values(std::make_tuple(2, 3), std::make_tuple(5, 4),
                                           std::make_tuple(8, 6), std::make_tuple(16, 5)));

TEST(VicregLoss, ClosedForms) {
  // Identical constant embeddings: no invariance or covariance cost; every std is sqrt(1e-4),
  // so the hinge is 0.99 per branch, halved and summed over the two branches.
  const auto constant = torch::full({6, 4}, 3.0f);
  const auto collapsed = vicreg_loss(constant, constant, 25.0, 25.0, 1.0);
  EXPECT_NEAR(collapsed.invariance.item<double>(), 0.0, 1e-7);
  EXPECT_NEAR(collapsed.variance.item<double>(), 0.99, 1e-6);
  EXPECT_NEAR(collapsed.covariance.item<double>(), 0.0, 1e-7);
  EXPECT_NEAR(collapsed.loss.item<double>(), 25.0 * 0.99, 1e-4);
  // Orthogonal zero-mean columns with std 2 (> 1): no variance or covariance cost.
  const auto spread =
      2.0 * std::sqrt(3.0 / 4.0) *
      torch::tensor(
          {{1.0f, 1.0f, 1.0f}, {1.0f, -1.0f, -1.0f}, {-1.0f, 1.0f, -1.0f}, {-1.0f, -1.0f, 1.0f}});
  const auto healthy = vicreg_loss(spread, spread + 0.5, 25.0, 25.0, 1.0);
  EXPECT_NEAR(healthy.invariance.item<double>(), 0.25, 1e-6);
  EXPECT_NEAR(healthy.variance.item<double>(), 0.0, 1e-7);
  EXPECT_NEAR(healthy.covariance.item<double>(), 0.0, 1e-6);
  EXPECT_THROW(vicreg_loss(torch::ones({1, 3}), torch::ones({1, 3}), 1, 1, 1), c10::Error);
}

TEST(VicregObjectiveOptions, RejectsBadOptions) {
  const ObjectiveContext context = testing::small_context();
  EXPECT_THROW(VicregObjective(context, VicregOptions().std_coeff(-1.0)), c10::ValueError);
  EXPECT_THROW(VicregObjective(context, VicregOptions().sim_coeff(0).std_coeff(0).cov_coeff(0)),
               c10::ValueError);
  EXPECT_THROW(VicregObjective(context, VicregOptions().proj_output_dim(0)), c10::ValueError);
}

}  // namespace
}  // namespace pretext
