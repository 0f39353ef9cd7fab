// RunConfig -> objective, loaders.
#include "launch/components.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "launch/training_hooks.h"
#include "models/state_dict.h"
#include "train/checkpoint.h"
#include "train/mixed_precision.h"
#include "train/tensor_file.h"
#include "train/view_plan_builder.h"

namespace pretext {

ConfigSources dataset_argument_sources(const std::string& argument) {
  ConfigSources sources;
  std::error_code error;
  if (std::filesystem::is_directory(argument, error)) {
    // root/train/<class>/..., root/val or root/test, or a flat folder of images.
    sources.overrides = {"data.dataset=image_folder", "data.root=" + argument};
  } else if (std::filesystem::is_regular_file(argument, error)) {
    sources.texts.emplace_back(argument, read_config_file(argument));
  } else {
    TORCH_CHECK_VALUE(argument.find('/') == std::string::npos, "'", argument,
                      "' does not exist (expected a folder of images, a config file or a "
                      "dataset name)");
    sources.overrides = {"data.dataset=" + argument};
  }
  return sources;
}

void apply_runtime_settings(const RunConfig& config) {
  TORCH_CHECK_VALUE(config.threads >= 0, "train.threads must be >= 0, got ", config.threads);
  // 0 follows OMP_NUM_THREADS where it is set (as PyTorch does), else every core.
  const char* omp_threads = std::getenv("OMP_NUM_THREADS");
  const int64_t from_env = omp_threads != nullptr ? std::atoll(omp_threads) : 0;
  const int64_t threads =
      config.threads > 0
          ? config.threads
          : (from_env > 0 ? from_env : std::max<int64_t>(1, std::thread::hardware_concurrency()));
  torch::set_num_threads(static_cast<int>(threads));
  torch::manual_seed(static_cast<uint64_t>(config.seed));
  if (config.device().is_cuda()) set_cuda_tf32(config.tf32);
}

std::shared_ptr<Objective> build_objective(const RunConfig& config, int64_t in_channels,
                                           Comm& comm) {
  BackboneOptions backbone = config.backbone;
  // The position-embedding grid of a ViT follows the configured crop size.
  backbone.in_channels(in_channels).image_size(config.image_size);
  ObjectiveContext context;
  context.comm = &comm;
  context.image_size = config.image_size;
  context.make_backbone = [backbone] { return make_backbone(backbone); };
  return config.objective_spec().build(context);
}

std::unique_ptr<Loader> build_train_loader(const RunConfig& config,
                                           std::shared_ptr<const Dataset> dataset,
                                           const Objective& objective, Comm& comm) {
  TORCH_CHECK_VALUE(config.batch_size % comm.world_size() == 0, "train.batch_size ",
                    config.batch_size, " does not split evenly over ", comm.world_size(), " ranks");
  const std::string recipe =
      config.augment_recipe == "auto" ? objective.augment_recipe() : config.augment_recipe;
  auto plan = std::make_shared<const ViewPlan>(
      make_view_plan(objective.view_spec(), recipe, config.augment));
  ShardedSampler sampler(dataset->size(), static_cast<uint64_t>(config.seed), /*shuffle=*/true,
                         comm.rank(), comm.world_size(), /*drop_last=*/true);
  LoaderOptions options = config.loader;
  options.batch_size(config.batch_size / comm.world_size())
      .drop_last(true)
      .seed(static_cast<uint64_t>(config.seed));
  return std::make_unique<Loader>(std::move(dataset), std::move(plan), sampler, options);
}

std::unique_ptr<Loader> build_eval_loader(const RunConfig& config,
                                          std::shared_ptr<const Dataset> dataset, Comm& comm) {
  auto plan = std::make_shared<const ViewPlan>(ViewPlan::evaluation(config.image_size));
  ShardedSampler sampler(dataset->size(), 0, /*shuffle=*/false, comm.rank(), comm.world_size(),
                         /*drop_last=*/false);
  LoaderOptions options = config.loader;
  options.batch_size(config.eval_batch_size).drop_last(false).seed(0);
  return std::make_unique<Loader>(std::move(dataset), std::move(plan), sampler, options);
}

namespace {

/// A checkpoint trained with eval.online_probe holds the probe's state: rebuild the probe so
/// the strict load finds every entry (its class count is read off the stored weight).
void attach_stored_online_probe(Objective& objective, const RunConfig& config,
                                const TensorFile& file) {
  if (!file.has("model/online_probe.weight")) return;
  RunConfig with_probe = config;
  with_probe.online_probe.enabled(true);
  attach_online_probe(objective, with_probe, file.get("model/online_probe.weight").size(0));
}

}  // namespace

CheckpointRun load_checkpoint_run(const std::string& checkpoint, const std::string& config_path,
                                  const std::vector<std::string>& overrides, Comm& comm) {
  TORCH_CHECK_VALUE(std::filesystem::exists(checkpoint), "--checkpoint: '", checkpoint,
                    "' does not exist");
  const TensorFile file = read_tensor_file(checkpoint);
  CheckpointRun run;
  ConfigSources sources;
  sources.texts.emplace_back(checkpoint, checkpoint_config_text(file));
  if (!config_path.empty()) sources.texts.emplace_back(config_path, read_config_file(config_path));
  sources.overrides = overrides;
  apply_config(run.config, sources);
  apply_runtime_settings(run.config);
  run.train_set = open_dataset(run.config.dataset, "train");
  run.objective = build_objective(run.config, run.train_set->channels(), comm);
  attach_stored_online_probe(*run.objective, run.config, file);
  load_module_state(*run.objective, "model/", file, checkpoint);
  run.objective->to(run.config.device());
  return run;
}

std::string run_dir_of_checkpoint(const std::string& checkpoint) {
  // Checkpoints live in <run>/checkpoints/; reports go beside them in <run>.
  std::filesystem::path folder = std::filesystem::path(checkpoint).parent_path();
  if (folder.filename() == "checkpoints") folder = folder.parent_path();
  return folder.string();
}

namespace {

/// The checkpoint's input channels: dim 1 of the encoder's first 4-D (convolution) weight.
int64_t stored_in_channels(Objective& objective, const TensorFile& file, int64_t fallback) {
  torch::Tensor first_conv;
  for (const auto& p : objective.encoder().parameters()) {
    if (p.dim() == 4) {
      first_conv = p;
      break;
    }
  }
  if (!first_conv.defined()) return fallback;
  for (const auto& item : objective.named_parameters()) {
    if (item.value().is_same(first_conv) && file.has("model/" + item.key())) {
      const torch::Tensor& stored = file.get("model/" + item.key());
      return stored.dim() == 4 ? stored.size(1) : fallback;
    }
  }
  return fallback;
}

}  // namespace

namespace {

/// load_checkpoint_weights without touching this process's seed and threads.
CheckpointRun rebuild_checkpoint_weights(const std::string& checkpoint,
                                         const std::vector<std::string>& overrides, Comm& comm,
                                         bool runtime_settings) {
  TORCH_CHECK_VALUE(std::filesystem::exists(checkpoint), "checkpoint '", checkpoint,
                    "' does not exist");
  const TensorFile file = read_tensor_file(checkpoint);
  CheckpointRun run;
  ConfigSources sources;
  sources.texts.emplace_back(checkpoint, checkpoint_config_text(file));
  sources.overrides = overrides;
  apply_config(run.config, sources);
  if (runtime_settings) apply_runtime_settings(run.config);
  run.objective = build_objective(run.config, 3, comm);
  const int64_t channels = stored_in_channels(*run.objective, file, 3);
  if (channels != 3) run.objective = build_objective(run.config, channels, comm);
  attach_stored_online_probe(*run.objective, run.config, file);
  load_module_state(*run.objective, "model/", file, checkpoint);
  return run;
}

}  // namespace

CheckpointRun load_checkpoint_weights(const std::string& checkpoint,
                                      const std::vector<std::string>& overrides, Comm& comm) {
  return rebuild_checkpoint_weights(checkpoint, overrides, comm, /*runtime_settings=*/true);
}

Backbone& objective_part(Objective& objective, const std::string& part) {
  if (part == "backbone") return objective.eval_encoder();
  if (part == "student") return objective.encoder();
  TORCH_CHECK_VALUE(part == "teacher", "--part: unknown part '", part,
                    "'; known: backbone, student, teacher");
  for (const MomentumPair& pair : objective.momentum_pairs()) {
    if (pair.online == &objective.encoder()) {
      auto* teacher = dynamic_cast<Backbone*>(pair.target);
      if (teacher != nullptr) return *teacher;
    }
  }
  TORCH_CHECK_VALUE(false,
                    "--part teacher: this objective has no teacher or momentum encoder; "
                    "parts: backbone, student");
  return objective.encoder();
}

std::vector<Backbone*> objective_backbones(Objective& objective) {
  std::vector<Backbone*> backbones = {&objective.encoder()};
  auto add = [&](Backbone* b) {
    if (std::find(backbones.begin(), backbones.end(), b) == backbones.end()) backbones.push_back(b);
  };
  add(&objective.eval_encoder());
  for (const MomentumPair& pair : objective.momentum_pairs()) {
    if (pair.online == &objective.encoder()) {
      if (auto* teacher = dynamic_cast<Backbone*>(pair.target)) add(teacher);
    }
  }
  return backbones;
}

void init_backbones_from_checkpoint(Objective& objective, const std::string& checkpoint,
                                    Comm& comm) {
  TORCH_CHECK_VALUE(std::filesystem::exists(checkpoint), "--init-from: '", checkpoint,
                    "' does not exist");
  // The source's own seed and threads must not replace this run's.
  CheckpointRun source = rebuild_checkpoint_weights(checkpoint, {}, comm, false);
  const StateDict state = module_state_dict(source.objective->eval_encoder());
  for (Backbone* backbone : objective_backbones(objective)) {
    load_module_state_dict(*backbone, state, checkpoint,
                           "this run's " + objective.encoder().arch() + " backbone");
  }
}

}  // namespace pretext
