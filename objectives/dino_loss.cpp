// DINO loss and teacher-temperature schedule.
#include "objectives/dino_loss.h"

namespace pretext {

DinoLossOutput dino_loss(const torch::Tensor& student, const torch::Tensor& teacher,
                         const torch::Tensor& center, int64_t num_global, double student_temp,
                         double teacher_temp) {
  TORCH_CHECK(num_global >= 1, "dino_loss: num_global must be >= 1, got ", num_global);
  TORCH_CHECK(student_temp > 0.0 && teacher_temp > 0.0,
              "dino_loss: temperatures must be > 0, got student ", student_temp, " and teacher ",
              teacher_temp);
  TORCH_CHECK(teacher.dim() == 2 && teacher.size(0) % num_global == 0,
              "dino_loss: teacher must be [num_global * B, K] with num_global ", num_global,
              ", got ", teacher.sizes());
  const int64_t b = teacher.size(0) / num_global;
  TORCH_CHECK(student.dim() == 2 && student.size(1) == teacher.size(1) && b > 0 &&
                  student.size(0) % b == 0 && student.size(0) / b >= num_global,
              "dino_loss: student must be [num_crops * ", b, ", ", teacher.size(1),
              "] with num_crops >= ", num_global, ", got ", student.sizes());
  TORCH_CHECK(center.sizes() == torch::IntArrayRef({1, teacher.size(1)}),
              "dino_loss: center must be [1, ", teacher.size(1), "], got ", center.sizes());
  const int64_t num_crops = student.size(0) / b;
  const auto log_p_student =
      torch::log_softmax(student.to(torch::kFloat) / student_temp, -1).chunk(num_crops);
  const auto teacher_f = teacher.detach().to(torch::kFloat);
  const auto p_all = torch::softmax((teacher_f - center.to(torch::kFloat)) / teacher_temp, -1);
  const auto p_teacher = p_all.chunk(num_global);
  torch::Tensor total = torch::zeros({}, student.options().dtype(torch::kFloat));
  int64_t terms = 0;
  for (int64_t t = 0; t < num_global; ++t) {
    for (int64_t s = 0; s < num_crops; ++s) {
      if (s == t) continue;  // a crop is never distilled into itself
      total = total + (-p_teacher[t] * log_p_student[s]).sum(-1).mean();
      ++terms;
    }
  }
  TORCH_CHECK(terms > 0, "dino_loss: need at least two crops, got ", num_crops);
  DinoLossOutput out;
  out.loss = total / static_cast<double>(terms);
  out.teacher_entropy = (-p_all * torch::log(p_all.clamp_min(1e-12))).sum(-1).mean();
  out.batch_center = teacher_f.mean(0, /*keepdim=*/true);
  return out;
}

double dino_teacher_temp(double warmup_temp, double temp, int64_t warmup_epochs, int64_t epoch) {
  if (epoch >= warmup_epochs) return temp;
  if (warmup_epochs == 1) return warmup_temp;
  return warmup_temp +
         (temp - warmup_temp) * static_cast<double>(epoch) / static_cast<double>(warmup_epochs - 1);
}

}  // namespace pretext
