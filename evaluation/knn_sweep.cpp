// One top-max(k) search per query chunk serves every (k, T): the neighbours of a smaller k are
// a prefix of the larger k's, as topk returns them sorted.
#include "evaluation/knn_sweep.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace pretext {

std::vector<KnnSweepEntry> knn_sweep(const torch::Tensor& bank_features,
                                     const torch::Tensor& bank_labels,
                                     const torch::Tensor& query_features,
                                     const torch::Tensor& query_labels, int64_t num_classes,
                                     const KnnSweepOptions& options) {
  TORCH_CHECK_VALUE(!options.ks().empty() && !options.temperatures().empty(),
                    "knn sweep: needs at least one k and one temperature");
  for (const int64_t k : options.ks()) {
    TORCH_CHECK_VALUE(k > 0, "knn sweep: k must be positive, got ", k);
  }
  for (const double t : options.temperatures()) {
    TORCH_CHECK_VALUE(std::isfinite(t) && t > 0.0, "knn sweep: temperature must be positive, got ",
                      t);
  }
  TORCH_CHECK_VALUE(options.chunk_size() > 0, "knn sweep: chunk_size must be positive, got ",
                    options.chunk_size());
  check_knn_inputs(bank_features, bank_labels, query_features, num_classes);
  check_labels(query_labels, query_features.size(0), num_classes, "query_labels");

  namespace F = torch::nn::functional;
  const auto bank =
      F::normalize(bank_features.to(torch::kFloat), F::NormalizeFuncOptions().p(2).dim(1));
  const auto queries = F::normalize(query_features.to(bank.device(), torch::kFloat),
                                    F::NormalizeFuncOptions().p(2).dim(1));
  const auto labels = bank_labels.to(bank.device(), torch::kLong);
  const auto targets = query_labels.to(bank.device(), torch::kLong);
  const int64_t max_k =
      std::min(*std::max_element(options.ks().begin(), options.ks().end()), bank.size(0));
  const int64_t top = std::min<int64_t>(5, num_classes);

  std::vector<KnnSweepEntry> entries;
  for (const int64_t k : options.ks()) {
    for (const double t : options.temperatures()) entries.push_back({k, t, {}});
  }
  std::vector<double> top1_hits(entries.size(), 0.0), top5_hits(entries.size(), 0.0);
  const int64_t num_queries = queries.size(0);
  for (int64_t start = 0; start < num_queries; start += options.chunk_size()) {
    const int64_t end = std::min(start + options.chunk_size(), num_queries);
    const auto sim = queries.slice(0, start, end).mm(bank.t());  // [c, N]
    const auto nearest = sim.topk(max_k, /*dim=*/1);             // sorted, descending
    const auto& top_sim = std::get<0>(nearest);
    const auto top_labels = labels.index_select(0, std::get<1>(nearest).flatten())
                                .view_as(std::get<1>(nearest));  // [c, max_k]
    const auto target = targets.slice(0, start, end).unsqueeze(1);
    for (size_t e = 0; e < entries.size(); ++e) {
      const int64_t k = std::min(entries[e].k, max_k);
      const auto weights = (top_sim.slice(1, 0, k) / entries[e].temperature).exp();
      auto scores = torch::zeros({end - start, num_classes}, weights.options());
      scores.scatter_add_(1, top_labels.slice(1, 0, k), weights);
      const auto hits = std::get<1>(scores.topk(top, /*dim=*/1)).eq(target);
      top1_hits[e] += hits.select(1, 0).sum().item<double>();
      top5_hits[e] += hits.any(1).sum().item<double>();
    }
  }
  for (size_t e = 0; e < entries.size(); ++e) {
    entries[e].result.num_queries = num_queries;
    if (num_queries > 0) {
      entries[e].result.top1 = 100.0 * top1_hits[e] / static_cast<double>(num_queries);
      entries[e].result.top5 = 100.0 * top5_hits[e] / static_cast<double>(num_queries);
    }
  }
  return entries;
}

torch::Tensor few_shot_indices(const torch::Tensor& labels, int64_t num_classes, int64_t shots,
                               uint64_t seed) {
  TORCH_CHECK_VALUE(shots > 0, "few-shot: shots per class must be positive, got ", shots);
  const auto cpu_labels = labels.to(torch::kCPU, torch::kLong).contiguous();
  const int64_t* label = cpu_labels.data_ptr<int64_t>();
  std::vector<std::vector<int64_t>> per_class(num_classes);
  for (int64_t i = 0; i < cpu_labels.numel(); ++i) {
    TORCH_CHECK(label[i] >= 0 && label[i] < num_classes, "few-shot: label ", label[i],
                " of sample ", i, " is outside [0, ", num_classes, ")");
    per_class[label[i]].push_back(i);
  }
  // std::mt19937_64 and a hand-written Fisher-Yates prefix: the same draw on every platform
  // and LibTorch version (std::shuffle's algorithm is implementation-defined).
  std::mt19937_64 rng(seed);
  std::vector<int64_t> chosen;
  for (auto& members : per_class) {
    const int64_t take = std::min<int64_t>(shots, static_cast<int64_t>(members.size()));
    for (int64_t i = 0; i < take; ++i) {
      const uint64_t span = members.size() - i;
      const int64_t j = i + static_cast<int64_t>(rng() % span);
      std::swap(members[i], members[j]);
      chosen.push_back(members[i]);
    }
  }
  std::sort(chosen.begin(), chosen.end());
  return torch::tensor(chosen, torch::kLong);
}

std::vector<FewShotResult> few_shot_knn(const torch::Tensor& bank_features,
                                        const torch::Tensor& bank_labels,
                                        const torch::Tensor& query_features,
                                        const torch::Tensor& query_labels, int64_t num_classes,
                                        const FewShotOptions& options) {
  TORCH_CHECK_VALUE(!options.seeds().empty(), "few-shot: needs at least one seed");
  std::vector<FewShotResult> results;
  for (const int64_t shots : options.shots()) {
    FewShotResult result;
    result.shots = shots;
    for (const int64_t seed : options.seeds()) {
      const auto chosen =
          few_shot_indices(bank_labels, num_classes, shots, static_cast<uint64_t>(seed));
      const auto picked = chosen.to(bank_features.device());
      const auto outcome =
          knn_evaluate(bank_features.index_select(0, picked),
                       bank_labels.index_select(0, picked.to(bank_labels.device())), query_features,
                       query_labels, num_classes, options.knn());
      result.top1_per_seed.push_back(outcome.top1);
    }
    const auto& values = result.top1_per_seed;
    const double n = static_cast<double>(values.size());
    result.mean_top1 = std::accumulate(values.begin(), values.end(), 0.0) / n;
    double squares = 0.0;
    for (const double v : values) squares += (v - result.mean_top1) * (v - result.mean_top1);
    result.std_top1 = values.size() > 1 ? std::sqrt(squares / (n - 1.0)) : 0.0;
    results.push_back(result);
  }
  return results;
}

}  // namespace pretext
