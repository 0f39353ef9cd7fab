// Contracts of each augmentation: shapes and types, crop geometry over many draws, exact
// flip/solarize/grayscale, jitter factor ranges, blur statistics, 1-channel support.
#include <cmath>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "data/augment.h"
#include "tests/test_util.h"

namespace pretext {
namespace {

/// Deterministic noisy image with values in [lo, hi].
cv::Mat noise_image(int rows, int cols, int channels, int lo = 0, int hi = 255, uint64_t seed = 1) {
  Rng rng(seed);
  cv::Mat image(rows, cols, CV_8UC(channels));
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols * channels; ++c) {
      image.ptr<uint8_t>(r)[c] = static_cast<uint8_t>(uniform_int(rng, lo, hi));
    }
  }
  return image;
}

double max_abs_diff(const cv::Mat& a, const cv::Mat& b) { return cv::norm(a, b, cv::NORM_INF); }

/// Independent hue reference: OpenCV's float RGB <-> HSV (H in degrees).
cv::Mat reference_hue(const cv::Mat& image, double hue_factor) {
  cv::Mat hsv;
  image.convertTo(hsv, CV_32FC3, 1.0 / 255.0);
  cv::cvtColor(hsv, hsv, cv::COLOR_RGB2HSV);
  for (int r = 0; r < hsv.rows; ++r) {
    for (int c = 0; c < hsv.cols; ++c) {
      float& h = hsv.at<cv::Vec3f>(r, c)[0];
      h = std::fmod(h + static_cast<float>(hue_factor * 360.0) + 360.0f, 360.0f);
    }
  }
  cv::cvtColor(hsv, hsv, cv::COLOR_HSV2RGB);
  cv::Mat out;
  hsv.convertTo(out, CV_8UC3, 255.0);
  return out;
}

class AugmentTest : public testing::Seeded {};

TEST_F(AugmentTest, CropKeepsSizeTypeAndChannels) {
  Rng rng(1);
  for (const int channels : {1, 3}) {
    const cv::Mat out = random_resized_crop(noise_image(48, 64, channels), 32, 0.08, 1.0, 3.0 / 4.0,
                                            4.0 / 3.0, rng);
    EXPECT_EQ(out.rows, 32);
    EXPECT_EQ(out.cols, 32);
    EXPECT_EQ(out.type(), CV_8UC(channels));
  }
  // Upsampling a tiny 28x28 grayscale image works too.
  const cv::Mat up = random_resized_crop(noise_image(28, 28, 1), 64, 0.2, 1.0, 0.75, 1.33, rng);
  EXPECT_EQ(up.size(), cv::Size(64, 64));
  EXPECT_EQ(up.type(), CV_8UC1);
}

TEST_F(AugmentTest, CropBoxAreaAndRatioStayInRange) {
  const int rows = 160;
  const int cols = 200;
  const double scale_min = 0.08, scale_max = 1.0, ratio_min = 0.75, ratio_max = 4.0 / 3.0;
  Rng rng(2);
  double smallest = 1.0, largest = 0.0;
  int left_min = cols, left_max = 0;
  for (int draw = 0; draw < 3000; ++draw) {
    const cv::Rect box =
        random_resized_crop_box(rows, cols, scale_min, scale_max, ratio_min, ratio_max, rng);
    ASSERT_GE(box.x, 0);
    ASSERT_GE(box.y, 0);
    ASSERT_LE(box.x + box.width, cols);
    ASSERT_LE(box.y + box.height, rows);
    const double w = box.width, h = box.height, area = double(rows) * cols;
    // w and h are rounded, so allow half a pixel each way.
    EXPECT_GE((w + 0.5) * (h + 0.5), scale_min * area) << box;
    EXPECT_LE((w - 0.5) * (h - 0.5), scale_max * area) << box;
    EXPECT_GE((w + 0.5) / (h - 0.5), ratio_min) << box;
    EXPECT_LE((w - 0.5) / (h + 0.5), ratio_max) << box;
    smallest = std::min(smallest, w * h / area);
    largest = std::max(largest, w * h / area);
    left_min = std::min(left_min, box.x);
    left_max = std::max(left_max, box.x);
  }
  EXPECT_LT(smallest, 0.1);
  EXPECT_GT(largest, 0.9);
  EXPECT_EQ(left_min, 0);
  EXPECT_GT(left_max, cols / 2);
}

