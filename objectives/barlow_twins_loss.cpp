// Barlow Twins loss as one [D, D] cross-correlation matrix.
#include "objectives/barlow_twins_loss.h"

namespace pretext {
namespace {

/// Training-mode BatchNorm1d without affine parameters: per-dimension zero mean, unit variance.
torch::Tensor standardize(const torch::Tensor& z) {
  const auto centered = z - z.mean(0, /*keepdim=*/true);
  const auto variance = centered.pow(2).mean(0, /*keepdim=*/true);  // biased, as BatchNorm
  return centered / torch::sqrt(variance + 1e-5);
}

}  // namespace

BarlowTwinsLossOutput barlow_twins_loss(const torch::Tensor& z0, const torch::Tensor& z1,
                                        double lamb, double scale_loss) {
  TORCH_CHECK(z0.dim() == 2 && z0.sizes() == z1.sizes(),
              "barlow_twins_loss: expected two [B, D] tensors of equal shape, got ", z0.sizes(),
              " and ", z1.sizes());
  TORCH_CHECK(z0.size(0) >= 2, "barlow_twins_loss: need a batch of at least 2, got ", z0.size(0));
  TORCH_CHECK_VALUE(lamb >= 0.0, "barlow_twins_loss: lamb must be >= 0, got ", lamb);
  const int64_t batch = z0.size(0);
  const auto n0 = standardize(z0.to(torch::kFloat32));
  const auto n1 = standardize(z1.to(torch::kFloat32));
  const auto c = torch::mm(n0.t(), n1).div_(static_cast<double>(batch));  // [D, D]
  const auto diagonal = c.diagonal();
  const auto on_diag = (1.0 - diagonal).pow(2).sum();
  const auto eye = torch::eye(c.size(0), c.options().dtype(torch::kBool));
  const auto off_diag = c.masked_fill(eye, 0.0).pow(2).sum();
  BarlowTwinsLossOutput out;
  out.loss = scale_loss * (on_diag + lamb * off_diag);
  out.on_diag = on_diag.detach();
  out.off_diag = off_diag.detach();
  return out;
}

}  // namespace pretext
