// Vision Transformer: timm's parameter names, order and counts (checked against timm itself
// in Python), initialization, attention against a naive per-head loop and the fused kernel
// against the explicit form, MAE's sin-cos formula, position-embedding resampling, stochastic
// depth, LayerScale, the token-level API used by masked-image modelling, and option checks.
#include "models/vit.h"

#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "models/backbone.h"
#include "tests/test_util.h"

namespace pretext {
namespace {

using VitTest = testing::Seeded;

/// A fast ViT: 2 blocks, width 32, 2 heads, 16 px images in 4 px patches (a 4 x 4 grid).
VitOptions small_vit() { return VitOptions(32, 2, 2).patch_size(4).image_size(16); }

using testing::names_of;
using testing::parameter_count;

/// timm's VisionTransformer parameter names (class token, no head), written out from its rules.
std::vector<std::string> expected_timm_parameters(int64_t depth, bool layer_scale) {
  std::vector<std::string> names = {"cls_token", "pos_embed", "patch_embed.proj.weight",
                                    "patch_embed.proj.bias"};
  for (int64_t i = 0; i < depth; ++i) {
    const std::string p = "blocks." + std::to_string(i) + ".";
    for (const char* suffix : {"norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.qkv.bias",
                               "attn.proj.weight", "attn.proj.bias"}) {
      names.push_back(p + suffix);
    }
    if (layer_scale) names.push_back(p + "ls1.gamma");
    for (const char* suffix : {"norm2.weight", "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias",
                               "mlp.fc2.weight", "mlp.fc2.bias"}) {
      names.push_back(p + suffix);
    }
    if (layer_scale) names.push_back(p + "ls2.gamma");
  }
  names.push_back("norm.weight");
  names.push_back("norm.bias");
  return names;
}

bool all_equal(const torch::Tensor& t, double value) { return t.eq(value).all().item<bool>(); }

TEST_F(VitTest, ParameterNamesFollowTimm) {
  VisionTransformer plain(small_vit());
  EXPECT_EQ(names_of(plain.named_parameters()), expected_timm_parameters(2, false));
  EXPECT_TRUE(plain.named_buffers().is_empty());

  VisionTransformer scaled(small_vit().layer_scale(0.1));
  EXPECT_EQ(names_of(scaled.named_parameters()), expected_timm_parameters(2, true));
  const auto params = scaled.named_parameters();
  EXPECT_EQ(params["cls_token"].sizes(), torch::IntArrayRef({1, 1, 32}));
  EXPECT_EQ(params["pos_embed"].sizes(), torch::IntArrayRef({1, 17, 32}));
  EXPECT_EQ(params["patch_embed.proj.weight"].sizes(), torch::IntArrayRef({32, 3, 4, 4}));
  EXPECT_EQ(params["blocks.1.attn.qkv.weight"].sizes(), torch::IntArrayRef({96, 32}));
  EXPECT_EQ(params["blocks.1.attn.qkv.bias"].sizes(), torch::IntArrayRef({96}));
  EXPECT_EQ(params["blocks.0.mlp.fc1.weight"].sizes(), torch::IntArrayRef({128, 32}));
  EXPECT_EQ(params["blocks.0.mlp.fc2.weight"].sizes(), torch::IntArrayRef({32, 128}));
  EXPECT_EQ(params["blocks.0.ls2.gamma"].sizes(), torch::IntArrayRef({32}));
  EXPECT_EQ(params["norm.bias"].sizes(), torch::IntArrayRef({32}));
}

TEST_F(VitTest, ParameterCountsMatchTimm) {
  // timm vit_{tiny,small,base}_patch16_224 with num_classes = 0, width D, 196 patches:
  //   patch_embed 3*16*16*D + D, cls_token D, pos_embed 197 D, final norm 2 D, and per block
  //   2 norms 4 D + qkv 3 D^2 + 3 D + proj D^2 + D + fc1 4 D^2 + 4 D + fc2 4 D^2 + D
  //   = 12 D^2 + 13 D; with 12 blocks the total is 144 D^2 + 1125 D.
  const std::vector<std::pair<std::string, int64_t>> models = {
      {"vit_tiny", 192}, {"vit_small", 384}, {"vit_base", 768}};
  const std::vector<int64_t> expected = {5524416, 21665664, 85798656};
  for (size_t i = 0; i < models.size(); ++i) {
    const int64_t d = models[i].second;
    ASSERT_EQ(144 * d * d + 1125 * d, expected[i]);
    auto net = make_backbone(BackboneOptions().arch(models[i].first));
    EXPECT_EQ(parameter_count(*net), expected[i]) << models[i].first;
    EXPECT_EQ(net->feature_dim(), d) << models[i].first;
    EXPECT_EQ(net->arch(), models[i].first);
    auto* vit = dynamic_cast<VisionTransformer*>(net.get());
    ASSERT_NE(vit, nullptr);
    EXPECT_EQ(vit->num_patches(), 196);
    EXPECT_EQ(vit->patch_size(), 16);
    EXPECT_EQ(vit->embed_dim(), d);
    EXPECT_EQ(vit->blocks().size(), 12u);
    if (models[i].first == "vit_base") {
      // With timm's 1000-class head on the CLS feature: vit_base_patch16_224's 86,567,656.
      torch::nn::Linear head(d, 1000);
      EXPECT_EQ(parameter_count(*net) + parameter_count(*head), 86567656);
    }
  }
}

TEST_F(VitTest, ForwardShapesAndInChannels) {
  auto net =
      make_backbone(BackboneOptions().arch("vit_tiny").patch_size(4).image_size(32).in_channels(1));
  const auto y = net->forward(torch::randn({2, 1, 32, 32}));
  EXPECT_EQ(y.sizes(), torch::IntArrayRef({2, 192}));
  EXPECT_TRUE(torch::isfinite(y).all().item<bool>());
  EXPECT_EQ(net->named_parameters()["patch_embed.proj.weight"].sizes(),
            torch::IntArrayRef({192, 1, 4, 4}));
  EXPECT_EQ(net->named_parameters()["pos_embed"].sizes(), torch::IntArrayRef({1, 65, 192}));
}

TEST_F(VitTest, InitializationFollowsTimm) {
  VisionTransformer net(VitOptions(192, 2, 3).image_size(224));
  const auto params = net.named_parameters();
  for (const auto& item : params) {
    const std::string& name = item.key();
    const bool is_norm = name.find("norm") != std::string::npos;
    if (is_norm && name.find(".weight") != std::string::npos) {
      EXPECT_TRUE(all_equal(item.value(), 1.0)) << name;
    } else if (name.find(".bias") != std::string::npos && name.find("patch_embed") == 0) {
      // PyTorch's default conv bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
      EXPECT_LE(item.value().abs().max().item<double>(), 1.0 / std::sqrt(3.0 * 16 * 16)) << name;
    } else if (name.find(".bias") != std::string::npos) {
      EXPECT_TRUE(all_equal(item.value(), 0.0)) << name;
    }
  }
  // trunc_normal(std .02): Linear weights, pos_embed, cls_token.
  for (const char* name : {"blocks.0.attn.qkv.weight", "blocks.1.mlp.fc2.weight", "pos_embed"}) {
    const auto w = params[name];
    EXPECT_NEAR(w.std().item<double>(), 0.02, 0.02 * 0.03) << name;
    EXPECT_NEAR(w.mean().item<double>(), 0.0, 0.002) << name;
  }
  EXPECT_NEAR(params["cls_token"].std().item<double>(), 0.02, 0.02 * 0.25);
  // Patch projection keeps PyTorch's Conv2d default, kaiming_uniform(a = sqrt(5)):
  // U(-b, b) with b = 1 / sqrt(fan_in), std b / sqrt(3).
  const auto proj = params["patch_embed.proj.weight"];
  const double bound = 1.0 / std::sqrt(3.0 * 16 * 16);
  EXPECT_LE(proj.abs().max().item<double>(), bound);
  EXPECT_NEAR(proj.std().item<double>(), bound / std::sqrt(3.0), 0.03 * bound);
  EXPECT_TRUE(params["pos_embed"].requires_grad());
}

/// softmax(q k^T / sqrt(d)) v one (batch, head) at a time, softmax written out.
torch::Tensor naive_attention(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v) {
  std::vector<torch::Tensor> batches;
  for (int64_t b = 0; b < q.size(0); ++b) {
    std::vector<torch::Tensor> heads;
    for (int64_t h = 0; h < q.size(1); ++h) {
      const auto s = q[b][h].mm(k[b][h].t()) / std::sqrt(static_cast<double>(q.size(3)));
      const auto e = (s - std::get<0>(s.max(1, /*keepdim=*/true))).exp();
      heads.push_back((e / e.sum(1, /*keepdim=*/true)).mm(v[b][h]));
    }
    batches.push_back(torch::stack(heads));
  }
  return torch::stack(batches);
}

struct QkvGrads {
  torch::Tensor out;
  std::vector<torch::Tensor> grads;
};

QkvGrads run_attention(
    const std::function<torch::Tensor(torch::Tensor, torch::Tensor, torch::Tensor)>& fn,
    const torch::Tensor& q0, const torch::Tensor& k0, const torch::Tensor& v0,
    const torch::Tensor& weights) {
  auto q = q0.clone().requires_grad_(true);
  auto k = k0.clone().requires_grad_(true);
  auto v = v0.clone().requires_grad_(true);
  const auto out = fn(q, k, v);
  const auto grads = torch::autograd::grad({(out * weights).sum()}, {q, k, v});
  return {out.detach(), grads};
}

TEST_F(VitTest, FallbackAttentionMatchesNaivePerHeadLoop) {
  const auto f64 = torch::TensorOptions().dtype(torch::kDouble);
  const auto q = torch::randn({2, 3, 5, 4}, f64);
  const auto k = torch::randn({2, 3, 7, 4}, f64);
  const auto v = torch::randn({2, 3, 7, 6}, f64);
  const auto w = torch::randn({2, 3, 5, 6}, f64);
  const auto fallback = run_attention(
      [](torch::Tensor a, torch::Tensor b, torch::Tensor c) { return attention(a, b, c, false); },
      q, k, v, w);
  const auto naive = run_attention(naive_attention, q, k, v, w);
  EXPECT_EQ(fallback.out.sizes(), torch::IntArrayRef({2, 3, 5, 6}));
  EXPECT_TRUE(torch::allclose(fallback.out, naive.out, 1e-10, 1e-12));
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(torch::allclose(fallback.grads[i], naive.grads[i], 1e-10, 1e-12)) << "grad " << i;
  }
}

TEST_F(VitTest, FusedAttentionMatchesFallback) {
  const auto q = torch::randn({2, 3, 9, 8});
  const auto k = torch::randn({2, 3, 9, 8});
  const auto v = torch::randn({2, 3, 9, 8});
  const auto w = torch::randn({2, 3, 9, 8});
  const auto fused = run_attention(
      [](torch::Tensor a, torch::Tensor b, torch::Tensor c) { return attention(a, b, c, true); }, q,
      k, v, w);
  const auto fallback = run_attention(
      [](torch::Tensor a, torch::Tensor b, torch::Tensor c) { return attention(a, b, c, false); },
      q, k, v, w);
  EXPECT_TRUE(torch::allclose(fused.out, fallback.out, 1e-5, 1e-6));
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(torch::allclose(fused.grads[i], fallback.grads[i], 1e-4, 1e-5)) << "grad " << i;
  }
  // Whole model: the same weights through both paths.
  VisionTransformer with_fused(small_vit());
  VisionTransformer explicit_form(small_vit().fused_attention(false));
  {
    torch::NoGradGuard no_grad;
    auto source = with_fused.named_parameters();
    for (auto& item : explicit_form.named_parameters()) item.value().copy_(source[item.key()]);
  }
  const auto x = torch::randn({2, 3, 16, 16});
  EXPECT_TRUE(torch::allclose(with_fused.forward(x), explicit_form.forward(x), 1e-4, 1e-5));
}

