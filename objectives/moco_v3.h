// MoCo v3 (Chen, Xie, He, arXiv:2104.02057): a query encoder with projector and predictor, a
// momentum encoder with projector, and a symmetric in-batch contrastive loss (no queue); keys
// from every rank are negatives. Structure follows the official moco-v3 builder.py (MLPs with
// BatchNorm, an affine-free BatchNorm closing the projector, loss scaled by 2 * temperature)
// and solo-learn methods/mocov3.py (momentum_pairs).
// BatchNorm is SyncBatchNorm, as the official code, with dist.sync_batch_norm.
// On a ViT, freeze_patch_embed fixes the random patch projection as the paper's ViT runs do.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/heads.h"
#include "objectives/objective.h"
#include "objectives/option_binding.h"
#include "objectives/registry.h"

namespace pretext {

struct MocoV3Options {
  /// Hidden width of projector and predictor (paper: 4096).
  TORCH_ARG(int64_t, proj_hidden_dim) = 4096;
  /// Output width of projector and predictor (paper: 256).
  TORCH_ARG(int64_t, proj_output_dim) = 256;
  /// Linear layers in the projector (official: 2 for ResNet, 3 for ViT).
  TORCH_ARG(int64_t, proj_layers) = 3;
  /// Contrastive temperature (official: 0.2 for ViT, 1.0 for ResNet-50).
  TORCH_ARG(double, temperature) = 0.2;
  /// Momentum-encoder EMA at step 0, cosine to momentum_final (official: 0.99 -> 1).
  TORCH_ARG(double, momentum_base) = 0.99;
  TORCH_ARG(double, momentum_final) = 1.0;
  /// Keep the ViT's random patch projection fixed (paper section 4.2: more stable training).
  TORCH_ARG(bool, freeze_patch_embed) = false;
};

OptionBindings bind_options(MocoV3Options& options);

class MocoV3Objective final : public Objective {
 public:
  MocoV3Objective(const ObjectiveContext& context, MocoV3Options options);

  LossOutput compute_loss(const Batch& batch, const Step& step) override;
  std::vector<MomentumPair> momentum_pairs() override;
  double momentum(const Step& step) const override;
  Backbone& encoder() override { return *base_; }
  ViewSpec view_spec() const override { return ViewSpec::two_views(image_size_); }
  /// The paper's augmentation is BYOL's asymmetric pair.
  std::string augment_recipe() const override { return "byol"; }

  Backbone& momentum_encoder() { return *momentum_; }

 private:
  /// Contrastive loss of queries q against this step's keys k from every rank, x 2T.
  torch::Tensor contrastive(const torch::Tensor& q, const torch::Tensor& k,
                            torch::Tensor* positive_acc);

  MocoV3Options options_;
  int64_t image_size_;
  Comm* comm_;
  std::shared_ptr<Backbone> base_;
  MlpHead projector_{nullptr};
  MlpHead predictor_{nullptr};
  std::shared_ptr<Backbone> momentum_;
  MlpHead momentum_projector_{nullptr};
};

}  // namespace pretext
