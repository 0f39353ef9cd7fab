// VICReg loss terms.
#include "objectives/vicreg_loss.h"

namespace pretext {
namespace {

struct BranchTerms {
  torch::Tensor variance;    ///< mean_d relu(1 - std_d)
  torch::Tensor covariance;  ///< sum of squared off-diagonal covariances / D
};

BranchTerms branch_terms(const torch::Tensor& z) {
  const int64_t batch = z.size(0);
  const int64_t dim = z.size(1);
  const auto centered = z - z.mean(0, /*keepdim=*/true);
  const auto variance = centered.pow(2).sum(0) / static_cast<double>(batch - 1);  // [D]
  const auto std = torch::sqrt(variance + 1e-4);
  const auto cov = torch::mm(centered.t(), centered) / static_cast<double>(batch - 1);  // [D, D]
  const auto eye = torch::eye(dim, cov.options().dtype(torch::kBool));
  return {torch::relu(1.0 - std).mean(),
          cov.masked_fill(eye, 0.0).pow(2).sum() / static_cast<double>(dim)};
}

}  // namespace

VicregLossOutput vicreg_loss(const torch::Tensor& z0, const torch::Tensor& z1, double sim_coeff,
                             double std_coeff, double cov_coeff) {
  TORCH_CHECK(z0.dim() == 2 && z0.sizes() == z1.sizes(),
              "vicreg_loss: expected two [B, D] tensors of equal shape, got ", z0.sizes(), " and ",
              z1.sizes());
  TORCH_CHECK(z0.size(0) >= 2, "vicreg_loss: need a batch of at least 2, got ", z0.size(0));
  const auto x = z0.to(torch::kFloat32);
  const auto y = z1.to(torch::kFloat32);
  const auto invariance = torch::mse_loss(x, y);
  const BranchTerms bx = branch_terms(x);
  const BranchTerms by = branch_terms(y);
  const auto variance = bx.variance / 2.0 + by.variance / 2.0;
  const auto covariance = bx.covariance + by.covariance;
  VicregLossOutput out;
  out.loss = sim_coeff * invariance + std_coeff * variance + cov_coeff * covariance;
  out.invariance = invariance.detach();
  out.variance = variance.detach();
  out.covariance = covariance.detach();
  return out;
}

}  // namespace pretext
