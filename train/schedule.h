// Learning-rate schedule: linear warm-up from 0 then cosine decay to final_lr (SimCLR, BYOL,
// DINO all use this shape). A pure function of the step so resume needs no state.
#pragma once

#include <cstdint>

namespace pretext {

/// lr at 0-based `step` of `total_steps`: step < warmup_steps -> base_lr * (step + 1) /
/// warmup_steps; afterwards final_lr + (base_lr - final_lr) * (1 + cos(pi * t)) / 2 with t the
/// fraction of post-warm-up steps done.
double warmup_cosine_lr(double base_lr, double final_lr, int64_t step, int64_t warmup_steps,
                        int64_t total_steps);

/// Cosine ramp without warm-up from `base` at step 0 to `final` at step total_steps (DINO's
/// weight-decay and teacher-momentum schedules): final + (base - final) * (1 + cos(pi * t)) / 2,
/// t = step / total_steps clamped to [0, 1].
double cosine_ramp(double base, double final, int64_t step, int64_t total_steps);

}  // namespace pretext
