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
#include "evaluation/knn_sweep.h"
#include "evaluation/linear_probe.h"
#include "evaluation/logistic_regression.h"
#include "evaluation/online_probe.h"
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
  bool tf32 = true;     ///< TF32 matrix products on CUDA
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
  KnnSweepOptions knn_sweep;
  FewShotOptions few_shot;
  // [linear]
  LinearProbeOptions linear;
  LogisticRegressionOptions logistic;
  std::string linear_mode = "both";  ///< sgd | lbfgs | both
  double linear_val_fraction = 0.1;  ///< of the train split, for choosing hyper-parameters
  // [dist]
  DistOptions dist;
  // [eval]
  bool eval_after_train = true;
  bool eval_baselines = false;
  OnlineProbeOptions online_probe;
  int64_t knn_every_epochs = 0;  ///< periodic k-NN during pretraining (0 = off)

  /// One spec per registered objective; their sections are always accepted.
  std::vector<std::shared_ptr<ObjectiveSpec>> objective_specs;

  RunConfig();
  /// The selected objective's spec; unknown names list the known ones.
  ObjectiveSpec& objective_spec() const;
  /// train.device with "auto" resolved: cuda when LibTorch sees a GPU, else cpu. The config
  /// (and so every checkpoint) keeps "auto", so a GPU run's checkpoint loads on a CPU host.
  torch::Device device() const;
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
