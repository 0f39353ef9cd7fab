// The training loop.
#include "train/trainer.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "data/unreadable_report.h"
#include "train/gradient_clipping.h"
#include "train/metrics_log.h"
#include "train/mixed_precision.h"
#include "train/schedule.h"
#include "train/stop_signal.h"

namespace pretext {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string format_duration(double seconds) {
  const auto total = static_cast<int64_t>(std::max(0.0, seconds));
  char text[32];
  if (total >= 3600) {
    std::snprintf(text, sizeof(text), "%ldh%02ldm", static_cast<long>(total / 3600),
                  static_cast<long>(total % 3600 / 60));
  } else {
    std::snprintf(text, sizeof(text), "%ldm%02lds", static_cast<long>(total / 60),
                  static_cast<long>(total % 60));
  }
  return text;
}

}  // namespace

NamedTensors trainable_parameters(const torch::nn::Module& module) {
  NamedTensors params;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    if (item.value().requires_grad()) params.emplace_back(item.key(), item.value());
  }
  return params;
}

Trainer::Trainer(std::shared_ptr<Objective> objective, Loader& loader, Comm& comm,
                 OptimizerOptions optimizer_options, TrainerOptions options)
    : objective_(std::move(objective)),
      loader_(loader),
      comm_(comm),
      options_(std::move(options)),
      device_(options_.device()),
      bf16_(uses_bf16(options_.precision())) {
  TORCH_CHECK_VALUE(options_.epochs() >= 1, "train.epochs must be >= 1, got ", options_.epochs());
  check_grad_clip_mode(options_.grad_clip_mode());
  TORCH_CHECK_VALUE(options_.log_every() >= 1, "train.log_every must be >= 1, got ",
                    options_.log_every());
  steps_per_epoch_ = loader_.batches_per_epoch();
  TORCH_CHECK_VALUE(steps_per_epoch_ >= 1,
                    "train: the dataset yields no full batch per epoch; lower train.batch_size");
  total_steps_ = steps_per_epoch_ * options_.epochs();
  objective_->to(device_);
  optimizer_ = std::make_unique<Optimizer>(trainable_parameters(*objective_), optimizer_options);
  // Every rank starts from rank 0's weights.
  if (comm_.world_size() > 1) {
    std::vector<torch::Tensor> state;
    for (auto& p : objective_->parameters()) state.push_back(p.detach());
    for (auto& b : objective_->buffers()) state.push_back(b);
    comm_.broadcast(state, 0);
    TORCH_CHECK_VALUE(options_.bucket_mb() > 0.0, "dist.bucket_mb must be > 0, got ",
                      options_.bucket_mb());
    std::vector<torch::Tensor> params;
    for (const auto& named : trainable_parameters(*objective_)) params.push_back(named.second);
    gradient_reducer_ = std::make_unique<GradientReducer>(
        std::move(params), comm_, static_cast<int64_t>(options_.bucket_mb() * 1024 * 1024));
  }
}

std::string Trainer::last_checkpoint_path() const {
  return (std::filesystem::path(options_.output_dir()) / "checkpoints" / "last.ckpt").string();
}

void Trainer::resume(const std::string& checkpoint_path) {
  position_ = load_checkpoint(checkpoint_path, *objective_, *optimizer_);
  TORCH_CHECK(position_.batch_in_epoch <= steps_per_epoch_, "checkpoint ", checkpoint_path,
              " stopped at batch ", position_.batch_in_epoch, " of an epoch that now has only ",
              steps_per_epoch_, " batches; the data or batch size changed");
}

void Trainer::save(const std::string& path) {
  if (!comm_.is_main()) return;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  save_checkpoint(path, *objective_, *optimizer_, position_, options_.config_text());
}

double Trainer::weight_decay_at(const Step& step) const {
  const OptimizerOptions& o = optimizer_->options();
  if (o.weight_decay_final() < 0.0) return o.weight_decay();
  return cosine_ramp(o.weight_decay(), o.weight_decay_final(), step.index, step.total);
}

void Trainer::all_reduce_gradients() {
  // Buckets already started during backward; this waits and writes the averages back.
  if (gradient_reducer_) gradient_reducer_->finish();
}

