// NT-Xent against a naive per-anchor loop written from the paper's equation 1.
#include "objectives/nt_xent.h"

#include <cmath>
#include <tuple>

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace pretext {
namespace {

class NtXentProperties : public testing::Seeded {};

// l(i, j) = -log( exp(sim(i,j)/T) / sum_{k != i} exp(sim(i,k)/T) ), averaged over all 2B
// anchors, with each pair computed by explicit loops in double precision.
torch::Tensor naive_nt_xent(const torch::Tensor& z0, const torch::Tensor& z1, double t) {
  const auto z = torch::cat({z0, z1}).to(torch::kFloat64);
  const int64_t n = z.size(0);
  const int64_t b = n / 2;
  std::vector<torch::Tensor> unit;
  for (int64_t i = 0; i < n; ++i) unit.push_back(z[i] / z[i].norm());
  auto total = torch::zeros({}, torch::kFloat64);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t positive = i < b ? i + b : i - b;
    auto denominator = torch::zeros({}, torch::kFloat64);
    for (int64_t k = 0; k < n; ++k) {
      if (k != i) denominator = denominator + torch::exp(unit[i].dot(unit[k]) / t);
    }
    total = total - torch::log(torch::exp(unit[i].dot(unit[positive]) / t) / denominator);
  }
  return total / static_cast<double>(n);
}

class NtXentTest : public testing::Seeded,
                   public ::testing::WithParamInterface<std::tuple<int64_t, double>> {};

TEST_P(NtXentTest, MatchesNaiveLoopInValueAndGradient) {
  const auto [batch, temperature] = GetParam();
  const auto a = torch::randn({batch, 16}, torch::kFloat64);
  const auto b = torch::randn({batch, 16}, torch::kFloat64);

  auto a_fast = a.to(torch::kFloat32).requires_grad_();
  auto b_fast = b.to(torch::kFloat32).requires_grad_();
  const auto fast = nt_xent(a_fast, b_fast, temperature).loss;
  fast.backward();

  auto a_ref = a.clone().requires_grad_();
  auto b_ref = b.clone().requires_grad_();
  const auto ref = naive_nt_xent(a_ref, b_ref, temperature);
  ref.backward();

  EXPECT_NEAR(fast.item<double>(), ref.item<double>(), 1e-4 * std::max(1.0, ref.item<double>()));
  EXPECT_TRUE(torch::allclose(a_fast.grad().to(torch::kFloat64), a_ref.grad(), 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(b_fast.grad().to(torch::kFloat64), b_ref.grad(), 1e-4, 1e-5));
}

INSTANTIATE_TEST_SUITE_P(BatchesAndTemperatures, NtXentTest,
                         ::testing::Combine(::testing::Values(1, 2, 5, 16),
                                            ::testing::Values(0.07, 0.1, 0.5, 1.0)));

TEST_F(NtXentProperties, NtXentIsSymmetricInTheViewsAndScaleInvariant) {
  const auto a = torch::randn({8, 32});
  const auto b = torch::randn({8, 32});
  const auto ab = nt_xent(a, b, 0.2).loss.item<double>();
  EXPECT_NEAR(ab, nt_xent(b, a, 0.2).loss.item<double>(), 1e-5);
  EXPECT_NEAR(ab, nt_xent(a * 3.0, b * 0.5, 0.2).loss.item<double>(), 1e-5);
}

TEST_F(NtXentProperties, NtXentOfIdenticalOrthogonalViewsIsItsClosedForm) {
  // With z0 = z1 = one-hot rows, sim(i, positive) = 1 and every other similarity is 0:
  // loss = -log(e^{1/T} / (e^{1/T} + 2B - 2)).
  const int64_t b = 4;
  const double t = 0.5;
  const auto z = torch::eye(b).narrow(1, 0, b);
  const double expected = -std::log(std::exp(1 / t) / (std::exp(1 / t) + 2 * b - 2));
  const auto out = nt_xent(z, z, t);
  EXPECT_NEAR(out.loss.item<double>(), expected, 1e-5);
  EXPECT_DOUBLE_EQ(out.positive_acc.item<double>(), 1.0);
}

TEST(NtXent, RejectsBadInput) {
  EXPECT_THROW(nt_xent(torch::randn({4, 8}), torch::randn({3, 8}), 0.1), c10::Error);
  EXPECT_THROW(nt_xent(torch::randn({4, 8}), torch::randn({4, 8}), 0.0), c10::Error);
}

}  // namespace
}  // namespace pretext
