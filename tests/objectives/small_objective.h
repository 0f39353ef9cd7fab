// What objective tests share: a context with a tiny 1-channel ResNet-18 and random batches.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "models/backbone.h"
#include "models/vit.h"
#include "objectives/objective.h"
#include "objectives/registry.h"

namespace pretext::testing {

/// Global crops of `image_size` px through a small-stem ResNet-18 at width 0.125.
inline ObjectiveContext small_context(int64_t image_size = 16, Comm* comm = nullptr) {
  ObjectiveContext context;
  context.comm = comm;
  context.image_size = image_size;
  context.make_backbone = [] {
    return make_backbone(
        BackboneOptions().arch("resnet18").stem("small").width(0.125).in_channels(1));
  };
  return context;
}

/// A 2-block, 32-wide ViT with 4 px patches and fixed sin-cos positions.
inline ObjectiveContext small_vit_context(int64_t image_size = 16, Comm* comm = nullptr) {
  ObjectiveContext context;
  context.comm = comm;
  context.image_size = image_size;
  context.make_backbone = [image_size] {
    return std::make_shared<VisionTransformer>(VitOptions(32, 2, 2)
                                                   .patch_size(4)
                                                   .image_size(image_size)
                                                   .in_channels(1)
                                                   .pos_embed("sincos"));
  };
  return context;
}

/// `batch_size` images as random 1-channel views of the given sizes, in order.
inline Batch random_views(int64_t batch_size, const std::vector<int64_t>& sizes) {
  Batch batch;
  for (const int64_t size : sizes) batch.views.push_back(torch::randn({batch_size, 1, size, size}));
  batch.labels = torch::zeros({batch_size}, torch::kLong);
  batch.indices = torch::arange(batch_size);
  return batch;
}

/// The registered child `name` of `module` as its concrete type (throws when it is not one).
template <typename T>
T& child_as(torch::nn::Module& module, const std::string& name) {
  auto typed = std::dynamic_pointer_cast<T>(module.named_children()[name]);
  TORCH_CHECK(typed != nullptr, "child '", name, "' is not of the expected type");
  return *typed;
}

/// Row-wise cosine similarity of a [B, D] and b [B, D], computed in float64: the formula
/// the similarity losses are checked against.
inline torch::Tensor cosine64(const torch::Tensor& a, const torch::Tensor& b) {
  const auto x = a.detach().to(torch::kDouble);
  const auto y = b.detach().to(torch::kDouble);
  return (x * y).sum(1) / (x.norm(2, {1}) * y.norm(2, {1}));
}

}  // namespace pretext::testing
