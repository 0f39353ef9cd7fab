// EMA helpers shared by every objective with a teacher or key encoder (BYOL, MoCo, DINO).
#pragma once

#include <torch/torch.h>

#include "objectives/objective.h"

namespace pretext {

/// target = m * target + (1 - m) * online for every parameter; buffers (BN statistics) are
/// copied, as in BYOL/MoCo reference code. Modules must have identical parameter lists.
void ema_update(torch::nn::Module& online, torch::nn::Module& target, double momentum);

/// Copies parameters and buffers of `from` into `to` (same structure required).
void copy_parameters(torch::nn::Module& from, torch::nn::Module& to);

/// Sets requires_grad(false) on every parameter.
void freeze(torch::nn::Module& module);

/// Cosine ramp from `base` at step 0 to `final` at the last step (BYOL's tau schedule):
/// final - (final - base) * (cos(pi * progress) + 1) / 2.
double cosine_schedule(double base, double final, const Step& step);

}  // namespace pretext
