// The DINO projection head (Caron et al. arXiv:2104.14294, section 3.1 and main_dino.py /
// vision_transformer.py DINOHead): an MLP to a bottleneck, L2 normalization, then a
// weight-normalized linear layer without bias to out_dim prototypes.
// Parameter names follow the official module (mlp.N.*, last_layer.weight_g / weight_v), so
// DINO checkpoints map onto it one to one.
#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace pretext {

struct DinoHeadOptions {
  DinoHeadOptions(int64_t in_dim, int64_t out_dim) : in_dim_(in_dim), out_dim_(out_dim) {}
  TORCH_ARG(int64_t, in_dim);
  /// Number of prototypes (paper: 65536).
  TORCH_ARG(int64_t, out_dim);
  /// Width of the hidden layers (paper: 2048).
  TORCH_ARG(int64_t, hidden_dim) = 2048;
  /// Width of the L2-normalized bottleneck (paper: 256).
  TORCH_ARG(int64_t, bottleneck_dim) = 256;
  /// Linear layers in the MLP, bottleneck included (paper: 3).
  TORCH_ARG(int64_t, num_layers) = 3;
  /// BatchNorm1d after hidden linear layers (paper: off for ViT, used for ResNet-50 runs).
  TORCH_ARG(bool, use_bn) = false;
  /// Keep the last layer's weight_g fixed at 1, i.e. unit-norm prototypes (paper: true).
  TORCH_ARG(bool, norm_last_layer) = true;
};

class DinoHeadImpl : public torch::nn::Module {
 public:
  explicit DinoHeadImpl(DinoHeadOptions options);
  /// [B, in_dim] -> [B, out_dim] logits (before the temperature).
  torch::Tensor forward(const torch::Tensor& x);
  /// The last layer's parameters (weight_v, and weight_g): what the first-epoch freeze holds.
  std::vector<torch::Tensor> last_layer_parameters() const;
  const DinoHeadOptions& options() const { return options_; }

 private:
  DinoHeadOptions options_;
  torch::nn::Sequential mlp_{nullptr};
  torch::Tensor weight_g_;  // [out_dim, 1]
  torch::Tensor weight_v_;  // [out_dim, bottleneck_dim]
};
TORCH_MODULE(DinoHead);

}  // namespace pretext
