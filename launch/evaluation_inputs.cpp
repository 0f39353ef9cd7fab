#include "launch/evaluation_inputs.h"

#include <chrono>
#include <filesystem>
#include <iostream>

#include "evaluation/feature_file.h"
#include "launch/components.h"
#include "train/checkpoint.h"
#include "train/tensor_file.h"

namespace pretext {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

Features extract_split(Backbone& backbone, const RunConfig& config, const std::string& split,
                       Comm& comm) {
  const auto dataset = open_dataset(config.dataset, split);
  TORCH_CHECK_VALUE(dataset->num_classes() > 0, "evaluation: dataset '", config.dataset.name(),
                    "' split '", split, "' has no labels to evaluate with");
  auto loader = build_eval_loader(config, dataset, comm);
  const torch::Device device = config.device();
  return extract_features(backbone, *loader, config.trainer.mean(), config.trainer.std(), device,
                          comm);
}

}  // namespace

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string feature_key(const RunConfig& config) {
  RunConfig copy = config;
  std::string key;
  for (auto& section : config_sections(copy)) {
    // [data] holds the dataset and the input normalization (mean, std); [model] the backbone.
    const bool relevant = section.name == "data" || section.name == "model";
    for (const auto& binding : section.bindings) {
      // Loader threading and batch sizes do not change what the backbone computes.
      const bool performance_only = binding.key == "num_workers" ||
                                    binding.key == "prefetch_batches" ||
                                    binding.key == "eval_batch_size";
      if (relevant && !performance_only) {
        key += section.name + "." + binding.key + "=" + format_option(binding) + "\n";
      }
    }
  }
  return key;
}

namespace {

int64_t classes_of(const Features& train, const Features& test) {
  const auto max_of = [](const Features& f) {
    return f.labels.numel() ? f.labels.max().item<int64_t>() : -1;
  };
  return std::max(max_of(train), max_of(test)) + 1;
}

}  // namespace

FeatureSet backbone_features(Backbone& backbone, const RunConfig& config, Comm& comm,
                             const std::string& name) {
  const auto start = Clock::now();
  FeatureSet set;
  set.name = name;
  set.train = extract_split(backbone, config, "train", comm);
  set.test = extract_split(backbone, config, "test", comm);
  set.seconds = seconds_since(start);
  return set;
}

std::vector<FeatureSet> baseline_features(const RunConfig& config, Comm& comm) {
  std::vector<FeatureSet> sets;
  const auto train_set = open_dataset(config.dataset, "train");
  torch::manual_seed(static_cast<uint64_t>(config.seed));
  BackboneOptions options = config.backbone;
  options.in_channels(train_set->channels()).image_size(config.image_size);
  auto random_init = make_backbone(options);
  random_init->to(config.device());
  sets.push_back(backbone_features(*random_init, config, comm, "random init"));

  const auto start = Clock::now();
  FeatureSet pixels;
  pixels.name = "raw pixels";
  auto train_loader = build_eval_loader(config, train_set, comm);
  auto test_loader = build_eval_loader(config, open_dataset(config.dataset, "test"), comm);
  pixels.train = pixel_features(*train_loader);
  pixels.test = pixel_features(*test_loader);
  pixels.seconds = seconds_since(start);
  sets.push_back(std::move(pixels));
  return sets;
}

Features cached_checkpoint_features(const std::string& checkpoint, Backbone& encoder,
                                    const RunConfig& config, const std::string& split, Comm& comm) {
  const fs::path cache = fs::path(run_dir_of_checkpoint(checkpoint)) / "features" /
                         (fs::path(checkpoint).stem().string() + "_" + split + ".h5");
  const std::string hash = checkpoint_file_hash(checkpoint);
  RunConfig resolved = config;
  const std::string config_text = resolved_config_text(resolved);
  const std::string key = feature_key(config);
  if (fs::exists(cache)) {
    try {
      FeatureFile file = read_feature_file(cache.string());
      // The same checkpoint evaluated under the same config (dataset, image size, ...).
      if (file.provenance.checkpoint_hash == hash && file.provenance.split == split &&
          file.provenance.feature_key == key) {
        return std::move(file.features);
      }
    } catch (const c10::Error& error) {
      std::cerr << "pretext: ignoring unreadable feature cache " << cache.string() << ": "
                << error.what_without_backtrace() << "\n";
    }
  }
  Features features = extract_split(encoder, config, split, comm);
  if (comm.is_main()) {
    write_feature_file(cache.string(), features,
                       {checkpoint, hash, split, "eval_encoder", config_text, key});
  }
  return features;
}

