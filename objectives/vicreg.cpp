// VICReg objective.
#include "objectives/vicreg.h"

#include "distributed/all_gather_grad.h"
#include "objectives/embedding_stats.h"
#include "objectives/vicreg_loss.h"

namespace pretext {

OptionBindings bind_options(VicregOptions& options) {
  return {
      {"proj_hidden_dim", "expander hidden width (paper: 8192)", &options.proj_hidden_dim()},
      {"proj_output_dim", "embedding width the loss sees (paper: 8192)",
       &options.proj_output_dim()},
      {"sim_coeff", "weight of the invariance (MSE) term (paper: 25)", &options.sim_coeff()},
      {"std_coeff", "weight of the variance hinge term (paper: 25)", &options.std_coeff()},
      {"cov_coeff", "weight of the covariance term (paper: 1)", &options.cov_coeff()},
  };
}

VicregObjective::VicregObjective(const ObjectiveContext& context, VicregOptions options)
    : options_(std::move(options)), image_size_(context.image_size), comm_(context.comm) {
  TORCH_CHECK_VALUE(options_.proj_hidden_dim() > 0 && options_.proj_output_dim() > 0,
                    "vicreg: projector widths must be > 0, got proj_hidden_dim ",
                    options_.proj_hidden_dim(), " and proj_output_dim ",
                    options_.proj_output_dim());
  TORCH_CHECK_VALUE(
      options_.sim_coeff() >= 0.0 && options_.std_coeff() >= 0.0 && options_.cov_coeff() >= 0.0 &&
          options_.sim_coeff() + options_.std_coeff() + options_.cov_coeff() > 0.0,
      "vicreg: coefficients must be >= 0 and not all 0, got sim_coeff ", options_.sim_coeff(),
      ", std_coeff ", options_.std_coeff(), ", cov_coeff ", options_.cov_coeff());
  backbone_ = register_module("backbone", context.make_backbone());
  // Linear-BN-ReLU twice, then a plain Linear (the paper's expander).
  projector_ = register_module(
      "projector",
      MlpHead(MlpHeadOptions({backbone_->feature_dim(), options_.proj_hidden_dim(),
                              options_.proj_hidden_dim(), options_.proj_output_dim()})));
}

ViewSpec VicregObjective::view_spec() const { return ViewSpec::two_views(image_size_); }

LossOutput VicregObjective::compute_loss(const Batch& batch, const Step& step) {
  TORCH_CHECK(batch.views.size() == 2, "vicreg: expected 2 views, got ", batch.views.size());
  auto z0 = projector_(backbone_->forward(batch.views[0]));  // [B, proj_output_dim]
  auto z1 = projector_(backbone_->forward(batch.views[1]));
  if (comm_ != nullptr && comm_->world_size() > 1) {
    // Statistics over the global batch, as the official code's gather (each rank then holds
    // the whole loss; gradient averaging over ranks makes that the global loss's gradient).
    z0 = all_gather_with_grad(*comm_, z0);
    z1 = all_gather_with_grad(*comm_, z1);
  }
  const VicregLossOutput v =
      vicreg_loss(z0, z1, options_.sim_coeff(), options_.std_coeff(), options_.cov_coeff());
  LossOutput out{v.loss,
                 {{"vicreg/invariance", v.invariance},
                  {"vicreg/variance", v.variance},
                  {"vicreg/covariance", v.covariance}}};
  if (step.log_metrics) append_embedding_stats(z0.detach(), out.metrics);
  return out;
}

}  // namespace pretext
