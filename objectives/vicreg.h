// VICReg (Bardes et al., arXiv:2105.04906): a shared encoder and three-layer expander trained
// with an invariance term between the views plus variance and covariance regularizers on
// each branch. Structure follows the official facebookresearch/vicreg main_vicreg.py and
// solo-learn methods/vicreg.py. Deviations: the views use the "simclr" augmentation recipe
// (paper: BYOL's asymmetric one); statistics are over the local batch (no all-gather).
#pragma once

#include <memory>
#include <string>

#include "models/heads.h"
#include "objectives/objective.h"
#include "objectives/option_binding.h"
#include "objectives/registry.h"

namespace pretext {

struct VicregOptions {
  /// Expander hidden width (paper: 8192).
  TORCH_ARG(int64_t, proj_hidden_dim) = 8192;
  /// Embedding width the loss is computed on (paper: 8192).
  TORCH_ARG(int64_t, proj_output_dim) = 8192;
  /// Weight lambda of the invariance (MSE) term (paper: 25).
  TORCH_ARG(double, sim_coeff) = 25.0;
  /// Weight mu of the variance hinge term (paper: 25).
  TORCH_ARG(double, std_coeff) = 25.0;
  /// Weight nu of the covariance term (paper: 1).
  TORCH_ARG(double, cov_coeff) = 1.0;
};

OptionBindings bind_options(VicregOptions& options);

class VicregObjective final : public Objective {
 public:
  VicregObjective(const ObjectiveContext& context, VicregOptions options);

  LossOutput compute_loss(const Batch& batch, const Step& step) override;
  Backbone& encoder() override { return *backbone_; }
  ViewSpec view_spec() const override;
  std::string augment_recipe() const override { return "simclr"; }

 private:
  VicregOptions options_;
  int64_t image_size_;
  std::shared_ptr<Backbone> backbone_;
  MlpHead projector_{nullptr};
  Comm* comm_;  ///< the loss sees the global batch
};

}  // namespace pretext
