#include "launch/run_summary.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "launch/config.h"
#include "models/json_value.h"

namespace pretext {
namespace fs = std::filesystem;
namespace {

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  TORCH_CHECK_VALUE(in.good(), "cannot read '", path.string(), "'");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

double number_at(const JsonValue& object, const std::string& key) {
  const JsonValue* value = object.find(key);
  return value && value->is_number() ? value->number : std::nan("");
}

// Runs that differ only in their seed, or in settings that do not change what is computed
// (threads, progress line, loader threading, logging), share the key.
std::string group_key_of(RunConfig config) {
  config.seed = 0;
  config.threads = 0;
  config.trainer.progress(false).log_every(1);
  config.loader.num_workers(0).prefetch_batches(0);
  return resolved_config_text(config);
}

// The row of the pretrained encoder: "pretrained" (from a checkpoint) or "features" (files).
const JsonValue* encoder_row(const JsonValue& table) {
  const JsonValue* row = table.find("pretrained");
  return row ? row : table.find("features");
}

void read_knn_json(const fs::path& path, RunSummary& run) {
  const JsonValue json = parse_json(read_text(path), path.string());
  if (const JsonValue* results = json.find("results")) {
    if (const JsonValue* row = encoder_row(*results)) {
      run.accuracies["k-NN"] = number_at(*row, "top1");
    }
  }
  if (const JsonValue* few_shot = json.find("few_shot")) {
    if (const JsonValue* entries = encoder_row(*few_shot); entries && entries->is_array()) {
      for (const auto& entry : entries->items) {
        const double shots = number_at(entry, "shots");
        if (!std::isfinite(shots)) continue;
        run.accuracies["few-shot " + std::to_string(static_cast<int64_t>(shots))] =
            number_at(entry, "mean_top1");
      }
    }
  }
}

void read_linear_json(const fs::path& path, RunSummary& run) {
  const JsonValue json = parse_json(read_text(path), path.string());
  const JsonValue* results = json.find("results");
  const JsonValue* row = results ? encoder_row(*results) : nullptr;
  if (row == nullptr) return;
  if (const JsonValue* sgd = row->find("sgd"))
    run.accuracies["linear (SGD)"] = number_at(*sgd, "top1");
  if (const JsonValue* lbfgs = row->find("lbfgs")) {
    run.accuracies["linear (L-BFGS)"] = number_at(*lbfgs, "top1");
  }
}

using Curve = std::vector<std::pair<double, double>>;

Curve epoch_means(const std::map<int64_t, std::pair<double, int64_t>>& sums) {
  Curve curve;
  for (const auto& [epoch, sum] : sums) {
    curve.emplace_back(static_cast<double>(epoch + 1), sum.first / static_cast<double>(sum.second));
  }
  return curve;
}

void read_metrics(const fs::path& path, int64_t global_batch, RunSummary& run) {
  std::ifstream in(path);
  TORCH_CHECK_VALUE(in.good(), "cannot read '", path.string(), "'");
  std::map<int64_t, std::pair<double, int64_t>> loss, probe;
  int64_t previous_step = 0, last_epoch = -1;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    const JsonValue record = parse_json(line, path.string() + " line " + std::to_string(number));
    const double epoch_value = number_at(record, "epoch");
    const double step_value = number_at(record, "step");
    TORCH_CHECK_VALUE(std::isfinite(epoch_value) && std::isfinite(step_value), path.string(),
                      " line ", number, ": a record without step and epoch");
    const auto epoch = static_cast<int64_t>(epoch_value);
    const auto step = static_cast<int64_t>(step_value);
    last_epoch = std::max(last_epoch, epoch);
    const double knn = number_at(record, "knn/top1");
    if (std::isfinite(knn)) run.knn_by_epoch.emplace_back(static_cast<double>(epoch + 1), knn);
    const double value = number_at(record, "loss");
    if (!std::isfinite(value)) continue;  // an epoch-end evaluation record
    loss[epoch].first += value, ++loss[epoch].second;
    const double acc = number_at(record, "online_probe/acc1");
    if (std::isfinite(acc)) probe[epoch].first += acc, ++probe[epoch].second;
    // Each step record's rate covers the steps since the previous one.
    const double rate = number_at(record, "images_per_s");
    if (std::isfinite(rate) && rate > 0 && step > previous_step) {
      run.wall_seconds += static_cast<double>((step - previous_step) * global_batch) / rate;
    }
    previous_step = std::max(previous_step, step);
  }
  TORCH_CHECK_VALUE(!loss.empty(), path.string(), ": no training records");
  run.epochs = last_epoch + 1;
  run.loss_by_epoch = epoch_means(loss);
  run.online_probe_by_epoch = epoch_means(probe);
  run.images_per_s = run.wall_seconds > 0
                         ? static_cast<double>(previous_step * global_batch) / run.wall_seconds
                         : 0.0;
}

}  // namespace

RunSummary read_run_summary(const std::string& dir) {
  const fs::path root(dir);
  TORCH_CHECK_VALUE(fs::is_directory(root), "run directory '", dir, "' does not exist");
  RunSummary run;
  run.dir = dir;
  RunConfig config;
  const fs::path config_path = root / "config.cfg";
  ConfigSources sources;
  sources.texts.emplace_back(config_path.string(), read_config_file(config_path.string()));
  apply_config(config, sources);
  run.objective = config.objective;
  run.arch = config.backbone.arch();
  run.seed = config.seed;
  run.group_key = group_key_of(config);
  read_metrics(root / "metrics.jsonl", config.batch_size, run);
  if (fs::exists(root / "knn.json")) read_knn_json(root / "knn.json", run);
  if (fs::exists(root / "linear.json")) read_linear_json(root / "linear.json", run);
  for (auto it = run.accuracies.begin(); it != run.accuracies.end();) {
    it = std::isfinite(it->second) ? std::next(it) : run.accuracies.erase(it);
  }
  return run;
}

}  // namespace pretext
