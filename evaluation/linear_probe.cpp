// The gradient of cross-entropy w.r.t. logits is softmax - onehot, so all heads train with two
// matrix products per step and no autograd graph.
#include "evaluation/linear_probe.h"

#include <chrono>
#include <cmath>

namespace pretext {

torch::Tensor LinearHeads::logits(const torch::Tensor& x) const {
  return torch::addmm(bias, x, weight).view({x.size(0), num_heads, num_classes});
}

LinearHeads train_linear_heads(const torch::Tensor& x, const torch::Tensor& y, int64_t num_classes,
                               const LinearProbeOptions& options) {
  const auto& rates = options.learning_rates();
  TORCH_CHECK_VALUE(!rates.empty(), "linear probe: needs at least one learning rate");
  for (const double lr : rates) {
    TORCH_CHECK_VALUE(std::isfinite(lr) && lr > 0.0,
                      "linear probe: learning rate must be "
                      "positive, got ",
                      lr);
  }
  TORCH_CHECK_VALUE(options.epochs() > 0 && options.batch_size() > 0,
                    "linear probe: epochs and batch_size must be positive, got ", options.epochs(),
                    " and ", options.batch_size());
  TORCH_CHECK(x.dim() == 2 && y.dim() == 1 && y.size(0) == x.size(0),
              "linear probe: x must be [N, D] and y [N], got ", x.sizes(), " and ", y.sizes());
  const int64_t n = x.size(0);
  const int64_t d = x.size(1);
  const int64_t heads = static_cast<int64_t>(rates.size());
  LinearHeads result;
  result.num_heads = heads;
  result.num_classes = num_classes;
  result.weight = torch::zeros({d, heads * num_classes}, x.options());
  result.bias = torch::zeros({heads * num_classes}, x.options());
  auto weight_velocity = torch::zeros_like(result.weight);
  auto bias_velocity = torch::zeros_like(result.bias);
  const auto base_rates = torch::tensor(rates, x.options()).repeat_interleave(num_classes);

  const int64_t steps_per_epoch = (n + options.batch_size() - 1) / options.batch_size();
  const int64_t total_steps = steps_per_epoch * options.epochs();
  const auto one_hot_eye = torch::eye(num_classes, x.options());
  int64_t step = 0;
  for (int64_t epoch = 0; epoch < options.epochs(); ++epoch) {
    const auto order = seeded_permutation(n, options.seed() + static_cast<uint64_t>(epoch));
    for (int64_t start = 0; start < n; start += options.batch_size(), ++step) {
      const auto index = order.slice(0, start, std::min(start + options.batch_size(), n));
      const auto xb = x.index_select(0, index);
      const auto target = one_hot_eye.index_select(0, y.index_select(0, index));  // [B, C]
      const auto logits = result.logits(xb);                                      // [B, H, C]
      // d(mean CE)/d logits, per head.
      const auto grad_logits =
          ((logits.softmax(2) - target.unsqueeze(1)) / static_cast<double>(xb.size(0)))
              .reshape({xb.size(0), heads * num_classes});
      auto grad_weight = xb.t().mm(grad_logits);
      const auto grad_bias = grad_logits.sum(0);
      if (options.weight_decay() > 0.0) grad_weight.add_(result.weight, options.weight_decay());
      weight_velocity.mul_(options.momentum()).add_(grad_weight);
      bias_velocity.mul_(options.momentum()).add_(grad_bias);
      const double cosine =
          0.5 *
          (1.0 + std::cos(M_PI * static_cast<double>(step) / static_cast<double>(total_steps)));
      const auto lr = base_rates * cosine;
      result.weight.sub_(weight_velocity * lr);
      result.bias.sub_(bias_velocity * lr);
    }
  }
  return result;
}

void finish_probe(ProbeResult& result, std::chrono::steady_clock::time_point started) {
  result.chosen = best_on_validation(result.candidates);
  result.test = result.candidates[result.chosen].test;
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}

int64_t best_on_validation(const std::vector<ProbeCandidate>& candidates) {
  int64_t best = 0;
  for (size_t i = 1; i < candidates.size(); ++i) {
    if (candidates[i].val.top1 > candidates[best].val.top1) best = static_cast<int64_t>(i);
  }
  return best;
}

ProbeResult sgd_linear_probe(const ProbeData& data, const LinearProbeOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  const LinearHeads heads =
      train_linear_heads(data.train_x, data.train_y, data.num_classes, options);
  const bool has_val = data.val_x.size(0) > 0;
  const auto val_logits = has_val ? heads.logits(data.val_x) : heads.logits(data.train_x);
  const auto& val_y = has_val ? data.val_y : data.train_y;
  const auto test_logits = heads.logits(data.test_x);
  ProbeResult result;
  for (int64_t h = 0; h < heads.num_heads; ++h) {
    ProbeCandidate candidate;
    candidate.hyperparameter = options.learning_rates()[h];
    candidate.val = accuracy_of(val_logits.select(1, h), val_y);
    candidate.test = accuracy_of(test_logits.select(1, h), data.test_y);
    result.candidates.push_back(candidate);
  }
  finish_probe(result, started);
  return result;
}

}  // namespace pretext