/// MAE util/pos_embed.py get_1d_sincos_pos_embed_from_grid(embed_dim, pos), entry c.
double mae_1d(int64_t embed_dim, double pos, int64_t c) {
  const int64_t half = embed_dim / 2;
  const int64_t k = c % half;
  const double omega = 1.0 / std::pow(10000.0, static_cast<double>(k) / static_cast<double>(half));
  return c < half ? std::sin(pos * omega) : std::cos(pos * omega);
}

/// MAE get_2d_sincos_pos_embed entry (token at row i, column j; channel c), without CLS:
/// emb_h from grid[0] (the column index, numpy meshgrid's 'xy' order), emb_w from the row.
double mae_2d(int64_t embed_dim, int64_t i, int64_t j, int64_t c) {
  const int64_t half = embed_dim / 2;
  return c < half ? mae_1d(half, static_cast<double>(j), c)
                  : mae_1d(half, static_cast<double>(i), c - half);
}

TEST_F(VitTest, SincosPositionEmbeddingMatchesMaeFormula) {
  VisionTransformer net(small_vit().pos_embed("sincos"));
  const auto pos = net.named_parameters()["pos_embed"];
  EXPECT_FALSE(pos.requires_grad());
  EXPECT_TRUE(all_equal(pos[0][0], 0.0));  // CLS entry
  const int64_t grid = 4;
  const int64_t dim = 32;
  for (const auto& ij : std::vector<std::pair<int64_t, int64_t>>{{0, 0}, {0, 3}, {2, 1}, {3, 3}}) {
    for (const int64_t c : {0, 3, 7, 8, 13, 16, 21, 24, 31}) {
      const int64_t token = 1 + ij.first * grid + ij.second;
      EXPECT_NEAR(pos[0][token][c].item<double>(), mae_2d(dim, ij.first, ij.second, c), 1e-6)
          << "row " << ij.first << " col " << ij.second << " channel " << c;
    }
  }
  // Non-square grid, float64, no CLS.
  const auto table = sincos_pos_embed_2d(8, 2, 3, /*cls_token=*/false);
  ASSERT_EQ(table.sizes(), torch::IntArrayRef({6, 8}));
  EXPECT_EQ(table.scalar_type(), torch::kDouble);
  for (int64_t i = 0; i < 2; ++i) {
    for (int64_t j = 0; j < 3; ++j) {
      for (int64_t c = 0; c < 8; ++c) {
        EXPECT_NEAR(table[i * 3 + j][c].item<double>(), mae_2d(8, i, j, c), 1e-12);
      }
    }
  }
  // Not trained: no gradient, and the trainer only collects parameters that require one.
  net.forward(torch::randn({2, 3, 16, 16})).sum().backward();
  EXPECT_FALSE(pos.grad().defined());
  // Other grids are recomputed, not interpolated.
  EXPECT_TRUE(torch::allclose(net.pos_embed_for_grid(2, 3),
                              sincos_pos_embed_2d(32, 2, 3, true).to(torch::kFloat).unsqueeze(0)));
  EXPECT_EQ(net.forward(torch::randn({2, 3, 8, 12})).sizes(), torch::IntArrayRef({2, 32}));
}

