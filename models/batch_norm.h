// BatchNorm for [N, C] and [N, C, H, W] inputs that can take its batch statistics over every
// data-parallel rank (SyncBatchNorm, Ioffe & Szegedy arXiv:1502.03167 with the global batch).
// Parameter and buffer names are torch.nn.BatchNorm's (weight, bias, running_mean,
// running_var, num_batches_tracked), so checkpoints and exports do not depend on the switch.
// Without a group (or in eval mode) forward is torch::batch_norm, exactly torch.nn.BatchNorm.
// Deviations: momentum = None (cumulative averaging) is not offered.
#pragma once

#include <cstdint>
#include <functional>

#include <torch/torch.h>

namespace pretext {

struct BatchNormOptions {
  /* implicit */ BatchNormOptions(int64_t num_features) : num_features_(num_features) {}
  /// Channels (dim 1 of the input).
  TORCH_ARG(int64_t, num_features);
  TORCH_ARG(double, eps) = 1e-5;
  /// Running-statistics update factor (torch default 0.1).
  TORCH_ARG(double, momentum) = 0.1;
  /// Learnable per-channel scale and shift.
  TORCH_ARG(bool, affine) = true;
};

/// Sums a tensor over every rank of the data-parallel group; its backward sums the incoming
/// gradients the same way (distributed/all_reduce_grad.h provides one).
using StatsAllReduce = std::function<torch::Tensor(const torch::Tensor&)>;

class BatchNormImpl : public torch::nn::Module {
 public:
  explicit BatchNormImpl(BatchNormOptions options);

  /// x: [N, C] or [N, C, ...] -> same shape. Global statistics in training mode when a group
  /// reduction is set.
  torch::Tensor forward(const torch::Tensor& x);

  /// Batch statistics through `reduce` from now on; an empty function goes back to local.
  void set_stats_all_reduce(StatsAllReduce reduce) { reduce_ = std::move(reduce); }
  bool synchronized() const { return static_cast<bool>(reduce_); }
  const BatchNormOptions& options() const { return options_; }

  torch::Tensor weight;  ///< [C], undefined without affine
  torch::Tensor bias;    ///< [C], undefined without affine
  torch::Tensor running_mean;
  torch::Tensor running_var;
  torch::Tensor num_batches_tracked;

 private:
  torch::Tensor synchronized_forward(const torch::Tensor& x);

  BatchNormOptions options_;
  StatsAllReduce reduce_;
};
TORCH_MODULE(BatchNorm);

/// Sets `reduce` on every BatchNorm under `root` (root included); returns how many.
int64_t set_batch_norm_all_reduce(torch::nn::Module& root, const StatsAllReduce& reduce);

}  // namespace pretext
