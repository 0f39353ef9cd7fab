// MoCo v3 objective.
#include "objectives/moco_v3.h"

#include "models/vit.h"
#include "objectives/embedding_stats.h"
#include "objectives/info_nce.h"
#include "objectives/momentum.h"

namespace pretext {
namespace {

/// The official _build_mlp: bias-free Linear + BatchNorm + ReLU per hidden layer, a bias-free
/// output Linear, and optionally an affine-free BatchNorm on the output.
MlpHeadOptions moco_v3_mlp(int64_t in, int64_t hidden, int64_t out, int64_t layers, bool last_bn) {
  std::vector<int64_t> dims = {in};
  for (int64_t i = 0; i + 1 < layers; ++i) dims.push_back(hidden);
  dims.push_back(out);
  return MlpHeadOptions(dims).hidden_batch_norm(true).output_batch_norm(last_bn).bias(false);
}

}  // namespace

OptionBindings bind_options(MocoV3Options& options) {
  return {
      {"proj_hidden_dim", "projector/predictor hidden width (paper: 4096)",
       &options.proj_hidden_dim()},
      {"proj_output_dim", "projector/predictor output width (paper: 256)",
       &options.proj_output_dim()},
      {"proj_layers", "linear layers in the projector (ResNet: 2, ViT: 3)", &options.proj_layers()},
      {"temperature", "contrastive temperature (ViT: 0.2, ResNet-50: 1.0)", &options.temperature()},
      {"momentum_base", "momentum-encoder EMA at the first step (0.99)", &options.momentum_base()},
      {"momentum_final", "momentum-encoder EMA at the last step, cosine ramp (1.0)",
       &options.momentum_final()},
      {"freeze_patch_embed", "ViT only: keep the random patch projection fixed (paper: true)",
       &options.freeze_patch_embed()},
  };
}

MocoV3Objective::MocoV3Objective(const ObjectiveContext& context, MocoV3Options options)
    : options_(std::move(options)), image_size_(context.image_size), comm_(context.comm) {
  const auto& o = options_;
  TORCH_CHECK_VALUE(o.proj_hidden_dim() > 0 && o.proj_output_dim() > 0 && o.proj_layers() >= 1,
                    "moco_v3: need positive head widths and proj_layers >= 1, got ",
                    o.proj_hidden_dim(), ", ", o.proj_output_dim(), ", ", o.proj_layers());
  TORCH_CHECK_VALUE(o.temperature() > 0.0, "moco_v3: temperature must be > 0, got ",
                    o.temperature());
  TORCH_CHECK_VALUE(0.0 <= o.momentum_base() && o.momentum_base() <= o.momentum_final() &&
                        o.momentum_final() <= 1.0,
                    "moco_v3: need 0 <= momentum_base <= momentum_final <= 1, got ",
                    o.momentum_base(), " and ", o.momentum_final());
  base_ = register_module("base", context.make_backbone());
  if (o.freeze_patch_embed()) {
    auto* vit = dynamic_cast<VisionTransformer*>(base_.get());
    TORCH_CHECK_VALUE(vit != nullptr, "moco_v3: freeze_patch_embed needs a ViT backbone, got '",
                      base_->arch(), "'");
    vit->freeze_patch_embed();
  }
  const auto projector = moco_v3_mlp(base_->feature_dim(), o.proj_hidden_dim(), o.proj_output_dim(),
                                     o.proj_layers(), /*last_bn=*/true);
  projector_ = register_module("projector", MlpHead(projector));
  predictor_ =
      register_module("predictor", MlpHead(moco_v3_mlp(o.proj_output_dim(), o.proj_hidden_dim(),
                                                       o.proj_output_dim(), 2, /*last_bn=*/false)));
  momentum_ = register_module("momentum", context.make_backbone());
  momentum_projector_ = register_module("momentum_projector", MlpHead(projector));
  copy_parameters(*base_, *momentum_);
  copy_parameters(*projector_, *momentum_projector_);
  freeze(*momentum_);
  freeze(*momentum_projector_);
}

torch::Tensor MocoV3Objective::contrastive(const torch::Tensor& q, const torch::Tensor& k,
                                           torch::Tensor* positive_acc) {
  torch::Tensor keys = k;
  int64_t offset = 0;
  if (comm_ != nullptr && comm_->world_size() > 1) {
    keys = comm_->all_gather(k);
    offset = comm_->rank() * k.size(0);
  }
  const auto out = info_nce_in_batch(q, keys, offset, options_.temperature());
  *positive_acc = out.positive_acc;
  return out.loss * (2.0 * options_.temperature());
}

LossOutput MocoV3Objective::compute_loss(const Batch& batch, const Step& step) {
  TORCH_CHECK(batch.views.size() == 2, "moco_v3: expected 2 views, got ", batch.views.size());
  const auto q0 = predictor_(projector_(base_->forward(batch.views[0])));
  const auto q1 = predictor_(projector_(base_->forward(batch.views[1])));
  torch::Tensor k0;
  torch::Tensor k1;
  {
    torch::NoGradGuard no_grad;
    k0 = momentum_projector_(momentum_->forward(batch.views[0]));
    k1 = momentum_projector_(momentum_->forward(batch.views[1]));
  }
  torch::Tensor acc0;
  torch::Tensor acc1;
  const auto loss = contrastive(q0, k1, &acc0) + contrastive(q1, k0, &acc1);
  LossOutput out{
      loss,
      {{"moco/positive_acc", (acc0 + acc1) / 2.0}, {"moco/tau", torch::tensor(momentum(step))}}};
  if (step.log_metrics) append_embedding_stats(q0.detach(), out.metrics);
  return out;
}

std::vector<MomentumPair> MocoV3Objective::momentum_pairs() {
  return {{base_.get(), momentum_.get()},
          {projector_.ptr().get(), momentum_projector_.ptr().get()}};
}

double MocoV3Objective::momentum(const Step& step) const {
  return cosine_schedule(options_.momentum_base(), options_.momentum_final(), step);
}

}  // namespace pretext
