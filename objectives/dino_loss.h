// DINO's self-distillation loss (Caron et al. arXiv:2104.14294, eq. 3 and Algorithm 1; official
// main_dino.py DINOLoss): cross-entropy between the centered, sharpened teacher distribution of
// each global crop and the student distribution of every other crop, averaged over all
// (teacher global crop, student crop) pairs that are not the same view.
#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace pretext {

struct DinoLossOutput {
  torch::Tensor loss;             ///< 0-dim float32
  torch::Tensor teacher_entropy;  ///< 0-dim, detached: mean entropy of the teacher targets
  torch::Tensor batch_center;     ///< [1, K] detached mean teacher output of this batch
};

/// student: [num_crops * B, K] student logits, crops in view order (the first num_global are
/// the global crops); teacher: [num_global * B, K] teacher logits of the global crops;
/// center: [1, K]. Teacher probabilities are softmax((teacher - center) / teacher_temp),
/// student log-probabilities log_softmax(student / student_temp). batch_center is the mean
/// of the raw teacher logits over this process's rows (the caller averages it over ranks).
DinoLossOutput dino_loss(const torch::Tensor& student, const torch::Tensor& teacher,
                         const torch::Tensor& center, int64_t num_global, double student_temp,
                         double teacher_temp);

/// DINO's teacher temperature for `epoch`: linear from warmup_temp at epoch 0 to temp at epoch
/// warmup_epochs - 1 (numpy linspace over warmup_epochs points), then temp.
double dino_teacher_temp(double warmup_temp, double temp, int64_t warmup_epochs, int64_t epoch);

}  // namespace pretext