TEST_F(VitTest, PositionEmbeddingResampledForOtherSizes) {
  VisionTransformer net(VitOptions(32, 2, 2).patch_size(7).image_size(28));
  const auto pos = net.named_parameters()["pos_embed"];
  ASSERT_EQ(pos.sizes(), torch::IntArrayRef({1, 17, 32}));
  // Native grid: the stored embedding itself.
  EXPECT_TRUE(torch::equal(net.pos_embed_for_grid(4, 4), pos));
  EXPECT_TRUE(torch::equal(resample_pos_embed(pos, {4, 4}, {4, 4}), pos));

  // 14 px local crop: a 2 x 2 grid, CLS entry kept.
  const auto small = net.pos_embed_for_grid(2, 2);
  ASSERT_EQ(small.sizes(), torch::IntArrayRef({1, 5, 32}));
  EXPECT_TRUE(torch::equal(small[0][0], pos[0][0]));
  const auto y = net.forward(torch::randn({3, 3, 14, 14}));
  EXPECT_EQ(y.sizes(), torch::IntArrayRef({3, 32}));
  EXPECT_EQ(net.forward(torch::randn({3, 3, 28, 14})).sizes(), torch::IntArrayRef({3, 32}));
  EXPECT_EQ(net.forward(torch::randn({1, 3, 42, 42})).sizes(), torch::IntArrayRef({1, 32}));

  // The resampled embedding stays trainable.
  y.sum().backward();
  ASSERT_TRUE(pos.grad().defined());
  EXPECT_GT(pos.grad().narrow(1, 1, 16).abs().sum().item<double>(), 0.0);

  // Bicubic weights sum to one: a constant field stays constant, up or down.
  const auto constant = torch::cat(
      {torch::randn({1, 1, 8}), torch::arange(8).to(torch::kFloat).expand({1, 9, 8})}, 1);
  for (const int64_t side : {2, 5}) {
    const auto resampled = resample_pos_embed(constant, {3, 3}, {side, side});
    ASSERT_EQ(resampled.size(1), 1 + side * side);
    EXPECT_TRUE(torch::allclose(resampled.narrow(1, 1, side * side),
                                torch::arange(8).to(torch::kFloat).expand({1, side * side, 8}),
                                1e-5, 1e-5));
    EXPECT_TRUE(torch::equal(resampled[0][0], constant[0][0]));
  }
}

