// EMA helpers and Objective::after_optimizer_step.
#include "objectives/momentum.h"

#include <algorithm>
#include <cmath>

namespace pretext {
namespace {

void check_same_structure(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b,
                          const char* what) {
  TORCH_CHECK(a.size() == b.size(), "momentum: online and target differ in ", what, " count (",
              a.size(), " vs ", b.size(), ")");
  for (size_t i = 0; i < a.size(); ++i) {
    TORCH_CHECK(a[i].sizes() == b[i].sizes(), "momentum: ", what, " ", i, " has shape ",
                a[i].sizes(), " online but ", b[i].sizes(), " target");
  }
}

}  // namespace

void ema_update(torch::nn::Module& online, torch::nn::Module& target, double momentum) {
  torch::NoGradGuard no_grad;
  const auto online_params = online.parameters();
  auto target_params = target.parameters();
  check_same_structure(online_params, target_params, "parameter");
  for (size_t i = 0; i < online_params.size(); ++i) {
    target_params[i].mul_(momentum).add_(online_params[i], 1.0 - momentum);
  }
  const auto online_buffers = online.buffers();
  auto target_buffers = target.buffers();
  check_same_structure(online_buffers, target_buffers, "buffer");
  for (size_t i = 0; i < online_buffers.size(); ++i) {
    target_buffers[i].copy_(online_buffers[i]);
  }
}

void copy_parameters(torch::nn::Module& from, torch::nn::Module& to) {
  torch::NoGradGuard no_grad;
  const auto from_params = from.parameters();
  auto to_params = to.parameters();
  check_same_structure(from_params, to_params, "parameter");
  for (size_t i = 0; i < from_params.size(); ++i) {
    to_params[i].copy_(from_params[i]);
  }
  const auto from_buffers = from.buffers();
  auto to_buffers = to.buffers();
  check_same_structure(from_buffers, to_buffers, "buffer");
  for (size_t i = 0; i < from_buffers.size(); ++i) {
    to_buffers[i].copy_(from_buffers[i]);
  }
}

void freeze(torch::nn::Module& module) {
  for (auto& p : module.parameters()) {
    p.set_requires_grad(false);
  }
}

double cosine_schedule(double base, double final, const Step& step) {
  const double progress = std::min(1.0, std::max(0.0, step.progress()));
  return final - (final - base) * (std::cos(M_PI * progress) + 1.0) / 2.0;
}

void Objective::after_optimizer_step(const Step& step) {
  const double m = momentum(step);
  for (const MomentumPair& pair : momentum_pairs()) {
    ema_update(*pair.online, *pair.target, m);
  }
  update_state(step);
}

}  // namespace pretext
