// Gradient clipping. Reference for the per-parameter form: DINO utils.clip_gradients.
// Deviation: the per-parameter scale is applied with tensor ops (no host sync per parameter).
#include "train/gradient_clipping.h"

namespace pretext {

void check_grad_clip_mode(const std::string& mode) {
  TORCH_CHECK_VALUE(mode == "global" || mode == "per_parameter", "unknown grad_clip_mode '", mode,
                    "'; known: global, per_parameter");
}

void clip_gradients(const std::vector<torch::Tensor>& parameters, double max_norm,
                    const std::string& mode) {
  check_grad_clip_mode(mode);
  if (max_norm <= 0.0) return;
  if (mode == "global") {
    torch::nn::utils::clip_grad_norm_(parameters, max_norm);
    return;
  }
  torch::NoGradGuard no_grad;
  for (const auto& p : parameters) {
    const torch::Tensor& g = p.grad();
    if (!g.defined()) continue;
    const torch::Tensor coef = torch::clamp_max(max_norm / (g.norm() + 1e-6), 1.0);
    g.mul_(coef);
  }
}

}  // namespace pretext
