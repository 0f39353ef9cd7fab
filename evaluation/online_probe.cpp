// The cross-entropy gradient is written out (softmax - onehot): no autograd graph is built
// next to the objective's, and the step is a handful of small matrix products.
#include "evaluation/online_probe.h"

#include <algorithm>
#include <cmath>

namespace pretext {

OnlineProbeImpl::OnlineProbeImpl(int64_t feature_dim, int64_t num_classes,
                                 OnlineProbeOptions options)
    : options_(std::move(options)) {
  TORCH_CHECK_VALUE(num_classes > 0,
                    "eval.online_probe needs a labelled dataset (the dataset has no classes)");
  TORCH_CHECK_VALUE(feature_dim > 0, "online probe: feature_dim must be positive, got ",
                    feature_dim);
  TORCH_CHECK_VALUE(std::isfinite(options_.lr()) && options_.lr() > 0.0,
                    "eval.online_probe_lr must be positive, got ", options_.lr());
  weight_ = register_buffer("weight", torch::zeros({num_classes, feature_dim}));
  bias_ = register_buffer("bias", torch::zeros({num_classes}));
  weight_velocity_ = register_buffer("weight_velocity", torch::zeros({num_classes, feature_dim}));
  bias_velocity_ = register_buffer("bias_velocity", torch::zeros({num_classes}));
}

torch::Tensor OnlineProbeImpl::forward(const torch::Tensor& features) const {
  return torch::addmm(bias_, features, weight_.t());
}

std::vector<std::pair<std::string, torch::Tensor>> OnlineProbeImpl::train_on(
    Backbone& encoder, const torch::Tensor& images, const torch::Tensor& labels, double progress,
    Comm& comm) {
  torch::NoGradGuard no_grad;
  const bool was_training = encoder.is_training();
  encoder.eval();
  torch::Tensor features;
  try {
    features = encoder.forward(images).to(torch::kFloat);
  } catch (...) {
    encoder.train(was_training);
    throw;
  }
  encoder.train(was_training);

  const auto labelled = labels.ge(0);
  const auto target = labels.clamp_min(0);
  const auto weight = labelled.to(features.dtype());
  // Sum over ranks of the labelled count, so the gradient is the mean over the global batch.
  std::vector<torch::Tensor> count = {weight.sum().reshape({1})};
  comm.all_reduce_sum(count);
  const auto denominator = count[0].clamp_min(1.0);

  const auto logits = forward(features);
  const auto log_prob = logits.log_softmax(1);
  const auto loss =
      -(log_prob.gather(1, target.unsqueeze(1)).squeeze(1) * weight).sum() / denominator;
  const auto correct = (logits.argmax(1).eq(target).to(features.dtype()) * weight).sum();

  const auto one_hot = torch::zeros_like(logits).scatter_(1, target.unsqueeze(1), 1.0);
  const auto grad_logits = (log_prob.exp() - one_hot) * (weight / denominator).unsqueeze(1);
  std::vector<torch::Tensor> grads = {grad_logits.t().mm(features), grad_logits.sum(0)};
  comm.all_reduce_sum(grads);
  const double lr = options_.lr() * 0.5 * (1.0 + std::cos(M_PI * std::clamp(progress, 0.0, 1.0)));
  weight_velocity_.mul_(options_.momentum()).add_(grads[0]);
  bias_velocity_.mul_(options_.momentum()).add_(grads[1]);
  weight_.sub_(weight_velocity_ * lr);
  bias_.sub_(bias_velocity_ * lr);
  // Per-rank values; the trainer averages logged metrics over ranks.
  const auto local_count = weight.sum().clamp_min(1.0);
  return {{"online_probe/loss", loss * denominator / local_count},
          {"online_probe/acc1", 100.0 * correct / local_count}};
}

}  // namespace pretext
