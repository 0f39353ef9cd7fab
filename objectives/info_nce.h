// InfoNCE against a queue of negatives (MoCo, He et al. arXiv:1911.05722, eq. 1; MoCo v2
// arXiv:2003.04297): each query is classified among its own key and the K queued keys.
// Follows the logits construction of the official main_moco.py / moco/builder.py.
#pragma once

#include <torch/torch.h>

namespace pretext {

struct InfoNceOutput {
  torch::Tensor loss;          ///< 0-dim float32, mean over the B queries
  torch::Tensor positive_acc;  ///< 0-dim, detached: fraction of queries whose own key ranks first
};

/// q, k: [B, D] L2-normalized queries and their positive keys; queue: [K, D] L2-normalized
/// negatives. logits = [q.k, q.queue^T] / temperature, [B, 1 + K], cross-entropy with target 0.
/// Gradients flow into q only when k and queue are detached, as the caller arranges.
InfoNceOutput info_nce_with_queue(const torch::Tensor& q, const torch::Tensor& k,
                                  const torch::Tensor& queue, double temperature);

/// In-batch InfoNCE (MoCo v3, arXiv:2104.02057, Algorithm 1): q [B, D] against keys [M, D]
/// (M >= B; this process's keys sit at rows [offset, offset + B), the rest are other ranks'
/// negatives), both L2-normalized here; logits q.keys^T / temperature, target row offset + i
/// for query i. Returns the plain cross-entropy (MoCo v3 scales it by 2 * temperature).
InfoNceOutput info_nce_in_batch(const torch::Tensor& q, const torch::Tensor& keys, int64_t offset,
                                double temperature);

}  // namespace pretext
