// SimSiam objective.
#include "objectives/simsiam.h"

#include "objectives/embedding_stats.h"
#include "objectives/similarity_losses.h"

namespace pretext {

OptionBindings bind_options(SimsiamOptions& options) {
  return {
      {"proj_hidden_dim", "projector hidden width (paper: 2048)", &options.proj_hidden_dim()},
      {"proj_output_dim", "projection width, also the predictor's input and output (paper: 2048)",
       &options.proj_output_dim()},
      {"pred_hidden_dim", "predictor bottleneck width (paper: 512, a quarter of the projection)",
       &options.pred_hidden_dim()},
  };
}

SimsiamObjective::SimsiamObjective(const ObjectiveContext& context, SimsiamOptions options)
    : options_(std::move(options)), image_size_(context.image_size) {
  TORCH_CHECK_VALUE(options_.proj_hidden_dim() > 0 && options_.proj_output_dim() > 0 &&
                        options_.pred_hidden_dim() > 0,
                    "simsiam: head widths must be > 0, got proj_hidden_dim ",
                    options_.proj_hidden_dim(), ", proj_output_dim ", options_.proj_output_dim(),
                    ", pred_hidden_dim ", options_.pred_hidden_dim());
  backbone_ = register_module("backbone", context.make_backbone());
  // Three layers with BatchNorm on every output, the last one affine-free (paper, sec. 3).
  projector_ = register_module(
      "projector", MlpHead(MlpHeadOptions({backbone_->feature_dim(), options_.proj_hidden_dim(),
                                           options_.proj_hidden_dim(), options_.proj_output_dim()})
                               .output_batch_norm(true)));
  // Bottleneck out -> pred_hidden -> out, no BatchNorm on its output.
  predictor_ = register_module(
      "predictor",
      MlpHead(MlpHeadOptions::two_layer(options_.proj_output_dim(), options_.pred_hidden_dim(),
                                        options_.proj_output_dim())));
}

ViewSpec SimsiamObjective::view_spec() const { return ViewSpec::two_views(image_size_); }

LossOutput SimsiamObjective::compute_loss(const Batch& batch, const Step& step) {
  TORCH_CHECK(batch.views.size() == 2, "simsiam: expected 2 views, got ", batch.views.size());
  const auto z0 = projector_(backbone_->forward(batch.views[0]));  // [B, proj_output_dim]
  const auto z1 = projector_(backbone_->forward(batch.views[1]));
  const auto p0 = predictor_(z0);
  const auto p1 = predictor_(z1);
  // negative_cosine_similarity detaches its target: the stop-gradient of the paper's eq. 2.
  const auto loss =
      0.5 * negative_cosine_similarity(p0, z1) + 0.5 * negative_cosine_similarity(p1, z0);
  LossOutput out{loss, {}};
  if (step.log_metrics) append_embedding_stats(z0.detach(), out.metrics);
  return out;
}

}  // namespace pretext
