// Weighted k-NN classification on frozen features (Wu et al. 2018, the DINO protocol):
// cosine similarity, the k most similar bank entries vote for their label with weight
// exp(sim / T). Chunked over queries so memory stays bounded on large banks.
#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace pretext {

struct KnnOptions {
  /// Neighbours (DINO: 20).
  TORCH_ARG(int64_t, k) = 20;
  /// Vote temperature (DINO: 0.07).
  TORCH_ARG(double, temperature) = 0.07;
  /// Queries scored at once; memory is chunk_size x bank size floats.
  TORCH_ARG(int64_t, chunk_size) = 512;
};

struct KnnResult {
  double top1 = 0.0;  ///< percent
  double top5 = 0.0;  ///< percent
  int64_t num_queries = 0;
};

/// Throws unless bank_features is a non-empty [N, D], query_features [Q, D], and bank_labels
/// [N] integer classes in [0, num_classes).
void check_knn_inputs(const torch::Tensor& bank_features, const torch::Tensor& bank_labels,
                      const torch::Tensor& query_features, int64_t num_classes);
/// Throws unless `labels` is [expected_size] integer classes in [0, num_classes); `what` names
/// the tensor in the message.
void check_labels(const torch::Tensor& labels, int64_t expected_size, int64_t num_classes,
                  const char* what);

/// Class scores [Q, num_classes] for each query (features need not be normalized: they are
/// L2-normalized here). bank_features [N, D], bank_labels [N] int64 in [0, num_classes).
torch::Tensor knn_scores(const torch::Tensor& bank_features, const torch::Tensor& bank_labels,
                         const torch::Tensor& query_features, int64_t num_classes,
                         const KnnOptions& options);

/// top-1/top-5 accuracy of knn_scores against query_labels.
KnnResult knn_evaluate(const torch::Tensor& bank_features, const torch::Tensor& bank_labels,
                       const torch::Tensor& query_features, const torch::Tensor& query_labels,
                       int64_t num_classes, const KnnOptions& options);

}  // namespace pretext
