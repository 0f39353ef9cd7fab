// The communicator every trainer and evaluation step talks to. LocalComm is the world-size-1
// implementation; the c10d one (NCCL/Gloo) implements the same interface, so a single
// process takes the same code path as a multi-process job.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <torch/torch.h>

namespace pretext {

/// A collective in flight; wait() blocks until its tensors hold the result (and rethrows the
/// collective's error).
class CommWork {
 public:
  virtual ~CommWork() = default;
  virtual void wait() = 0;
};

/// A collective that already finished when it was returned.
class CompletedWork final : public CommWork {
 public:
  void wait() override {}
};

class Comm {
 public:
  virtual ~Comm() = default;

  virtual int64_t rank() const = 0;
  virtual int64_t world_size() const = 0;
  bool is_main() const { return rank() == 0; }

  /// Sums each tensor across ranks, in place.
  virtual void all_reduce_sum(std::vector<torch::Tensor>& tensors) = 0;
  /// Starts the in-place sum and returns at once; the tensors must live until wait().
  /// Default: the blocking all_reduce_sum.
  virtual std::unique_ptr<CommWork> all_reduce_sum_async(std::vector<torch::Tensor>& tensors) {
    all_reduce_sum(tensors);
    return std::make_unique<CompletedWork>();
  }
  /// Concatenates every rank's tensor along dim 0 (rank order). No gradient flows back.
  virtual torch::Tensor all_gather(const torch::Tensor& tensor) = 0;
  /// Overwrites each tensor with root's copy, in place.
  virtual void broadcast(std::vector<torch::Tensor>& tensors, int64_t root) = 0;
  virtual void barrier() = 0;
  /// Tears the group down so peers blocked in a collective fail instead of hanging.
  virtual void abort() = 0;
};

/// World size 1: every collective is the identity.
class LocalComm final : public Comm {
 public:
  int64_t rank() const override { return 0; }
  int64_t world_size() const override { return 1; }
  void all_reduce_sum(std::vector<torch::Tensor>& /*tensors*/) override {}
  torch::Tensor all_gather(const torch::Tensor& tensor) override { return tensor.detach(); }
  void broadcast(std::vector<torch::Tensor>& /*tensors*/, int64_t /*root*/) override {}
  void barrier() override {}
  void abort() override {}
};

}  // namespace pretext
