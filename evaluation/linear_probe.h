// Linear probe by SGD on cached features: a grid of learning rates trained side by side in one
// pass over the data (one linear head per learning rate, as DINO's eval_linear and
// solo-learn's offline probes sweep), cosine schedule, the head chosen on the validation part,
// its test accuracy reported.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "evaluation/probe_data.h"

namespace pretext {

struct LinearProbeOptions {
  /// One head per learning rate (standardized features, batch 256).
  TORCH_ARG(std::vector<double>, learning_rates) = std::vector<double>{0.001, 0.003, 0.01, 0.03,
                                                                       0.1,   0.3,   1.0};
  TORCH_ARG(int64_t, epochs) = 100;
  TORCH_ARG(int64_t, batch_size) = 256;
  TORCH_ARG(double, momentum) = 0.9;
  TORCH_ARG(double, weight_decay) = 0.0;
  /// Seed of the mini-batch order.
  TORCH_ARG(uint64_t, seed) = 0;
};

/// H linear heads side by side: head h maps D features to C classes with weight
/// columns [h*C, (h+1)*C) of `weight`.
struct LinearHeads {
  torch::Tensor weight;  ///< [D, H*C]
  torch::Tensor bias;    ///< [H*C]
  int64_t num_heads = 0;
  int64_t num_classes = 0;
  /// Logits of every head, [N, H, C].
  torch::Tensor logits(const torch::Tensor& x) const;
};

/// Trains one head per learning rate on (x, y): zero init, SGD with momentum, lr_h cosine-
/// decayed per step, cross-entropy. Each head's update depends on its own loss only, so a
/// head trained in the grid equals the same head trained alone.
LinearHeads train_linear_heads(const torch::Tensor& x, const torch::Tensor& y, int64_t num_classes,
                               const LinearProbeOptions& options);

struct ProbeCandidate {
  double hyperparameter = 0.0;  ///< learning rate (SGD) or L2 strength (L-BFGS)
  Accuracy val;
  Accuracy test;
};

struct ProbeResult {
  std::vector<ProbeCandidate> candidates;
  int64_t chosen = 0;  ///< index of the best validation top-1 (first on ties)
  Accuracy test;       ///< the chosen candidate's test accuracy
  double seconds = 0.0;
};

/// Trains the grid on data.train, chooses on data.val, reports data.test. Without a
/// validation part the choice falls back to the training part.
ProbeResult sgd_linear_probe(const ProbeData& data, const LinearProbeOptions& options);

/// Index of the candidate with the best validation top-1, the first on ties.
int64_t best_on_validation(const std::vector<ProbeCandidate>& candidates);

/// Sets result.chosen (best_on_validation), result.test (its test accuracy) and result.seconds
/// (since `started`).
void finish_probe(ProbeResult& result, std::chrono::steady_clock::time_point started);

}  // namespace pretext
