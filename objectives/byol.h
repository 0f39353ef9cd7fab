// BYOL, Bootstrap Your Own Latent (Grill et al., arXiv:2006.07733): an online backbone,
// projector and predictor regress the projection of the other view made by an EMA target.
// Structure follows solo-learn methods/byol.py (momentum_pairs plus an after-step EMA hook).
// Its own augmentation recipe is "byol" (blur 1.0/0.1, solarization 0/0.2 on the two views).
// BatchNorm is per process unless dist.sync_batch_norm (the paper: cross-replica statistics).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/heads.h"
#include "objectives/objective.h"
#include "objectives/option_binding.h"
#include "objectives/registry.h"

namespace pretext {

struct ByolOptions {
  /// Projector hidden width (paper: 4096).
  TORCH_ARG(int64_t, proj_hidden_dim) = 4096;
  /// Projection width the loss is computed on (paper: 256).
  TORCH_ARG(int64_t, proj_output_dim) = 256;
  /// Predictor hidden width (paper: 4096).
  TORCH_ARG(int64_t, pred_hidden_dim) = 4096;
  /// Target EMA coefficient tau at step 0, raised by cosine to momentum_final (paper: 0.996).
  TORCH_ARG(double, momentum_base) = 0.996;
  /// Target EMA coefficient at the last step (paper: 1.0).
  TORCH_ARG(double, momentum_final) = 1.0;
};

OptionBindings bind_options(ByolOptions& options);

class ByolObjective final : public Objective {
 public:
  ByolObjective(const ObjectiveContext& context, ByolOptions options);

  LossOutput compute_loss(const Batch& batch, const Step& step) override;
  std::vector<MomentumPair> momentum_pairs() override;
  double momentum(const Step& step) const override;
  Backbone& encoder() override { return *online_; }
  ViewSpec view_spec() const override;
  std::string augment_recipe() const override { return "byol"; }

  /// The EMA target encoder (read by tests and diagnostics; never trained by gradients).
  Backbone& target_encoder() { return *target_; }

 private:
  ByolOptions options_;
  int64_t image_size_;
  std::shared_ptr<Backbone> online_;
  MlpHead projector_{nullptr};
  MlpHead predictor_{nullptr};
  std::shared_ptr<Backbone> target_;
  MlpHead target_projector_{nullptr};
};

}  // namespace pretext
