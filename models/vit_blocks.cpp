// Vision Transformer building blocks, following timm vision_transformer.py module by module.
// Deviations: none beyond those listed in models/vit_blocks.h.
#include "models/vit_blocks.h"

#include <cmath>
#include <utility>
#include <vector>

namespace pretext {

torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        bool fused) {
  TORCH_CHECK(q.dim() >= 2 && k.dim() == q.dim() && v.dim() == q.dim(),
              "attention: q, k, v need the same rank >= 2, got ", q.sizes(), ", ", k.sizes(), ", ",
              v.sizes());
  TORCH_CHECK(q.size(-1) == k.size(-1) && k.size(-2) == v.size(-2),
              "attention: need q [..., Tq, d], k [..., Tk, d], v [..., Tk, dv], got ", q.sizes(),
              ", ", k.sizes(), ", ", v.sizes());
  if (fused) {
    return at::scaled_dot_product_attention(q, k, v);
  }
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  const auto scores = torch::matmul(q * scale, k.transpose(-2, -1));  // [..., Tq, Tk]
  const bool reduced = q.scalar_type() == torch::kHalf || q.scalar_type() == torch::kBFloat16;
  const auto weights =
      reduced ? scores.softmax(-1, torch::kFloat).to(q.scalar_type()) : scores.softmax(-1);
  return torch::matmul(weights, v);  // [..., Tq, dv]
}

torch::Tensor drop_path(const torch::Tensor& x, double drop_prob, bool training) {
  TORCH_CHECK_VALUE(0.0 <= drop_prob && drop_prob < 1.0,
                    "drop_path: drop_prob must be in [0, 1), got ", drop_prob);
  if (!training || drop_prob == 0.0) return x;
  const double keep_prob = 1.0 - drop_prob;
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[0] = x.size(0);
  const auto keep = torch::empty(shape, x.options()).bernoulli_(keep_prob).div_(keep_prob);
  return x * keep;
}

PatchEmbedImpl::PatchEmbedImpl(int64_t in_channels, int64_t embed_dim, int64_t patch_size)
    : proj(register_module(
          "proj",
          torch::nn::Conv2d(
              torch::nn::Conv2dOptions(in_channels, embed_dim, patch_size).stride(patch_size)))) {}

torch::Tensor PatchEmbedImpl::forward(const torch::Tensor& images) {
  return proj(images).flatten(2).transpose(1, 2);  // [B, D, h, w] -> [B, h*w, D]
}

AttentionImpl::AttentionImpl(int64_t dim, int64_t num_heads, bool qkv_bias, bool fused)
    : qkv(register_module(
          "qkv", torch::nn::Linear(torch::nn::LinearOptions(dim, 3 * dim).bias(qkv_bias)))),
      proj(register_module("proj", torch::nn::Linear(dim, dim))),
      num_heads_(num_heads),
      fused_(fused) {
  TORCH_CHECK_VALUE(num_heads > 0 && dim % num_heads == 0, "Attention: dim ", dim,
                    " must be a positive multiple of num_heads ", num_heads);
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x) {
  const int64_t batch = x.size(0);
  const int64_t tokens = x.size(1);
  const int64_t dim = x.size(2);
  // [B, T, 3D] -> [3, B, heads, T, head_dim]
  const auto qkv_heads =
      qkv(x).reshape({batch, tokens, 3, num_heads_, dim / num_heads_}).permute({2, 0, 3, 1, 4});
  const auto q = qkv_heads[0];
  const auto k = qkv_heads[1];
  const auto v = qkv_heads[2];
  const auto out = attention(q, k, v, fused_);  // [B, heads, T, head_dim]
  return proj(out.transpose(1, 2).reshape({batch, tokens, dim}));
}

MlpImpl::MlpImpl(int64_t dim, int64_t hidden_dim)
    : fc1(register_module("fc1", torch::nn::Linear(dim, hidden_dim))),
      fc2(register_module("fc2", torch::nn::Linear(hidden_dim, dim))) {}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) { return fc2(torch::gelu(fc1(x))); }

LayerScaleImpl::LayerScaleImpl(int64_t dim, double init_value)
    : gamma(register_parameter("gamma", torch::full({dim}, init_value))) {}

torch::Tensor LayerScaleImpl::forward(const torch::Tensor& x) { return x * gamma; }

VitBlockImpl::VitBlockImpl(VitBlockOptions options) : options_(std::move(options)) {
  const auto& o = options_;
  TORCH_CHECK_VALUE(o.dim() > 0 && o.num_heads() > 0 && o.dim() % o.num_heads() == 0,
                    "VitBlock: dim ", o.dim(), " must be a positive multiple of num_heads ",
                    o.num_heads());
  TORCH_CHECK_VALUE(std::isfinite(o.mlp_ratio()) && o.mlp_ratio() > 0.0,
                    "VitBlock: mlp_ratio must be positive, got ", o.mlp_ratio());
  TORCH_CHECK_VALUE(0.0 <= o.drop_path() && o.drop_path() < 1.0,
                    "VitBlock: drop_path must be in [0, 1), got ", o.drop_path());
  TORCH_CHECK_VALUE(std::isfinite(o.layer_scale()) && o.layer_scale() >= 0.0,
                    "VitBlock: layer_scale must be >= 0, got ", o.layer_scale());
  const auto norm = torch::nn::LayerNormOptions({o.dim()}).eps(o.norm_eps());
  // Registration order is timm's, which fixes the parameter and state-dict order.
  norm1 = register_module("norm1", torch::nn::LayerNorm(norm));
  attn =
      register_module("attn", Attention(o.dim(), o.num_heads(), o.qkv_bias(), o.fused_attention()));
  if (o.layer_scale() > 0.0) ls1 = register_module("ls1", LayerScale(o.dim(), o.layer_scale()));
  norm2 = register_module("norm2", torch::nn::LayerNorm(norm));
  const auto hidden = static_cast<int64_t>(static_cast<double>(o.dim()) * o.mlp_ratio());
  mlp = register_module("mlp", Mlp(o.dim(), hidden));
  if (o.layer_scale() > 0.0) ls2 = register_module("ls2", LayerScale(o.dim(), o.layer_scale()));
}

torch::Tensor VitBlockImpl::forward(const torch::Tensor& x) {
  auto branch = attn(norm1(x));
  if (ls1) branch = ls1(branch);
  auto y = x + drop_path(branch, options_.drop_path(), is_training());
  branch = mlp(norm2(y));
  if (ls2) branch = ls2(branch);
  return y + drop_path(branch, options_.drop_path(), is_training());
}

}  // namespace pretext
