// Weighted k-NN classifier on frozen features, as in Wu et al. 2018 (arXiv:1805.01978) and
// DINO's eval_knn.py (knn_classifier): cosine similarity, top-k neighbours, votes exp(sim / T).
// Deviations: k is clamped to the bank size instead of failing on small banks.
#include "evaluation/knn.h"

#include <algorithm>
#include <cmath>

namespace pretext {
void check_labels(const torch::Tensor& labels, int64_t expected_size, int64_t num_classes,
                  const char* what) {
  TORCH_CHECK(labels.defined() && labels.dim() == 1 && labels.size(0) == expected_size,
              "knn: ", what, " must be [", expected_size, "], got ",
              labels.defined() ? labels.sizes() : torch::IntArrayRef{});
  TORCH_CHECK(
      !labels.is_floating_point() && !labels.is_complex() && labels.scalar_type() != torch::kBool,
      "knn: ", what, " must be integer class indices, got ", labels.scalar_type());
  if (expected_size == 0) {
    return;
  }
  const int64_t lo = labels.min().item<int64_t>();
  const int64_t hi = labels.max().item<int64_t>();
  TORCH_CHECK(lo >= 0 && hi < num_classes, "knn: ", what, " must lie in [0, ", num_classes,
              "), got values in [", lo, ", ", hi, "]");
}

void check_knn_inputs(const torch::Tensor& bank_features, const torch::Tensor& bank_labels,
                      const torch::Tensor& query_features, int64_t num_classes) {
  TORCH_CHECK_VALUE(num_classes > 0, "knn: num_classes must be positive, got ", num_classes);
  TORCH_CHECK(bank_features.defined() && bank_features.dim() == 2 && bank_features.size(0) > 0,
              "knn: bank_features must be a non-empty [N, D] tensor, got ",
              bank_features.defined() ? bank_features.sizes() : torch::IntArrayRef{});
  TORCH_CHECK(query_features.defined() && query_features.dim() == 2 &&
                  query_features.size(1) == bank_features.size(1),
              "knn: query_features must be [Q, ", bank_features.size(1), "] like the bank, got ",
              query_features.defined() ? query_features.sizes() : torch::IntArrayRef{});
  check_labels(bank_labels, bank_features.size(0), num_classes, "bank_labels");
}

torch::Tensor knn_scores(const torch::Tensor& bank_features, const torch::Tensor& bank_labels,
                         const torch::Tensor& query_features, int64_t num_classes,
                         const KnnOptions& options) {
  TORCH_CHECK_VALUE(options.k() > 0, "knn: k must be positive, got ", options.k());
  TORCH_CHECK_VALUE(std::isfinite(options.temperature()) && options.temperature() > 0.0,
                    "knn: temperature must be positive, got ", options.temperature());
  TORCH_CHECK_VALUE(options.chunk_size() > 0, "knn: chunk_size must be positive, got ",
                    options.chunk_size());
  check_knn_inputs(bank_features, bank_labels, query_features, num_classes);

  namespace F = torch::nn::functional;
  const auto device = bank_features.device();
  // Cosine similarity as a dot product of unit vectors; fp32 so exp(sim / T) cannot overflow.
  const auto bank =
      F::normalize(bank_features.to(torch::kFloat), F::NormalizeFuncOptions().p(2).dim(1));
  const auto queries =
      F::normalize(query_features.to(device, torch::kFloat), F::NormalizeFuncOptions().p(2).dim(1));
  const auto labels = bank_labels.to(device, torch::kLong);
  const int64_t k = std::min(options.k(), bank.size(0));
  const int64_t num_queries = queries.size(0);

  auto scores = torch::zeros({num_queries, num_classes}, queries.options());
  for (int64_t start = 0; start < num_queries; start += options.chunk_size()) {
    const int64_t end = std::min(start + options.chunk_size(), num_queries);
    const auto sim = queries.slice(0, start, end).mm(bank.t());  // [c, N]
    const auto top = sim.topk(k, /*dim=*/1);
    const auto weights = (std::get<0>(top) / options.temperature()).exp();  // [c, k]
    const auto neighbour_labels =
        labels.index_select(0, std::get<1>(top).flatten()).view_as(std::get<1>(top));  // [c, k]
    scores.slice(0, start, end).scatter_add_(1, neighbour_labels, weights);
  }
  return scores;
}

KnnResult knn_evaluate(const torch::Tensor& bank_features, const torch::Tensor& bank_labels,
                       const torch::Tensor& query_features, const torch::Tensor& query_labels,
                       int64_t num_classes, const KnnOptions& options) {
  const auto scores = knn_scores(bank_features, bank_labels, query_features, num_classes, options);
  const int64_t num_queries = scores.size(0);
  check_labels(query_labels, num_queries, num_classes, "query_labels");
  KnnResult result;
  result.num_queries = num_queries;
  if (num_queries == 0) {
    return result;
  }
  const auto target = query_labels.to(scores.device(), torch::kLong).unsqueeze(1);  // [Q, 1]
  const auto ranked = std::get<1>(scores.topk(std::min<int64_t>(5, num_classes), /*dim=*/1));
  const auto hits = ranked.eq(target);  // [Q, min(5, C)]
  const double count = static_cast<double>(num_queries);
  result.top1 = 100.0 * hits.select(1, 0).sum().item<double>() / count;
  result.top5 = 100.0 * hits.any(1).sum().item<double>() / count;
  return result;
}

}  // namespace pretext
