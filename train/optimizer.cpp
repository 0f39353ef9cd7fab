// SGD with momentum (PyTorch torch.optim.SGD semantics, dampening 0), LARS as in solo-learn
// utils/lars.py and lightly utils/lars.py, and AdamW with torch.optim.AdamW's update order.
// Deviations: no eps in the trust ratio (it is only used when both norms are positive); when a
// gradient is exactly zero the weight decay still applies with trust ratio 1 (the references
// skip the decay then). The trust ratio is computed with tensor ops, so no device sync.

#include "train/optimizer.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <unordered_set>

namespace pretext {
namespace {

const std::vector<std::string>& state_kinds(const std::string& optimizer) {
  static const std::vector<std::string> momentum = {"momentum"};
  static const std::vector<std::string> adam = {"exp_avg", "exp_avg_sq", "step"};
  return optimizer == "adamw" ? adam : momentum;
}

std::string known_names(const std::string& optimizer, const NamedTensors& params) {
  std::ostringstream out;
  const std::string kind = state_kinds(optimizer).front();
  const size_t shown = std::min<size_t>(params.size(), 8);
  for (size_t i = 0; i < shown; ++i) {
    out << (i == 0 ? "" : ", ") << kind << "/" << params[i].first;
  }
  if (params.size() > shown) {
    out << ", ... (" << params.size() << " in all)";
  }
  return out.str();
}

}  // namespace

Optimizer::Optimizer(const NamedTensors& params, OptimizerOptions options)
    : options_(std::move(options)) {
  TORCH_CHECK_VALUE(
      options_.name() == "sgd" || options_.name() == "lars" || options_.name() == "adamw",
      "Optimizer: unknown optimizer '", options_.name(), "'; known: sgd|lars|adamw");
  TORCH_CHECK_VALUE(0.0 <= options_.beta1() && options_.beta1() < 1.0 && 0.0 <= options_.beta2() &&
                        options_.beta2() < 1.0 && options_.eps() > 0.0,
                    "Optimizer: need betas in [0, 1) and eps > 0, got beta1 ", options_.beta1(),
                    ", beta2 ", options_.beta2(), ", eps ", options_.eps());
  TORCH_CHECK_VALUE(options_.momentum() >= 0.0 && options_.momentum() < 1.0,
                    "Optimizer: momentum must be in [0, 1), got ", options_.momentum());
  TORCH_CHECK_VALUE(options_.weight_decay() >= 0.0, "Optimizer: weight_decay must be >= 0, got ",
                    options_.weight_decay());
  TORCH_CHECK_VALUE(options_.trust_coefficient() > 0.0,
                    "Optimizer: trust_coefficient must be > 0, got ", options_.trust_coefficient());
  TORCH_CHECK_VALUE(!options_.nesterov() || options_.momentum() > 0.0,
                    "Optimizer: nesterov needs momentum > 0, got momentum ", options_.momentum());
  std::unordered_set<std::string> seen;
  for (const auto& [name, param] : params) {
    TORCH_CHECK_VALUE(param.defined(), "Optimizer: parameter '", name, "' is undefined");
    TORCH_CHECK_VALUE(seen.insert(name).second, "Optimizer: duplicate parameter name '", name, "'");
    if (param.requires_grad()) {
      params_.emplace_back(name, param);
    }
  }
  for (const auto& kind : state_kinds(options_.name())) state_[kind].resize(params_.size());
}

std::vector<torch::Tensor>& Optimizer::buffers(const std::string& kind) { return state_.at(kind); }

void Optimizer::step(double lr, double weight_decay_now) {
  TORCH_CHECK_VALUE(std::isfinite(lr) && lr >= 0.0,
                    "Optimizer::step: lr must be finite and >= 0, got ", lr);
  TORCH_CHECK_VALUE(std::isfinite(weight_decay_now) && weight_decay_now >= 0.0,
                    "Optimizer::step: weight decay must be finite and >= 0, got ",
                    weight_decay_now);
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    const torch::Tensor& p = params_[i].second;
    if (!p.grad().defined()) {
      continue;
    }
    const bool excluded = options_.exclude_bias_and_norm() && p.dim() <= 1;
    const double weight_decay = excluded ? 0.0 : weight_decay_now;
    if (options_.name() == "adamw") {
      adamw_update(i, lr, weight_decay);
    } else {
      sgd_or_lars_update(i, lr, weight_decay, excluded);
    }
  }
}

