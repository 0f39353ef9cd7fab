// Multi-crop batches arrive as one tensor per view; objectives that forward each crop size as
// one batch (DINO's MultiCropWrapper, SwAV) regroup them here.
#pragma once

#include <cstddef>
#include <vector>

#include <torch/torch.h>

namespace pretext {

/// The first `count` views, each run of consecutive same-shape views concatenated along the
/// batch dimension: [2 global, 6 local] views of [B, C, S, S] become [2B, C, 224, 224] and
/// [6B, C, 96, 96]. Concatenating the results restores view order.
std::vector<torch::Tensor> concat_size_groups(const std::vector<torch::Tensor>& views,
                                              size_t count);

}  // namespace pretext
