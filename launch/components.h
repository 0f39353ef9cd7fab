// Builders that turn a RunConfig into the live pieces of a run: objective, datasets, loaders.
// Shared by every command so `train`, `knn` and later commands build identical objects.
#pragma once

#include <memory>
#include <string>

#include "data/dataset.h"
#include "data/loader.h"
#include "distributed/comm.h"
#include "launch/config.h"
#include "objectives/objective.h"

namespace pretext {

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

}  // namespace pretext
