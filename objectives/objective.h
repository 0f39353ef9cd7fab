// The interface every self-supervised method implements. The trainer knows only this header;
// everything method-specific (heads, teacher, queue, center) lives behind it.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "models/backbone.h"

namespace pretext {

/// Position of one optimizer step in the run. Schedules are pure functions of it.
struct Step {
  int64_t index = 0;  ///< global optimizer step, 0-based
  int64_t total = 1;  ///< optimizer steps in the whole run
  int64_t epoch = 0;
  /// The trainer reads the metrics of this step; costly diagnostics may be skipped otherwise.
  bool log_metrics = true;
  double progress() const { return static_cast<double>(index) / static_cast<double>(total); }
};

/// What the data pipeline must produce for an objective (global views come first, then the
/// local crops of multi-crop). Global crop scales come from the [augment] section.
struct ViewSpec {
  int64_t num_global = 2;
  int64_t num_local = 0;
  int64_t global_size = 224;
  int64_t local_size = 96;
  /// RandomResizedCrop area range of the local crops (DINO: 0.05 to 0.4).
  double local_scale_min = 0.05;
  double local_scale_max = 0.4;

  /// Two global views of `size` pixels and no local crops (SimCLR, BYOL, SimSiam, ...).
  static ViewSpec two_views(int64_t size) {
    ViewSpec spec;
    spec.global_size = size;
    return spec;
  }
};

/// A collated batch already on the training device, float and normalized.
struct Batch {
  std::vector<torch::Tensor> views;  ///< num_global + num_local tensors, each [B, C, H, W]
  torch::Tensor labels;              ///< [B] int64; -1 entries when the dataset has no labels
  torch::Tensor indices;             ///< [B] int64 dataset indices
};

/// Loss plus detached 0-dim metric tensors; the trainer decides when to sync and print.
struct LossOutput {
  torch::Tensor loss;
  std::vector<std::pair<std::string, torch::Tensor>> metrics;
};

/// Non-owning (online, target) pair of submodules whose target follows the online one by EMA.
struct MomentumPair {
  torch::nn::Module* online = nullptr;
  torch::nn::Module* target = nullptr;
};

class Objective : public torch::nn::Module {
 public:
  /// Loss for one batch. Must not change method state (teacher, queue, center); stash detached
  /// tensors for update_state() instead, so calling it twice gives the same value.
  virtual LossOutput compute_loss(const Batch& batch, const Step& step) = 0;

  /// After backward and the gradient all-reduce, before clipping and optimizer.step().
  virtual void before_optimizer_step(const Step& /*step*/) {}

  /// Called by the trainer after optimizer.step(): EMA over momentum_pairs() with
  /// momentum(step), then update_state(step). Deliberately non-virtual.
  void after_optimizer_step(const Step& step);

  virtual std::vector<MomentumPair> momentum_pairs() { return {}; }
  virtual double momentum(const Step& /*step*/) const { return 1.0; }

  /// Encoder trained by this objective, and the one evaluated by k-NN / linear probe.
  virtual Backbone& encoder() = 0;
  virtual Backbone& eval_encoder() { return encoder(); }

  virtual ViewSpec view_spec() const = 0;
  /// Augmentation recipe name understood by the trainer's view-plan builder ("simclr", ...).
  virtual std::string augment_recipe() const = 0;

 protected:
  /// Method state other than EMA weights (MoCo queue, DINO center). Default: none.
  virtual void update_state(const Step& /*step*/) {}
};

}  // namespace pretext