void Trainer::average_logged_values_over_ranks() {
  if (comm_.world_size() == 1) return;
  // One collective for the loss and every metric; every rank logs at the same steps.
  std::vector<torch::Tensor> values = {last_loss_.to(torch::kFloat).reshape({1})};
  for (const auto& metric : last_metrics_) {
    values.push_back(metric.second.to(torch::kFloat).reshape({1}));
  }
  std::vector<torch::Tensor> packed = {torch::cat(values)};
  comm_.all_reduce_sum(packed);
  const auto mean = packed[0] / static_cast<double>(comm_.world_size());
  last_loss_ = mean[0];
  for (size_t i = 0; i < last_metrics_.size(); ++i) last_metrics_[i].second = mean[i + 1];
}

void Trainer::train_step(const HostBatch& host_batch, const Step& step, double lr,
                         double weight_decay, bool log) {
  Batch batch;
  for (const auto& view : host_batch.views) {
    batch.views.push_back(to_normalized_float(view, options_.mean(), options_.std(), device_));
  }
  batch.labels = host_batch.labels.to(device_);
  batch.indices = host_batch.indices.to(device_);

  objective_->train();
  optimizer_->zero_grad();
  LossOutput out;
  {
    AutocastScope autocast(device_, bf16_);
    out = objective_->compute_loss(batch, step);
  }
  // Checking finiteness syncs with the device, so only at log steps; a NaN then stops the run
  // within log_every steps, before any checkpoint is overwritten by garbage.
  if (log) {
    const double value = out.loss.item<double>();
    TORCH_CHECK(std::isfinite(value), "train: loss is ", value, " at step ", step.index, " (epoch ",
                step.epoch, "); lower optim.lr or check the data");
  }
  if (gradient_reducer_) gradient_reducer_->prepare();
  out.loss.backward();
  all_reduce_gradients();
  objective_->before_optimizer_step(step);
  clip_gradients(objective_->parameters(), options_.grad_clip(), options_.grad_clip_mode());
  optimizer_->step(lr, weight_decay);
  objective_->after_optimizer_step(step);
  last_loss_ = out.loss.detach();
  last_metrics_ = std::move(out.metrics);
  if (hooks_.after_step) {
    for (auto& metric : hooks_.after_step(batch, step)) last_metrics_.push_back(std::move(metric));
  }
}

bool Trainer::stop_agreed(bool sync_point) {
  if (comm_.world_size() == 1) return stop_requested();
  if (!sync_point) return false;
  std::vector<torch::Tensor> flag = {
      torch::full({1}, stop_requested() ? 1.0f : 0.0f, torch::TensorOptions().device(device_))};
  comm_.all_reduce_sum(flag);
  return flag[0].item<float>() > 0.0f;
}

