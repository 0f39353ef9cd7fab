// NT-Xent, the normalized temperature-scaled cross-entropy of SimCLR (Chen et al.,
// arXiv:2002.05709, eq. 1), a form of InfoNCE. Follows lightly's NTXentLoss and solo-learn's
// simclr_loss_func: every one of the 2B embeddings is classified against the other 2B - 1,
// with its other view as the target.
#pragma once

#include <torch/torch.h>

namespace pretext {

struct NtXentOutput {
  torch::Tensor loss;          ///< 0-dim float32, mean over the 2B anchors
  torch::Tensor positive_acc;  ///< 0-dim, detached: fraction of anchors whose positive ranks first
};

/// z0, z1: [B, D] embeddings of the two views of the same B images (any scale; L2-normalized
/// here). Computed in float32 whatever the input dtype.
NtXentOutput nt_xent(const torch::Tensor& z0, const torch::Tensor& z1, double temperature);

/// NT-Xent of this rank's anchors against the global batch: z0, z1 [b, D] are this rank's
/// rows, all0, all1 [B, D] every rank's (this rank's at rows [offset, offset + b)). The
/// 2b anchors are scored against all 2B candidates; the mean over ranks of the loss equals
/// nt_xent(all0, all1). With offset 0 and all = z it is nt_xent itself.
NtXentOutput nt_xent_global(const torch::Tensor& z0, const torch::Tensor& z1,
                            const torch::Tensor& all0, const torch::Tensor& all1, int64_t offset,
                            double temperature);

}  // namespace pretext
