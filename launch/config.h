// The run configuration: typed Options structs of every layer, filled from an INI-style .cfg
// file ([section] key = value) and --section.key=value overrides. Command line beats file
// beats struct default; unknown keys and malformed values are errors naming the key.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/loader.h"
#include "data/views.h"
#include "distributed/c10d_comm.h"
#include "evaluation/knn.h"
#include "models/backbone.h"
#include "objectives/option_binding.h"
#include "objectives/registry.h"
#include "train/optimizer.h"
#include "train/trainer.h"

namespace pretext {

struct RunConfig {
  // [train]
  TrainerOptions trainer;
  int64_t batch_size = 256;  ///< global batch, split over ranks
  int64_t seed = 0;
  int64_t threads = 0;  ///< LibTorch intra-op threads (0 = all cores)
  // [optim]
  OptimizerOptions optimizer;
  double base_lr = 0.3;               ///< lr per 256 images (linear rule) or per image (sqrt)
  std::string lr_scaling = "linear";  ///< linear | sqrt | none
  // [data]
  DatasetOptions dataset;
  LoaderOptions loader;
  int64_t image_size = 28;
  int64_t eval_batch_size = 512;
  // [augment]
  AugmentOptions augment;
  std::string augment_recipe = "auto";  ///< auto = the objective's own recipe
  // [model]
  BackboneOptions backbone;
  // [objective]
  std::string objective = "simclr";
  // [knn]
  KnnOptions knn;
  // [dist]
  DistOptions dist;
  // [eval]
  bool eval_after_train = true;
  bool eval_baselines = false;

  /// One spec per registered objective; their sections are always accepted.
  std::vector<std::shared_ptr<ObjectiveSpec>> objective_specs;

  RunConfig();
  /// The selected objective's spec; unknown names list the known ones.
  ObjectiveSpec& objective_spec() const;
  /// Learning rate after the batch-size rule.
  double effective_lr() const;
};

/// A named group of keys, e.g. "optim" with "lr", "momentum", ...
struct ConfigSection {
  std::string name;
  OptionBindings bindings;
};

/// Every section of `config`, bound to its fields.
std::vector<ConfigSection> config_sections(RunConfig& config);

/// Sources of configuration, lowest precedence first. Each file is INI text.
struct ConfigSources {
  std::vector<std::pair<std::string, std::string>> texts;  ///< (origin for messages, INI text)
  std::vector<std::string> overrides;                      ///< "section.key=value"
};

/// Fills `config` from the sources; throws c10::ValueError naming the key or origin.
void apply_config(RunConfig& config, const ConfigSources& sources);

/// Reads a config file; a missing or unreadable file throws naming the path.
std::string read_config_file(const std::string& path);

/// The whole resolved config as INI text that apply_config reads back, with derived values
/// (effective lr) as comments.
std::string resolved_config_text(RunConfig& config);

}  // namespace pretext
