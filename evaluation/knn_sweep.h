// k-NN over a grid of (k, T) in one pass over the bank, and few-shot k-NN (a bank of n
// labelled images per class, repeated over seeds). Same protocol as knn.h: cosine similarity,
// the k most similar bank entries vote with weight exp(sim / T).
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "evaluation/knn.h"

namespace pretext {

struct KnnSweepOptions {
  /// Neighbour counts (the DINO/solo-learn sweep).
  TORCH_ARG(std::vector<int64_t>, ks) = std::vector<int64_t>{10, 20, 100, 200};
  TORCH_ARG(std::vector<double>, temperatures) = std::vector<double>{0.07, 0.1};
  /// Queries scored at once; memory is chunk_size x bank size floats.
  TORCH_ARG(int64_t, chunk_size) = 512;
};

struct KnnSweepEntry {
  int64_t k = 0;  ///< as requested (clamped to the bank size when scoring)
  double temperature = 0.0;
  KnnResult result;
};

/// Every (k, T) of `options`, k-major, from one top-max(k) search per query chunk.
std::vector<KnnSweepEntry> knn_sweep(const torch::Tensor& bank_features,
                                     const torch::Tensor& bank_labels,
                                     const torch::Tensor& query_features,
                                     const torch::Tensor& query_labels, int64_t num_classes,
                                     const KnnSweepOptions& options);

struct FewShotOptions {
  /// Labelled bank images per class.
  TORCH_ARG(std::vector<int64_t>, shots) = std::vector<int64_t>{1, 5, 10};
  /// One random bank per seed; the result is the mean and spread over seeds.
  TORCH_ARG(std::vector<int64_t>, seeds) = std::vector<int64_t>{0, 1, 2, 3, 4};
  TORCH_ARG(KnnOptions, knn) = KnnOptions();
};

struct FewShotResult {
  int64_t shots = 0;
  std::vector<double> top1_per_seed;  ///< percent
  double mean_top1 = 0.0;
  double std_top1 = 0.0;  ///< sample standard deviation over seeds (0 for one seed)
};

/// Bank indices with `shots` samples of every class, drawn without replacement by `seed`
/// (a class with fewer samples contributes all of them), sorted.
torch::Tensor few_shot_indices(const torch::Tensor& labels, int64_t num_classes, int64_t shots,
                               uint64_t seed);

/// Few-shot weighted k-NN, one result per entry of options.shots.
std::vector<FewShotResult> few_shot_knn(const torch::Tensor& bank_features,
                                        const torch::Tensor& bank_labels,
                                        const torch::Tensor& query_features,
                                        const torch::Tensor& query_labels, int64_t num_classes,
                                        const FewShotOptions& options);

}  // namespace pretext
