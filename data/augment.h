// Image augmentations as free functions over uint8 cv::Mat (1 or 3 channels, RGB order), each
// taking its RNG explicitly. Semantics follow torchvision.transforms; each function names its
// torchvision equivalent.
#pragma once

#include <cstdint>

#include <opencv2/core.hpp>

#include "data/rng.h"

namespace pretext {

/// The region RandomResizedCrop.get_params draws for a rows x cols image: area fraction uniform
/// in [scale_min, scale_max], aspect ratio w/h log-uniform in [ratio_min, ratio_max], up to 10
/// attempts, then a central crop clamped to the ratio range. Always inside the image.
cv::Rect random_resized_crop_box(int64_t rows, int64_t cols, double scale_min, double scale_max,
                                 double ratio_min, double ratio_max, Rng& rng);

/// RandomResizedCrop(size, scale=(scale_min, scale_max), ratio=(ratio_min, ratio_max)),
/// bilinear. Falls back to a central crop after 10 failed draws, as torchvision does.
cv::Mat random_resized_crop(const cv::Mat& image, int64_t size, double scale_min, double scale_max,
                            double ratio_min, double ratio_max, Rng& rng);

/// hflip.
cv::Mat horizontal_flip(const cv::Mat& image);

struct ColorJitterOptions {
  double brightness = 0.4;  ///< factor drawn from [1 - b, 1 + b]
  double contrast = 0.4;    ///< factor drawn from [1 - c, 1 + c]
  double saturation = 0.4;  ///< factor drawn from [1 - s, 1 + s]; no-op on 1 channel
  double hue = 0.1;         ///< shift drawn from [-h, h] in turns, h <= 0.5; no-op on 1 channel
};

/// adjust_brightness: blend with black, factor >= 0.
cv::Mat adjust_brightness(const cv::Mat& image, double factor);
/// adjust_contrast: blend with the mean of the grayscale image, factor >= 0.
cv::Mat adjust_contrast(const cv::Mat& image, double factor);
/// adjust_saturation: blend with the grayscale image, factor >= 0; no-op on 1 channel.
cv::Mat adjust_saturation(const cv::Mat& image, double factor);
/// adjust_hue: rotate H in HSV by hue_factor turns, in [-0.5, 0.5]; no-op on 1 channel.
cv::Mat adjust_hue(const cv::Mat& image, double hue_factor);

/// ColorJitter: the four adjustments in a random order, each with its own random factor.
cv::Mat color_jitter(const cv::Mat& image, const ColorJitterOptions& options, Rng& rng);

/// Grayscale(num_output_channels = image channels): ITU-R 601 luma, replicated.
cv::Mat to_grayscale(const cv::Mat& image);

/// GaussianBlur(kernel_size, sigma drawn from [sigma_min, sigma_max]).
cv::Mat gaussian_blur(const cv::Mat& image, int64_t kernel_size, double sigma_min, double sigma_max,
                      Rng& rng);

/// RandomSolarize: pixels >= threshold become 255 - pixel.
cv::Mat solarize(const cv::Mat& image, int64_t threshold = 128);

/// Resize the shorter side to `size` then take the central size x size crop (evaluation).
cv::Mat resize_center_crop(const cv::Mat& image, int64_t size);

}  // namespace pretext
