// Barlow Twins objective.
#include "objectives/barlow_twins.h"

#include "distributed/all_gather_grad.h"
#include "objectives/barlow_twins_loss.h"
#include "objectives/embedding_stats.h"

namespace pretext {

OptionBindings bind_options(BarlowTwinsOptions& options) {
  return {
      {"proj_hidden_dim", "projector hidden width (paper: 8192)", &options.proj_hidden_dim()},
      {"proj_output_dim", "projection width the cross-correlation sees (paper: 8192)",
       &options.proj_output_dim()},
      {"lamb", "weight of the off-diagonal redundancy term (paper: 0.0051, about 1/D)",
       &options.lamb()},
      {"scale_loss", "factor on the whole loss (solo-learn: 1.0; its CIFAR recipe: 0.1)",
       &options.scale_loss()},
  };
}

BarlowTwinsObjective::BarlowTwinsObjective(const ObjectiveContext& context,
                                           BarlowTwinsOptions options)
    : options_(std::move(options)), image_size_(context.image_size), comm_(context.comm) {
  TORCH_CHECK_VALUE(options_.proj_hidden_dim() > 0 && options_.proj_output_dim() > 0,
                    "barlow_twins: projector widths must be > 0, got proj_hidden_dim ",
                    options_.proj_hidden_dim(), " and proj_output_dim ",
                    options_.proj_output_dim());
  TORCH_CHECK_VALUE(options_.lamb() >= 0.0, "barlow_twins: lamb must be >= 0, got ",
                    options_.lamb());
  TORCH_CHECK_VALUE(options_.scale_loss() > 0.0, "barlow_twins: scale_loss must be > 0, got ",
                    options_.scale_loss());
  backbone_ = register_module("backbone", context.make_backbone());
  // Linear-BN-ReLU twice, then a plain Linear; the loss standardizes the output over the batch.
  projector_ = register_module(
      "projector",
      MlpHead(MlpHeadOptions({backbone_->feature_dim(), options_.proj_hidden_dim(),
                              options_.proj_hidden_dim(), options_.proj_output_dim()})));
}

ViewSpec BarlowTwinsObjective::view_spec() const { return ViewSpec::two_views(image_size_); }

LossOutput BarlowTwinsObjective::compute_loss(const Batch& batch, const Step& step) {
  TORCH_CHECK(batch.views.size() == 2, "barlow_twins: expected 2 views, got ", batch.views.size());
  auto z0 = projector_(backbone_->forward(batch.views[0]));  // [B, proj_output_dim]
  auto z1 = projector_(backbone_->forward(batch.views[1]));
  if (comm_ != nullptr && comm_->world_size() > 1) {
    // Statistics over the global batch, as the official code's gather (each rank then holds
    // the whole loss; gradient averaging over ranks makes that the global loss's gradient).
    z0 = all_gather_with_grad(*comm_, z0);
    z1 = all_gather_with_grad(*comm_, z1);
  }
  const BarlowTwinsLossOutput bt =
      barlow_twins_loss(z0, z1, options_.lamb(), options_.scale_loss());
  LossOutput out{bt.loss,
                 {{"barlow_twins/on_diag", bt.on_diag}, {"barlow_twins/off_diag", bt.off_diag}}};
  if (step.log_metrics) append_embedding_stats(z0.detach(), out.metrics);
  return out;
}

}  // namespace pretext
