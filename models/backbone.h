// The abstract encoder every objective trains and every evaluation reads features from.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <torch/torch.h>

namespace pretext {

class Backbone : public torch::nn::Module {
 public:
  /// images: [B, C, H, W] float, normalized -> features [B, feature_dim()] (pooled, pre-head).
  virtual torch::Tensor forward(const torch::Tensor& images) = 0;
  virtual int64_t feature_dim() const = 0;
  /// Architecture name as configured, e.g. "resnet18".
  virtual std::string arch() const = 0;
};

using BackboneFactory = std::function<std::shared_ptr<Backbone>()>;

struct BackboneOptions {
  /// resnet18 | resnet50.
  TORCH_ARG(std::string, arch) = "resnet18";
  /// imagenet (7x7/2 conv + max-pool) | small (3x3/1 conv, no max-pool; CIFAR-style inputs).
  TORCH_ARG(std::string, stem) = "imagenet";
  /// Channel width multiplier on every stage (1.0 = torchvision's widths).
  TORCH_ARG(double, width) = 1.0;
  /// Input image channels (1 for grayscale datasets, 3 for RGB).
  TORCH_ARG(int64_t, in_channels) = 3;
  /// NHWC memory layout for convolutions (faster with oneDNN); no effect on results' meaning.
  TORCH_ARG(bool, channels_last) = true;
};

/// Builds a backbone by name; unknown names list the known ones.
std::shared_ptr<Backbone> make_backbone(const BackboneOptions& options);

}  // namespace pretext
