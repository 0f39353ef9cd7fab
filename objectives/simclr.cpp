// SimCLR objective.
#include "objectives/simclr.h"

#include "distributed/all_gather_grad.h"
#include "objectives/embedding_stats.h"
#include "objectives/nt_xent.h"

namespace pretext {

OptionBindings bind_options(SimclrOptions& options) {
  return {
      {"temperature", "NT-Xent temperature (paper: 0.1 ImageNet, 0.5 CIFAR-10)",
       &options.temperature()},
      {"proj_hidden_dim", "projector hidden width (paper: 2048)", &options.proj_hidden_dim()},
      {"proj_output_dim", "projection width the loss sees (paper: 128)",
       &options.proj_output_dim()},
  };
}

SimclrObjective::SimclrObjective(const ObjectiveContext& context, SimclrOptions options)
    : options_(std::move(options)), image_size_(context.image_size), comm_(context.comm) {
  TORCH_CHECK_VALUE(options_.temperature() > 0.0, "simclr: temperature must be > 0, got ",
                    options_.temperature());
  TORCH_CHECK_VALUE(options_.proj_hidden_dim() > 0 && options_.proj_output_dim() > 0,
                    "simclr: projector widths must be > 0, got ", options_.proj_hidden_dim(),
                    " and ", options_.proj_output_dim());
  backbone_ = register_module("backbone", context.make_backbone());
  projector_ = register_module(
      "projector",
      MlpHead(MlpHeadOptions::two_layer(backbone_->feature_dim(), options_.proj_hidden_dim(),
                                        options_.proj_output_dim())));
}

ViewSpec SimclrObjective::view_spec() const { return ViewSpec::two_views(image_size_); }

LossOutput SimclrObjective::compute_loss(const Batch& batch, const Step& step) {
  TORCH_CHECK(batch.views.size() == 2, "simclr: expected 2 views, got ", batch.views.size());
  // One forward over both views: BatchNorm sees 2B samples, as in the reference code.
  const int64_t b = batch.views[0].size(0);
  const auto z = projector_(backbone_->forward(torch::cat({batch.views[0], batch.views[1]})));
  const auto z0 = z.narrow(0, 0, b);
  const auto z1 = z.narrow(0, b, b);
  // Negatives from the global batch; gradients flow back to the rank that made them.
  const bool distributed = comm_ != nullptr && comm_->world_size() > 1;
  const NtXentOutput nt = distributed
                              ? nt_xent_global(z0, z1, all_gather_with_grad(*comm_, z0),
                                               all_gather_with_grad(*comm_, z1),
                                               gathered_offset(*comm_, b), options_.temperature())
                              : nt_xent(z0, z1, options_.temperature());
  LossOutput out{nt.loss, {{"simclr/positive_acc", nt.positive_acc}}};
  if (step.log_metrics) append_embedding_stats(z0.detach(), out.metrics);
  return out;
}

}  // namespace pretext
