// Feature extraction for evaluation: the backbone in eval mode over a plain (unaugmented)
// view of every sample, gathered across ranks.
#pragma once

#include <vector>

#include <torch/torch.h>

#include "data/loader.h"
#include "distributed/comm.h"
#include "models/backbone.h"

namespace pretext {

struct Features {
  torch::Tensor features;  ///< [N, D] float32, CPU
  torch::Tensor labels;    ///< [N] int64, CPU
};

/// Runs `backbone` (switched to eval mode, restored afterwards) under no-grad over one pass of
/// `loader` (epoch 0, first view of each batch), normalizing with mean/std on `device` (where
/// the backbone lives). With world size > 1 every rank gets the features of all ranks. Rows are
/// in dataset-index order, one per sample (the sampler's wrap-around padding is dropped).
Features extract_features(Backbone& backbone, Loader& loader, const std::vector<double>& mean,
                          const std::vector<double>& std, const torch::Device& device, Comm& comm);

/// Raw pixels as features, [N, C*H*W] float in [0, 1]: the floor every backbone must beat.
/// This process's samples only, in dataset-index order like extract_features.
Features pixel_features(Loader& loader);

}  // namespace pretext