TrainSummary Trainer::run() {
  TrainSummary summary;
  std::unique_ptr<MetricsLog> log;
  if (comm_.is_main()) {
    std::filesystem::create_directories(options_.output_dir());
    log = std::make_unique<MetricsLog>(
        (std::filesystem::path(options_.output_dir()) / "metrics.jsonl").string(), position_.step);
  }
  const bool draw_progress = options_.progress() && comm_.is_main() && isatty(STDERR_FILENO);
  const int64_t warmup_steps = std::min<int64_t>(
      total_steps_, static_cast<int64_t>(std::llround(options_.warmup_epochs() *
                                                      static_cast<double>(steps_per_epoch_))));
  const int64_t stop_at =
      options_.max_steps() > 0 ? std::min(options_.max_steps(), total_steps_) : total_steps_;
  const auto run_start = Clock::now();
  auto interval_start = Clock::now();
  int64_t interval_images = 0;
  int64_t total_images = 0;
  const int64_t first_step = position_.step;
  // data.on_error=skip: unreadable files go to the run directory as they are met.
  UnreadableReport unreadable(unreadable_report_path(options_.output_dir(), comm_.rank()));
  bool stopping = false;  // a stop signal was agreed on mid-epoch

  while (position_.step < stop_at && position_.epoch < options_.epochs()) {
    loader_.start_epoch(position_.epoch, position_.batch_in_epoch);
    while (position_.step < stop_at) {
      std::optional<HostBatch> host_batch = loader_.next();
      if (!host_batch) break;
      Step step;
      step.index = position_.step;
      step.total = total_steps_;
      step.epoch = position_.epoch;
      const double lr = warmup_cosine_lr(options_.lr(), options_.final_lr(), step.index,
                                         warmup_steps, total_steps_);
      const bool log_now = (step.index + 1) % options_.log_every() == 0 ||
                           step.index + 1 == stop_at || step.index == first_step;
      step.log_metrics = log_now;
      const double weight_decay = weight_decay_at(step);
      train_step(*host_batch, step, lr, weight_decay, log_now);
      ++position_.step;
      ++position_.batch_in_epoch;
      interval_images += host_batch->views.at(0).size(0) * comm_.world_size();
      total_images += host_batch->views.at(0).size(0) * comm_.world_size();

      if (log_now) {
        average_logged_values_over_ranks();
        const double elapsed = seconds_since(interval_start);
        const double images_per_s = elapsed > 0 ? interval_images / elapsed : 0.0;
        summary.final_loss = last_loss_.item<double>();
        if (log) {
          JsonObject record;
          record.add("step", position_.step)
              .add("epoch", step.epoch)
              .add("loss", summary.final_loss)
              .add("lr", lr)
              .add("weight_decay", weight_decay)
              .add("images_per_s", images_per_s)
              .add("data/replaced", loader_.replaced_count());
          for (const auto& [name, value] : last_metrics_) record.add(name, value.item<double>());
          log->write(record);
        }
        if (draw_progress) {
          const double done_s = seconds_since(run_start);
          const double rate = (position_.step - first_step) / std::max(done_s, 1e-9);
          const double eta = (stop_at - position_.step) / std::max(rate, 1e-9);
          std::fprintf(stderr,
                       "\repoch %ld/%ld  step %ld/%ld  loss %.4f  lr %.4g  %.0f img/s  ETA %s   ",
                       static_cast<long>(step.epoch + 1), static_cast<long>(options_.epochs()),
                       static_cast<long>(position_.step), static_cast<long>(stop_at),
                       summary.final_loss, lr, images_per_s, format_duration(eta).c_str());
          std::fflush(stderr);
        }
        unreadable.update(loader_);
        interval_start = Clock::now();
        interval_images = 0;
      }
      if (stop_agreed(/*sync_point=*/log_now)) {
        stopping = true;
        break;
      }
    }
    if (position_.batch_in_epoch >= steps_per_epoch_) {
      ++position_.epoch;
      position_.batch_in_epoch = 0;
      const auto epoch_end_work = Clock::now();
      const bool numbered = options_.checkpoint_every_epochs() > 0 &&
                            position_.epoch % options_.checkpoint_every_epochs() == 0;
      if (numbered) {
        char name[32];
        std::snprintf(name, sizeof(name), "epoch_%04ld.ckpt", static_cast<long>(position_.epoch));
        save((std::filesystem::path(options_.output_dir()) / "checkpoints" / name).string());
      }
      save(last_checkpoint_path());
      // After the checkpoint, so a failing evaluation loses no training.
      if (hooks_.after_epoch) {
        const auto values = hooks_.after_epoch(position_.epoch);
        if (log && !values.empty()) {
          JsonObject record;
          record.add("step", position_.step).add("epoch", position_.epoch - 1);
          for (const auto& [name, value] : values) record.add(name, value);
          log->write(record);
        }
      }
      // Checkpointing and evaluation are not part of the interval's images/s.
      interval_start += Clock::now() - epoch_end_work;
    }
    if (stopping || stop_agreed(/*sync_point=*/true)) {
      summary.interrupted = true;
      break;
    }
  }
  // A stop mid-epoch (max_steps or a signal) still leaves a checkpoint to resume from.
  if (position_.batch_in_epoch != 0 || summary.interrupted) save(last_checkpoint_path());
  if (draw_progress) std::fprintf(stderr, "\n");
  unreadable.update(loader_);

  if (last_loss_.defined()) summary.final_loss = last_loss_.item<double>();
  summary.position = position_;
  summary.seconds = seconds_since(run_start);
  summary.images_per_second =
      summary.seconds > 0 ? static_cast<double>(total_images) / summary.seconds : 0.0;
  summary.last_checkpoint = last_checkpoint_path();
  return summary;
}

}  // namespace pretext