TEST_F(VitTest, DropPathScalesKeptSamples) {
  const auto x = torch::ones({2000, 3, 4});
  EXPECT_TRUE(drop_path(x, 0.25, /*training=*/false).is_same(x));
  EXPECT_TRUE(drop_path(x, 0.0, /*training=*/true).is_same(x));
  const auto y = drop_path(x, 0.25, /*training=*/true);
  const auto per_sample = y.flatten(1);
  // Every sample is dropped or kept as a whole; kept ones are scaled by 1 / keep_prob.
  EXPECT_TRUE(per_sample.eq(per_sample.narrow(1, 0, 1)).all().item<bool>());
  const auto first = per_sample.select(1, 0);
  EXPECT_TRUE((first.eq(0.0) | first.sub(1.0 / 0.75).abs().lt(1e-6)).all().item<bool>());
  const double dropped = first.eq(0.0).to(torch::kDouble).mean().item<double>();
  EXPECT_NEAR(dropped, 0.25, 0.04);
  EXPECT_THROW(drop_path(x, 1.0, true), c10::ValueError);
}

TEST_F(VitTest, DropPathRatesRiseOverBlocksAndActOnlyInTraining) {
  VisionTransformer net(VitOptions(32, 3, 2).patch_size(4).image_size(16).drop_path(0.5));
  ASSERT_EQ(net.blocks().size(), 3u);
  EXPECT_DOUBLE_EQ(net.blocks()[0]->options().drop_path(), 0.0);
  EXPECT_DOUBLE_EQ(net.blocks()[1]->options().drop_path(), 0.25);
  EXPECT_DOUBLE_EQ(net.blocks()[2]->options().drop_path(), 0.5);

  const auto x = torch::randn({8, 3, 16, 16});
  net.eval();
  const auto a = net.forward(x);
  EXPECT_TRUE(torch::equal(a, net.forward(x)));
  net.train();
  const auto b = net.forward(x);
  EXPECT_FALSE(torch::allclose(a, b));
  // Without drop_path, training and eval mode agree (there is no dropout or batch norm).
  VisionTransformer plain(small_vit());
  const auto z = torch::randn({2, 3, 16, 16});
  plain.train();
  const auto train_out = plain.forward(z);
  plain.eval();
  EXPECT_TRUE(torch::equal(train_out, plain.forward(z)));
}

