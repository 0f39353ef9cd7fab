// k-NN report: features, scores, table, JSON.
#include "launch/knn_report.h"

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "launch/evaluation_inputs.h"
#include "train/metrics_log.h"
#include "train/text_file.h"

namespace pretext {

KnnReport knn_report_of(const std::vector<FeatureSet>& sets, int64_t num_classes,
                        const KnnOptions& options) {
  KnnReport report;
  for (const auto& set : sets) {
    report.bank_size = set.train.features.size(0);
    report.rows.emplace_back(set.name,
                             knn_evaluate(set.train.features, set.train.labels, set.test.features,
                                          set.test.labels, num_classes, options));
  }
  return report;
}

KnnReport run_knn_report(Backbone& backbone, const RunConfig& config, Comm& comm, bool baselines) {
  std::vector<FeatureSet> sets = {backbone_features(backbone, config, comm, "pretrained")};
  if (baselines) {
    for (auto& set : baseline_features(config, comm)) sets.push_back(std::move(set));
  }
  return knn_report_of(sets, open_dataset(config.dataset, "train")->num_classes(), config.knn);
}

std::string format_knn_table(const KnnReport& report, const KnnOptions& options) {
  std::ostringstream out;
  char line[160];
  std::snprintf(line, sizeof(line), "weighted k-NN (k=%ld, T=%g), bank %ld, queries %ld\n",
                static_cast<long>(options.k()), options.temperature(),
                static_cast<long>(report.bank_size),
                static_cast<long>(report.rows.empty() ? 0 : report.rows[0].second.num_queries));
  out << line;
  std::snprintf(line, sizeof(line), "  %-14s %8s %8s\n", "features", "top-1", "top-5");
  out << line;
  for (const auto& [name, result] : report.rows) {
    std::snprintf(line, sizeof(line), "  %-14s %7.2f%% %7.2f%%\n", name.c_str(), result.top1,
                  result.top5);
    out << line;
  }
  return out.str();
}

std::string knn_results_json(const KnnReport& report) {
  std::ostringstream json;
  json << "{";
  for (size_t i = 0; i < report.rows.size(); ++i) {
    const auto& [name, result] = report.rows[i];
    JsonObject row;
    row.add("top1", result.top1).add("top5", result.top5).add("num_queries", result.num_queries);
    json << (i ? ", " : "") << json_quote(name) << ": " << row.str();
  }
  json << "}";
  return json.str();
}

void write_json_file(const std::string& path, const std::string& json) {
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  write_text_file_atomic(path, json + "\n");
}

void write_knn_json(const std::string& path, const KnnReport& report, const KnnOptions& options,
                    const std::string& checkpoint) {
  JsonObject json;
  json.add("evaluation", std::string("knn"))
      .add("checkpoint", checkpoint)
      .add("k", options.k())
      .add("temperature", options.temperature())
      .add("bank_size", report.bank_size)
      .add_json("results", knn_results_json(report));
  write_json_file(path, json.str());
}

}  // namespace pretext
