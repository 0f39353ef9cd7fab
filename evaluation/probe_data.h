// The data every linear-probe mode starts from: cached train features split into a training
// part and a validation part (for choosing hyper-parameters), test features kept for the
// final number, all standardized with the training part's per-dimension mean and std (as
// MAE's probe does with a non-affine BatchNorm), so one learning-rate grid fits any backbone.
#pragma once

#include <cstdint>

#include <torch/torch.h>

#include "evaluation/features.h"

namespace pretext {

struct ProbeData {
  torch::Tensor train_x, train_y;  ///< [N_train, D] float, [N_train] int64
  torch::Tensor val_x, val_y;
  torch::Tensor test_x, test_y;
  int64_t num_classes = 0;
};

/// Holds out `val_fraction` of `train` (a seeded permutation; at least one sample per split
/// when the fraction is positive) and standardizes all three parts.
ProbeData make_probe_data(const Features& train, const Features& test, int64_t num_classes,
                          double val_fraction, uint64_t seed);

/// A permutation of [0, n) from std::mt19937_64(seed): identical on every platform.
torch::Tensor seeded_permutation(int64_t n, uint64_t seed);

struct Accuracy {
  double top1 = 0.0;  ///< percent
  double top5 = 0.0;  ///< percent
};

/// top-1/top-5 of logits [N, C] against labels [N].
Accuracy accuracy_of(const torch::Tensor& logits, const torch::Tensor& labels);

}  // namespace pretext
