// Gradient clipping in the two forms self-supervised recipes use: one global norm over all
// parameters (torch.nn.utils.clip_grad_norm_) and DINO's per-parameter norm (utils.clip_gradients).
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

namespace pretext {

/// "global" | "per_parameter"; anything else throws listing both.
void check_grad_clip_mode(const std::string& mode);

/// Scales gradients so their norm is at most max_norm (no-op for max_norm <= 0). "global" takes
/// one norm over all gradients; "per_parameter" scales each gradient whose own norm exceeds
/// max_norm by max_norm / (norm + 1e-6), as DINO does. Undefined gradients are skipped.
void clip_gradients(const std::vector<torch::Tensor>& parameters, double max_norm,
                    const std::string& mode);

}  // namespace pretext
