// Barlow Twins: the loss against a naive loop over matrix entries, and its closed forms.
#include "objectives/barlow_twins.h"

#include <cmath>
#include <tuple>

#include <gtest/gtest.h>

#include "objectives/barlow_twins_loss.h"
#include "tests/objectives/small_objective.h"
#include "tests/test_util.h"

namespace pretext {
namespace {

// Per-dimension standardization and every c_ij as explicit loops in double (paper, eq. 2).
torch::Tensor naive_barlow_twins(const torch::Tensor& z0, const torch::Tensor& z1, double lamb,
                                 double scale) {
  const int64_t b = z0.size(0);
  const int64_t d = z0.size(1);
  auto standardize = [&](const torch::Tensor& z) {
    std::vector<std::vector<torch::Tensor>> out(b, std::vector<torch::Tensor>(d));
    for (int64_t k = 0; k < d; ++k) {
      auto mean = torch::zeros({}, torch::kFloat64);
      for (int64_t i = 0; i < b; ++i) mean = mean + z[i][k];
      mean = mean / static_cast<double>(b);
      auto var = torch::zeros({}, torch::kFloat64);
      for (int64_t i = 0; i < b; ++i) var = var + (z[i][k] - mean) * (z[i][k] - mean);
      var = var / static_cast<double>(b);
      for (int64_t i = 0; i < b; ++i) out[i][k] = (z[i][k] - mean) / torch::sqrt(var + 1e-5);
    }
    return out;
  };
  const auto n0 = standardize(z0);
  const auto n1 = standardize(z1);
  auto total = torch::zeros({}, torch::kFloat64);
  for (int64_t i = 0; i < d; ++i) {
    for (int64_t j = 0; j < d; ++j) {
      auto c = torch::zeros({}, torch::kFloat64);
      for (int64_t s = 0; s < b; ++s) c = c + n0[s][i] * n1[s][j];
      c = c / static_cast<double>(b);
      total = total + (i == j ? (1.0 - c) * (1.0 - c) : lamb * c * c);
    }
  }
  return scale * total;
}

class BarlowTwinsLossTest
    : public testing::Seeded,
      public ::testing::WithParamInterface<std::tuple<int64_t, int64_t, double, double>> {};

TEST_P(BarlowTwinsLossTest, MatchesNaiveLoopInValueAndGradient) {
  const auto [batch, dim, lamb, scale] = GetParam();
  const auto a = torch::randn({batch, dim}, torch::kFloat64) * 2.0 + 0.5;
  const auto b = a + 0.7 * torch::randn({batch, dim}, torch::kFloat64);

  auto a_fast = a.to(torch::kFloat32).requires_grad_();
  auto b_fast = b.to(torch::kFloat32).requires_grad_();
  const auto fast = barlow_twins_loss(a_fast, b_fast, lamb, scale);
  fast.loss.backward();

  auto a_ref = a.clone().requires_grad_();
  auto b_ref = b.clone().requires_grad_();
  const auto ref = naive_barlow_twins(a_ref, b_ref, lamb, scale);
  ref.backward();

  EXPECT_EQ(fast.loss.dim(), 0);
  EXPECT_NEAR(fast.loss.item<double>(), ref.item<double>(),
              1e-4 * std::max(1.0, ref.item<double>()));
  EXPECT_NEAR((scale * (fast.on_diag + lamb * fast.off_diag)).item<double>(),
              fast.loss.item<double>(), 1e-5 * std::max(1.0, fast.loss.item<double>()));
  EXPECT_TRUE(torch::allclose(a_fast.grad().to(torch::kFloat64), a_ref.grad(), 1e-3, 1e-5));
  EXPECT_TRUE(torch::allclose(b_fast.grad().to(torch::kFloat64), b_ref.grad(), 1e-3, 1e-5));
}

INSTANTIATE_TEST_SUITE_P(ShapesAndWeights, BarlowTwinsLossTest,
                         ::testing::Values(std::make_tuple(2, 3, 0.0051, 1.0),
                                           std::make_tuple(5, 4, 0.0051, 1.0),
                                           std::make_tuple(8, 6, 0.5, 1.0),
                                           std::make_tuple(8, 6, 0.0051, 0.1),
                                           std::make_tuple(16, 5, 1.0, 2.0)));

TEST(BarlowTwinsLoss, IdenticalDecorrelatedEmbeddingsGiveZero) {
  // Columns of a 4x4 Hadamard matrix without the constant one: zero mean, unit variance,
  // mutually orthogonal, so the standardized cross-correlation is the identity.
  const auto z = torch::tensor(
      {{1.0f, 1.0f, 1.0f}, {1.0f, -1.0f, -1.0f}, {-1.0f, 1.0f, -1.0f}, {-1.0f, -1.0f, 1.0f}});
  const auto out = barlow_twins_loss(z, z, 0.0051);
  EXPECT_NEAR(out.loss.item<double>(), 0.0, 1e-8);
  // Scaling and shifting a dimension changes nothing after standardization.
  const auto moved = z * torch::tensor({3.0f, 0.5f, 2.0f}) + 4.0;
  EXPECT_NEAR(barlow_twins_loss(moved, z, 0.0051).loss.item<double>(), 0.0, 1e-8);
}

TEST(BarlowTwinsLoss, PerfectlyCorrelatedDimensionsPayTheOffDiagonalTerm) {
  // Two identical columns: c is all ones, so on_diag = 0 and off_diag = D^2 - D.
  const auto column = torch::tensor({1.0f, -1.0f, 1.0f, -1.0f}).unsqueeze(1);
  const auto z = torch::cat({column, column}, 1);
  const auto out = barlow_twins_loss(z, z, 0.25);
  EXPECT_NEAR(out.on_diag.item<double>(), 0.0, 1e-8);
  EXPECT_NEAR(out.off_diag.item<double>(), 2.0, 1e-4);
  EXPECT_NEAR(out.loss.item<double>(), 0.5, 1e-4);
  EXPECT_THROW(barlow_twins_loss(torch::ones({1, 3}), torch::ones({1, 3}), 0.1), c10::Error);
}

TEST(BarlowTwinsObjectiveOptions, RejectsBadOptions) {
  const ObjectiveContext context = testing::small_context();
  EXPECT_THROW(BarlowTwinsObjective(context, BarlowTwinsOptions().lamb(-0.1)), c10::ValueError);
  EXPECT_THROW(BarlowTwinsObjective(context, BarlowTwinsOptions().scale_loss(0.0)),
               c10::ValueError);
  EXPECT_THROW(BarlowTwinsObjective(context, BarlowTwinsOptions().proj_hidden_dim(0)),
               c10::ValueError);
}

}  // namespace
}  // namespace pretext
