// All-reduce (sum) that gradients flow through: SyncBatchNorm's global batch statistics.
// Every rank's loss depends on the sum, so the gradient reaching each rank's summand is the
// sum over ranks of the gradients of the result (the backward of torch.distributed.nn's
// all_reduce).
#pragma once

#include <torch/torch.h>

#include "distributed/comm.h"

namespace pretext {

/// Sum of x over ranks (same shape on every rank); world size 1 returns x itself.
torch::Tensor all_reduce_sum_with_grad(Comm& comm, const torch::Tensor& x);

}  // namespace pretext
