// BYOL objective.
#include "objectives/byol.h"

#include "objectives/embedding_stats.h"
#include "objectives/momentum.h"
#include "objectives/similarity_losses.h"

namespace pretext {

OptionBindings bind_options(ByolOptions& options) {
  return {
      {"proj_hidden_dim", "projector hidden width (paper: 4096)", &options.proj_hidden_dim()},
      {"proj_output_dim", "projection width the loss sees (paper: 256)",
       &options.proj_output_dim()},
      {"pred_hidden_dim", "predictor hidden width (paper: 4096)", &options.pred_hidden_dim()},
      {"momentum_base",
       "target EMA coefficient at the first step, raised by cosine to momentum_final "
       "(paper: 0.996; solo-learn CIFAR: 0.99)",
       &options.momentum_base()},
      {"momentum_final", "target EMA coefficient at the last step (paper: 1.0)",
       &options.momentum_final()},
  };
}

ByolObjective::ByolObjective(const ObjectiveContext& context, ByolOptions options)
    : options_(std::move(options)), image_size_(context.image_size) {
  TORCH_CHECK_VALUE(options_.proj_hidden_dim() > 0 && options_.proj_output_dim() > 0 &&
                        options_.pred_hidden_dim() > 0,
                    "byol: head widths must be > 0, got proj_hidden_dim ",
                    options_.proj_hidden_dim(), ", proj_output_dim ", options_.proj_output_dim(),
                    ", pred_hidden_dim ", options_.pred_hidden_dim());
  TORCH_CHECK_VALUE(0.0 <= options_.momentum_base() &&
                        options_.momentum_base() <= options_.momentum_final() &&
                        options_.momentum_final() <= 1.0,
                    "byol: need 0 <= momentum_base <= momentum_final <= 1, got momentum_base ",
                    options_.momentum_base(), " and momentum_final ", options_.momentum_final());
  online_ = register_module("online", context.make_backbone());
  const auto projector = MlpHeadOptions::two_layer(
      online_->feature_dim(), options_.proj_hidden_dim(), options_.proj_output_dim());
  projector_ = register_module("projector", MlpHead(projector));
  predictor_ = register_module(
      "predictor",
      MlpHead(MlpHeadOptions::two_layer(options_.proj_output_dim(), options_.pred_hidden_dim(),
                                        options_.proj_output_dim())));
  // Build the target by calling the factory again and copying: custom modules cannot clone().
  target_ = register_module("target", context.make_backbone());
  target_projector_ = register_module("target_projector", MlpHead(projector));
  copy_parameters(*online_, *target_);
  copy_parameters(*projector_, *target_projector_);
  // The target moves only by EMA; frozen parameters are left out of the optimizer.
  freeze(*target_);
  freeze(*target_projector_);
}

ViewSpec ByolObjective::view_spec() const { return ViewSpec::two_views(image_size_); }

LossOutput ByolObjective::compute_loss(const Batch& batch, const Step& step) {
  TORCH_CHECK(batch.views.size() == 2, "byol: expected 2 views, got ", batch.views.size());
  // Each view goes through the networks on its own, as in the reference code.
  const auto z0 = projector_(online_->forward(batch.views[0]));  // [B, proj_output_dim]
  const auto z1 = projector_(online_->forward(batch.views[1]));
  const auto p0 = predictor_(z0);
  const auto p1 = predictor_(z1);
  torch::Tensor t0;
  torch::Tensor t1;
  {
    torch::NoGradGuard no_grad;
    t0 = target_projector_(target_->forward(batch.views[0]));
    t1 = target_projector_(target_->forward(batch.views[1]));
  }
  // Symmetrized: each view's prediction regresses the target projection of the other view.
  const auto loss = normalized_mse(p0, t1) + normalized_mse(p1, t0);
  LossOutput out{loss, {{"byol/tau", torch::tensor(momentum(step))}}};
  if (step.log_metrics) append_embedding_stats(z0.detach(), out.metrics);
  return out;
}

std::vector<MomentumPair> ByolObjective::momentum_pairs() {
  return {{online_.get(), target_.get()}, {projector_.ptr().get(), target_projector_.ptr().get()}};
}

double ByolObjective::momentum(const Step& step) const {
  return cosine_schedule(options_.momentum_base(), options_.momentum_final(), step);
}

}  // namespace pretext
