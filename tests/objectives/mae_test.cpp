// MAE: masking counts and the restore permutation, patchify against a naive loop and its
// inverse, the masked loss against a per-patch loop, and the objective on a tiny ViT.
#include "objectives/mae.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "objectives/mae_masking.h"
#include "tests/objectives/small_objective.h"
#include "tests/test_util.h"

namespace pretext {
namespace {

class MaeMaskingTest : public testing::Seeded {};

TEST_F(MaeMaskingTest, KeepsMaesTruncatedShareOfPatchesAndRestoreInvertsTheShuffle) {
  const int64_t b = 3;
  const int64_t l = 10;
  const int64_t d = 4;
  const auto x = torch::randn({b, l, d});
  const auto noise = torch::rand({b, l});
  const auto m = random_masking(x, 0.75, noise);
  const int64_t keep = 2;  // MAE's len_keep = int(10 * (1 - 0.75)) = int(2.5) = 2
  EXPECT_EQ(num_visible(l, 0.75), keep);
  EXPECT_EQ(num_visible(196, 0.75), 49);
  EXPECT_EQ(num_visible(16, 0.75), 4);
  EXPECT_EQ(num_visible(49, 0.75), 12);  // int(12.25)
  EXPECT_EQ(num_visible(16, 0.6), 6);    // int(6.3999999999999995) in Python
  ASSERT_EQ(m.kept.sizes(), torch::IntArrayRef({b, keep, d}));
  for (int64_t i = 0; i < b; ++i) {
    EXPECT_EQ(m.mask[i].sum().item<double>(), static_cast<double>(l - keep)) << "sample " << i;
    // The kept tokens are those with the smallest noise, and the mask is 0 exactly there.
    const auto smallest = std::get<1>(noise[i].topk(keep, 0, /*largest=*/false));
    for (int64_t k = 0; k < keep; ++k) {
      const int64_t index = m.ids_keep[i][k].item<int64_t>();
      EXPECT_EQ(m.mask[i][index].item<double>(), 0.0);
      EXPECT_TRUE(torch::equal(m.kept[i][k], x[i][index]));
      EXPECT_TRUE(smallest.eq(index).any().item<bool>());
    }
  }
  // [kept tokens, placeholders] gathered by ids_restore puts every kept token back in place.
  const auto filled = torch::cat({m.kept, torch::full({b, l - keep, d}, 99.0f)}, 1);
  const auto restored = filled.gather(1, m.ids_restore.unsqueeze(-1).expand({b, l, d}));
  for (int64_t i = 0; i < b; ++i) {
    for (int64_t j = 0; j < l; ++j) {
      if (m.mask[i][j].item<double>() == 0.0) {
        EXPECT_TRUE(torch::equal(restored[i][j], x[i][j])) << i << "," << j;
      } else {
        EXPECT_EQ(restored[i][j][0].item<float>(), 99.0f) << i << "," << j;
      }
    }
  }
}

TEST_F(MaeMaskingTest, PatchifyMatchesNaiveLayoutAndUnpatchifyInvertsIt) {
  const int64_t p = 2;
  const auto images = torch::randn({2, 3, 4, 6});
  const auto patches = patchify(images, p);
  ASSERT_EQ(patches.sizes(), torch::IntArrayRef({2, 6, p * p * 3}));
  // Patch (gi, gj) at index gi * 3 + gj; pixel (u, v), channel c at (u * p + v) * C + c.
  for (int64_t gi = 0; gi < 2; ++gi) {
    for (int64_t gj = 0; gj < 3; ++gj) {
      for (int64_t u = 0; u < p; ++u) {
        for (int64_t v = 0; v < p; ++v) {
          for (int64_t c = 0; c < 3; ++c) {
            EXPECT_EQ(patches[1][gi * 3 + gj][(u * p + v) * 3 + c].item<float>(),
                      images[1][c][gi * p + u][gj * p + v].item<float>());
          }
        }
      }
    }
  }
  const auto square = torch::randn({2, 1, 8, 8});
  EXPECT_TRUE(torch::equal(unpatchify(patchify(square, 4), 4, 1), square));
  EXPECT_THROW(patchify(torch::randn({1, 1, 5, 4}), 2), c10::Error);
}

TEST_F(MaeMaskingTest, LossCountsMaskedPatchesOnlyLikeAPerPatchLoop) {
  const auto pred = torch::randn({2, 4, 6}, torch::kFloat64);
  const auto target = torch::randn({2, 4, 6}, torch::kFloat64) * 2 + 1;
  const auto mask = torch::tensor({{1.0, 0.0, 1.0, 0.0}, {0.0, 0.0, 1.0, 1.0}}, torch::kFloat64);
  for (const bool norm : {false, true}) {
    double total = 0.0;
    double count = 0.0;
    for (int64_t i = 0; i < 2; ++i) {
      for (int64_t j = 0; j < 4; ++j) {
        if (mask[i][j].item<double>() == 0.0) continue;
        std::vector<double> t(6);
        double mean = 0.0;
        for (int64_t k = 0; k < 6; ++k) mean += (t[k] = target[i][j][k].item<double>()) / 6.0;
        double var = 0.0;
        for (const double v : t) var += (v - mean) * (v - mean) / 5.0;  // unbiased
        double se = 0.0;
        for (int64_t k = 0; k < 6; ++k) {
          const double goal = norm ? (t[k] - mean) / std::sqrt(var + 1e-6) : t[k];
          const double diff = pred[i][j][k].item<double>() - goal;
          se += diff * diff / 6.0;
        }
        total += se;
        count += 1.0;
      }
    }
    EXPECT_NEAR(masked_reconstruction_loss(pred, target, mask, norm).item<double>(), total / count,
                1e-5)
        << "norm_pix_loss " << norm;
  }
}

class MaeObjectiveTest : public testing::Seeded {
 protected:
  static std::shared_ptr<MaeObjective> build() {
    return std::make_shared<MaeObjective>(
        testing::small_vit_context(),
        MaeOptions().decoder_dim(16).decoder_depth(1).decoder_heads(2));
  }
};

TEST_F(MaeObjectiveTest, LossIsOnMaskedPatchesAndTrainsEncoderAndDecoder) {
  auto mae = build();
  mae->train();
  const auto images = torch::randn({3, 1, 16, 16});
  const auto noise = torch::rand({3, 16});
  const auto out = mae->forward_with_noise(images, noise);
  ASSERT_EQ(out.pred.sizes(), torch::IntArrayRef({3, 16, 16}));
  EXPECT_EQ(out.mask.sum().item<double>(), 3.0 * 12.0);  // 4 of 16 patches visible
  // MAE's forward_loss written out from the pixels: each 4 x 4 patch's pixels in (row, col)
  // order, normalized by their own mean and unbiased variance (+1e-6), the squared error per
  // patch averaged, then the mean over masked patches only.
  const auto image = images.to(torch::kDouble);
  const auto pred = out.pred.detach().to(torch::kDouble);
  double total = 0.0, masked = 0.0;
  for (int64_t b = 0; b < 3; ++b) {
    for (int64_t gy = 0; gy < 4; ++gy) {
      for (int64_t gx = 0; gx < 4; ++gx) {
        const int64_t l = gy * 4 + gx;
        if (out.mask[b][l].item<double>() == 0.0) continue;
        std::vector<double> target;
        for (int64_t py = 0; py < 4; ++py) {
          for (int64_t px = 0; px < 4; ++px) {
            target.push_back(image[b][0][gy * 4 + py][gx * 4 + px].item<double>());
          }
        }
        double mean = 0.0;
        for (double t : target) mean += t / 16.0;
        double var = 0.0;
        for (double t : target) var += (t - mean) * (t - mean) / 15.0;
        double error = 0.0;
        for (int64_t k = 0; k < 16; ++k) {
          const double t = (target[k] - mean) / std::sqrt(var + 1e-6);
          error += std::pow(pred[b][l][k].item<double>() - t, 2) / 16.0;
        }
        total += error;
        masked += 1.0;
      }
    }
  }
  EXPECT_NEAR(out.loss.item<double>(), total / masked, 1e-5 * total / masked);
  out.loss.backward();
  EXPECT_TRUE(mae->vit().named_parameters()["cls_token"].grad().defined());
  EXPECT_TRUE(mae->named_parameters()["mask_token"].grad().defined());
  // The decoder's position embedding is fixed.
  EXPECT_FALSE(mae->named_buffers()["decoder_pos_embed"].requires_grad());

  // compute_loss draws each mask from (step, dataset index): repeatable, new at the next step.
  Batch batch = testing::random_views(3, {16});
  Step step;
  step.index = 5;
  const double a = mae->compute_loss(batch, step).loss.item<double>();
  EXPECT_DOUBLE_EQ(mae->compute_loss(batch, step).loss.item<double>(), a);
  step.index = 6;
  EXPECT_NE(mae->compute_loss(batch, step).loss.item<double>(), a);
}

TEST_F(MaeMaskingTest, NoiseFollowsTheSampleNotTheBatch) {
  const auto all = masking_noise(torch::tensor({10, 11, 12, 13}, torch::kLong), 4, 16, 3);
  ASSERT_EQ(all.sizes(), torch::IntArrayRef({4, 16}));
  EXPECT_GE(all.min().item<double>(), 0.0);
  EXPECT_LT(all.max().item<double>(), 1.0);
  // The second half of the batch, as another rank sees it, and the same samples reordered.
  EXPECT_TRUE(torch::equal(masking_noise(torch::tensor({12, 13}, torch::kLong), 2, 16, 3),
                           all.slice(0, 2, 4)));
  const auto swapped = masking_noise(torch::tensor({13, 10}, torch::kLong), 2, 16, 3);
  EXPECT_TRUE(torch::equal(swapped[0], all[3]));
  EXPECT_TRUE(torch::equal(swapped[1], all[0]));
  // Rows differ between samples, and the same sample gets a new mask at the next step.
  EXPECT_FALSE(torch::equal(all[0], all[1]));
  EXPECT_FALSE(torch::equal(masking_noise(torch::tensor({10}, torch::kLong), 1, 16, 4)[0], all[0]));
  EXPECT_THROW(masking_noise(torch::tensor({1, 2}, torch::kLong), 3, 16, 0), c10::Error);
}

TEST_F(MaeObjectiveTest, EncoderSeesOnlyTheVisiblePatches) {
  // The decoder's prediction is a function of the encoder's latent, so when changing masked
  // pixels leaves the prediction bit for bit, the encoder never saw them.
  auto mae = build();
  mae->eval();
  torch::NoGradGuard no_grad;
  const auto images = torch::randn({3, 1, 16, 16});
  const auto noise = torch::rand({3, 16});
  const MaeOutput out = mae->forward_with_noise(images, noise);
  // mask [3, 16] over the 4 x 4 grid of 4 px patches -> [3, 1, 16, 16] pixels.
  const auto masked_pixels =
      out.mask.view({3, 1, 4, 4}).repeat_interleave(4, /*dim=*/2).repeat_interleave(4, /*dim=*/3);
  const auto changed = images + masked_pixels * torch::randn_like(images) * 10.0;
  ASSERT_GT((changed - images).abs().sum().item<double>(), 0.0);
  EXPECT_TRUE(torch::equal(mae->forward_with_noise(changed, noise).pred, out.pred));
  // Changing the visible pixels does reach the prediction.
  const auto visible_pixels = 1.0 - masked_pixels;
  const auto nudged = images + visible_pixels * torch::randn_like(images);
  EXPECT_FALSE(torch::allclose(mae->forward_with_noise(nudged, noise).pred, out.pred));
}

TEST_F(MaeObjectiveTest, TwoRanksHalvesAverageToTheOneRankLoss) {
  // Every sample keeps as many patches, so the global batch's loss is the mean of the two
  // halves' losses exactly when each image gets the same mask wherever it is.
  auto mae = build();
  mae->train();
  Batch batch = testing::random_views(4, {16});
  batch.indices = torch::tensor({40, 7, 123, 9}, torch::kLong);
  Step step;
  step.index = 11;
  const double whole = mae->compute_loss(batch, step).loss.item<double>();
  double halves = 0.0;
  for (int64_t rank = 0; rank < 2; ++rank) {
    Batch half;
    half.views = {batch.views[0].slice(0, 2 * rank, 2 * rank + 2)};
    half.labels = batch.labels.slice(0, 2 * rank, 2 * rank + 2);
    half.indices = batch.indices.slice(0, 2 * rank, 2 * rank + 2);
    halves += mae->compute_loss(half, step).loss.item<double>() / 2.0;
  }
  EXPECT_NEAR(whole, halves, 1e-6 * std::abs(whole));
}

TEST_F(MaeObjectiveTest, RejectsConvolutionalBackbonesAndBadOptions) {
  EXPECT_THROW(MaeObjective(testing::small_context(), MaeOptions()), c10::ValueError);
  ObjectiveContext context = testing::small_vit_context();
  EXPECT_THROW(MaeObjective(context, MaeOptions().mask_ratio(1.0)), c10::ValueError);
  EXPECT_THROW(MaeObjective(context, MaeOptions().mask_ratio(0.0)), c10::ValueError);
}

}  // namespace
}  // namespace pretext
