// VICReg, Variance-Invariance-Covariance Regularization (Bardes et al., arXiv:2105.04906,
// eqs. 1-6). Follows the official facebookresearch/vicreg main_vicreg.py term by term.
// Deviations: none.
#pragma once

#include <torch/torch.h>

namespace pretext {

struct VicregLossOutput {
  torch::Tensor loss;        ///< 0-dim float32: weighted sum of the three terms
  torch::Tensor invariance;  ///< 0-dim, detached: mean((z0 - z1)^2) over B x D
  /// 0-dim, detached: mean_d relu(1 - sqrt(var_d + 1e-4)) / 2, summed over both branches
  /// (unbiased variance over the batch).
  torch::Tensor variance;
  /// 0-dim, detached: sum_{i != j} cov_ij^2 / D, summed over both branches (cov over B - 1).
  torch::Tensor covariance;
};

/// z0, z1: [B, D] projections of the two views, B >= 2. Computed in float32.
/// loss = sim_coeff * invariance + std_coeff * variance + cov_coeff * covariance.
VicregLossOutput vicreg_loss(const torch::Tensor& z0, const torch::Tensor& z1, double sim_coeff,
                             double std_coeff, double cov_coeff);

}  // namespace pretext
