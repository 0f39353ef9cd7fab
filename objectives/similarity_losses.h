// Cosine-similarity losses of the two-branch non-contrastive methods: BYOL's normalized MSE
// (Grill et al., arXiv:2006.07733, eq. 2) and SimSiam's negative cosine similarity (Chen & He,
// arXiv:2011.10566, eq. 1). Follow solo-learn losses/byol.py and losses/simsiam.py: the target
// argument is detached inside, so the stop-gradient cannot be forgotten by a caller.
// Deviations: none.
#pragma once

#include <torch/torch.h>

namespace pretext {

/// BYOL's ||p/|p| - z/|z|||^2 = 2 - 2 cos(p_b, z_b), averaged over the batch.
/// p: [B, D] prediction, z: [B, D] target (any scale, no gradient flows into it).
/// Returns a 0-dim float32 tensor in [0, 4].
torch::Tensor normalized_mse(const torch::Tensor& p, const torch::Tensor& z);

/// SimSiam's D(p, z) = -cos(p_b, stopgrad(z_b)), averaged over the batch.
/// p: [B, D] prediction, z: [B, D] target (no gradient flows into it).
/// Returns a 0-dim float32 tensor in [-1, 1].
torch::Tensor negative_cosine_similarity(const torch::Tensor& p, const torch::Tensor& z);

}  // namespace pretext
