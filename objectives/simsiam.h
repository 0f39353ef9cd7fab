// SimSiam, Exploring Simple Siamese Representation Learning (Chen & He, arXiv:2011.10566):
// one encoder and projector, a bottleneck predictor, and a stop-gradient on the projection
// the prediction regresses; no negatives and no momentum encoder.
// Structure follows the official facebookresearch/simsiam builder.py and solo-learn
// methods/simsiam.py. Deviations: the views use the "simclr" augmentation recipe;
// BatchNorm is per process unless dist.sync_batch_norm (the reference uses SyncBatchNorm).
#pragma once

#include <memory>
#include <string>

#include "models/heads.h"
#include "objectives/objective.h"
#include "objectives/option_binding.h"
#include "objectives/registry.h"

namespace pretext {

struct SimsiamOptions {
  /// Projector hidden width (paper: 2048).
  TORCH_ARG(int64_t, proj_hidden_dim) = 2048;
  /// Projection width, also the predictor's input and output (paper: 2048).
  TORCH_ARG(int64_t, proj_output_dim) = 2048;
  /// Predictor bottleneck width (paper: 512).
  TORCH_ARG(int64_t, pred_hidden_dim) = 512;
};

OptionBindings bind_options(SimsiamOptions& options);

class SimsiamObjective final : public Objective {
 public:
  SimsiamObjective(const ObjectiveContext& context, SimsiamOptions options);

  LossOutput compute_loss(const Batch& batch, const Step& step) override;
  Backbone& encoder() override { return *backbone_; }
  ViewSpec view_spec() const override;
  std::string augment_recipe() const override { return "simclr"; }

 private:
  SimsiamOptions options_;
  int64_t image_size_;
  std::shared_ptr<Backbone> backbone_;
  MlpHead projector_{nullptr};
  MlpHead predictor_{nullptr};
};

}  // namespace pretext
