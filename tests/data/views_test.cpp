// ViewPlan: view counts and sizes, the full chain on 1- and 3-channel images, evaluation views,
// determinism and the order in which views consume the RNG.
#include <vector>

#include "data/augment.h"
#include "data/views.h"
#include "tests/test_util.h"

namespace pretext {
namespace {

cv::Mat gradient_image(int rows, int cols, int channels) {
  cv::Mat image(rows, cols, CV_8UC(channels));
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols * channels; ++c) {
      image.ptr<uint8_t>(r)[c] = static_cast<uint8_t>((r * 7 + c * 3) % 256);
    }
  }
  return image;
}

/// Every optional step switched on, so the whole chain runs.
AugmentOptions everything_on() {
  return AugmentOptions()
      .flip_prob(1.0)
      .jitter_prob(1.0)
      .grayscale_prob(1.0)
      .blur_prob(1.0)
      .solarize_prob(1.0);
}

bool same_pixels(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0.0;
}

class ViewsTest : public testing::Seeded {};

TEST_F(ViewsTest, FullChainKeepsChannelsAndSize) {
  for (const int channels : {1, 3}) {
    const cv::Mat image = gradient_image(28, 28, channels);
    for (uint64_t seed = 0; seed < 20; ++seed) {
      Rng rng(seed);
      const cv::Mat view = augment_view(image, 24, everything_on(), rng);
      ASSERT_EQ(view.size(), cv::Size(24, 24));
      ASSERT_EQ(view.type(), CV_8UC(channels));
      Rng rng_default(seed);
      const cv::Mat plain = augment_view(image, 32, AugmentOptions(), rng_default);
      ASSERT_EQ(plain.size(), cv::Size(32, 32));
      ASSERT_EQ(plain.type(), CV_8UC(channels));
    }
  }
}

TEST_F(ViewsTest, GroupsGiveCountsAndSizesInOrder) {
  ViewGroup global;
  global.count = 2;
  global.size = 32;
  ViewGroup local;
  local.count = 3;
  local.size = 16;
  local.augment.crop_scale_min(0.05).crop_scale_max(0.4);
  const ViewPlan plan({global, local});
  EXPECT_EQ(plan.num_views(), 5);
  EXPECT_EQ(plan.view_size(0), 32);
  EXPECT_EQ(plan.view_size(1), 32);
  EXPECT_EQ(plan.view_size(2), 16);
  EXPECT_EQ(plan.view_size(4), 16);
  EXPECT_THROW(plan.view_size(5), c10::Error);

  const cv::Mat image = gradient_image(40, 50, 3);
  Rng rng(1);
  const auto views = plan.make_views(image, rng);
  ASSERT_EQ(views.size(), 5u);
  for (size_t i = 0; i < views.size(); ++i) {
    EXPECT_EQ(views[i].rows, plan.view_size(static_cast<int64_t>(i)));
    EXPECT_EQ(views[i].type(), CV_8UC3);
  }
  // Views draw from the one RNG, in view order.
  Rng replay(1);
  for (size_t i = 0; i < views.size(); ++i) {
    const ViewGroup& group = i < 2 ? global : local;
    EXPECT_TRUE(same_pixels(views[i], augment_view(image, group.size, group.augment, replay)))
        << "view " << i;
  }
}

TEST_F(ViewsTest, SameSeedSamePixelsOtherSeedOtherPixels) {
  const ViewPlan plan({ViewGroup{2, 24, everything_on().solarize_prob(0.0), true}});
  const cv::Mat image = gradient_image(30, 30, 3);
  Rng a(sample_seed(5, 1, 42)), b(sample_seed(5, 1, 42)), c(sample_seed(5, 2, 42));
  const auto va = plan.make_views(image, a);
  const auto vb = plan.make_views(image, b);
  const auto vc = plan.make_views(image, c);
  EXPECT_TRUE(same_pixels(va[0], vb[0]));
  EXPECT_TRUE(same_pixels(va[1], vb[1]));
  EXPECT_FALSE(same_pixels(va[0], va[1]));  // the two views differ
  EXPECT_FALSE(same_pixels(va[0], vc[0]));
}

TEST_F(ViewsTest, EvaluationViewIsResizeCenterCrop) {
  const ViewPlan plan = ViewPlan::evaluation(28);
  EXPECT_EQ(plan.num_views(), 1);
  EXPECT_FALSE(plan.groups()[0].augmented);
  Rng rng(0);
  const cv::Mat digit = gradient_image(28, 28, 1);
  EXPECT_TRUE(same_pixels(plan.make_views(digit, rng)[0], digit));
  const cv::Mat photo = gradient_image(40, 60, 3);
  EXPECT_TRUE(same_pixels(plan.make_views(photo, rng)[0], resize_center_crop(photo, 28)));
}

TEST_F(ViewsTest, RejectsBadPlans) {
  EXPECT_THROW(ViewPlan(std::vector<ViewGroup>{}), c10::Error);
  EXPECT_THROW(ViewPlan({ViewGroup{0, 32, AugmentOptions(), true}}), c10::Error);
  EXPECT_THROW(ViewPlan({ViewGroup{2, 32, AugmentOptions().flip_prob(1.5), true}}), c10::Error);
  EXPECT_THROW(ViewPlan({ViewGroup{2, 32, AugmentOptions().crop_scale_min(0.0), true}}),
               c10::Error);
  EXPECT_THROW(ViewPlan({ViewGroup{2, 32, AugmentOptions().hue(0.6), true}}), c10::Error);
  Rng rng(0);
  EXPECT_THROW(ViewPlan::evaluation(8).make_views(cv::Mat(4, 4, CV_8UC2), rng), c10::Error);
}

}  // namespace
}  // namespace pretext
