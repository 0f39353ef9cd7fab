// MoCo v3: in-batch InfoNCE against a naive loop (with other ranks' keys as extra negatives),
// the symmetric 2T-scaled loss recomputed from its parts, and the frozen momentum encoder.
#include "objectives/moco_v3.h"

#include <cmath>

#include <gtest/gtest.h>

#include "objectives/info_nce.h"
#include "tests/objectives/small_objective.h"
#include "tests/test_util.h"

namespace pretext {
namespace {

// mean_i -log softmax_j(cos(q_i, keys_j) / T)[offset + i], every norm and dot an explicit loop.
torch::Tensor naive_in_batch(const torch::Tensor& q, const torch::Tensor& keys, int64_t offset,
                             double t) {
  const auto cosine = [](const torch::Tensor& a, const torch::Tensor& b) {
    auto dot = torch::zeros({}, torch::kFloat64);
    auto na = torch::zeros({}, torch::kFloat64);
    auto nb = torch::zeros({}, torch::kFloat64);
    for (int64_t d = 0; d < a.size(0); ++d) {
      dot = dot + a[d] * b[d];
      na = na + a[d] * a[d];
      nb = nb + b[d] * b[d];
    }
    return dot / torch::sqrt(na * nb);
  };
  auto total = torch::zeros({}, torch::kFloat64);
  for (int64_t i = 0; i < q.size(0); ++i) {
    auto denominator = torch::zeros({}, torch::kFloat64);
    for (int64_t j = 0; j < keys.size(0); ++j) {
      denominator = denominator + torch::exp(cosine(q[i], keys[j]) / t);
    }
    total = total - (cosine(q[i], keys[offset + i]) / t - torch::log(denominator));
  }
  return total / static_cast<double>(q.size(0));
}

class InBatchTest : public testing::Seeded {};

TEST_F(InBatchTest, MatchesNaiveLoopWithAndWithoutOtherRanksKeys) {
  for (const int64_t offset : {0, 3}) {
    const auto q = torch::randn({3, 6}, torch::kFloat64);
    const auto keys = torch::randn({offset == 0 ? 3 : 9, 6}, torch::kFloat64);
    auto q_fast = q.to(torch::kFloat32).requires_grad_();
    const auto fast = info_nce_in_batch(q_fast, keys.to(torch::kFloat32), offset, 0.2);
    fast.loss.backward();
    auto q_ref = q.clone().requires_grad_();
    const auto ref = naive_in_batch(q_ref, keys, offset, 0.2);
    ref.backward();
    EXPECT_NEAR(fast.loss.item<double>(), ref.item<double>(), 1e-4) << "offset " << offset;
    EXPECT_TRUE(torch::allclose(q_fast.grad().to(torch::kFloat64), q_ref.grad(), 1e-3, 1e-5))
        << "offset " << offset;
  }
  EXPECT_THROW(info_nce_in_batch(torch::ones({3, 2}), torch::ones({4, 2}), 2, 0.2), c10::Error);
}

class MocoV3Test : public testing::Seeded {};

TEST_F(MocoV3Test, SymmetricLossIsTwoTemperatureTimesBothDirections) {
  const auto options = MocoV3Options().proj_hidden_dim(32).proj_output_dim(8).temperature(0.5);
  auto moco = std::make_shared<MocoV3Objective>(testing::small_context(), options);
  moco->train();
  const Batch batch = testing::random_views(6, {16, 16});
  Step step;
  step.total = 10;
  const auto out = moco->compute_loss(batch, step);
  auto children = moco->named_children();
  const auto head = [&](const std::string& name, const torch::Tensor& x) {
    return children[name]->as<MlpHeadImpl>()->forward(x);
  };
  torch::NoGradGuard no_grad;
  const auto q0 = head("predictor", head("projector", moco->encoder().forward(batch.views[0])));
  const auto q1 = head("predictor", head("projector", moco->encoder().forward(batch.views[1])));
  const auto k0 = head("momentum_projector", moco->momentum_encoder().forward(batch.views[0]));
  const auto k1 = head("momentum_projector", moco->momentum_encoder().forward(batch.views[1]));
  const auto f64 = [](const torch::Tensor& x) { return x.to(torch::kFloat64); };
  const double expected = 2.0 * 0.5 *
                          (naive_in_batch(f64(q0), f64(k1), 0, 0.5).item<double>() +
                           naive_in_batch(f64(q1), f64(k0), 0, 0.5).item<double>());
  EXPECT_NEAR(out.loss.item<double>(), expected, 1e-4);
}

TEST_F(MocoV3Test, MomentumEncoderIsFrozenAndProjectorEndsInAffineFreeBatchNorm) {
  auto moco = std::make_shared<MocoV3Objective>(
      testing::small_context(), MocoV3Options().proj_hidden_dim(32).proj_output_dim(8));
  moco->train();
  Step step;
  step.total = 10;
  moco->compute_loss(testing::random_views(4, {16, 16}), step).loss.backward();
  for (const auto& p : moco->momentum_encoder().parameters()) {
    EXPECT_FALSE(p.requires_grad());
    EXPECT_FALSE(p.grad().defined());
  }
  // 3 bias-free linears + 2 hidden BatchNorms with affine parameters; the last BN has none.
  const auto projector = moco->named_children()["projector"]->named_parameters();
  EXPECT_EQ(projector.size(), 3u + 2u * 2u);
  EXPECT_THROW(MocoV3Objective(testing::small_context(), MocoV3Options().temperature(0.0)),
               c10::ValueError);
}

TEST_F(MocoV3Test, FrozenPatchProjectionGetsNoGradientAndNeedsAViT) {
  const auto options =
      MocoV3Options().proj_hidden_dim(32).proj_output_dim(8).freeze_patch_embed(true);
  auto moco = std::make_shared<MocoV3Objective>(testing::small_vit_context(), options);
  moco->train();
  Step step;
  step.total = 10;
  moco->compute_loss(testing::random_views(4, {16, 16}), step).loss.backward();
  const auto params = moco->encoder().named_parameters();
  EXPECT_FALSE(params["patch_embed.proj.weight"].requires_grad());
  EXPECT_FALSE(params["patch_embed.proj.weight"].grad().defined());
  EXPECT_TRUE(params["cls_token"].grad().defined());
  EXPECT_THROW(MocoV3Objective(testing::small_context(), options), c10::ValueError);
}

}  // namespace
}  // namespace pretext
