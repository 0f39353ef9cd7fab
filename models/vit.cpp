// Vision Transformer backbone, following timm vision_transformer.py (VisionTransformer with
// forward_features + the 'token' pool), timm.layers.pos_embed.resample_abs_pos_embed, and MAE
// util/pos_embed.py (get_2d_sincos_pos_embed) for the fixed embedding.
// Deviations: see models/vit.h.
#include "models/vit.h"

#include <cmath>
#include <utility>

namespace pretext {
namespace {

/// Truncated normal N(0, std^2) restricted to [a, b] (absolute bounds, as timm's trunc_normal_),
/// by rejection: redraw the values that fall outside. Exact, and fast for timm's bounds (+-2
/// with std .02 lie 100 std out); torch.nn.init.trunc_normal_ uses an inverse CDF instead.
void trunc_normal_(torch::Tensor& tensor, double std, double a = -2.0, double b = 2.0) {
  TORCH_INTERNAL_ASSERT(a <= -std && std <= b, "trunc_normal_: bounds [", a, ", ", b,
                        "] too tight for rejection with std ", std);
  tensor.normal_(0.0, std);
  for (auto outside = tensor.lt(a).logical_or_(tensor.gt(b)); outside.any().item<bool>();
       outside = tensor.lt(a).logical_or_(tensor.gt(b))) {
    const int64_t count = outside.sum().item<int64_t>();
    tensor.masked_scatter_(outside, torch::empty({count}, tensor.options()).normal_(0.0, std));
  }
}

}  // namespace

torch::Tensor sincos_pos_embed_2d(int64_t embed_dim, int64_t grid_h, int64_t grid_w,
                                  bool cls_token) {
  TORCH_CHECK_VALUE(embed_dim > 0 && embed_dim % 4 == 0,
                    "sincos_pos_embed_2d: embed_dim must be a positive multiple of 4, got ",
                    embed_dim);
  TORCH_CHECK_VALUE(grid_h > 0 && grid_w > 0, "sincos_pos_embed_2d: grid must be positive, got ",
                    grid_h, " x ", grid_w);
  const auto f64 = torch::TensorOptions().dtype(torch::kDouble);
  const int64_t quarter = embed_dim / 4;
  const auto omega =
      torch::pow(10000.0, -torch::arange(quarter, f64) / static_cast<double>(quarter));
  // MAE: meshgrid(grid_w, grid_h) puts the column index first; tokens are row-major.
  const auto rows = torch::arange(grid_h, f64).repeat_interleave(grid_w);  // i of token n
  const auto cols = torch::arange(grid_w, f64).repeat({grid_h});           // j of token n
  const auto col_angles = torch::outer(cols, omega);                       // [N, D/4]
  const auto row_angles = torch::outer(rows, omega);
  auto embed = torch::cat({col_angles.sin(), col_angles.cos(), row_angles.sin(), row_angles.cos()},
                          1);  // [N, D]
  if (cls_token) embed = torch::cat({torch::zeros({1, embed_dim}, f64), embed}, 0);
  return embed;
}

torch::Tensor resample_pos_embed(const torch::Tensor& pos_embed, std::vector<int64_t> old_grid,
                                 std::vector<int64_t> new_grid, int64_t num_prefix_tokens) {
  TORCH_CHECK_VALUE(old_grid.size() == 2 && new_grid.size() == 2 && old_grid[0] > 0 &&
                        old_grid[1] > 0 && new_grid[0] > 0 && new_grid[1] > 0,
                    "resample_pos_embed: grids must be {h, w} > 0, got ",
                    torch::IntArrayRef(old_grid), " -> ", torch::IntArrayRef(new_grid));
  TORCH_CHECK(pos_embed.dim() == 3 && pos_embed.size(0) == 1 && num_prefix_tokens >= 0 &&
                  pos_embed.size(1) == num_prefix_tokens + old_grid[0] * old_grid[1],
              "resample_pos_embed: expected pos_embed [1, ", num_prefix_tokens, " + ", old_grid[0],
              " * ", old_grid[1], ", D], got ", pos_embed.sizes());
  if (old_grid == new_grid) return pos_embed;
  namespace F = torch::nn::functional;
  const int64_t dim = pos_embed.size(2);
  const auto prefix = pos_embed.narrow(1, 0, num_prefix_tokens);
  auto grid = pos_embed.narrow(1, num_prefix_tokens, old_grid[0] * old_grid[1])
                  .to(torch::kFloat)
                  .reshape({1, old_grid[0], old_grid[1], dim})
                  .permute({0, 3, 1, 2});  // [1, D, old_h, old_w]
  grid = F::interpolate(grid, F::InterpolateFuncOptions()
                                  .size(new_grid)
                                  .mode(torch::kBicubic)
                                  .align_corners(false)
                                  .antialias(true));
  grid = grid.permute({0, 2, 3, 1})
             .reshape({1, new_grid[0] * new_grid[1], dim})
             .to(pos_embed.scalar_type());
  return torch::cat({prefix, grid}, 1);
}

VisionTransformer::VisionTransformer(VitOptions options) : options_(std::move(options)) {
  const auto& o = options_;
  TORCH_CHECK_VALUE(o.embed_dim() > 0 && o.num_heads() > 0 && o.embed_dim() % o.num_heads() == 0,
                    arch(), ": embed_dim ", o.embed_dim(),
                    " must be a positive multiple of num_heads ", o.num_heads());
  TORCH_CHECK_VALUE(o.depth() >= 1, arch(), ": depth must be >= 1, got ", o.depth());
  TORCH_CHECK_VALUE(o.in_channels() > 0, arch(), ": in_channels must be positive, got ",
                    o.in_channels());
  TORCH_CHECK_VALUE(o.patch_size() > 0 && o.image_size() >= o.patch_size() &&
                        o.image_size() % o.patch_size() == 0,
                    arch(), ": image_size must be a positive multiple of patch_size, got ",
                    o.image_size(), " and ", o.patch_size());
  TORCH_CHECK_VALUE(o.pos_embed() == "learned" || o.pos_embed() == "sincos", arch(),
                    ": unknown pos_embed '", o.pos_embed(), "'; known: learned, sincos");
  TORCH_CHECK_VALUE(o.pos_embed() != "sincos" || o.embed_dim() % 4 == 0, arch(),
                    ": sincos pos_embed needs embed_dim divisible by 4, got ", o.embed_dim());
  TORCH_CHECK_VALUE(0.0 <= o.drop_path() && o.drop_path() < 1.0, arch(),
                    ": drop_path must be in [0, 1), got ", o.drop_path());
  TORCH_CHECK_VALUE(std::isfinite(o.layer_scale()) && o.layer_scale() >= 0.0, arch(),
                    ": layer_scale must be >= 0 (0 = off), got ", o.layer_scale());
  grid_size_ = o.image_size() / o.patch_size();
  const int64_t dim = o.embed_dim();

  // Own parameters first, then submodules in timm's order: this fixes the state-dict order.
  cls_token_ = register_parameter("cls_token", torch::zeros({1, 1, dim}));
  pos_embed_ = register_parameter("pos_embed", torch::zeros({1, 1 + num_patches(), dim}),
                                  /*requires_grad=*/o.pos_embed() == "learned");
  patch_embed_ = register_module("patch_embed", PatchEmbed(o.in_channels(), dim, o.patch_size()));
  auto blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < o.depth(); ++i) {
    // timm's dpr = linspace(0, drop_path, depth).
    const double rate =
        o.depth() > 1 ? o.drop_path() * static_cast<double>(i) / static_cast<double>(o.depth() - 1)
                      : 0.0;
    VitBlock block(VitBlockOptions(dim, o.num_heads())
                       .mlp_ratio(o.mlp_ratio())
                       .qkv_bias(o.qkv_bias())
                       .drop_path(rate)
                       .layer_scale(o.layer_scale())
                       .fused_attention(o.fused_attention()));
    blocks->push_back(block);
    blocks_.push_back(block);
  }
  norm_ =
      register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-6)));
  reset_parameters();
}

