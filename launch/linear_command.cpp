// `pretext linear`: linear probes on frozen features: an SGD learning-rate grid trained in one
// pass and/or L-BFGS logistic regression over a sweep of L2 strengths, each chosen on a
// validation part of the train split and reported on test, as a table and JSON.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "distributed/comm.h"
#include "evaluation/logistic_regression.h"
#include "launch/commands.h"
#include "launch/evaluation_inputs.h"
#include "launch/knn_report.h"
#include "train/metrics_log.h"

namespace pretext {
namespace fs = std::filesystem;
namespace {

std::string probe_json(const ProbeResult& result, const char* hyperparameter) {
  std::ostringstream candidates;
  candidates << "[";
  for (size_t i = 0; i < result.candidates.size(); ++i) {
    const auto& c = result.candidates[i];
    JsonObject entry;
    entry.add(hyperparameter, c.hyperparameter)
        .add("val_top1", c.val.top1)
        .add("test_top1", c.test.top1)
        .add("test_top5", c.test.top5);
    candidates << (i ? ", " : "") << entry.str();
  }
  candidates << "]";
  JsonObject json;
  json.add("top1", result.test.top1)
      .add("top5", result.test.top5)
      .add(std::string("chosen_") + hyperparameter, result.candidates[result.chosen].hyperparameter)
      .add("seconds", result.seconds)
      .add_json("candidates", candidates.str());
  return json.str();
}

void print_row(const std::string& features, const std::string& mode, const ProbeResult& result,
               const char* hyperparameter) {
  std::printf("  %-14s %-7s %7.2f%% %7.2f%%   %s=%g, %.1f s\n", features.c_str(), mode.c_str(),
              result.test.top1, result.test.top5, hyperparameter,
              result.candidates[result.chosen].hyperparameter, result.seconds);
}

}  // namespace

int run_linear_command(const CommandLine& line) {
  LocalComm comm;
  const EvaluationInputs inputs = load_evaluation_inputs(line, comm);
  const RunConfig& config = inputs.config;
  const std::string mode = config.linear_mode;
  TORCH_CHECK_VALUE(mode == "sgd" || mode == "lbfgs" || mode == "both",
                    "linear.mode must be sgd, lbfgs or both, got '", mode, "'");
  const bool sgd = mode != "lbfgs";
  const bool lbfgs = mode != "sgd";

  std::printf("linear probe on frozen features (val %.0f%% of train chooses, test reported)\n",
              100.0 * config.linear_val_fraction);
  std::printf("  %-14s %-7s %8s %8s\n", "features", "mode", "top-1", "top-5");
  std::ostringstream results;
  results << "{";
  for (size_t i = 0; i < inputs.sets.size(); ++i) {
    const auto& set = inputs.sets[i];
    const ProbeData data =
        make_probe_data(set.train, set.test, inputs.num_classes, config.linear_val_fraction,
                        static_cast<uint64_t>(config.seed));
    JsonObject row;
    row.add("feature_seconds", set.seconds);
    if (sgd) {
      const ProbeResult result = sgd_linear_probe(data, config.linear);
      print_row(set.name, "sgd", result, "lr");
      row.add_json("sgd", probe_json(result, "lr"));
    }
    if (lbfgs) {
      const ProbeResult result = logistic_regression_probe(data, config.logistic);
      print_row(set.name, "lbfgs", result, "l2");
      row.add_json("lbfgs", probe_json(result, "l2"));
    }
    results << (i ? ", " : "") << json_quote(set.name) << ": " << row.str();
    std::fflush(stdout);
  }
  results << "}";

  JsonObject json;
  json.add("evaluation", std::string("linear"))
      .add("source", inputs.source)
      .add("val_fraction", config.linear_val_fraction)
      .add("train_size", inputs.sets.front().train.features.size(0))
      .add("test_size", inputs.sets.front().test.features.size(0))
      .add_json("results", results.str());
  const fs::path out =
      line.out().empty() ? fs::path(inputs.run_dir) / "linear.json" : fs::path(line.out());
  write_json_file(out.string(), json.str());
  std::cout << "pretext: wrote " << out.string() << "\n";
  return 0;
}

}  // namespace pretext
