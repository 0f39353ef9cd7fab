// SimCLR (Chen et al., arXiv:2002.05709): two augmented views, a shared encoder and MLP
// projector, NT-Xent over in-batch negatives from both views.
// Structure follows solo-learn methods/simclr.py and lightly examples/pytorch/simclr.py.
// Deviations: negatives come from the local batch only (cross-rank gathering lives in the
// distributed layer).
#pragma once

#include <memory>
#include <string>

#include "models/heads.h"
#include "objectives/objective.h"
#include "objectives/option_binding.h"
#include "objectives/registry.h"

namespace pretext {

struct SimclrOptions {
  /// NT-Xent temperature (paper: 0.1 for ImageNet with large batches, 0.5 for CIFAR-10).
  TORCH_ARG(double, temperature) = 0.1;
  /// Projector hidden width (paper: 2048).
  TORCH_ARG(int64_t, proj_hidden_dim) = 2048;
  /// Projection width the loss is computed on (paper: 128).
  TORCH_ARG(int64_t, proj_output_dim) = 128;
};

OptionBindings bind_options(SimclrOptions& options);

class SimclrObjective final : public Objective {
 public:
  SimclrObjective(const ObjectiveContext& context, SimclrOptions options);

  LossOutput compute_loss(const Batch& batch, const Step& step) override;
  Backbone& encoder() override { return *backbone_; }
  ViewSpec view_spec() const override;
  std::string augment_recipe() const override { return "simclr"; }

 private:
  SimclrOptions options_;
  int64_t image_size_;
  std::shared_ptr<Backbone> backbone_;
  MlpHead projector_{nullptr};
  Comm* comm_;  ///< negatives come from every rank's batch
};

}  // namespace pretext
