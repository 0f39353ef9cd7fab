// ViewPlan and the SimCLR augmentation chain.
// Reference: SimCLR (arXiv:2002.05709) appendix A and its data_util.py; the torchvision
// pipelines of solo-learn / lightly for the same recipe (crop, flip, jitter p=0.8,
// grayscale p=0.2, blur with a kernel ~10% of the view, solarize).
// Deviations: blur kernel size is max(3, floor(size / 10) | 1), i.e. 23 px at 224, 3 px at 32.
#include "data/views.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "data/augment.h"

namespace pretext {

namespace {

void check_probability(double p, const char* name) {
  TORCH_CHECK_VALUE(0.0 <= p && p <= 1.0, "AugmentOptions: ", name, " must be in [0, 1], got ", p);
}

void check_options(const AugmentOptions& o) {
  TORCH_CHECK_VALUE(0.0 < o.crop_scale_min() && o.crop_scale_min() <= o.crop_scale_max() &&
                        o.crop_scale_max() <= 1.0,
                    "AugmentOptions: need 0 < crop_scale_min <= crop_scale_max <= 1, got ",
                    o.crop_scale_min(), " and ", o.crop_scale_max());
  TORCH_CHECK_VALUE(0.0 < o.crop_ratio_min() && o.crop_ratio_min() <= o.crop_ratio_max(),
                    "AugmentOptions: need 0 < crop_ratio_min <= crop_ratio_max, got ",
                    o.crop_ratio_min(), " and ", o.crop_ratio_max());
  check_probability(o.flip_prob(), "flip_prob");
  check_probability(o.jitter_prob(), "jitter_prob");
  check_probability(o.grayscale_prob(), "grayscale_prob");
  check_probability(o.blur_prob(), "blur_prob");
  check_probability(o.solarize_prob(), "solarize_prob");
  TORCH_CHECK_VALUE(o.brightness() >= 0.0 && o.contrast() >= 0.0 && o.saturation() >= 0.0,
                    "AugmentOptions: jitter strengths must be >= 0, got brightness ",
                    o.brightness(), ", contrast ", o.contrast(), ", saturation ", o.saturation());
  TORCH_CHECK_VALUE(0.0 <= o.hue() && o.hue() <= 0.5, "AugmentOptions: hue must be in [0, 0.5], ",
                    "got ", o.hue());
  TORCH_CHECK_VALUE(0.0 < o.blur_sigma_min() && o.blur_sigma_min() <= o.blur_sigma_max(),
                    "AugmentOptions: need 0 < blur_sigma_min <= blur_sigma_max, got ",
                    o.blur_sigma_min(), " and ", o.blur_sigma_max());
}

int64_t blur_kernel_size(int64_t view_size) { return std::max<int64_t>(3, (view_size / 10) | 1); }

}  // namespace

cv::Mat augment_view(const cv::Mat& image, int64_t size, const AugmentOptions& options, Rng& rng) {
  // Every coin is drawn even when its probability is 0 or 1, so one option does not shift the
  // random stream of the steps after it.
  cv::Mat view =
      random_resized_crop(image, size, options.crop_scale_min(), options.crop_scale_max(),
                          options.crop_ratio_min(), options.crop_ratio_max(), rng);
  if (bernoulli(rng, options.flip_prob())) {
    view = horizontal_flip(view);
  }
  if (bernoulli(rng, options.jitter_prob())) {
    ColorJitterOptions jitter;
    jitter.brightness = options.brightness();
    jitter.contrast = options.contrast();
    jitter.saturation = options.saturation();
    jitter.hue = options.hue();
    view = color_jitter(view, jitter, rng);
  }
  if (bernoulli(rng, options.grayscale_prob())) {
    view = to_grayscale(view);
  }
  if (bernoulli(rng, options.blur_prob())) {
    view = gaussian_blur(view, blur_kernel_size(size), options.blur_sigma_min(),
                         options.blur_sigma_max(), rng);
  }
  if (bernoulli(rng, options.solarize_prob())) {
    view = solarize(view);
  }
  return view;
}

ViewPlan::ViewPlan(std::vector<ViewGroup> groups) : groups_(std::move(groups)) {
  TORCH_CHECK_VALUE(!groups_.empty(), "ViewPlan: needs at least one view group");
  for (size_t g = 0; g < groups_.size(); ++g) {
    TORCH_CHECK_VALUE(groups_[g].count > 0 && groups_[g].size > 0, "ViewPlan: group ", g,
                      " needs count > 0 and size > 0, got count ", groups_[g].count, " and size ",
                      groups_[g].size);
    if (groups_[g].augmented) {
      check_options(groups_[g].augment);
    }
  }
}

ViewPlan ViewPlan::evaluation(int64_t size) {
  ViewGroup group;
  group.count = 1;
  group.size = size;
  group.augmented = false;
  return ViewPlan({group});
}

std::vector<cv::Mat> ViewPlan::make_views(const cv::Mat& image, Rng& rng) const {
  TORCH_CHECK(
      !image.empty() && image.depth() == CV_8U && (image.channels() == 1 || image.channels() == 3),
      "ViewPlan: expected a non-empty uint8 image with 1 or 3 channels, got ", image.rows, "x",
      image.cols, " depth ", image.depth(), " channels ", image.channels());
  std::vector<cv::Mat> views;
  views.reserve(static_cast<size_t>(num_views()));
  for (const ViewGroup& group : groups_) {
    for (int64_t i = 0; i < group.count; ++i) {
      views.push_back(group.augmented ? augment_view(image, group.size, group.augment, rng)
                                      : resize_center_crop(image, group.size));
    }
  }
  return views;
}

ViewNeeds ViewPlan::needs() const {
  ViewNeeds needs;
  for (const ViewGroup& group : groups_) {
    if (!group.augmented) {
      needs.min_shorter_side = std::max(needs.min_shorter_side, group.size);
      continue;
    }
    const AugmentOptions& a = group.augment;
    // Smallest crop: w * h = scale_min * W * H with w / h at the ratio bound, so its shorter
    // side is sqrt(scale_min * W * H * min(ratio_min, 1 / ratio_max)) (ratio_min <= 1).
    const double thinnest = std::min({1.0, a.crop_ratio_min(), 1.0 / a.crop_ratio_max()});
    const double side_per_sqrt_area = std::sqrt(a.crop_scale_min() * thinnest);
    needs.min_sqrt_area =
        std::max(needs.min_sqrt_area, static_cast<double>(group.size) / side_per_sqrt_area);
  }
  return needs;
}

int64_t ViewPlan::num_views() const {
  int64_t total = 0;
  for (const ViewGroup& group : groups_) {
    total += group.count;
  }
  return total;
}

int64_t ViewPlan::view_size(int64_t i) const {
  TORCH_CHECK_VALUE(0 <= i && i < num_views(), "ViewPlan: view ", i, " outside [0, ", num_views(),
                    ")");
  for (const ViewGroup& group : groups_) {
    if (i < group.count) {
      return group.size;
    }
    i -= group.count;
  }
  TORCH_INTERNAL_ASSERT(false, "unreachable");
  return 0;
}

}  // namespace pretext