TEST_F(AugmentTest, CropFallsBackToRatioClampedCentralCrop) {
  Rng rng(3);
  // No 90-100% square fits a 10x100 strip: after 10 attempts, a central 10x10 square.
  EXPECT_EQ(random_resized_crop_box(10, 100, 0.9, 1.0, 1.0, 1.0, rng), cv::Rect(45, 0, 10, 10));
  // Tall strip, ratio range [0.5, 2]: width stays, height = round(10 / 0.5) = 20.
  EXPECT_EQ(random_resized_crop_box(100, 10, 0.95, 1.0, 0.5, 2.0, rng), cv::Rect(0, 40, 10, 20));
  Rng a(9), b(9);
  EXPECT_EQ(random_resized_crop_box(50, 60, 0.08, 1.0, 0.75, 1.33, a),
            random_resized_crop_box(50, 60, 0.08, 1.0, 0.75, 1.33, b));
  EXPECT_THROW(random_resized_crop_box(50, 60, 0.5, 0.2, 0.75, 1.33, a), c10::Error);
  EXPECT_THROW(random_resized_crop_box(50, 60, 0.2, 0.5, 0.0, 1.33, a), c10::Error);
}

TEST_F(AugmentTest, FlipIsAnExactMirror) {
  for (const int channels : {1, 3}) {
    const cv::Mat image = noise_image(7, 9, channels);
    const cv::Mat out = horizontal_flip(image);
    ASSERT_EQ(out.type(), image.type());
    for (int r = 0; r < 7; ++r) {
      for (int c = 0; c < 9; ++c) {
        for (int k = 0; k < channels; ++k) {
          ASSERT_EQ(out.ptr<uint8_t>(r)[c * channels + k],
                    image.ptr<uint8_t>(r)[(8 - c) * channels + k]);
        }
      }
    }
  }
}

TEST_F(AugmentTest, JitterWithZeroStrengthsIsIdentity) {
  const ColorJitterOptions none{0.0, 0.0, 0.0, 0.0};
  Rng rng(4);
  for (const int channels : {1, 3}) {
    const cv::Mat image = noise_image(16, 16, channels);
    EXPECT_EQ(max_abs_diff(color_jitter(image, none, rng), image), 0.0);
  }
}

TEST_F(AugmentTest, BrightnessFactorStaysInRange) {
  const cv::Mat image = noise_image(32, 32, 3, 50, 150);  // 150 * 1.4 < 255: never saturates
  const double mean_in = cv::mean(image)[0];
  Rng rng(5);
  double lowest = 2.0, highest = 0.0;
  for (int draw = 0; draw < 300; ++draw) {
    const cv::Mat out = color_jitter(image, {0.4, 0.0, 0.0, 0.0}, rng);
    const double ratio = cv::mean(out)[0] / mean_in;
    ASSERT_GE(ratio, 0.6 - 0.01);
    ASSERT_LE(ratio, 1.4 + 0.01);
    lowest = std::min(lowest, ratio);
    highest = std::max(highest, ratio);
  }
  EXPECT_LT(lowest, 0.65);
  EXPECT_GT(highest, 1.35);
}

TEST_F(AugmentTest, ContrastSaturationAndHueAdjustments) {
  const cv::Mat image = noise_image(20, 20, 3, 40, 200);
  cv::Mat gray;
  cv::cvtColor(image, gray, cv::COLOR_RGB2GRAY);
  const double gray_mean = cv::mean(gray)[0];
  // Contrast 0 -> the constant grayscale mean; contrast 1 -> unchanged.
  const cv::Mat flat = adjust_contrast(image, 0.0);
  EXPECT_LE(max_abs_diff(flat, cv::Mat(20, 20, CV_8UC3, cv::Scalar::all(std::round(gray_mean)))),
            0.0);
  EXPECT_EQ(max_abs_diff(adjust_contrast(image, 1.0), image), 0.0);
  // Saturation 0 -> grayscale; 1 -> unchanged; no-op on one channel.
  EXPECT_LE(max_abs_diff(adjust_saturation(image, 0.0), to_grayscale(image)), 1.0);
  EXPECT_EQ(max_abs_diff(adjust_saturation(image, 1.0), image), 0.0);
  EXPECT_EQ(max_abs_diff(adjust_saturation(gray, 0.0), gray), 0.0);
  // Hue: zero shift round-trips, a third of a turn maps red to green, 1 channel untouched.
  EXPECT_LE(max_abs_diff(adjust_hue(image, 0.0), image), 1.0);
  const cv::Mat red(2, 2, CV_8UC3, cv::Scalar(255, 0, 0));
  EXPECT_LE(max_abs_diff(adjust_hue(red, 1.0 / 3.0), cv::Mat(2, 2, CV_8UC3, cv::Scalar(0, 255, 0))),
            1.0);
  EXPECT_EQ(max_abs_diff(adjust_hue(gray, 0.3), gray), 0.0);
  const cv::Mat colorful = noise_image(24, 24, 3, 0, 255, 11);
  for (const double factor : {-0.5, -0.37, -0.1, 0.05, 0.25, 0.5}) {
    EXPECT_LE(max_abs_diff(adjust_hue(colorful, factor), reference_hue(colorful, factor)), 1.0)
        << factor;
  }
  EXPECT_THROW(adjust_hue(image, 0.7), c10::Error);
  EXPECT_THROW(adjust_brightness(image, -0.1), c10::Error);
}