EvaluationInputs load_evaluation_inputs(const CommandLine& line, Comm& comm) {
  EvaluationInputs inputs;
  const bool from_files = line.has("--train-features") || line.has("--test-features");
  if (from_files) {
    TORCH_CHECK_VALUE(line.has("--train-features") && line.has("--test-features"),
                      "give both --train-features and --test-features");
    TORCH_CHECK_VALUE(!line.has("--checkpoint"),
                      "give either --checkpoint or --train-features/--test-features, not both");
    const auto start = Clock::now();
    FeatureFile train = read_feature_file(line.value("--train-features"));
    FeatureFile test = read_feature_file(line.value("--test-features"));
    TORCH_CHECK_VALUE(train.provenance.split == "train" && test.provenance.split == "test",
                      "--train-features holds split '", train.provenance.split,
                      "' and --test-features split '", test.provenance.split,
                      "'; expected train and test");
    TORCH_CHECK_VALUE(train.provenance.checkpoint_hash == test.provenance.checkpoint_hash,
                      "--train-features and --test-features come from different checkpoints (",
                      train.provenance.checkpoint, " and ", test.provenance.checkpoint, ")");
    TORCH_CHECK_VALUE(train.features.features.size(1) == test.features.features.size(1),
                      "--train-features has ", train.features.features.size(1),
                      " dimensions but --test-features ", test.features.features.size(1));
    ConfigSources sources;
    sources.texts.emplace_back(line.value("--train-features"), train.provenance.config_text);
    if (line.has("--config")) {
      sources.texts.emplace_back(line.config_path(), read_config_file(line.config_path()));
    }
    sources.overrides = line.overrides;
    apply_config(inputs.config, sources);
    apply_runtime_settings(inputs.config);
    inputs.source = line.value("--train-features");
    inputs.run_dir = fs::path(inputs.source).parent_path().string();
    FeatureSet set;
    set.name = "features";
    set.train = std::move(train.features);
    set.test = std::move(test.features);
    set.seconds = seconds_since(start);
    inputs.num_classes = classes_of(set.train, set.test);
    inputs.sets.push_back(std::move(set));
  } else {
    TORCH_CHECK_VALUE(line.has("--checkpoint"), "pretext ", line.command,
                      " needs --checkpoint PATH or --train-features and --test-features");
    const CheckpointRun run =
        load_checkpoint_run(line.checkpoint(), line.config_path(), line.overrides, comm);
    inputs.config = run.config;
    inputs.source = line.checkpoint();
    inputs.run_dir = run_dir_of_checkpoint(line.checkpoint());
    inputs.num_classes = run.train_set->num_classes();
    const auto start = Clock::now();
    FeatureSet set;
    set.name = "pretrained";
    set.train = cached_checkpoint_features(line.checkpoint(), run.objective->eval_encoder(),
                                           run.config, "train", comm);
    set.test = cached_checkpoint_features(line.checkpoint(), run.objective->eval_encoder(),
                                          run.config, "test", comm);
    set.seconds = seconds_since(start);
    inputs.sets.push_back(std::move(set));
  }
  TORCH_CHECK_VALUE(inputs.num_classes > 0, "evaluation: the features carry no labels");
  if (line.has("--baselines") || inputs.config.eval_baselines) {
    for (auto& set : baseline_features(inputs.config, comm)) inputs.sets.push_back(std::move(set));
  }
  return inputs;
}

}  // namespace pretext
