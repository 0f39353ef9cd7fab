// k-NN report: features, scores, table, JSON.
#include "launch/knn_report.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "evaluation/features.h"
#include "launch/components.h"
#include "train/metrics_log.h"
#include "train/text_file.h"

namespace pretext {
namespace {

KnnResult evaluate_features(const Features& bank, const Features& queries, int64_t num_classes,
                            const KnnOptions& options) {
  return knn_evaluate(bank.features, bank.labels, queries.features, queries.labels, num_classes,
                      options);
}

}  // namespace

KnnReport run_knn_report(Backbone& backbone, const RunConfig& config, Comm& comm, bool baselines) {
  const auto train_set = open_dataset(config.dataset, "train");
  const auto test_set = open_dataset(config.dataset, "test");
  TORCH_CHECK_VALUE(train_set->num_classes() > 0, "knn: dataset '", config.dataset.name(),
                    "' has no labels to evaluate with");
  auto bank_loader = build_eval_loader(config, train_set, comm);
  auto query_loader = build_eval_loader(config, test_set, comm);
  const torch::Device device(config.trainer.device());
  const auto& mean = config.trainer.mean();
  const auto& std = config.trainer.std();
  const int64_t classes = train_set->num_classes();

  KnnReport report;
  report.bank_size = train_set->size();
  auto evaluate_backbone = [&](Backbone& model) {
    const Features bank = extract_features(model, *bank_loader, mean, std, device, comm);
    const Features queries = extract_features(model, *query_loader, mean, std, device, comm);
    return evaluate_features(bank, queries, classes, config.knn);
  };
  report.rows.emplace_back("pretrained", evaluate_backbone(backbone));
  if (baselines) {
    torch::manual_seed(static_cast<uint64_t>(config.seed));
    BackboneOptions options = config.backbone;
    options.in_channels(train_set->channels());
    auto random_init = make_backbone(options);
    random_init->to(device);
    report.rows.emplace_back("random init", evaluate_backbone(*random_init));
    const Features bank = pixel_features(*bank_loader);
    const Features queries = pixel_features(*query_loader);
    report.rows.emplace_back("raw pixels", evaluate_features(bank, queries, classes, config.knn));
  }
  return report;
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

void write_knn_json(const std::string& path, const KnnReport& report, const KnnOptions& options,
                    const std::string& checkpoint) {
  std::ostringstream json;
  json << "{\"evaluation\": \"knn\", \"checkpoint\": " << json_quote(checkpoint)
       << ", \"k\": " << options.k() << ", \"temperature\": " << options.temperature()
       << ", \"bank_size\": " << report.bank_size << ", \"results\": {";
  for (size_t i = 0; i < report.rows.size(); ++i) {
    const auto& [name, result] = report.rows[i];
    JsonObject row;
    row.add("top1", result.top1).add("top5", result.top5).add("num_queries", result.num_queries);
    json << (i ? ", " : "") << json_quote(name) << ": " << row.str();
  }
  json << "}}\n";
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  write_text_file_atomic(path, json.str());
}

}  // namespace pretext
