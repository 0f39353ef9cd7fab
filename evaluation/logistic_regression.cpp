#include "evaluation/logistic_regression.h"

#include <chrono>
#include <cmath>
#include <limits>

namespace pretext {

LogisticFit fit_logistic_regression(const torch::Tensor& x, const torch::Tensor& y,
                                    int64_t num_classes, double l2, int64_t max_iterations,
                                    int64_t history_size, const LogisticFit* start) {
  TORCH_CHECK_VALUE(std::isfinite(l2) && l2 >= 0.0,
                    "logistic regression: l2 must be non-negative, got ", l2);
  TORCH_CHECK_VALUE(max_iterations > 0, "logistic regression: max_iterations must be positive");
  TORCH_CHECK(x.dim() == 2 && y.dim() == 1 && y.size(0) == x.size(0),
              "logistic regression: x must be [N, D] and y [N], got ", x.sizes(), " and ",
              y.sizes());
  auto weight =
      start ? start->weight.detach().clone() : torch::zeros({num_classes, x.size(1)}, x.options());
  auto bias = start ? start->bias.detach().clone() : torch::zeros({num_classes}, x.options());
  weight.set_requires_grad(true);
  bias.set_requires_grad(true);
  // Stop on a loss change at the dtype's resolution (eps^2), not a fixed one: 1e-12 halts a
  // float64 fit early and is below float32's rounding anyway.
  const double eps = x.scalar_type() == torch::kDouble ? std::numeric_limits<double>::epsilon()
                                                       : std::numeric_limits<float>::epsilon();
  const double change_tolerance = eps * eps;
  torch::optim::LBFGS optimizer({weight, bias}, torch::optim::LBFGSOptions(1.0)
                                                    .max_iter(max_iterations)
                                                    .max_eval(max_iterations * 5 / 4)
                                                    .history_size(history_size)
                                                    .tolerance_grad(1e-9)
                                                    .tolerance_change(change_tolerance)
                                                    .line_search_fn("strong_wolfe"));
  const auto target = y.to(torch::kLong);
  auto objective = [&]() {
    const auto logits = torch::addmm(bias, x, weight.t());
    return torch::nn::functional::cross_entropy(logits, target) + 0.5 * l2 * weight.pow(2).sum();
  };
  optimizer.step([&]() {
    optimizer.zero_grad();
    auto loss = objective();
    loss.backward();
    return loss;
  });
  LogisticFit fit;
  fit.weight = weight.detach();
  fit.bias = bias.detach();
  {
    torch::NoGradGuard no_grad;
    fit.objective = objective().item<double>();
  }
  return fit;
}

ProbeResult logistic_regression_probe(const ProbeData& data,
                                      const LogisticRegressionOptions& options) {
  TORCH_CHECK_VALUE(!options.l2().empty(), "logistic regression: needs at least one l2 value");
  const auto started = std::chrono::steady_clock::now();
  const bool has_val = data.val_x.size(0) > 0;
  ProbeResult result;
  LogisticFit previous;
  for (size_t i = 0; i < options.l2().size(); ++i) {
    const LogisticFit fit = fit_logistic_regression(
        data.train_x, data.train_y, data.num_classes, options.l2()[i], options.max_iterations(),
        options.history_size(), i == 0 ? nullptr : &previous);
    torch::NoGradGuard no_grad;
    ProbeCandidate candidate;
    candidate.hyperparameter = options.l2()[i];
    candidate.val = has_val ? accuracy_of(fit.logits(data.val_x), data.val_y)
                            : accuracy_of(fit.logits(data.train_x), data.train_y);
    candidate.test = accuracy_of(fit.logits(data.test_x), data.test_y);
    result.candidates.push_back(candidate);
    previous = fit;
  }
  finish_probe(result, started);
  return result;
}

}  // namespace pretext
