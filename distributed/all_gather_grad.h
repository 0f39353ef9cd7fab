// All-gather that gradients flow through, for losses over the global batch (SimCLR's
// negatives, MoCo v3's keys, Barlow Twins' cross-correlation, VICReg's covariance).
// Same semantics as the all_gather autograd functions of solo-learn and lightly
// (torch.distributed.nn.all_gather): backward sums every rank's gradient of the gathered
// tensor and returns this rank's rows.
#pragma once

#include <torch/torch.h>

#include "distributed/comm.h"

namespace pretext {

/// x: [B_r, ...] on this rank -> [sum of B_r, ...], ranks in order. With the per-rank losses
/// L_r, the gradient reaching x is d(sum_r L_r)/dx, so after the trainer averages gradients
/// over ranks, each parameter sees the gradient of the mean per-rank loss. World size 1
/// returns x itself.
torch::Tensor all_gather_with_grad(Comm& comm, const torch::Tensor& x);

/// Row offset of this rank's rows inside all_gather_with_grad's result, given equal batches.
inline int64_t gathered_offset(const Comm& comm, int64_t rows) { return comm.rank() * rows; }

}  // namespace pretext
