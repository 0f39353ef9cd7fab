// Vision Transformer building blocks (Dosovitskiy et al., arXiv:2010.11929): patch embedding,
// multi-head self-attention, MLP, LayerScale, stochastic depth and the pre-norm residual block.
// Reference: timm vision_transformer.py (PatchEmbed, Attention, Mlp, LayerScale, Block) and
// timm.layers.drop_path; submodule and parameter names are timm's.
// Deviations: no dropout inside attention or the MLP and no q/k normalization (timm's
// defaults, and what DINO, MAE and MoCo v3 use).
#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace pretext {

/// Scaled dot-product attention softmax(q k^T / sqrt(d)) v.
/// q: [..., Tq, d], k and v: [..., Tk, d], same floating dtype -> [..., Tq, d].
/// fused = true calls LibTorch's scaled_dot_product_attention (flash / memory-efficient kernels
/// where available); fused = false is the explicit form of
/// timm's Attention (q scaled first; softmax in fp32 for half and bfloat16 inputs).
torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        bool fused);

/// Stochastic depth per sample (timm drop_path with scale_by_keep = true): while training, each
/// sample x[b] of x [B, ...] is zeroed with probability drop_prob and kept ones are divided by
/// 1 - drop_prob, so the expectation is unchanged. Identity in eval mode or for drop_prob = 0.
torch::Tensor drop_path(const torch::Tensor& x, double drop_prob, bool training);

/// Non-overlapping patches to tokens: Conv2d with kernel = stride = patch_size (timm PatchEmbed,
/// `proj`), flattened row-major over the patch grid. PyTorch's default Conv2d initialization.
class PatchEmbedImpl : public torch::nn::Module {
 public:
  PatchEmbedImpl(int64_t in_channels, int64_t embed_dim, int64_t patch_size);
  /// [B, C, H, W] (H, W multiples of patch_size) -> [B, (H/p)*(W/p), embed_dim].
  torch::Tensor forward(const torch::Tensor& images);

  torch::nn::Conv2d proj{nullptr};
};
TORCH_MODULE(PatchEmbed);

/// Multi-head self-attention with a joint qkv projection (timm Attention: `qkv`, `proj`).
class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(int64_t dim, int64_t num_heads, bool qkv_bias, bool fused);
  /// [B, T, dim] -> [B, T, dim].
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Linear qkv{nullptr};
  torch::nn::Linear proj{nullptr};

 private:
  int64_t num_heads_;
  bool fused_;
};
TORCH_MODULE(Attention);

/// fc1 -> GELU (exact, erf) -> fc2 (timm Mlp).
class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(int64_t dim, int64_t hidden_dim);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Linear fc1{nullptr};
  torch::nn::Linear fc2{nullptr};
};
TORCH_MODULE(Mlp);

/// Per-channel residual-branch scale `gamma`, initialized to init_value (CaiT, arXiv:2103.17239;
/// timm LayerScale).
class LayerScaleImpl : public torch::nn::Module {
 public:
  LayerScaleImpl(int64_t dim, double init_value);
  /// [..., dim] -> [..., dim].
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor gamma;  // [dim]
};
TORCH_MODULE(LayerScale);

struct VitBlockOptions {
  VitBlockOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  /// MLP hidden width = int(dim * mlp_ratio) (ViT: 4).
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(bool, qkv_bias) = true;
  /// LayerNorm epsilon (timm's ViTs: 1e-6).
  TORCH_ARG(double, norm_eps) = 1e-6;
  /// Stochastic-depth probability of both residual branches.
  TORCH_ARG(double, drop_path) = 0.0;
  /// LayerScale init value; 0 leaves `ls1` / `ls2` out.
  TORCH_ARG(double, layer_scale) = 0.0;
  /// Fused attention kernel where LibTorch has it; false forces the explicit form.
  TORCH_ARG(bool, fused_attention) = true;
};

/// Pre-norm transformer block (timm Block):
///   x = x + drop_path(ls1(attn(norm1(x))));  x = x + drop_path(ls2(mlp(norm2(x)))).
/// Parameters: norm1, attn.qkv, attn.proj, [ls1.gamma], norm2, mlp.fc1, mlp.fc2, [ls2.gamma].
class VitBlockImpl : public torch::nn::Module {
 public:
  explicit VitBlockImpl(VitBlockOptions options);
  /// [B, T, dim] -> [B, T, dim].
  torch::Tensor forward(const torch::Tensor& x);
  const VitBlockOptions& options() const { return options_; }

  torch::nn::LayerNorm norm1{nullptr};
  Attention attn{nullptr};
  LayerScale ls1{nullptr};
  torch::nn::LayerNorm norm2{nullptr};
  Mlp mlp{nullptr};
  LayerScale ls2{nullptr};

 private:
  VitBlockOptions options_;
};
TORCH_MODULE(VitBlock);

}  // namespace pretext