TEST_F(VitTest, LayerScaleGammasStartAtInitValue) {
  VisionTransformer net(small_vit().layer_scale(1e-5));
  const auto params = net.named_parameters();
  for (const char* name :
       {"blocks.0.ls1.gamma", "blocks.0.ls2.gamma", "blocks.1.ls1.gamma", "blocks.1.ls2.gamma"}) {
    ASSERT_TRUE(params.contains(name)) << name;
    EXPECT_TRUE(torch::allclose(params[name], torch::full({32}, 1e-5))) << name;
    EXPECT_TRUE(params[name].requires_grad()) << name;
  }
  net.forward(torch::randn({2, 3, 16, 16})).sum().backward();
  EXPECT_TRUE(params["blocks.1.ls2.gamma"].grad().defined());
  VisionTransformer plain(small_vit());
  EXPECT_FALSE(plain.named_parameters().contains("blocks.0.ls1.gamma"));
}

TEST_F(VitTest, TokenStepsReproduceForward) {
  VisionTransformer net(small_vit().layer_scale(0.1));
  net.eval();
  for (const int64_t side : {16, 8}) {
    const auto x = torch::randn({3, 3, side, side});
    const auto patches = net.embed_patches(x);
    const int64_t n = (side / 4) * (side / 4);
    ASSERT_EQ(patches.sizes(), torch::IntArrayRef({3, n, 32}));
    const auto cls = net.cls_token_with_pos();
    ASSERT_EQ(cls.sizes(), torch::IntArrayRef({1, 1, 32}));
    const auto tokens = net.forward_tokens(torch::cat({cls.expand({3, -1, -1}), patches}, 1));
    ASSERT_EQ(tokens.sizes(), torch::IntArrayRef({3, 1 + n, 32}));
    EXPECT_TRUE(torch::allclose(tokens.select(1, 0), net.forward(x), 1e-6, 1e-6)) << side;
  }
  // MAE-style: a subset of patch tokens (any T) goes through the same blocks.
  const auto kept = net.embed_patches(torch::randn({2, 3, 16, 16})).narrow(1, 0, 5);
  EXPECT_EQ(net.forward_tokens(kept).sizes(), torch::IntArrayRef({2, 5, 32}));
  EXPECT_EQ(net.num_patches(), 16);
  EXPECT_EQ(net.grid_size(), 4);
}

