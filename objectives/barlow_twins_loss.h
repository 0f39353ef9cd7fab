// Barlow Twins redundancy-reduction loss (Zbontar et al., arXiv:2103.03230, eq. 1): the
// cross-correlation of the batch-standardized embeddings of two views is driven to identity.
// Follows the official facebookresearch/barlowtwins main.py (affine-free BatchNorm1d, then
// c = z0n^T z1n / B) and solo-learn losses/barlow.py (scale_loss).
// Deviations: none; the standardization is BatchNorm1d's training-mode formula written out.
#pragma once

#include <torch/torch.h>

namespace pretext {

struct BarlowTwinsLossOutput {
  torch::Tensor loss;      ///< 0-dim float32: scale_loss * (on_diag + lamb * off_diag)
  torch::Tensor on_diag;   ///< 0-dim, detached: sum_i (1 - c_ii)^2
  torch::Tensor off_diag;  ///< 0-dim, detached: sum_{i != j} c_ij^2
};

/// z0, z1: [B, D] projections of the two views, B >= 2. Each dimension is standardized over
/// the batch as (z - mean) / sqrt(biased var + 1e-5), then c = z0n^T z1n / B ([D, D]).
/// Computed in float32 whatever the input dtype.
BarlowTwinsLossOutput barlow_twins_loss(const torch::Tensor& z0, const torch::Tensor& z1,
                                        double lamb, double scale_loss = 1.0);

}  // namespace pretext
