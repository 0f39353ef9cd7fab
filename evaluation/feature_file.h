// Feature files: a backbone's features and labels for one split, in HDF5, so every evaluation
// (k-NN sweeps, few-shot, linear probes) reuses features computed once. The file records where
// the features came from (checkpoint hash, split, config) and is refused when it does not
// match what the caller expects.
#pragma once

#include <cstdint>
#include <string>

#include "evaluation/features.h"

namespace pretext {

/// Where a feature file's rows came from.
struct FeatureProvenance {
  std::string checkpoint;       ///< path as given when extracted
  std::string checkpoint_hash;  ///< checkpoint_file_hash() of that file
  std::string split;            ///< train | test
  std::string encoder;          ///< what was evaluated, e.g. "eval_encoder"
  std::string config_text;      ///< the resolved config of the run
  /// The settings the features depend on (dataset, model, normalization), to decide whether a
  /// cached file still answers for the current config.
  std::string feature_key;
};

/// Layout: /features float32 [N, D] and /labels int64 [N] (chunked), provenance as string
/// attributes of the root group plus `format = "pretext-features"` and `version = 1`.
/// Written to a temporary file and renamed, so a crash never leaves a half file under `path`.
void write_feature_file(const std::string& path, const Features& features,
                        const FeatureProvenance& provenance);

struct FeatureFile {
  Features features;
  FeatureProvenance provenance;
};

/// Reads and validates a feature file; a file that is not one, is truncated or corrupt, or
/// whose datasets disagree in size, throws naming the path and what is wrong.
FeatureFile read_feature_file(const std::string& path);

/// Content hash of a checkpoint file ("fnv1a64:<16 hex digits>:size:N"), so a feature file can be
/// matched to the exact checkpoint it came from.
std::string checkpoint_file_hash(const std::string& path);

}  // namespace pretext