TEST_F(VitTest, FreezePatchEmbedStopsItsGradient) {
  VisionTransformer net(small_vit());
  net.freeze_patch_embed();
  const auto params = net.named_parameters();
  EXPECT_FALSE(params["patch_embed.proj.weight"].requires_grad());
  EXPECT_FALSE(params["patch_embed.proj.bias"].requires_grad());
  EXPECT_TRUE(params["pos_embed"].requires_grad());
  EXPECT_TRUE(params["blocks.0.attn.qkv.weight"].requires_grad());
  net.forward(torch::randn({2, 3, 16, 16})).pow(2).sum().backward();
  EXPECT_FALSE(params["patch_embed.proj.weight"].grad().defined());
  EXPECT_GT(params["cls_token"].grad().abs().sum().item<double>(), 0.0);
  EXPECT_GT(params["blocks.0.norm1.weight"].grad().abs().sum().item<double>(), 0.0);
}

TEST_F(VitTest, RejectsBadOptions) {
  using testing::thrown_message;
  const auto width =
      thrown_message([] { make_backbone(BackboneOptions().arch("vit_tiny").width(2.0)); });
  EXPECT_NE(width.find("ResNets only"), std::string::npos) << width;
  const auto unknown = thrown_message([] { make_backbone(BackboneOptions().arch("vit_large")); });
  EXPECT_NE(unknown.find("vit_tiny, vit_small, vit_base"), std::string::npos) << unknown;
  EXPECT_THROW(VisionTransformer(small_vit().image_size(18)), c10::ValueError);
  EXPECT_THROW(VisionTransformer(small_vit().patch_size(0)), c10::ValueError);
  EXPECT_THROW(VisionTransformer(small_vit().pos_embed("rope")), c10::ValueError);
  EXPECT_THROW(
      VisionTransformer(VitOptions(30, 2, 2).patch_size(4).image_size(16).pos_embed("sincos")),
      c10::ValueError);
  EXPECT_THROW(VisionTransformer(VitOptions(32, 2, 3)), c10::ValueError);
  EXPECT_THROW(VisionTransformer(VitOptions(32, 0, 2)), c10::ValueError);
  EXPECT_THROW(VisionTransformer(small_vit().drop_path(1.0)), c10::ValueError);
  EXPECT_THROW(VisionTransformer(small_vit().layer_scale(-1.0)), c10::ValueError);
  VisionTransformer net(small_vit());
  const auto channels = thrown_message([&] { net.forward(torch::randn({2, 1, 16, 16})); });
  EXPECT_NE(channels.find("[2, 1, 16, 16]"), std::string::npos) << channels;
  EXPECT_THROW(net.forward(torch::randn({2, 3, 10, 16})), c10::Error);
  EXPECT_THROW(net.forward_tokens(torch::randn({2, 5, 16})), c10::Error);
}

TEST_F(VitTest, StateDictMatchesTimmPython) {
  const std::string script =
      "import timm, torch\n"
      "model = timm.create_model('vit_tiny_patch16_224', num_classes=0, depth=2,\n"
      "                          init_values=0.1)\n"
      "for k, v in model.state_dict().items():\n"
      "    print(k, *v.shape)\n";
  const auto python =
      testing::run_command("'" + testing::python() + "' -c \"" + script + "\" 2>/dev/null");
  const std::string& output = python.output;
  ASSERT_EQ(python.exit_code, 0) << testing::python() << " failed; output:\n" << output;

  VisionTransformer net(VitOptions::tiny().depth(2).layer_scale(0.1));
  std::ostringstream actual;
  for (const auto& item : net.named_parameters()) {
    actual << item.key();
    for (const int64_t d : item.value().sizes()) actual << ' ' << d;
    actual << '\n';
  }
  EXPECT_EQ(actual.str(), output);
}

}  // namespace
}  // namespace pretext
