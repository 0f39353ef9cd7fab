// Data-parallel gradient synchronization, the part of PyTorch's DistributedDataParallel that
// LibTorch lacks (torch/csrc/distributed/c10d/reducer.cpp): parameters are grouped into
// size-bounded buckets in reverse registration order (roughly the order backward produces
// their gradients); a tensor hook copies each gradient into its bucket, and a full bucket's
// all-reduce starts at once, overlapping with the rest of backward. finish() waits and
// writes the rank-averaged gradients back.
// Deviations: gradients are copied into buckets rather than aliased to them; each bucket
// carries one "used" flag per parameter, so a parameter that no rank used keeps no gradient.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <torch/torch.h>

#include "distributed/comm.h"

namespace pretext {

class GradientReducer {
 public:
  /// params: the trainable parameters; bucket_bytes: gradient bytes per bucket (> 0).
  GradientReducer(std::vector<torch::Tensor> params, Comm& comm, int64_t bucket_bytes);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  /// Arms the hooks for the next backward. Gradients produced while unarmed are left alone.
  void prepare();
  /// After backward: starts the buckets still pending, waits for all, and sets every
  /// parameter's gradient to the mean over ranks of this backward's gradients (replacing
  /// anything accumulated before; zero gradients before prepare()). Disarms the hooks.
  void finish();

  int64_t num_buckets() const { return static_cast<int64_t>(buckets_.size()); }

 private:
  struct Slot {
    size_t bucket = 0;
    int64_t offset = 0;  ///< first element of this gradient in the bucket
    int64_t flag = 0;    ///< element holding 1 when this rank produced the gradient
  };
  struct Bucket {
    std::vector<size_t> params;
    torch::Tensor flat;  ///< gradients, then one flag per parameter
    size_t pending = 0;  ///< gradients still to arrive in this backward
    std::unique_ptr<CommWork> work;
  };

  void on_gradient(size_t index, const torch::Tensor& grad);
  void launch_ready_buckets();
  void launch(Bucket& bucket);

  std::vector<torch::Tensor> params_;
  Comm& comm_;
  std::vector<Slot> slots_;
  std::vector<Bucket> buckets_;
  std::vector<unsigned> hooks_;
  size_t next_launch_ = 0;  ///< buckets start in index order, the same on every rank
  bool armed_ = false;
};

}  // namespace pretext
