// Builders that turn a RunConfig into the live pieces of a run: objective, datasets, loaders.
// Shared by every command so `train`, `knn` and later commands build identical objects.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/loader.h"
#include "distributed/comm.h"
#include "launch/config.h"
#include "objectives/objective.h"

namespace pretext {

/// What a dataset argument (`pack --input`, `audit --dataset`) names, as config sources: a
/// folder is an image folder at that root, a file is a config whose [data] section is used,
/// anything else a dataset name (cifar10, stl10, ...; set --data.root).
ConfigSources dataset_argument_sources(const std::string& argument);

/// Seeds LibTorch and sets its thread count from [train].
void apply_runtime_settings(const RunConfig& config);

/// The configured objective over the configured backbone; in_channels comes from the dataset.
std::shared_ptr<Objective> build_objective(const RunConfig& config, int64_t in_channels,
                                           Comm& comm);

/// Training loader: the objective's views, shuffled per epoch, this rank's shard.
std::unique_ptr<Loader> build_train_loader(const RunConfig& config,
                                           std::shared_ptr<const Dataset> dataset,
                                           const Objective& objective, Comm& comm);

/// Evaluation loader: one plain view, dataset order, every sample (no drop_last).
std::unique_ptr<Loader> build_eval_loader(const RunConfig& config,
                                          std::shared_ptr<const Dataset> dataset, Comm& comm);

/// A trained objective rebuilt from a checkpoint: its stored config, then `config_path` and
/// `overrides` on top, weights loaded, moved to the configured device.
struct CheckpointRun {
  RunConfig config;
  std::shared_ptr<const Dataset> train_set;
  std::shared_ptr<Objective> objective;
};
CheckpointRun load_checkpoint_run(const std::string& checkpoint, const std::string& config_path,
                                  const std::vector<std::string>& overrides, Comm& comm);

/// The run directory of a checkpoint (<run>/checkpoints/x.ckpt -> <run>), for default outputs.
std::string run_dir_of_checkpoint(const std::string& checkpoint);

/// A checkpoint's objective rebuilt on the CPU from its stored config and `overrides`, weights
/// loaded, without opening the dataset: the input channels are read off the stored encoder's
/// first layer. For commands that only move weights (export). train_set stays empty.
CheckpointRun load_checkpoint_weights(const std::string& checkpoint,
                                      const std::vector<std::string>& overrides, Comm& comm);

/// The encoder an export or import addresses: "backbone" (what the objective evaluates),
/// "student" (the one trained by gradient) or "teacher" (the EMA / momentum copy of the
/// student, for DINO, BYOL, MoCo); unknown parts and a teacher the objective lacks throw.
Backbone& objective_part(Objective& objective, const std::string& part);

/// Every distinct backbone of the objective: the student, the evaluated one and the teacher.
std::vector<Backbone*> objective_backbones(Objective& objective);

/// Loads the evaluation encoder of `checkpoint` (a pretext run's or an imported one, whatever
/// its objective) into every backbone of `objective`; heads keep their initialization. Names
/// or shapes that differ (another architecture) are listed in the error and nothing changes.
void init_backbones_from_checkpoint(Objective& objective, const std::string& checkpoint,
                                    Comm& comm);

}  // namespace pretext
