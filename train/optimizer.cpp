// SGD with momentum (PyTorch torch.optim.SGD semantics, dampening 0) and LARS as in
// solo-learn utils/lars.py and lightly utils/lars.py.
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

constexpr const char* kMomentumPrefix = "momentum/";

std::string known_names(const NamedTensors& params) {
  std::ostringstream out;
  const size_t shown = std::min<size_t>(params.size(), 8);
  for (size_t i = 0; i < shown; ++i) {
    out << (i == 0 ? "" : ", ") << kMomentumPrefix << params[i].first;
  }
  if (params.size() > shown) {
    out << ", ... (" << params.size() << " in all)";
  }
  return out.str();
}

}  // namespace

Optimizer::Optimizer(const NamedTensors& params, OptimizerOptions options)
    : options_(std::move(options)) {
  TORCH_CHECK_VALUE(options_.name() == "sgd" || options_.name() == "lars",
                    "Optimizer: unknown optimizer '", options_.name(), "'; known: sgd|lars");
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
  momentum_.resize(params_.size());
}

void Optimizer::step(double lr, double weight_decay_now) {
  TORCH_CHECK_VALUE(std::isfinite(lr) && lr >= 0.0,
                    "Optimizer::step: lr must be finite and >= 0, got ", lr);
  TORCH_CHECK_VALUE(std::isfinite(weight_decay_now) && weight_decay_now >= 0.0,
                    "Optimizer::step: weight decay must be finite and >= 0, got ",
                    weight_decay_now);
  torch::NoGradGuard no_grad;
  const bool lars = options_.name() == "lars";
  const double momentum = options_.momentum();
  for (size_t i = 0; i < params_.size(); ++i) {
    const torch::Tensor& p = params_[i].second;
    const torch::Tensor& g = p.grad();
    if (!g.defined()) {
      continue;
    }
    const bool excluded = options_.exclude_bias_and_norm() && p.dim() <= 1;
    const double weight_decay = excluded ? 0.0 : weight_decay_now;
    // Same op order as torch::optim::SGD so plain SGD matches it bit for bit.
    torch::Tensor d = weight_decay != 0.0 ? g.add(p, weight_decay) : g;
    if (lars && !excluded) {
      const torch::Tensor p_norm = p.norm();
      const torch::Tensor g_norm = g.norm();
      const torch::Tensor ratio =
          p_norm.div(g_norm.add(p_norm, weight_decay)).mul(options_.trust_coefficient());
      const torch::Tensor both_positive = p_norm.gt(0).logical_and(g_norm.gt(0));
      d = d.mul(torch::where(both_positive, ratio, torch::ones_like(ratio)));
    }
    if (momentum != 0.0) {
      torch::Tensor& buf = momentum_[i];
      if (!buf.defined()) {
        buf = d.clone();
      } else {
        buf.mul_(momentum).add_(d);
      }
      d = options_.nesterov() ? d.add(buf, momentum) : buf;
    }
    p.add_(d, -lr);
  }
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
  for (size_t i = 0; i < params_.size(); ++i) {
    if (momentum_[i].defined()) {
      out.emplace_back(kMomentumPrefix + params_[i].first, momentum_[i]);
    }
  }
  return out;
}

void Optimizer::load_state(const std::map<std::string, torch::Tensor>& state) {
  std::vector<torch::Tensor> loaded(params_.size());
  for (const auto& [key, value] : state) {
    const std::string prefix = kMomentumPrefix;
    size_t index = params_.size();
    if (key.compare(0, prefix.size(), prefix) == 0) {
      const std::string name = key.substr(prefix.size());
      for (size_t i = 0; i < params_.size(); ++i) {
        if (params_[i].first == name) {
          index = i;
          break;
        }
      }
    }
    TORCH_CHECK_VALUE(index < params_.size(), "Optimizer::load_state: '", key,
                      "' matches no trainable parameter; expected one of: ", known_names(params_));
    const torch::Tensor& p = params_[index].second;
    TORCH_CHECK_VALUE(value.defined(), "Optimizer::load_state: '", key, "' is undefined");
    TORCH_CHECK_VALUE(value.sizes() == p.sizes(), "Optimizer::load_state: '", key, "' has shape ",
                      value.sizes(), " but parameter '", params_[index].first, "' has shape ",
                      p.sizes());
    torch::NoGradGuard no_grad;
    loaded[index] = torch::empty_like(p, torch::MemoryFormat::Contiguous).copy_(value);
  }
  // Buffers absent from `state` start fresh, exactly as they would in a new optimizer.
  momentum_ = std::move(loaded);
}

}  // namespace pretext
