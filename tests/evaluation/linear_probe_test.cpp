// Linear probes: separable features reach 100%, the one-pass learning-rate grid equals each
// head trained alone, and L-BFGS logistic regression matches a Newton's-method reference.
#include "evaluation/linear_probe.h"

#include <gtest/gtest.h>

#include <cmath>

#include "evaluation/logistic_regression.h"
#include "tests/test_util.h"

namespace pretext {
namespace {

using LinearProbeTest = testing::Seeded;

// Classes separated along random directions: linearly separable with a margin.
Features separable(int64_t n, int64_t d, int64_t classes, uint64_t seed, uint64_t noise_seed) {
  torch::manual_seed(seed);
  const auto directions = torch::randn({classes, d}) * 4.0;
  const auto labels = torch::arange(n, torch::kLong) % classes;
  torch::manual_seed(noise_seed);
  return {directions.index_select(0, labels) + torch::randn({n, d}) * 0.3, labels};
}

TEST_F(LinearProbeTest, SeparableFeaturesReachFullAccuracy) {
  const auto train = separable(600, 16, 5, 1, 2);
  const auto test = separable(200, 16, 5, 1, 3);  // same directions, fresh noise
  const ProbeData data = make_probe_data(train, test, 5, 0.1, 0);
  EXPECT_EQ(data.val_x.size(0), 60);
  EXPECT_EQ(data.train_x.size(0), 540);
  const ProbeResult sgd =
      sgd_linear_probe(data, LinearProbeOptions().epochs(10).learning_rates({0.01, 0.1}));
  EXPECT_DOUBLE_EQ(sgd.test.top1, 100.0);
  ASSERT_EQ(sgd.candidates.size(), 2u);
  const ProbeResult lbfgs = logistic_regression_probe(
      data, LogisticRegressionOptions().l2({1e-2, 1e-3}).max_iterations(100));
  EXPECT_DOUBLE_EQ(lbfgs.test.top1, 100.0);
}

TEST_F(LinearProbeTest, GridHeadsEqualHeadsTrainedAlone) {
  const auto train = torch::randn({300, 8});
  const auto labels = torch::randint(0, 4, {300}, torch::kLong);
  const auto options = LinearProbeOptions().epochs(3).batch_size(64).seed(9);
  const std::vector<double> grid{0.003, 0.1, 2.0};
  const LinearHeads together =
      train_linear_heads(train, labels, 4, LinearProbeOptions(options).learning_rates(grid));
  for (size_t h = 0; h < grid.size(); ++h) {
    const LinearHeads alone =
        train_linear_heads(train, labels, 4, LinearProbeOptions(options).learning_rates({grid[h]}));
    const auto columns = together.weight.slice(1, h * 4, (h + 1) * 4);
    EXPECT_TRUE(torch::allclose(columns, alone.weight, 1e-5, 1e-6)) << "lr " << grid[h];
    EXPECT_TRUE(
        torch::allclose(together.bias.slice(0, h * 4, (h + 1) * 4), alone.bias, 1e-5, 1e-6));
  }
}

TEST_F(LinearProbeTest, ChoosesOnValidationNotTest) {
  std::vector<ProbeCandidate> candidates(3);
  candidates[0].val.top1 = 50;
  candidates[0].test.top1 = 99;
  candidates[1].val.top1 = 70;
  candidates[1].test.top1 = 60;
  candidates[2].val.top1 = 70;
  candidates[2].test.top1 = 65;
  EXPECT_EQ(best_on_validation(candidates), 1);
}

TEST_F(LinearProbeTest, StandardizesWithTheTrainingPartOnly) {
  Features train{torch::randn({100, 3}) * 5.0 + 2.0, torch::arange(100, torch::kLong) % 2};
  Features test{torch::randn({10, 3}) + 100.0, torch::zeros({10}, torch::kLong)};
  const ProbeData data = make_probe_data(train, test, 2, 0.2, 3);
  EXPECT_TRUE(torch::allclose(data.train_x.mean(0), torch::zeros({3}), 0, 1e-5));
  EXPECT_TRUE(torch::allclose(data.train_x.std(0, false), torch::ones({3}), 0, 1e-4));
  EXPECT_GT(data.test_x.mean().item<double>(), 5.0);  // not standardized by its own statistics
  // The two parts partition the training set.
  EXPECT_EQ(data.train_x.size(0) + data.val_x.size(0), 100);
  EXPECT_THROW(make_probe_data(train, test, 2, 1.0, 0), c10::Error);
}

// Newton's method on the same objective with explicit gradient and Hessian, in double.
// The biases are unpenalised and softmax is unchanged by adding one constant to every class's
// bias, so the Hessian is singular along u = (bias entries = 1/sqrt(C)). The gradient is
// always orthogonal to u (the bias gradients sum to zero over classes), so adding u u^T makes
// every solve well-posed without changing the step; the centred biases are what is compared.
std::pair<torch::Tensor, torch::Tensor> newton_reference(const torch::Tensor& x,
                                                         const torch::Tensor& y, int64_t classes,
                                                         double l2) {
  const int64_t n = x.size(0), d = x.size(1);
  const auto xb = torch::cat({x, torch::ones({n, 1}, x.options())}, 1);  // bias as last column
  const int64_t p = (d + 1) * classes;
  auto theta = torch::zeros({classes, d + 1}, x.options());
  const auto onehot = torch::eye(classes, x.options()).index_select(0, y);
  auto penalty = torch::ones({classes, d + 1}, x.options()) * l2;
  penalty.select(1, d).zero_();
  auto null_direction = torch::zeros({classes, d + 1}, x.options());
  null_direction.select(1, d).fill_(1.0 / std::sqrt(static_cast<double>(classes)));
  const auto u = null_direction.flatten();
  for (int iteration = 0; iteration < 50; ++iteration) {
    const auto prob = xb.mm(theta.t()).softmax(1);  // [n, C]
    const auto grad = (prob - onehot).t().mm(xb) / n + penalty * theta;
    if (grad.norm().item<double>() < 1e-12) break;
    auto hessian = torch::zeros({p, p}, x.options());
    for (int64_t i = 0; i < n; ++i) {
      const auto pi = prob[i];
      const auto w = torch::diag(pi) - torch::outer(pi, pi);  // [C, C]
      hessian += torch::kron(w, torch::outer(xb[i], xb[i])) / n;
    }
    hessian += torch::diag(penalty.flatten()) + torch::outer(u, u);
    const auto step =
        torch::linalg_solve(hessian, grad.flatten().unsqueeze(1)).view({classes, d + 1});
    theta = theta - step;
  }
  return {theta.slice(1, 0, d), theta.select(1, d)};
}

TEST_F(LinearProbeTest, LbfgsMatchesNewtonsMethod) {
  const auto x = torch::randn({40, 3}, torch::kDouble);
  const auto y = torch::randint(0, 3, {40}, torch::kLong);
  const double l2 = 0.05;
  const auto [weight, bias] = newton_reference(x, y, 3, l2);
  const LogisticFit fit = fit_logistic_regression(x, y, 3, l2, 500, 20);
  // The softmax is invariant to adding a constant to every class's bias; the penalty fixes
  // the weights but not that constant, so compare centred biases.
  EXPECT_TRUE(torch::allclose(fit.weight, weight, 1e-6, 1e-7)) << fit.weight << weight;
  EXPECT_TRUE(torch::allclose(fit.bias - fit.bias.mean(), bias - bias.mean(), 1e-6, 1e-7))
      << fit.bias << bias;
}

}  // namespace
}  // namespace pretext
