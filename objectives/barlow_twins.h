// Barlow Twins (Zbontar et al., arXiv:2103.03230): a shared encoder and three-layer projector,
// with the cross-correlation of the two views' projections driven to the identity.
// Structure follows the official facebookresearch/barlowtwins main.py and solo-learn
// methods/barlow_twins.py. Deviations: the views use the "simclr" augmentation recipe
// (paper: BYOL's asymmetric one). The cross-correlation is over the global batch; BatchNorm
// is SyncBatchNorm with dist.sync_batch_norm.
#pragma once

#include <memory>
#include <string>

#include "models/heads.h"
#include "objectives/objective.h"
#include "objectives/option_binding.h"
#include "objectives/registry.h"

namespace pretext {

struct BarlowTwinsOptions {
  /// Projector hidden width (paper: 8192).
  TORCH_ARG(int64_t, proj_hidden_dim) = 8192;
  /// Projection width the cross-correlation is computed on (paper: 8192).
  TORCH_ARG(int64_t, proj_output_dim) = 8192;
  /// Weight of the off-diagonal (redundancy) term (paper: 0.0051).
  TORCH_ARG(double, lamb) = 0.0051;
  /// Factor on the whole loss (solo-learn: 1.0 by default, 0.1 in its CIFAR recipe).
  TORCH_ARG(double, scale_loss) = 1.0;
};

OptionBindings bind_options(BarlowTwinsOptions& options);

class BarlowTwinsObjective final : public Objective {
 public:
  BarlowTwinsObjective(const ObjectiveContext& context, BarlowTwinsOptions options);

  LossOutput compute_loss(const Batch& batch, const Step& step) override;
  Backbone& encoder() override { return *backbone_; }
  ViewSpec view_spec() const override;
  std::string augment_recipe() const override { return "simclr"; }

 private:
  BarlowTwinsOptions options_;
  int64_t image_size_;
  std::shared_ptr<Backbone> backbone_;
  MlpHead projector_{nullptr};
  Comm* comm_;  ///< the loss sees the global batch
};

}  // namespace pretext
