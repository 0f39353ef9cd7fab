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
  /// resnet18 | resnet50 | vit_tiny | vit_small | vit_base (ViT-Ti/S/B: width 192 / 384 / 768,
  /// depth 12, 3 / 6 / 12 heads).
  TORCH_ARG(std::string, arch) = "resnet18";
  /// ResNets only: imagenet (7x7/2 conv + max-pool) | small (3x3/1 conv, no max-pool;
  /// CIFAR-style inputs).
  TORCH_ARG(std::string, stem) = "imagenet";
  /// ResNets only: channel width multiplier on every stage (1.0 = torchvision's widths). ViTs
  /// take their width from arch and reject any other value.
  TORCH_ARG(double, width) = 1.0;
  /// Input image channels (1 for grayscale datasets, 3 for RGB).
  TORCH_ARG(int64_t, in_channels) = 3;
  /// ResNets only: NHWC memory layout for convolutions (faster with oneDNN); no effect on
  /// results' meaning.
  TORCH_ARG(bool, channels_last) = true;
  /// ViTs only: patch side in pixels (ViT/16: 16; 4 for 32 px CIFAR, 7 for 28 px MNIST images).
  TORCH_ARG(int64_t, patch_size) = 16;
  /// ViTs only: image side the position-embedding grid is built for, (image_size / patch_size)^2
  /// patches; other input sizes (multi-crop local views) resample it. Multiple of patch_size.
  TORCH_ARG(int64_t, image_size) = 224;
  /// ViTs only: learned (timm, DINO) | sincos (fixed 2-D sin-cos, not trained; MAE).
  TORCH_ARG(std::string, pos_embed) = "learned";
  /// ViTs only: stochastic-depth rate of the last block, rising linearly from 0 at the first
  /// (timm's drop_path_rate; DINO ViT-S/16: 0.1, MAE ViT-B fine-tuning: 0.1).
  TORCH_ARG(double, drop_path) = 0.0;
  /// ViTs only: LayerScale init value for every ls1 / ls2 gamma (CaiT, arXiv:2103.17239;
  /// DeiT III ViT-S/B: 1e-4); 0 leaves LayerScale out.
  TORCH_ARG(double, layer_scale) = 0.0;
};

/// Builds a backbone by name; unknown names list the known ones.
std::shared_ptr<Backbone> make_backbone(const BackboneOptions& options);

}  // namespace pretext
