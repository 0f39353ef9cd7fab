// A view plan turns one image into the views an objective asks for: two augmented crops for
// SimCLR/BYOL, 2 global + N local crops for DINO's multi-crop, a single plain view for
// evaluation. Groups of views share a crop size so the loader can stack them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>
#include <opencv2/core.hpp>

#include "data/dataset.h"
#include "data/rng.h"

namespace pretext {

/// One augmentation chain (SimCLR recipe: crop -> flip -> jitter -> grayscale -> blur ->
/// solarize). Defaults are SimCLR's ImageNet settings.
struct AugmentOptions {
  TORCH_ARG(double, crop_scale_min) = 0.08;
  TORCH_ARG(double, crop_scale_max) = 1.0;
  TORCH_ARG(double, crop_ratio_min) = 3.0 / 4.0;
  TORCH_ARG(double, crop_ratio_max) = 4.0 / 3.0;
  TORCH_ARG(double, flip_prob) = 0.5;
  /// Probability of applying colour jitter at all (SimCLR: 0.8).
  TORCH_ARG(double, jitter_prob) = 0.8;
  /// Jitter strength s scales brightness/contrast/saturation 0.8s and hue 0.2s (SimCLR: s=0.5
  /// for ImageNet -> 0.4/0.4/0.4/0.1).
  TORCH_ARG(double, brightness) = 0.4;
  TORCH_ARG(double, contrast) = 0.4;
  TORCH_ARG(double, saturation) = 0.4;
  TORCH_ARG(double, hue) = 0.1;
  TORCH_ARG(double, grayscale_prob) = 0.2;
  /// Gaussian blur probability (SimCLR ImageNet: 0.5; CIFAR-size images: 0).
  TORCH_ARG(double, blur_prob) = 0.5;
  TORCH_ARG(double, blur_sigma_min) = 0.1;
  TORCH_ARG(double, blur_sigma_max) = 2.0;
  TORCH_ARG(double, solarize_prob) = 0.0;
};

/// `count` views of `size` x `size` pixels, each through its own draw of `augment`.
struct ViewGroup {
  int64_t count = 2;
  int64_t size = 224;
  AugmentOptions augment;
  /// false: no augmentation at all, resize + center crop (evaluation views).
  bool augmented = true;
};

class ViewPlan {
 public:
  explicit ViewPlan(std::vector<ViewGroup> groups);
  /// A single unaugmented view of `size` pixels, for feature extraction.
  static ViewPlan evaluation(int64_t size);

  /// Views in group order (all of group 0, then group 1, ...). Each is uint8 size x size with
  /// the input's channel count.
  std::vector<cv::Mat> make_views(const cv::Mat& image, Rng& rng) const;
  int64_t num_views() const;
  /// Crop size of view i (i in [0, num_views())).
  int64_t view_size(int64_t i) const;
  const std::vector<ViewGroup>& groups() const { return groups_; }
  /// The least source resolution every view still uses in full: random crops need their
  /// smallest possible crop (area scale_min, the most elongated allowed ratio) to have at least
  /// as many pixels per side as the view; evaluation views need the shorter side.
  ViewNeeds needs() const;

 private:
  std::vector<ViewGroup> groups_;
};

/// Applies one augmentation chain to an image: the per-view body of make_views.
cv::Mat augment_view(const cv::Mat& image, int64_t size, const AugmentOptions& options, Rng& rng);

}  // namespace pretext
