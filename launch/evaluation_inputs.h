// What `pretext knn` and `pretext linear` evaluate: train/test features of a checkpoint's
// evaluation encoder (cached as feature files beside the checkpoint and reused while the
// checkpoint is unchanged), or feature files given directly, optionally beside the floors
// every pretrained backbone must beat (random init and raw pixels).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "distributed/comm.h"
#include "evaluation/features.h"
#include "launch/cli.h"
#include "launch/config.h"
#include "models/backbone.h"

namespace pretext {

struct FeatureSet {
  std::string name;  ///< pretrained | features | random init | raw pixels
  Features train;
  Features test;
  double seconds = 0.0;  ///< time to extract or read the features
};

struct EvaluationInputs {
  RunConfig config;
  int64_t num_classes = 0;
  std::vector<FeatureSet> sets;
  std::string source;   ///< the checkpoint or the feature files
  std::string run_dir;  ///< where reports go by default ("" for feature files outside a run)
};

/// Wall-clock seconds since `start`, for the per-protocol timings of the reports.
double seconds_since(std::chrono::steady_clock::time_point start);

/// The settings features depend on (dataset, model, input normalization) as text, recorded in
/// feature files to tell whether a cached file still answers for a config.
std::string feature_key(const RunConfig& config);

/// Train and test features of `backbone` on the configured dataset.
FeatureSet backbone_features(Backbone& backbone, const RunConfig& config, Comm& comm,
                             const std::string& name);

/// A freshly initialised backbone of the config ("random init") and raw pixels.
std::vector<FeatureSet> baseline_features(const RunConfig& config, Comm& comm);

/// Features of `checkpoint`'s evaluation encoder for `split`, from
/// <run>/features/<checkpoint stem>_<split>.h5 when its recorded hash matches the checkpoint,
/// extracted and written there otherwise.
Features cached_checkpoint_features(const std::string& checkpoint, Backbone& encoder,
                                    const RunConfig& config, const std::string& split, Comm& comm);

/// --train-features/--test-features, or --checkpoint (with --config and overrides), plus the
/// baselines with --baselines or eval.baselines.
EvaluationInputs load_evaluation_inputs(const CommandLine& line, Comm& comm);

}  // namespace pretext
