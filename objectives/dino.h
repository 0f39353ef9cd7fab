// DINO, self-distillation with no labels (Caron et al. arXiv:2104.14294): a student backbone +
// DINO head trained to match an EMA teacher's centered, sharpened output across multi-crop
// views; the teacher sees only the global crops. Structure follows the official main_dino.py
// (MultiCropWrapper forwarding each crop resolution as one batch, DINOLoss with its EMA center,
// teacher-temperature warm-up, cancel_gradients_last_layer) and solo-learn methods/dino.py.
// Gradient clipping per parameter and the weight-decay schedule are trainer options
// (train.grad_clip_mode = per_parameter, optim.weight_decay_final).
// BatchNorm (ResNet backbones, use_bn_in_head) is SyncBatchNorm with dist.sync_batch_norm.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/dino_head.h"
#include "objectives/objective.h"
#include "objectives/option_binding.h"
#include "objectives/registry.h"

namespace pretext {

struct DinoOptions {
  /// Prototypes in the head's last layer (paper: 65536).
  TORCH_ARG(int64_t, out_dim) = 65536;
  TORCH_ARG(int64_t, hidden_dim) = 2048;
  TORCH_ARG(int64_t, bottleneck_dim) = 256;
  /// BatchNorm in the head's hidden layers (official: off).
  TORCH_ARG(bool, use_bn_in_head) = false;
  /// Unit-norm prototypes, weight_g fixed (official: true).
  TORCH_ARG(bool, norm_last_layer) = true;
  TORCH_ARG(double, student_temp) = 0.1;
  /// Teacher temperature after warm-up (official README ViT-S/16 runs: 0.07).
  TORCH_ARG(double, teacher_temp) = 0.07;
  /// Teacher temperature at epoch 0 (official: 0.04).
  TORCH_ARG(double, warmup_teacher_temp) = 0.04;
  /// Epochs of the linear teacher-temperature warm-up (official README: 30).
  TORCH_ARG(int64_t, warmup_teacher_temp_epochs) = 30;
  /// EMA coefficient of the center (official: 0.9).
  TORCH_ARG(double, center_momentum) = 0.9;
  /// Teacher EMA coefficient at step 0, cosine to momentum_final (official: 0.996 -> 1).
  TORCH_ARG(double, momentum_base) = 0.996;
  TORCH_ARG(double, momentum_final) = 1.0;
  /// Epochs during which the head's last layer gets no update (official: 1).
  TORCH_ARG(int64_t, freeze_last_layer_epochs) = 1;
  /// Local crops per image besides the 2 global ones (official: 8).
  TORCH_ARG(int64_t, local_crops_number) = 8;
  /// Side of the local crops in pixels (official: 96 for 224 px global crops).
  TORCH_ARG(int64_t, local_crops_size) = 96;
  /// Area range of the local crops (official: 0.05 to 0.4).
  TORCH_ARG(double, local_crops_scale_min) = 0.05;
  TORCH_ARG(double, local_crops_scale_max) = 0.4;
};

OptionBindings bind_options(DinoOptions& options);

class DinoObjective final : public Objective {
 public:
  DinoObjective(const ObjectiveContext& context, DinoOptions options);

  LossOutput compute_loss(const Batch& batch, const Step& step) override;
  /// Drops the gradient of the student head's last layer during the first
  /// freeze_last_layer_epochs epochs, so the optimizer leaves it untouched.
  void before_optimizer_step(const Step& step) override;
  std::vector<MomentumPair> momentum_pairs() override;
  double momentum(const Step& step) const override;
  Backbone& encoder() override { return *student_; }
  /// DINO evaluates the teacher.
  Backbone& eval_encoder() override { return *teacher_; }
  ViewSpec view_spec() const override;
  std::string augment_recipe() const override { return "dino"; }

  double teacher_temp(int64_t epoch) const;
  const torch::Tensor& center() const { return center_; }
  DinoHead& student_head() { return student_head_; }
  DinoHead& teacher_head() { return teacher_head_; }

 protected:
  /// center = m * center + (1 - m) * mean teacher output of the last batch (over all ranks).
  void update_state(const Step& step) override;

 private:
  /// Backbone features of every view, forwarding each run of same-size views as one batch.
  torch::Tensor features_by_resolution(Backbone& backbone, const std::vector<torch::Tensor>& views,
                                       size_t count);

  DinoOptions options_;
  int64_t image_size_;
  Comm* comm_;
  std::shared_ptr<Backbone> student_;
  DinoHead student_head_{nullptr};
  std::shared_ptr<Backbone> teacher_;
  DinoHead teacher_head_{nullptr};
  torch::Tensor center_;          // [1, out_dim]
  torch::Tensor pending_center_;  // batch center of the last compute_loss
};

}  // namespace pretext
