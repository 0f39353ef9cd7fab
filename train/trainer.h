// The training loop: batches from the loader, the objective's loss, backward, gradient
// all-reduce, optimizer step, the objective's after-step hook (EMA, queues), metrics,
// checkpoints. It knows objectives only through objectives/objective.h.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "data/loader.h"
#include "distributed/comm.h"
#include "distributed/gradient_reducer.h"
#include "objectives/objective.h"
#include "train/checkpoint.h"
#include "train/optimizer.h"

namespace pretext {

struct TrainerOptions {
  TORCH_ARG(int64_t, epochs) = 100;
  /// Stop (and checkpoint) once this many optimizer steps are done; 0 runs every epoch.
  /// Schedules still span all epochs, so a stopped run resumes onto the same curve.
  TORCH_ARG(int64_t, max_steps) = 0;
  /// Peak learning rate, already scaled by the batch-size rule.
  TORCH_ARG(double, lr) = 0.3;
  TORCH_ARG(double, final_lr) = 0.0;
  TORCH_ARG(double, warmup_epochs) = 10.0;
  /// Clip the gradient norm to this value (0 = off).
  TORCH_ARG(double, grad_clip) = 0.0;
  /// global (one norm over all parameters) | per_parameter (each parameter's own norm, DINO).
  TORCH_ARG(std::string, grad_clip_mode) = "global";
  TORCH_ARG(int64_t, log_every) = 10;
  /// Keep a numbered checkpoint every N epochs besides `last` (0 = only `last`).
  TORCH_ARG(int64_t, checkpoint_every_epochs) = 1;
  TORCH_ARG(std::string, device) = "cpu";
  /// fp32 | bf16 (autocast around the objective's forward and loss; fp32 master weights).
  TORCH_ARG(std::string, precision) = "fp32";
  /// Per-channel normalization applied on the device.
  TORCH_ARG(std::vector<double>, mean) = std::vector<double>{0.5};
  TORCH_ARG(std::vector<double>, std) = std::vector<double>{0.5};
  /// Run directory: metrics.jsonl and checkpoints/ go here.
  TORCH_ARG(std::string, output_dir) = "runs/default";
  /// Resolved config, stored in every checkpoint.
  TORCH_ARG(std::string, config_text) = "";
  /// Gradient all-reduce bucket size in MiB when training on several ranks (DDP: 25).
  TORCH_ARG(double, bucket_mb) = 25.0;
  /// Draw a progress line with images/s and ETA (only when stderr is a terminal).
  TORCH_ARG(bool, progress) = true;
};

struct TrainSummary {
  RunPosition position;
  double final_loss = 0.0;
  double seconds = 0.0;
  double images_per_second = 0.0;
  bool interrupted = false;  ///< stopped by SIGINT/SIGTERM after checkpointing
  std::string last_checkpoint;
};

/// Work that runs alongside training without being part of the objective (online probe,
/// periodic k-NN). Hooks run on every rank; only rank 0 writes what they return.
struct TrainerHooks {
  /// After each optimizer step, with the batch on the device; the returned metrics are logged
  /// with the step's (averaged over ranks like the objective's metrics).
  std::function<std::vector<std::pair<std::string, torch::Tensor>>(const Batch&, const Step&)>
      after_step;
  /// After each finished epoch (`epochs_done` counts them, from 1); the returned values are
  /// written as one metrics record with that epoch.
  std::function<std::vector<std::pair<std::string, double>>(int64_t epochs_done)> after_epoch;
};

class Trainer {
 public:
  Trainer(std::shared_ptr<Objective> objective, Loader& loader, Comm& comm,
          OptimizerOptions optimizer_options, TrainerOptions options);

  void set_hooks(TrainerHooks hooks) { hooks_ = std::move(hooks); }

  /// Continues from a checkpoint written by this trainer.
  void resume(const std::string& checkpoint_path);
  TrainSummary run();

  /// checkpoints/last.ckpt under the run directory.
  std::string last_checkpoint_path() const;
  const RunPosition& position() const { return position_; }

 private:
  void train_step(const HostBatch& host_batch, const Step& step, double lr, double weight_decay,
                  bool log);
  /// optim.weight_decay, or its cosine ramp to optim.weight_decay_final when that is set.
  double weight_decay_at(const Step& step) const;
  void all_reduce_gradients();
  /// At log steps: the loss and metrics become their means over ranks (the global batch's).
  void average_logged_values_over_ranks();
  /// Whether a stop signal ends the run after this step. One rank acts on its own signal at
  /// once. Ranks learn of a signal at different moments, so several ranks decide together,
  /// only at `sync_point`s (logged steps, epoch ends): each stops at the first one at which
  /// any rank was signalled, all checkpoint the same step and none is left in a collective.
  bool stop_agreed(bool sync_point);
  void save(const std::string& path);

  std::shared_ptr<Objective> objective_;
  TrainerHooks hooks_;
  Loader& loader_;
  Comm& comm_;
  TrainerOptions options_;
  torch::Device device_;
  bool bf16_ = false;  ///< autocast the objective's forward and loss to bf16
  std::unique_ptr<Optimizer> optimizer_;
  /// Bucketed, overlapped gradient averaging; null on a single rank.
  std::unique_ptr<GradientReducer> gradient_reducer_;
  RunPosition position_;
  int64_t steps_per_epoch_ = 0;
  int64_t total_steps_ = 0;
  // The latest step's loss and metrics, read at log steps.
  std::vector<std::pair<std::string, torch::Tensor>> last_metrics_;
  torch::Tensor last_loss_;
};

/// Trainable (name, parameter) pairs of a module, in registration order.
NamedTensors trainable_parameters(const torch::nn::Module& module);

}  // namespace pretext
