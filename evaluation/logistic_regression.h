// L2-regularised multinomial logistic regression fitted by full-batch L-BFGS (the linear
// evaluation of CLIP and of scikit-learn's LogisticRegression), swept over the regularisation
// strength, chosen on the validation part, reported on test.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "evaluation/linear_probe.h"
#include "evaluation/probe_data.h"

namespace pretext {

struct LogisticRegressionOptions {
  /// Strengths lambda of the penalty lambda/2 * ||W||^2 added to the mean cross-entropy
  /// (the bias is not penalised); swept from strongest to weakest, each fit warm-started.
  TORCH_ARG(std::vector<double>, l2) = std::vector<double>{1e-1, 1e-2, 1e-3, 1e-4, 1e-5};
  /// L-BFGS iterations per strength.
  TORCH_ARG(int64_t, max_iterations) = 300;
  TORCH_ARG(int64_t, history_size) = 20;
};

struct LogisticFit {
  torch::Tensor weight;  ///< [C, D]
  torch::Tensor bias;    ///< [C]
  double objective = 0.0;
  torch::Tensor logits(const torch::Tensor& x) const { return torch::addmm(bias, x, weight.t()); }
};

/// Minimises mean CE(x W^T + b, y) + l2/2 ||W||^2 in x's dtype. `start` (optional) warm-starts.
LogisticFit fit_logistic_regression(const torch::Tensor& x, const torch::Tensor& y,
                                    int64_t num_classes, double l2, int64_t max_iterations,
                                    int64_t history_size, const LogisticFit* start = nullptr);

/// The sweep over options.l2 on data.train, chosen on data.val, reported on data.test.
ProbeResult logistic_regression_probe(const ProbeData& data,
                                      const LogisticRegressionOptions& options);

}  // namespace pretext
