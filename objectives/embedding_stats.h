// Collapse diagnostics logged by every objective: the per-dimension standard deviation of the
// L2-normalized embedding (about 1/sqrt(D) when healthy, 0 when collapsed; SimSiam paper,
// section 4.1) and the effective rank (RankMe, Garrido et al. arXiv:2210.02885).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace pretext {

/// Mean over dimensions of the std over the batch of normalize(z); z is [B, D].
torch::Tensor normalized_embedding_std(const torch::Tensor& z);

/// exp(entropy of the normalized singular values of z), in [1, min(B, D)]; z is [B, D].
torch::Tensor effective_rank(const torch::Tensor& z);

/// Appends "embedding/std" and "embedding/rank" for a detached embedding batch.
void append_embedding_stats(const torch::Tensor& z,
                            std::vector<std::pair<std::string, torch::Tensor>>& metrics);

}  // namespace pretext
