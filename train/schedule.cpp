// Linear warm-up then cosine decay, as in the DINO utils.cosine_scheduler and the SimCLR/BYOL
// learning-rate schedules, evaluated per optimizer step.
// Deviations: steps at or past total_steps return the end value instead of indexing past an
// array.

#include "train/schedule.h"

#include <algorithm>
#include <cmath>

#include <c10/util/Exception.h>

namespace pretext {

namespace {
constexpr double kPi = 3.14159265358979323846;
}  // namespace

double warmup_cosine_lr(double base_lr, double final_lr, int64_t step, int64_t warmup_steps,
                        int64_t total_steps) {
  TORCH_CHECK_VALUE(total_steps >= 1, "warmup_cosine_lr: total_steps must be >= 1, got ",
                    total_steps);
  TORCH_CHECK_VALUE(0 <= warmup_steps && warmup_steps <= total_steps,
                    "warmup_cosine_lr: need 0 <= warmup_steps <= total_steps, got warmup_steps ",
                    warmup_steps, " and total_steps ", total_steps);
  TORCH_CHECK_VALUE(step >= 0, "warmup_cosine_lr: step must be >= 0, got ", step);
  TORCH_CHECK_VALUE(std::isfinite(base_lr) && std::isfinite(final_lr),
                    "warmup_cosine_lr: base_lr and final_lr must be finite, got ", base_lr, " and ",
                    final_lr);
  if (step < warmup_steps) {
    return base_lr * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  }
  if (warmup_steps == total_steps) {
    return base_lr;  // the whole run is warm-up; there is no decay phase
  }
  const double done = static_cast<double>(step - warmup_steps);
  const double t = std::min(1.0, done / static_cast<double>(total_steps - warmup_steps));
  return final_lr + (base_lr - final_lr) * (1.0 + std::cos(kPi * t)) / 2.0;
}

double cosine_ramp(double base, double final, int64_t step, int64_t total_steps) {
  TORCH_CHECK_VALUE(total_steps >= 1, "cosine_ramp: total_steps must be >= 1, got ", total_steps);
  const double t =
      std::min(1.0, std::max(0.0, static_cast<double>(step) / static_cast<double>(total_steps)));
  return final + (base - final) * (1.0 + std::cos(kPi * t)) / 2.0;
}

}  // namespace pretext
