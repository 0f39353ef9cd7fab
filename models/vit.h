// Vision Transformer backbone (Dosovitskiy et al., arXiv:2010.11929) as timm's
// VisionTransformer with class_token = true, global_pool = 'token', num_classes = 0: parameter
// names, shapes and order match timm's state dict (cls_token, pos_embed, patch_embed.proj,
// blocks.N.*, norm), so checkpoints map one to one.
// Deviations: cls_token ~ trunc_normal(std .02) as DeiT, DINO and MAE (timm: normal(std 1e-6));
// optional fixed 2-D sin-cos position embedding (MAE get_2d_sincos_pos_embed); inputs must be a
// multiple of the patch size (timm's conv silently drops the remainder).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "models/backbone.h"
#include "models/vit_blocks.h"

namespace pretext {

struct VitOptions {
  VitOptions(int64_t embed_dim, int64_t depth, int64_t num_heads)
      : embed_dim_(embed_dim), depth_(depth), num_heads_(num_heads) {}
  /// ViT-Ti, ViT-S and ViT-B (DeiT / timm widths; depth 12).
  static VitOptions tiny() { return VitOptions(192, 12, 3); }
  static VitOptions small() { return VitOptions(384, 12, 6); }
  static VitOptions base() { return VitOptions(768, 12, 12); }

  TORCH_ARG(int64_t, embed_dim);
  TORCH_ARG(int64_t, depth);
  TORCH_ARG(int64_t, num_heads);
  /// MLP hidden width over embed_dim (ViT: 4).
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(bool, qkv_bias) = true;
  /// Patch side in pixels (ViT-B/16: 16).
  TORCH_ARG(int64_t, patch_size) = 16;
  /// Image side the position-embedding grid is built for (image_size / patch_size per side).
  TORCH_ARG(int64_t, image_size) = 224;
  TORCH_ARG(int64_t, in_channels) = 3;
  /// "learned" (timm, DINO) | "sincos" (fixed, MAE; needs embed_dim % 4 == 0).
  TORCH_ARG(std::string, pos_embed) = "learned";
  /// Stochastic-depth rate of the last block; block i uses rate * i / (depth - 1) (timm's dpr).
  TORCH_ARG(double, drop_path) = 0.0;
  /// LayerScale init value (ls1 / ls2 gamma in every block); 0 = no LayerScale.
  TORCH_ARG(double, layer_scale) = 0.0;
  /// LibTorch's fused scaled_dot_product_attention kernel; false forces the explicit form.
  TORCH_ARG(bool, fused_attention) = true;
  TORCH_ARG(std::string, arch_name) = "vit";
};

/// MAE's get_2d_sincos_pos_embed for a grid_h x grid_w patch grid, in float64 as MAE's numpy
/// code: row n = i * grid_w + j (patch row i, column j) holds
/// [sin(j w), cos(j w), sin(i w), cos(i w)] with w_k = 10000^(-k / (embed_dim / 4)),
/// k = 0 .. embed_dim/4 - 1 (MAE's meshgrid puts the column index in the first half).
/// cls_token prepends a zero row. Returns [cls_token + grid_h * grid_w, embed_dim] kDouble.
torch::Tensor sincos_pos_embed_2d(int64_t embed_dim, int64_t grid_h, int64_t grid_w,
                                  bool cls_token);

/// timm resample_abs_pos_embed: bicubic interpolation (align_corners = false, antialias = true)
/// of the grid part of pos_embed [1, num_prefix_tokens + old_h * old_w, D] from old_grid to
/// new_grid (each {h, w}), computed in float32; prefix (CLS) entries are kept as they are.
/// Returns pos_embed itself when the grids agree. -> [1, num_prefix_tokens + new_h * new_w, D].
torch::Tensor resample_pos_embed(const torch::Tensor& pos_embed, std::vector<int64_t> old_grid,
                                 std::vector<int64_t> new_grid, int64_t num_prefix_tokens = 1);

class VisionTransformer final : public Backbone {
 public:
  explicit VisionTransformer(VitOptions options);

  /// images [B, in_channels, H, W] float, H and W multiples of patch_size (any size: the
  /// position embedding is resampled) -> CLS token after the final norm, [B, embed_dim].
  torch::Tensor forward(const torch::Tensor& images) override;
  int64_t feature_dim() const override { return options_.embed_dim(); }
  std::string arch() const override { return options_.arch_name(); }
  const VitOptions& options() const { return options_; }

  // Steps of forward(), public for masked-image modelling (MAE) and token-level objectives:
  // forward(x) == forward_tokens(cat([cls_token_with_pos() expanded to B, embed_patches(x)],
  // dim 1))[:, 0].

  /// images [B, C, H, W] -> patch tokens plus position embedding, [B, (H/p)*(W/p), D], no CLS.
  torch::Tensor embed_patches(const torch::Tensor& images);
  /// cls_token + its position embedding, [1, 1, D] (the same for every input size).
  torch::Tensor cls_token_with_pos();
  /// All blocks and the final norm over tokens [B, T, D] (any T) -> [B, T, D].
  torch::Tensor forward_tokens(const torch::Tensor& tokens);
  /// Position embedding for a grid_h x grid_w patch grid, CLS entry first: the stored pos_embed
  /// at the configured grid, else resampled (learned) or recomputed (sincos).
  /// -> [1, 1 + grid_h * grid_w, D].
  torch::Tensor pos_embed_for_grid(int64_t grid_h, int64_t grid_w);

  int64_t patch_size() const { return options_.patch_size(); }
  /// Patches per side at the configured image_size.
  int64_t grid_size() const { return grid_size_; }
  /// Patches at the configured image_size, (image_size / patch_size)^2.
  int64_t num_patches() const { return grid_size_ * grid_size_; }
  int64_t embed_dim() const { return options_.embed_dim(); }
  const std::vector<VitBlock>& blocks() const { return blocks_; }

  /// Fixes the random patch projection (MoCo v3, arXiv:2104.02057 section 4.2): requires_grad
  /// false on patch_embed.proj.weight and .bias. The trainer optimizes only parameters that
  /// require grad.
  void freeze_patch_embed();

 private:
  /// timm init_weights('') except cls_token: trunc_normal(.02) for pos_embed (learned),
  /// cls_token and Linear weights, zero Linear biases, LayerNorm 1 / 0, PyTorch's default for
  /// the patch projection (as timm and DINO; MAE uses xavier_uniform there).
  void reset_parameters();

  VitOptions options_;
  int64_t grid_size_ = 0;
  PatchEmbed patch_embed_{nullptr};
  torch::Tensor cls_token_;  // [1, 1, D]
  torch::Tensor pos_embed_;  // [1, 1 + N, D]
  std::vector<VitBlock> blocks_;
  torch::nn::LayerNorm norm_{nullptr};
};

}  // namespace pretext
