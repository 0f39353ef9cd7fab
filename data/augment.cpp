// Augmentations over uint8 cv::Mat with 1 or 3 channels (RGB), each a torchvision equivalent.
// Reference: torchvision.transforms (RandomResizedCrop.get_params, ColorJitter.get_params) and
// torchvision.transforms.functional_tensor (adjust_*, rgb_to_grayscale, gaussian_blur).
// Deviations: uint8 results are rounded (OpenCV saturate_cast) where torchvision truncates;
// resizes are bilinear without antialiasing.
#include "data/augment.h"

#include <algorithm>
#include <array>
#include <cmath>

#include <torch/torch.h>
#include <opencv2/imgproc.hpp>

namespace pretext {

namespace {

void check_image(const cv::Mat& image, const char* where) {
  TORCH_CHECK(!image.empty(), where, ": empty image");
  TORCH_CHECK(image.depth() == CV_8U && (image.channels() == 1 || image.channels() == 3), where,
              ": expected uint8 with 1 or 3 channels, got depth ", image.depth(), " with ",
              image.channels(), " channels");
}

/// Per HSV sector, which of {v, p, q, t} is R, G and B (torchvision _hsv2rgb).
constexpr int kHsvSectorPick[6][3] = {{0, 3, 1}, {2, 0, 1}, {1, 0, 3},
                                      {1, 2, 0}, {3, 1, 0}, {0, 1, 2}};

int round_half_even(double x) { return static_cast<int>(std::nearbyint(x)); }

/// Mean of the ITU-R 601 luma (of the pixel values themselves for 1 channel).
double grayscale_mean(const cv::Mat& image) {
  if (image.channels() == 1) {
    return cv::mean(image)[0];
  }
  cv::Mat gray;
  cv::cvtColor(image, gray, cv::COLOR_RGB2GRAY);
  return cv::mean(gray)[0];
}

}  // namespace

cv::Rect random_resized_crop_box(int64_t rows, int64_t cols, double scale_min, double scale_max,
                                 double ratio_min, double ratio_max, Rng& rng) {
  TORCH_CHECK_VALUE(rows > 0 && cols > 0, "random_resized_crop: image of ", rows, "x", cols);
  TORCH_CHECK_VALUE(0.0 < scale_min && scale_min <= scale_max, "random_resized_crop: bad scale ",
                    "range [", scale_min, ", ", scale_max, "]");
  TORCH_CHECK_VALUE(0.0 < ratio_min && ratio_min <= ratio_max, "random_resized_crop: bad ratio ",
                    "range [", ratio_min, ", ", ratio_max, "]");
  const double area = static_cast<double>(rows) * static_cast<double>(cols);
  const double log_ratio_min = std::log(ratio_min);
  const double log_ratio_max = std::log(ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * uniform(rng, scale_min, scale_max);
    const double aspect_ratio = std::exp(uniform(rng, log_ratio_min, log_ratio_max));
    const int w = round_half_even(std::sqrt(target_area * aspect_ratio));
    const int h = round_half_even(std::sqrt(target_area / aspect_ratio));
    if (0 < w && w <= cols && 0 < h && h <= rows) {
      const int top = static_cast<int>(uniform_int(rng, 0, rows - h));
      const int left = static_cast<int>(uniform_int(rng, 0, cols - w));
      return cv::Rect(left, top, w, h);
    }
  }
  // Central crop, as wide as the ratio range allows.
  const double in_ratio = static_cast<double>(cols) / static_cast<double>(rows);
  int w = static_cast<int>(cols);
  int h = static_cast<int>(rows);
  if (in_ratio < ratio_min) {
    h = round_half_even(w / ratio_min);
  } else if (in_ratio > ratio_max) {
    w = round_half_even(h * ratio_max);
  }
  return cv::Rect((static_cast<int>(cols) - w) / 2, (static_cast<int>(rows) - h) / 2, w, h);
}

cv::Mat random_resized_crop(const cv::Mat& image, int64_t size, double scale_min, double scale_max,
                            double ratio_min, double ratio_max, Rng& rng) {
  check_image(image, "random_resized_crop");
  TORCH_CHECK_VALUE(size > 0, "random_resized_crop: size must be positive, got ", size);
  const cv::Rect box = random_resized_crop_box(image.rows, image.cols, scale_min, scale_max,
                                               ratio_min, ratio_max, rng);
  cv::Mat out;
  const int side = static_cast<int>(size);
  cv::resize(image(box), out, cv::Size(side, side), 0.0, 0.0, cv::INTER_LINEAR);
  return out;
}

cv::Mat horizontal_flip(const cv::Mat& image) {
  check_image(image, "horizontal_flip");
  cv::Mat out;
  cv::flip(image, out, 1);
  return out;
}

cv::Mat adjust_brightness(const cv::Mat& image, double factor) {
  check_image(image, "adjust_brightness");
  TORCH_CHECK_VALUE(factor >= 0.0, "adjust_brightness: factor must be >= 0, got ", factor);
  cv::Mat out;
  image.convertTo(out, -1, factor, 0.0);
  return out;
}

cv::Mat adjust_contrast(const cv::Mat& image, double factor) {
  check_image(image, "adjust_contrast");
  TORCH_CHECK_VALUE(factor >= 0.0, "adjust_contrast: factor must be >= 0, got ", factor);
  cv::Mat out;
  image.convertTo(out, -1, factor, (1.0 - factor) * grayscale_mean(image));
  return out;
}

cv::Mat adjust_saturation(const cv::Mat& image, double factor) {
  check_image(image, "adjust_saturation");
  TORCH_CHECK_VALUE(factor >= 0.0, "adjust_saturation: factor must be >= 0, got ", factor);
  if (image.channels() == 1) {
    return image.clone();
  }
  cv::Mat out;
  cv::addWeighted(image, factor, to_grayscale(image), 1.0 - factor, 0.0, out);
  return out;
}

cv::Mat adjust_hue(const cv::Mat& image, double hue_factor) {
  check_image(image, "adjust_hue");
  TORCH_CHECK_VALUE(-0.5 <= hue_factor && hue_factor <= 0.5,
                    "adjust_hue: hue_factor must be in [-0.5, 0.5], got ", hue_factor);
  if (image.channels() == 1) {
    return image.clone();
  }
  // torchvision's _rgb2hsv / _hsv2rgb in one pass per pixel, with H in sixths of a turn;
  // V (max) and chroma (max - min) are unchanged by a hue rotation.
  const float shift = static_cast<float>(hue_factor * 6.0);
  cv::Mat out(image.size(), image.type());
  for (int r = 0; r < image.rows; ++r) {
    const uint8_t* src = image.ptr<uint8_t>(r);
    uint8_t* dst = out.ptr<uint8_t>(r);
    for (int c = 0; c < 3 * image.cols; c += 3) {
      const float red = src[c], green = src[c + 1], blue = src[c + 2];
      const float v = std::max({red, green, blue});
      const float chroma = v - std::min({red, green, blue});
      if (chroma == 0.0f) {  // gray: no hue to rotate
        std::copy(src + c, src + c + 3, dst + c);
        continue;
      }
      float h = v == red
                    ? (green - blue) / chroma
                    : (v == green ? (blue - red) / chroma + 2.0f : (red - green) / chroma + 4.0f);
      h += shift;  // in [-4, 8): one wrap suffices
      h = h < 0.0f ? h + 6.0f : (h >= 6.0f ? h - 6.0f : h);
      const int sector = std::min(static_cast<int>(h), 5);
      const float f = h - static_cast<float>(sector);
      const float p = v - chroma, q = v - chroma * f, t = v - chroma * (1.0f - f);
      const float values[4] = {v, p, q, t};
      for (int k = 0; k < 3; ++k) {
        dst[c + k] = cv::saturate_cast<uint8_t>(values[kHsvSectorPick[sector][k]]);
      }
    }
  }
  return out;
}

cv::Mat color_jitter(const cv::Mat& image, const ColorJitterOptions& options, Rng& rng) {
  check_image(image, "color_jitter");
  TORCH_CHECK_VALUE(
      options.brightness >= 0.0 && options.contrast >= 0.0 && options.saturation >= 0.0,
      "color_jitter: strengths must be >= 0, got brightness ", options.brightness, ", contrast ",
      options.contrast, ", saturation ", options.saturation);
  TORCH_CHECK_VALUE(0.0 <= options.hue && options.hue <= 0.5,
                    "color_jitter: hue must be in [0, 0.5], got ", options.hue);
  // Order first, then the factors, as ColorJitter.get_params draws them.
  std::array<int, 4> order = {0, 1, 2, 3};
  for (int i = 3; i > 0; --i) {
    std::swap(order[i], order[uniform_int(rng, 0, i)]);
  }
  auto factor = [&rng](double strength) {
    return uniform(rng, std::max(0.0, 1.0 - strength), 1.0 + strength);
  };
  const double brightness = options.brightness > 0.0 ? factor(options.brightness) : 1.0;
  const double contrast = options.contrast > 0.0 ? factor(options.contrast) : 1.0;
  const double saturation = options.saturation > 0.0 ? factor(options.saturation) : 1.0;
  const double hue = options.hue > 0.0 ? uniform(rng, -options.hue, options.hue) : 0.0;
  cv::Mat out = image.clone();
  for (const int op : order) {
    if (op == 0 && options.brightness > 0.0) {
      out = adjust_brightness(out, brightness);
    } else if (op == 1 && options.contrast > 0.0) {
      out = adjust_contrast(out, contrast);
    } else if (op == 2 && options.saturation > 0.0) {
      out = adjust_saturation(out, saturation);
    } else if (op == 3 && options.hue > 0.0) {
      out = adjust_hue(out, hue);
    }
  }
  return out;
}

cv::Mat to_grayscale(const cv::Mat& image) {
  check_image(image, "to_grayscale");
  if (image.channels() == 1) {
    return image.clone();
  }
  cv::Mat gray;
  cv::Mat out;
  cv::cvtColor(image, gray, cv::COLOR_RGB2GRAY);  // 0.299 R + 0.587 G + 0.114 B
  cv::cvtColor(gray, out, cv::COLOR_GRAY2RGB);
  return out;
}

cv::Mat gaussian_blur(const cv::Mat& image, int64_t kernel_size, double sigma_min, double sigma_max,
                      Rng& rng) {
  check_image(image, "gaussian_blur");
  TORCH_CHECK_VALUE(kernel_size > 0 && kernel_size % 2 == 1,
                    "gaussian_blur: kernel_size must be positive and odd, got ", kernel_size);
  TORCH_CHECK_VALUE(0.0 < sigma_min && sigma_min <= sigma_max, "gaussian_blur: bad sigma range [",
                    sigma_min, ", ", sigma_max, "]");
  const double sigma = uniform(rng, sigma_min, sigma_max);
  const int k = static_cast<int>(kernel_size);
  cv::Mat out;
  // torchvision pads with "reflect", which is OpenCV's BORDER_REFLECT_101.
  cv::GaussianBlur(image, out, cv::Size(k, k), sigma, sigma, cv::BORDER_REFLECT_101);
  return out;
}

cv::Mat solarize(const cv::Mat& image, int64_t threshold) {
  check_image(image, "solarize");
  TORCH_CHECK_VALUE(0 <= threshold && threshold <= 255,
                    "solarize: threshold must be in [0, 255], got ", threshold);
  cv::Mat lut(1, 256, CV_8U);
  for (int v = 0; v < 256; ++v) {
    lut.at<uint8_t>(v) = static_cast<uint8_t>(v >= threshold ? 255 - v : v);
  }
  cv::Mat out;
  cv::LUT(image, lut, out);
  return out;
}

cv::Mat resize_center_crop(const cv::Mat& image, int64_t size) {
  check_image(image, "resize_center_crop");
  TORCH_CHECK_VALUE(size > 0, "resize_center_crop: size must be positive, got ", size);
  const int side = static_cast<int>(size);
  cv::Mat resized = image;
  if (std::min(image.rows, image.cols) != side) {
    // torchvision Resize(int): shorter side to size, longer side truncated proportionally.
    const bool wide = image.cols > image.rows;
    const int64_t shorter = wide ? image.rows : image.cols;
    const int64_t longer = wide ? image.cols : image.rows;
    const int scaled = static_cast<int>(size * longer / shorter);
    const cv::Size target = wide ? cv::Size(scaled, side) : cv::Size(side, scaled);
    cv::resize(image, resized, target, 0.0, 0.0, cv::INTER_LINEAR);
  }
  const int top = round_half_even((resized.rows - side) / 2.0);
  const int left = round_half_even((resized.cols - side) / 2.0);
  return resized(cv::Rect(left, top, side, side)).clone();
}

}  // namespace pretext