TEST_F(AugmentTest, JitterWorksOnOneChannel) {
  Rng rng(6);
  const cv::Mat image = noise_image(28, 28, 1);
  const cv::Mat out = color_jitter(image, ColorJitterOptions{}, rng);
  EXPECT_EQ(out.type(), CV_8UC1);
  EXPECT_EQ(out.size(), image.size());
}

TEST_F(AugmentTest, GrayscaleMatchesLumaAndReplicates) {
  const cv::Mat image = noise_image(10, 12, 3);
  const cv::Mat out = to_grayscale(image);
  ASSERT_EQ(out.type(), CV_8UC3);
  for (int r = 0; r < 10; ++r) {
    for (int c = 0; c < 12; ++c) {
      const cv::Vec3b in = image.at<cv::Vec3b>(r, c);
      const cv::Vec3b g = out.at<cv::Vec3b>(r, c);
      EXPECT_EQ(g[0], g[1]);
      EXPECT_EQ(g[1], g[2]);
      EXPECT_NEAR(g[0], 0.299 * in[0] + 0.587 * in[1] + 0.114 * in[2], 1.0);
    }
  }
  const cv::Mat one = noise_image(5, 5, 1);
  EXPECT_EQ(max_abs_diff(to_grayscale(one), one), 0.0);
}

TEST_F(AugmentTest, SolarizeIsExact) {
  cv::Mat image(1, 256, CV_8UC1);
  for (int v = 0; v < 256; ++v) image.at<uint8_t>(0, v) = static_cast<uint8_t>(v);
  const cv::Mat out = solarize(image, 128);
  for (int v = 0; v < 256; ++v) {
    ASSERT_EQ(out.at<uint8_t>(0, v), v >= 128 ? 255 - v : v) << v;
  }
  const cv::Mat rgb = noise_image(4, 4, 3);
  const cv::Mat rgb_out = solarize(rgb, 0);  // everything inverts
  EXPECT_EQ(max_abs_diff(rgb_out, cv::Scalar::all(255) - rgb), 0.0);
  EXPECT_THROW(solarize(rgb, 300), c10::Error);
}

TEST_F(AugmentTest, BlurKeepsMeanAndSizeAndSmooths) {
  Rng rng(7);
  for (const int channels : {1, 3}) {
    const cv::Mat image = noise_image(40, 40, channels);
    const cv::Mat out = gaussian_blur(image, 5, 0.1, 2.0, rng);
    ASSERT_EQ(out.type(), image.type());
    ASSERT_EQ(out.size(), image.size());
    cv::Scalar mean_in, std_in, mean_out, std_out;
    cv::meanStdDev(image, mean_in, std_in);
    cv::meanStdDev(gaussian_blur(image, 5, 1.5, 1.5, rng), mean_out, std_out);
    EXPECT_NEAR(mean_out[0], mean_in[0], 1.5);
    EXPECT_LT(std_out[0], 0.6 * std_in[0]);
  }
  const cv::Mat flat(9, 9, CV_8UC3, cv::Scalar(10, 20, 30));
  EXPECT_EQ(max_abs_diff(gaussian_blur(flat, 3, 1.0, 1.0, rng), flat), 0.0);
  EXPECT_THROW(gaussian_blur(flat, 4, 0.1, 2.0, rng), c10::Error);
  EXPECT_THROW(gaussian_blur(flat, 3, 0.0, 2.0, rng), c10::Error);
}

TEST_F(AugmentTest, ResizeCenterCrop) {
  const cv::Mat square = noise_image(28, 28, 1);
  EXPECT_EQ(max_abs_diff(resize_center_crop(square, 28), square), 0.0);
  const cv::Mat wide = noise_image(40, 60, 3);
  const cv::Mat out = resize_center_crop(wide, 32);
  EXPECT_EQ(out.size(), cv::Size(32, 32));
  EXPECT_EQ(out.type(), CV_8UC3);
  // Shorter side already right: a pure central crop.
  EXPECT_EQ(max_abs_diff(resize_center_crop(wide, 40), wide(cv::Rect(10, 0, 40, 40))), 0.0);
}

TEST_F(AugmentTest, RejectsUnsupportedImages) {
  Rng rng(8);
  EXPECT_THROW(horizontal_flip(cv::Mat()), c10::Error);
  EXPECT_THROW(to_grayscale(cv::Mat(4, 4, CV_32FC3)), c10::Error);
  EXPECT_THROW(solarize(cv::Mat(4, 4, CV_8UC4)), c10::Error);
}

}  // namespace
}  // namespace pretext
