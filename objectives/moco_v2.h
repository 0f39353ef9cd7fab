// MoCo v2 (He et al. arXiv:1911.05722; Chen et al. arXiv:2003.04297): a query encoder with an
// MLP head, a momentum (EMA) key encoder, and a queue of the last K keys as negatives for
// InfoNCE. Structure follows the official moco/builder.py (queue buffer + pointer, enqueue
// after the step) and solo-learn methods/mocov2plus.py (momentum_pairs, the symmetric loss
// with one queue per view).
// Deviation: no shuffling BatchNorm across ranks; BatchNorm is per process unless
// dist.sync_batch_norm makes it SyncBatchNorm (global statistics, which also hide the positive).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/heads.h"
#include "objectives/objective.h"
#include "objectives/option_binding.h"
#include "objectives/registry.h"

namespace pretext {

struct MocoV2Options {
  /// MLP head hidden width (paper: 2048).
  TORCH_ARG(int64_t, proj_hidden_dim) = 2048;
  /// Key/query width (paper: 128).
  TORCH_ARG(int64_t, proj_output_dim) = 128;
  /// InfoNCE temperature (MoCo v2: 0.2).
  TORCH_ARG(double, temperature) = 0.2;
  /// Number of queued negative keys K (paper: 65536).
  TORCH_ARG(int64_t, queue_size) = 65536;
  /// Key-encoder EMA coefficient at step 0 (paper: 0.999 at batch 256; solo-learn: 0.99).
  TORCH_ARG(double, momentum_base) = 0.99;
  /// EMA coefficient at the last step, reached by a cosine ramp; equal to momentum_base keeps
  /// it constant as in the paper.
  TORCH_ARG(double, momentum_final) = 0.99;
  /// false: the paper's loss, view 1 queries against view 2 keys. true: both directions
  /// averaged, each against its own queue of the other view's keys (solo-learn mocov2plus).
  TORCH_ARG(bool, symmetric) = false;
};

OptionBindings bind_options(MocoV2Options& options);

class MocoV2Objective final : public Objective {
 public:
  MocoV2Objective(const ObjectiveContext& context, MocoV2Options options);

  LossOutput compute_loss(const Batch& batch, const Step& step) override;
  std::vector<MomentumPair> momentum_pairs() override;
  double momentum(const Step& step) const override;
  Backbone& encoder() override { return *query_; }
  ViewSpec view_spec() const override { return ViewSpec::two_views(image_size_); }
  std::string augment_recipe() const override { return "simclr"; }

  /// [num_queues, K, D] L2-normalized keys: num_queues is 2 when symmetric (queue v holds keys
  /// of view v), else 1 (keys of view 2).
  const torch::Tensor& queue() const { return queue_; }
  /// Slot the next key is written to, in [0, K).
  int64_t queue_pointer() const { return queue_ptr_.item<int64_t>(); }
  Backbone& key_encoder() { return *key_; }

 protected:
  /// Enqueues the keys stashed by the last compute_loss (gathered across ranks).
  void update_state(const Step& step) override;

 private:
  /// Writes `keys` ([N, D]) into queue v from slot `ptr` on, wrapping; keeps the last K if
  /// N > K. Leaves the pointer alone.
  void enqueue(int64_t v, const torch::Tensor& keys, int64_t ptr);

  MocoV2Options options_;
  int64_t image_size_;
  Comm* comm_;
  std::shared_ptr<Backbone> query_;
  MlpHead query_head_{nullptr};
  std::shared_ptr<Backbone> key_;
  MlpHead key_head_{nullptr};
  torch::Tensor queue_;
  torch::Tensor queue_ptr_;
  std::vector<torch::Tensor> pending_keys_;  // per queue, from the last compute_loss
};

}  // namespace pretext