void Optimizer::sgd_or_lars_update(size_t i, double lr, double weight_decay, bool excluded) {
  const torch::Tensor& p = params_[i].second;
  const torch::Tensor& g = p.grad();
  const double momentum = options_.momentum();
  // Same op order as torch::optim::SGD so plain SGD matches it bit for bit.
  torch::Tensor d = weight_decay != 0.0 ? g.add(p, weight_decay) : g;
  if (options_.name() == "lars" && !excluded) {
    const torch::Tensor p_norm = p.norm();
    const torch::Tensor g_norm = g.norm();
    const torch::Tensor ratio =
        p_norm.div(g_norm.add(p_norm, weight_decay)).mul(options_.trust_coefficient());
    const torch::Tensor both_positive = p_norm.gt(0).logical_and(g_norm.gt(0));
    d = d.mul(torch::where(both_positive, ratio, torch::ones_like(ratio)));
  }
  if (momentum != 0.0) {
    torch::Tensor& buf = buffers("momentum")[i];
    if (!buf.defined()) {
      buf = d.clone();
    } else {
      buf.mul_(momentum).add_(d);
    }
    d = options_.nesterov() ? d.add(buf, momentum) : buf;
  }
  p.add_(d, -lr);
}

void Optimizer::adamw_update(size_t i, double lr, double weight_decay) {
  const torch::Tensor& p = params_[i].second;
  const torch::Tensor& g = p.grad();
  torch::Tensor& exp_avg = buffers("exp_avg")[i];
  torch::Tensor& exp_avg_sq = buffers("exp_avg_sq")[i];
  torch::Tensor& step = buffers("step")[i];
  if (!step.defined()) {
    exp_avg = torch::zeros_like(p, torch::MemoryFormat::Preserve);
    exp_avg_sq = torch::zeros_like(p, torch::MemoryFormat::Preserve);
    step = torch::zeros({1}, torch::kLong);  // host-side count: no device sync to read it
  }
  step.add_(1);
  const double t = static_cast<double>(step.item<int64_t>());
  const double beta1 = options_.beta1();
  const double beta2 = options_.beta2();
  // torch.optim.AdamW (single-tensor path): decoupled decay first, then the Adam step.
  p.mul_(1.0 - lr * weight_decay);
  exp_avg.mul_(beta1).add_(g, 1.0 - beta1);
  exp_avg_sq.mul_(beta2).addcmul_(g, g, 1.0 - beta2);
  const double bias_correction1 = 1.0 - std::pow(beta1, t);
  const double bias_correction2 = 1.0 - std::pow(beta2, t);
  const torch::Tensor denom =
      (exp_avg_sq.sqrt() / std::sqrt(bias_correction2)).add_(options_.eps());
  p.addcdiv_(exp_avg, denom, -lr / bias_correction1);
}

void Optimizer::zero_grad() {
  for (const auto& named : params_) {
    const torch::Tensor& g = named.second.grad();
    if (g.defined()) {
      // As torch.optim.Optimizer.zero_grad: gradients may be views (bucketed all-reduce), which
      // cannot be detached in place, and only need it after backward with create_graph.
      if (g.grad_fn()) {
        g.detach_();
      }
      torch::NoGradGuard no_grad;
      g.zero_();
    }
  }
}

NamedTensors Optimizer::state() const {
  NamedTensors out;
  for (const auto& kind : state_kinds(options_.name())) {
    const auto& bufs = state_.at(kind);
    for (size_t i = 0; i < params_.size(); ++i) {
      if (bufs[i].defined()) out.emplace_back(kind + "/" + params_[i].first, bufs[i]);
    }
  }
  return out;
}

void Optimizer::load_state(const std::map<std::string, torch::Tensor>& state) {
  std::map<std::string, std::vector<torch::Tensor>> loaded;
  for (const auto& kind : state_kinds(options_.name())) loaded[kind].resize(params_.size());
  for (const auto& [key, value] : state) {
    const size_t slash = key.find('/');
    const std::string kind = slash == std::string::npos ? "" : key.substr(0, slash);
    const std::string name = slash == std::string::npos ? "" : key.substr(slash + 1);
    size_t index = params_.size();
    if (loaded.count(kind) != 0) {
      for (size_t i = 0; i < params_.size(); ++i) {
        if (params_[i].first == name) {
          index = i;
          break;
        }
      }
    }
    TORCH_CHECK_VALUE(index < params_.size(), "Optimizer::load_state: '", key,
                      "' matches no trainable parameter of this ", options_.name(),
                      " optimizer; expected one of: ", known_names(options_.name(), params_));
    const torch::Tensor& p = params_[index].second;
    TORCH_CHECK_VALUE(value.defined(), "Optimizer::load_state: '", key, "' is undefined");
    const bool is_step = kind == "step";
    const auto expected = is_step ? torch::IntArrayRef({1}) : p.sizes();
    TORCH_CHECK_VALUE(value.sizes() == expected, "Optimizer::load_state: '", key, "' has shape ",
                      value.sizes(), " but expected ", expected, " for parameter '",
                      params_[index].first, "'");
    torch::NoGradGuard no_grad;
    loaded[kind][index] = is_step
                              ? value.to(torch::kLong).clone()
                              : torch::empty_like(p, torch::MemoryFormat::Contiguous).copy_(value);
  }
  // Buffers absent from `state` start fresh, exactly as they would in a new optimizer.
  state_ = std::move(loaded);
}

}  // namespace pretext