void VisionTransformer::reset_parameters() {
  torch::NoGradGuard no_grad;
  if (options_.pos_embed() == "learned") {
    trunc_normal_(pos_embed_, 0.02);
  } else {
    pos_embed_.copy_(
        sincos_pos_embed_2d(options_.embed_dim(), grid_size_, grid_size_, true).unsqueeze(0));
  }
  trunc_normal_(cls_token_, 0.02);
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* linear = module->as<torch::nn::Linear>()) {
      trunc_normal_(linear->weight, 0.02);
      if (linear->bias.defined()) linear->bias.zero_();
    } else if (auto* norm = module->as<torch::nn::LayerNorm>()) {
      norm->weight.fill_(1.0);
      norm->bias.zero_();
    }
  }
}

torch::Tensor VisionTransformer::pos_embed_for_grid(int64_t grid_h, int64_t grid_w) {
  if (grid_h == grid_size_ && grid_w == grid_size_) return pos_embed_;
  if (options_.pos_embed() == "sincos") {
    return sincos_pos_embed_2d(options_.embed_dim(), grid_h, grid_w, true)
        .to(pos_embed_.device(), pos_embed_.scalar_type())
        .unsqueeze(0);
  }
  return resample_pos_embed(pos_embed_, {grid_size_, grid_size_}, {grid_h, grid_w});
}

torch::Tensor VisionTransformer::embed_patches(const torch::Tensor& images) {
  const int64_t p = options_.patch_size();
  TORCH_CHECK(images.dim() == 4 && images.size(1) == options_.in_channels(), arch(),
              ": expected images [B, ", options_.in_channels(), ", H, W], got ", images.sizes());
  TORCH_CHECK(images.size(2) % p == 0 && images.size(3) % p == 0 && images.size(2) > 0 &&
                  images.size(3) > 0,
              arch(), ": image height and width must be positive multiples of patch_size ", p,
              ", got ", images.sizes());
  const auto patches = patch_embed_(images);  // [B, N, D]
  const auto pos = pos_embed_for_grid(images.size(2) / p, images.size(3) / p);
  return patches + pos.narrow(1, 1, patches.size(1));
}

torch::Tensor VisionTransformer::cls_token_with_pos() {
  return cls_token_ + pos_embed_.narrow(1, 0, 1);  // [1, 1, D]
}

torch::Tensor VisionTransformer::forward_tokens(const torch::Tensor& tokens) {
  TORCH_CHECK(tokens.dim() == 3 && tokens.size(2) == options_.embed_dim(), arch(),
              ": expected tokens [B, T, ", options_.embed_dim(), "], got ", tokens.sizes());
  auto x = tokens;
  for (auto& block : blocks_) {
    x = block(x);
  }
  return norm_(x);
}

torch::Tensor VisionTransformer::forward(const torch::Tensor& images) {
  const auto patches = embed_patches(images);                               // [B, N, D]
  const auto cls = cls_token_with_pos().expand({patches.size(0), -1, -1});  // [B, 1, D]
  return forward_tokens(torch::cat({cls, patches}, 1)).select(1, 0);        // [B, D]
}

void VisionTransformer::freeze_patch_embed() {
  patch_embed_->proj->weight.set_requires_grad(false);
  patch_embed_->proj->bias.set_requires_grad(false);
}

}  // namespace pretext
