// ResNet-18/50 (He et al., arXiv:1512.03385) with torchvision's parameter names
// (conv1, bn1, layer1.0.conv1, layer2.0.downsample.0, fc), so state dicts interchange.
// Deviations: optional small-image stem (3x3 stride-1 conv, no max-pool) as in SimCLR's CIFAR
// setting; width multiplier; configurable input channels; fc only when num_classes > 0.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "models/backbone.h"
#include "models/batch_norm.h"

namespace pretext {

struct ResNetOptions {
  ResNetOptions(std::vector<int64_t> blocks_per_stage, bool bottleneck)
      : blocks_per_stage_(std::move(blocks_per_stage)), bottleneck_(bottleneck) {}
  static ResNetOptions resnet18() { return ResNetOptions({2, 2, 2, 2}, false); }
  static ResNetOptions resnet50() { return ResNetOptions({3, 4, 6, 3}, true); }

  TORCH_ARG(std::vector<int64_t>, blocks_per_stage);
  /// Bottleneck blocks (1x1-3x3-1x1, expansion 4) as in ResNet-50; basic blocks otherwise.
  TORCH_ARG(bool, bottleneck);
  /// "imagenet" or "small".
  TORCH_ARG(std::string, stem) = "imagenet";
  TORCH_ARG(double, width) = 1.0;
  TORCH_ARG(int64_t, in_channels) = 3;
  /// Classifier outputs; 0 leaves out `fc` and forward returns pooled features.
  TORCH_ARG(int64_t, num_classes) = 0;
  /// Zero-init the last BN gamma of each residual branch (torchvision's zero_init_residual).
  TORCH_ARG(bool, zero_init_residual) = false;
  /// Keep conv weights and activations in NHWC (channels-last) layout: on CPU oneDNN runs these
  /// convolutions about 25% faster for small images. Parameter names and shapes are unchanged.
  TORCH_ARG(bool, channels_last) = false;
  TORCH_ARG(std::string, arch_name) = "resnet";
};

class ResNet final : public Backbone {
 public:
  explicit ResNet(ResNetOptions options);
  /// [B, in_channels, H, W] -> [B, feature_dim] (or [B, num_classes] when fc exists).
  torch::Tensor forward(const torch::Tensor& images) override;
  int64_t feature_dim() const override { return feature_dim_; }
  std::string arch() const override { return options_.arch_name(); }
  const ResNetOptions& options() const { return options_; }

 private:
  /// torchvision's initialization: kaiming-normal (fan_out) convs, BN 1/0, zero_init_residual.
  void reset_parameters();

  ResNetOptions options_;
  int64_t feature_dim_ = 0;
  torch::nn::Conv2d conv1_{nullptr};
  BatchNorm bn1_{nullptr};
  std::vector<torch::nn::Sequential> stages_;
  torch::nn::Linear fc_{nullptr};
};

}  // namespace pretext
