// View plans per recipe: group layout, per-view blur/solarization of the asymmetric recipes,
// multi-crop local groups, and errors.
#include "train/view_plan_builder.h"

#include <gtest/gtest.h>

#include "data/rng.h"

namespace pretext {
namespace {

ViewSpec multi_crop(int64_t num_local) {
  ViewSpec spec = ViewSpec::two_views(32);
  spec.num_local = num_local;
  spec.local_size = 12;
  spec.local_scale_min = 0.1;
  spec.local_scale_max = 0.3;
  return spec;
}

TEST(ViewPlanBuilder, SimclrUsesOneChainForEveryGlobalView) {
  const auto base = AugmentOptions().blur_prob(0.3).solarize_prob(0.05);
  const ViewPlan plan = make_view_plan(ViewSpec::two_views(32), "simclr", base);
  ASSERT_EQ(plan.groups().size(), 1u);
  EXPECT_EQ(plan.groups()[0].count, 2);
  EXPECT_EQ(plan.groups()[0].size, 32);
  EXPECT_DOUBLE_EQ(plan.groups()[0].augment.blur_prob(), 0.3);
  EXPECT_DOUBLE_EQ(plan.groups()[0].augment.solarize_prob(), 0.05);
}

TEST(ViewPlanBuilder, ByolAndDinoMakeTheTwoGlobalViewsAsymmetric) {
  const auto base = AugmentOptions().crop_scale_min(0.4).brightness(0.3);
  for (const std::string recipe : {"byol", "dino"}) {
    const ViewPlan plan = make_view_plan(ViewSpec::two_views(32), recipe, base);
    ASSERT_EQ(plan.groups().size(), 2u) << recipe;
    const auto& first = plan.groups()[0].augment;
    const auto& second = plan.groups()[1].augment;
    EXPECT_DOUBLE_EQ(first.blur_prob(), 1.0) << recipe;
    EXPECT_DOUBLE_EQ(first.solarize_prob(), 0.0) << recipe;
    EXPECT_DOUBLE_EQ(second.blur_prob(), 0.1) << recipe;
    EXPECT_DOUBLE_EQ(second.solarize_prob(), 0.2) << recipe;
    // Everything else comes from the base chain.
    EXPECT_DOUBLE_EQ(second.crop_scale_min(), 0.4) << recipe;
    EXPECT_DOUBLE_EQ(first.brightness(), 0.3) << recipe;
  }
}

TEST(ViewPlanBuilder, LocalCropsFollowTheGlobalViewsAtTheirOwnSizeAndScale) {
  const auto base = AugmentOptions().crop_scale_min(0.4).blur_prob(0.0);
  const ViewPlan dino = make_view_plan(multi_crop(4), "dino", base);
  ASSERT_EQ(dino.groups().size(), 3u);
  const ViewGroup& local = dino.groups()[2];
  EXPECT_EQ(local.count, 4);
  EXPECT_EQ(local.size, 12);
  EXPECT_DOUBLE_EQ(local.augment.crop_scale_min(), 0.1);
  EXPECT_DOUBLE_EQ(local.augment.crop_scale_max(), 0.3);
  EXPECT_DOUBLE_EQ(local.augment.blur_prob(), 0.5);  // DINO's local-crop blur
  EXPECT_EQ(dino.num_views(), 6);

  // Any recipe can ask for local crops; they keep the base chain's blur.
  const ViewPlan simclr = make_view_plan(multi_crop(3), "simclr", base);
  ASSERT_EQ(simclr.groups().size(), 2u);
  EXPECT_DOUBLE_EQ(simclr.groups()[1].augment.blur_prob(), 0.0);

  // The views themselves: 2 of 32 px, then the locals of 12 px, from one 40 x 48 image.
  cv::Mat image(40, 48, CV_8UC3, cv::Scalar(10, 120, 230));
  Rng rng(7);
  const auto views = dino.make_views(image, rng);
  ASSERT_EQ(views.size(), 6u);
  for (size_t i = 0; i < views.size(); ++i) {
    const int expected = i < 2 ? 32 : 12;
    EXPECT_EQ(views[i].rows, expected) << "view " << i;
    EXPECT_EQ(views[i].cols, expected) << "view " << i;
    EXPECT_EQ(views[i].channels(), 3) << "view " << i;
  }
}

TEST(ViewPlanBuilder, MaeKeepsOnlyCropAndFlip) {
  const auto base = AugmentOptions().crop_scale_min(0.2).flip_prob(0.5);
  ViewSpec one = ViewSpec::two_views(32);
  one.num_global = 1;
  const ViewPlan plan = make_view_plan(one, "mae", base);
  ASSERT_EQ(plan.num_views(), 1);
  const auto& chain = plan.groups()[0].augment;
  EXPECT_DOUBLE_EQ(chain.crop_scale_min(), 0.2);
  EXPECT_DOUBLE_EQ(chain.flip_prob(), 0.5);
  EXPECT_DOUBLE_EQ(chain.jitter_prob(), 0.0);
  EXPECT_DOUBLE_EQ(chain.grayscale_prob(), 0.0);
  EXPECT_DOUBLE_EQ(chain.blur_prob(), 0.0);
  EXPECT_DOUBLE_EQ(chain.solarize_prob(), 0.0);
}

TEST(ViewPlanBuilder, UnknownRecipeListsTheKnownOnes) {
  try {
    make_view_plan(ViewSpec::two_views(32), "swav", AugmentOptions());
    FAIL() << "expected an error";
  } catch (const c10::ValueError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("'swav'"), std::string::npos) << message;
    EXPECT_NE(message.find("simclr byol dino mae"), std::string::npos) << message;
  }
  ViewSpec bad = multi_crop(2);
  bad.local_size = 0;
  EXPECT_THROW(make_view_plan(bad, "dino", AugmentOptions()), c10::ValueError);
}

}  // namespace
}  // namespace pretext
