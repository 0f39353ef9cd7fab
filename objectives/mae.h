// MAE, masked autoencoders (He et al., arXiv:2111.06377): the ViT encoder sees only a random
// 25% of the patches; a light decoder fills in mask tokens, adds its own fixed sin-cos position
// embedding and predicts the pixels of every patch; the loss is the MSE on masked patches,
// against per-patch normalized pixels by default. Structure follows the official
// models_mae.py (forward_encoder / forward_decoder / forward_loss as named steps).
// Deviation: the mask noise comes from a generator seeded by (step, first sample index), so the
// loss of a batch is repeatable and a resumed run masks exactly as an uninterrupted one.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/vit.h"
#include "models/vit_blocks.h"
#include "objectives/objective.h"
#include "objectives/option_binding.h"
#include "objectives/registry.h"

namespace pretext {

struct MaeOptions {
  /// Fraction of patches hidden from the encoder, in (0, 1) (paper: 0.75).
  TORCH_ARG(double, mask_ratio) = 0.75;
  /// Regress per-patch normalized pixels (paper default: true).
  TORCH_ARG(bool, norm_pix_loss) = true;
  /// Decoder width, depth and heads (paper: 512, 8, 16).
  TORCH_ARG(int64_t, decoder_dim) = 512;
  TORCH_ARG(int64_t, decoder_depth) = 8;
  TORCH_ARG(int64_t, decoder_heads) = 16;
};

OptionBindings bind_options(MaeOptions& options);

struct MaeOutput {
  torch::Tensor loss;  ///< 0-dim
  torch::Tensor pred;  ///< [B, L, p*p*C] predicted patches (normalized space if norm_pix_loss)
  torch::Tensor mask;  ///< [B, L] 1 = masked
};

class MaeObjective final : public Objective {
 public:
  MaeObjective(const ObjectiveContext& context, MaeOptions options);

  LossOutput compute_loss(const Batch& batch, const Step& step) override;
  Backbone& encoder() override { return *encoder_; }
  ViewSpec view_spec() const override;
  std::string augment_recipe() const override { return "mae"; }

  /// The whole forward with an explicit mask noise [B, L] (smallest noise is kept).
  MaeOutput forward_with_noise(const torch::Tensor& images, const torch::Tensor& noise);
  VisionTransformer& vit() { return *vit_; }
  const MaeOptions& options() const { return options_; }

 private:
  /// Visible patches + CLS through the encoder -> latent [B, 1 + K, D], plus the mask.
  torch::Tensor forward_encoder(const torch::Tensor& images, const torch::Tensor& noise,
                                torch::Tensor* mask, torch::Tensor* ids_restore);
  /// latent [B, 1 + K, D] -> predicted patches [B, L, p*p*C].
  torch::Tensor forward_decoder(const torch::Tensor& latent, const torch::Tensor& ids_restore);

  MaeOptions options_;
  int64_t image_size_;
  std::shared_ptr<Backbone> encoder_;
  VisionTransformer* vit_ = nullptr;
  torch::nn::Linear decoder_embed_{nullptr};
  torch::Tensor mask_token_;         // [1, 1, decoder_dim]
  torch::Tensor decoder_pos_embed_;  // [1, 1 + L, decoder_dim], fixed sin-cos
  torch::nn::ModuleList decoder_blocks_{nullptr};
  torch::nn::LayerNorm decoder_norm_{nullptr};
  torch::nn::Linear decoder_pred_{nullptr};
};

}  // namespace pretext
