// MAE objective.
#include "objectives/mae.h"

#include "objectives/embedding_stats.h"
#include "objectives/mae_masking.h"

namespace pretext {
namespace {

/// MAE's _init_weights for the decoder: xavier_uniform Linear weights, zero biases.
void init_linear(torch::nn::LinearImpl& linear) {
  torch::NoGradGuard no_grad;
  torch::nn::init::xavier_uniform_(linear.weight);
  if (linear.bias.defined()) linear.bias.zero_();
}

}  // namespace

OptionBindings bind_options(MaeOptions& options) {
  return {
      {"mask_ratio", "fraction of patches hidden from the encoder (0.75)", &options.mask_ratio()},
      {"norm_pix_loss", "regress per-patch normalized pixels (true)", &options.norm_pix_loss()},
      {"decoder_dim", "decoder width (512)", &options.decoder_dim()},
      {"decoder_depth", "decoder blocks (8)", &options.decoder_depth()},
      {"decoder_heads", "decoder attention heads (16)", &options.decoder_heads()},
  };
}

MaeObjective::MaeObjective(const ObjectiveContext& context, MaeOptions options)
    : options_(std::move(options)), image_size_(context.image_size) {
  const auto& o = options_;
  // With nothing masked the loss has no patches to average over.
  TORCH_CHECK_VALUE(0.0 < o.mask_ratio() && o.mask_ratio() < 1.0,
                    "mae: mask_ratio must be in (0, 1), got ", o.mask_ratio());
  TORCH_CHECK_VALUE(o.decoder_dim() > 0 && o.decoder_depth() >= 1 && o.decoder_heads() >= 1 &&
                        o.decoder_dim() % o.decoder_heads() == 0 && o.decoder_dim() % 4 == 0,
                    "mae: need decoder_depth >= 1 and decoder_dim divisible by decoder_heads and "
                    "by 4, got decoder_dim ",
                    o.decoder_dim(), ", depth ", o.decoder_depth(), ", heads ", o.decoder_heads());
  encoder_ = register_module("encoder", context.make_backbone());
  vit_ = dynamic_cast<VisionTransformer*>(encoder_.get());
  TORCH_CHECK_VALUE(vit_ != nullptr, "mae: needs a ViT backbone (model.arch = vit_tiny | ",
                    "vit_small | vit_base), got '", encoder_->arch(), "'");
  const int64_t grid = vit_->grid_size();
  const int64_t patch_pixels =
      vit_->patch_size() * vit_->patch_size() * vit_->options().in_channels();
  decoder_embed_ =
      register_module("decoder_embed", torch::nn::Linear(vit_->embed_dim(), o.decoder_dim()));
  init_linear(*decoder_embed_);
  mask_token_ = register_parameter("mask_token", torch::zeros({1, 1, o.decoder_dim()}));
  {
    torch::NoGradGuard no_grad;
    mask_token_.normal_(0.0, 0.02);
  }
  decoder_pos_embed_ = register_buffer(
      "decoder_pos_embed", sincos_pos_embed_2d(o.decoder_dim(), grid, grid, /*cls_token=*/true)
                               .to(torch::kFloat)
                               .unsqueeze(0));
  decoder_blocks_ = torch::nn::ModuleList();
  for (int64_t i = 0; i < o.decoder_depth(); ++i) {
    decoder_blocks_->push_back(VitBlock(VitBlockOptions(o.decoder_dim(), o.decoder_heads())));
  }
  decoder_blocks_ = register_module("decoder_blocks", decoder_blocks_);
  for (auto& module : decoder_blocks_->modules(/*include_self=*/false)) {
    if (auto* linear = module->as<torch::nn::LinearImpl>()) init_linear(*linear);
  }
  decoder_norm_ = register_module(
      "decoder_norm",
      torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.decoder_dim()}).eps(1e-6)));
  decoder_pred_ = register_module("decoder_pred", torch::nn::Linear(o.decoder_dim(), patch_pixels));
  init_linear(*decoder_pred_);
}

ViewSpec MaeObjective::view_spec() const {
  ViewSpec spec = ViewSpec::two_views(image_size_);
  spec.num_global = 1;  // MAE trains on one crop per image
  return spec;
}

torch::Tensor MaeObjective::forward_encoder(const torch::Tensor& images, const torch::Tensor& noise,
                                            torch::Tensor* mask, torch::Tensor* ids_restore) {
  const auto patches = vit_->embed_patches(images);  // [B, L, D] with position embedding
  const RandomMask masked = random_masking(patches, options_.mask_ratio(), noise);
  const auto cls = vit_->cls_token_with_pos().expand({images.size(0), -1, -1});
  *mask = masked.mask;
  *ids_restore = masked.ids_restore;
  return vit_->forward_tokens(torch::cat({cls, masked.kept}, 1));  // [B, 1 + K, D]
}

torch::Tensor MaeObjective::forward_decoder(const torch::Tensor& latent,
                                            const torch::Tensor& ids_restore) {
  auto x = decoder_embed_(latent);  // [B, 1 + K, Dd]
  const int64_t b = x.size(0);
  const int64_t l = ids_restore.size(1);
  const int64_t dd = x.size(2);
  const auto mask_tokens = mask_token_.expand({b, l + 1 - x.size(1), dd});
  auto tokens = torch::cat({x.narrow(1, 1, x.size(1) - 1), mask_tokens}, 1);  // [B, L, Dd]
  tokens = tokens.gather(1, ids_restore.unsqueeze(-1).expand({b, l, dd}));    // patch order
  x = torch::cat({x.narrow(1, 0, 1), tokens}, 1) + decoder_pos_embed_;
  for (const auto& block : *decoder_blocks_) x = block->as<VitBlockImpl>()->forward(x);
  x = decoder_pred_(decoder_norm_(x));
  return x.narrow(1, 1, l);  // drop the CLS position: [B, L, p*p*C]
}

MaeOutput MaeObjective::forward_with_noise(const torch::Tensor& images,
                                           const torch::Tensor& noise) {
  TORCH_CHECK(images.dim() == 4 && images.size(2) == image_size_ && images.size(3) == image_size_,
              "mae: expected [B, C, ", image_size_, ", ", image_size_, "] images, got ",
              images.sizes());
  MaeOutput out;
  torch::Tensor ids_restore;
  const auto latent = forward_encoder(images, noise, &out.mask, &ids_restore);
  out.pred = forward_decoder(latent, ids_restore);
  out.loss = masked_reconstruction_loss(out.pred, patchify(images, vit_->patch_size()), out.mask,
                                        options_.norm_pix_loss());
  return out;
}

LossOutput MaeObjective::compute_loss(const Batch& batch, const Step& step) {
  TORCH_CHECK(batch.views.size() == 1, "mae: expected 1 view, got ", batch.views.size());
  const auto& images = batch.views[0];
  // Each image's mask follows from (step, its dataset index), whatever batch or rank it is on.
  const int64_t grid = images.size(2) / vit_->patch_size();
  const auto noise =
      masking_noise(batch.indices, images.size(0), grid * grid, step.index).to(images.device());
  const MaeOutput out = forward_with_noise(images, noise);
  return LossOutput{out.loss, {}};
}

}  // namespace pretext
