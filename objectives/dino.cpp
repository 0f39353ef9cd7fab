// DINO objective.
#include "objectives/dino.h"

#include "objectives/dino_loss.h"
#include "objectives/embedding_stats.h"
#include "objectives/momentum.h"
#include "objectives/view_groups.h"

namespace pretext {

OptionBindings bind_options(DinoOptions& options) {
  return {
      {"out_dim", "prototypes in the head's last layer (paper: 65536)", &options.out_dim()},
      {"hidden_dim", "head hidden width (paper: 2048)", &options.hidden_dim()},
      {"bottleneck_dim", "L2-normalized bottleneck width (paper: 256)", &options.bottleneck_dim()},
      {"use_bn_in_head", "BatchNorm in the head's hidden layers", &options.use_bn_in_head()},
      {"norm_last_layer", "unit-norm prototypes (weight_g fixed at 1)", &options.norm_last_layer()},
      {"student_temp", "student temperature (paper: 0.1)", &options.student_temp()},
      {"teacher_temp", "teacher temperature after warm-up (0.04 to 0.07)", &options.teacher_temp()},
      {"warmup_teacher_temp", "teacher temperature at epoch 0 (paper: 0.04)",
       &options.warmup_teacher_temp()},
      {"warmup_teacher_temp_epochs", "epochs of linear teacher-temperature warm-up (30)",
       &options.warmup_teacher_temp_epochs()},
      {"center_momentum", "EMA coefficient of the teacher center (0.9)",
       &options.center_momentum()},
      {"momentum_base", "teacher EMA coefficient at the first step (0.996)",
       &options.momentum_base()},
      {"momentum_final", "teacher EMA coefficient at the last step, cosine ramp (1.0)",
       &options.momentum_final()},
      {"freeze_last_layer_epochs", "epochs the head's last layer is not updated (1)",
       &options.freeze_last_layer_epochs()},
      {"local_crops_number", "local crops per image besides the 2 global ones (8)",
       &options.local_crops_number()},
      {"local_crops_size", "local crop side in pixels (96 at 224 px)", &options.local_crops_size()},
      {"local_crops_scale_min", "local crop min area (0.05)", &options.local_crops_scale_min()},
      {"local_crops_scale_max", "local crop max area (0.4)", &options.local_crops_scale_max()},
  };
}

DinoObjective::DinoObjective(const ObjectiveContext& context, DinoOptions options)
    : options_(std::move(options)), image_size_(context.image_size), comm_(context.comm) {
  const auto& o = options_;
  TORCH_CHECK_VALUE(
      o.student_temp() > 0.0 && o.teacher_temp() > 0.0 && o.warmup_teacher_temp() > 0.0,
      "dino: temperatures must be > 0, got student_temp ", o.student_temp(), ", teacher_temp ",
      o.teacher_temp(), ", warmup_teacher_temp ", o.warmup_teacher_temp());
  TORCH_CHECK_VALUE(o.warmup_teacher_temp_epochs() >= 0 && o.freeze_last_layer_epochs() >= 0,
                    "dino: warmup_teacher_temp_epochs and freeze_last_layer_epochs must be >= 0, "
                    "got ",
                    o.warmup_teacher_temp_epochs(), " and ", o.freeze_last_layer_epochs());
  TORCH_CHECK_VALUE(0.0 <= o.center_momentum() && o.center_momentum() < 1.0,
                    "dino: center_momentum must be in [0, 1), got ", o.center_momentum());
  TORCH_CHECK_VALUE(0.0 <= o.momentum_base() && o.momentum_base() <= o.momentum_final() &&
                        o.momentum_final() <= 1.0,
                    "dino: need 0 <= momentum_base <= momentum_final <= 1, got ", o.momentum_base(),
                    " and ", o.momentum_final());
  TORCH_CHECK_VALUE(o.local_crops_number() >= 0, "dino: local_crops_number must be >= 0, got ",
                    o.local_crops_number());
  TORCH_CHECK_VALUE(o.local_crops_number() == 0 ||
                        (o.local_crops_size() >= 1 && 0.0 < o.local_crops_scale_min() &&
                         o.local_crops_scale_min() <= o.local_crops_scale_max() &&
                         o.local_crops_scale_max() <= 1.0),
                    "dino: need local_crops_size >= 1 and 0 < local_crops_scale_min <= "
                    "local_crops_scale_max <= 1, got ",
                    o.local_crops_size(), ", ", o.local_crops_scale_min(), ", ",
                    o.local_crops_scale_max());
  student_ = register_module("student", context.make_backbone());
  const auto head = DinoHeadOptions(student_->feature_dim(), o.out_dim())
                        .hidden_dim(o.hidden_dim())
                        .bottleneck_dim(o.bottleneck_dim())
                        .use_bn(o.use_bn_in_head())
                        .norm_last_layer(o.norm_last_layer());
  student_head_ = register_module("student_head", DinoHead(head));
  teacher_ = register_module("teacher", context.make_backbone());
  teacher_head_ = register_module("teacher_head", DinoHead(head));
  copy_parameters(*student_, *teacher_);
  copy_parameters(*student_head_, *teacher_head_);
  freeze(*teacher_);
  freeze(*teacher_head_);
  center_ = register_buffer("center", torch::zeros({1, o.out_dim()}));
}

ViewSpec DinoObjective::view_spec() const {
  ViewSpec spec = ViewSpec::two_views(image_size_);
  spec.num_local = options_.local_crops_number();
  spec.local_size = options_.local_crops_size();
  spec.local_scale_min = options_.local_crops_scale_min();
  spec.local_scale_max = options_.local_crops_scale_max();
  return spec;
}

double DinoObjective::teacher_temp(int64_t epoch) const {
  return dino_teacher_temp(options_.warmup_teacher_temp(), options_.teacher_temp(),
                           options_.warmup_teacher_temp_epochs(), epoch);
}

torch::Tensor DinoObjective::features_by_resolution(Backbone& backbone,
                                                    const std::vector<torch::Tensor>& views,
                                                    size_t count) {
  // As the official MultiCropWrapper: the crops of one size share a forward pass, so BatchNorm
  // sees them together and the backbone runs once per resolution.
  std::vector<torch::Tensor> features;
  for (const auto& group : concat_size_groups(views, count)) {
    features.push_back(backbone.forward(group));
  }
  return torch::cat(features);
}

LossOutput DinoObjective::compute_loss(const Batch& batch, const Step& step) {
  const size_t num_global = 2;
  const size_t num_crops = num_global + static_cast<size_t>(options_.local_crops_number());
  TORCH_CHECK(batch.views.size() == num_crops, "dino: expected ", num_crops, " views (2 global + ",
              options_.local_crops_number(), " local), got ", batch.views.size());
  const auto student_features = features_by_resolution(*student_, batch.views, num_crops);
  const auto student_out = student_head_(student_features);  // [num_crops * B, out_dim]
  torch::Tensor teacher_out;
  {
    torch::NoGradGuard no_grad;
    teacher_out = teacher_head_(features_by_resolution(*teacher_, batch.views, num_global));
  }
  const double temp = teacher_temp(step.epoch);
  const auto result = dino_loss(student_out, teacher_out, center_, static_cast<int64_t>(num_global),
                                options_.student_temp(), temp);
  pending_center_ = result.batch_center;
  LossOutput out{result.loss,
                 {{"dino/teacher_temp", torch::tensor(temp)},
                  {"dino/teacher_entropy", result.teacher_entropy},
                  {"dino/tau", torch::tensor(momentum(step))}}};
  if (step.log_metrics) {
    append_embedding_stats(student_features.narrow(0, 0, batch.views[0].size(0)).detach(),
                           out.metrics);
  }
  return out;
}

void DinoObjective::before_optimizer_step(const Step& step) {
  if (step.epoch >= options_.freeze_last_layer_epochs()) return;
  for (auto p : student_head_->last_layer_parameters()) {
    if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
  }
}

std::vector<MomentumPair> DinoObjective::momentum_pairs() {
  return {{student_.get(), teacher_.get()}, {student_head_.ptr().get(), teacher_head_.ptr().get()}};
}

double DinoObjective::momentum(const Step& step) const {
  return cosine_schedule(options_.momentum_base(), options_.momentum_final(), step);
}

void DinoObjective::update_state(const Step& /*step*/) {
  if (!pending_center_.defined()) return;
  torch::NoGradGuard no_grad;
  torch::Tensor batch_center = pending_center_;
  if (comm_ != nullptr && comm_->world_size() > 1) {
    // Equal batch per rank: the global mean is the mean of the per-rank means.
    std::vector<torch::Tensor> sum{batch_center.clone()};
    comm_->all_reduce_sum(sum);
    batch_center = sum[0] / static_cast<double>(comm_->world_size());
  }
  center_.mul_(options_.center_momentum())
      .add_(batch_center.to(center_.dtype()), 1.0 - options_.center_momentum());
  pending_center_ = torch::Tensor();
}

}  // namespace pretext
