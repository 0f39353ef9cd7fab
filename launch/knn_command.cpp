// `pretext knn`: weighted k-NN of a checkpoint's evaluation encoder (or of feature files), with
// an optional (k, T) sweep and few-shot k-NN, beside the baselines when asked.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "distributed/comm.h"
#include "evaluation/knn_sweep.h"
#include "launch/commands.h"
#include "launch/evaluation_inputs.h"
#include "launch/knn_report.h"
#include "train/metrics_log.h"

namespace pretext {
namespace fs = std::filesystem;
namespace {

std::string sweep_json(const std::vector<KnnSweepEntry>& entries) {
  std::ostringstream json;
  json << "[";
  for (size_t i = 0; i < entries.size(); ++i) {
    JsonObject entry;
    entry.add("k", entries[i].k)
        .add("temperature", entries[i].temperature)
        .add("top1", entries[i].result.top1)
        .add("top5", entries[i].result.top5);
    json << (i ? ", " : "") << entry.str();
  }
  return json.str() + "]";
}

std::string few_shot_json(const std::vector<FewShotResult>& results) {
  std::ostringstream json;
  json << "[";
  for (size_t i = 0; i < results.size(); ++i) {
    std::ostringstream per_seed;
    per_seed << "[";
    for (size_t s = 0; s < results[i].top1_per_seed.size(); ++s) {
      per_seed << (s ? ", " : "") << results[i].top1_per_seed[s];
    }
    per_seed << "]";
    JsonObject entry;
    entry.add("shots", results[i].shots)
        .add("mean_top1", results[i].mean_top1)
        .add("std_top1", results[i].std_top1)
        .add_json("top1_per_seed", per_seed.str());
    json << (i ? ", " : "") << entry.str();
  }
  return json.str() + "]";
}

}  // namespace

int run_knn_command(const CommandLine& line) {
  LocalComm comm;
  const EvaluationInputs inputs = load_evaluation_inputs(line, comm);
  const RunConfig& config = inputs.config;
  // Seconds per protocol, features (extraction or reading) per feature set.
  JsonObject seconds, feature_seconds;
  for (const auto& set : inputs.sets) feature_seconds.add(set.name, set.seconds);
  seconds.add_json("features", feature_seconds.str());
  auto start = std::chrono::steady_clock::now();
  const KnnReport report = knn_report_of(inputs.sets, inputs.num_classes, config.knn);
  seconds.add("knn", seconds_since(start));
  std::cout << format_knn_table(report, config.knn);

  JsonObject json;
  json.add("evaluation", std::string("knn"))
      .add("source", inputs.source)
      .add("k", config.knn.k())
      .add("temperature", config.knn.temperature())
      .add("bank_size", report.bank_size)
      .add_json("results", knn_results_json(report));

  if (line.has("--sweep")) {
    start = std::chrono::steady_clock::now();
    std::ostringstream all;
    all << "{";
    for (size_t i = 0; i < inputs.sets.size(); ++i) {
      const auto& set = inputs.sets[i];
      const auto entries = knn_sweep(set.train.features, set.train.labels, set.test.features,
                                     set.test.labels, inputs.num_classes, config.knn_sweep);
      std::cout << "k-NN sweep, " << set.name << ":\n";
      for (const auto& entry : entries) {
        std::printf("  k=%-4ld T=%-5g top-1 %6.2f%%  top-5 %6.2f%%\n", static_cast<long>(entry.k),
                    entry.temperature, entry.result.top1, entry.result.top5);
      }
      all << (i ? ", " : "") << json_quote(set.name) << ": " << sweep_json(entries);
    }
    all << "}";
    json.add_json("sweep", all.str());
    seconds.add("sweep", seconds_since(start));
  }
  if (line.has("--few-shot")) {
    start = std::chrono::steady_clock::now();
    std::ostringstream all;
    all << "{";
    for (size_t i = 0; i < inputs.sets.size(); ++i) {
      const auto& set = inputs.sets[i];
      FewShotOptions options = config.few_shot;
      options.knn(config.knn);
      const auto results = few_shot_knn(set.train.features, set.train.labels, set.test.features,
                                        set.test.labels, inputs.num_classes, options);
      std::cout << "few-shot k-NN, " << set.name << " (" << options.seeds().size() << " seeds):\n";
      for (const auto& result : results) {
        std::printf("  %3ld per class: top-1 %6.2f%% +- %.2f\n", static_cast<long>(result.shots),
                    result.mean_top1, result.std_top1);
      }
      all << (i ? ", " : "") << json_quote(set.name) << ": " << few_shot_json(results);
    }
    all << "}";
    json.add_json("few_shot", all.str());
    seconds.add("few_shot", seconds_since(start));
  }
  json.add_json("seconds", seconds.str());
  std::cout << "seconds: " << seconds.str() << "\n";
  const fs::path out =
      line.out().empty() ? fs::path(inputs.run_dir) / "knn.json" : fs::path(line.out());
  write_json_file(out.string(), json.str());
  std::cout << "pretext: wrote " << out.string() << "\n";
  return 0;
}

}  // namespace pretext
