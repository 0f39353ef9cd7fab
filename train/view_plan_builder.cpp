// View plans per augmentation recipe.
// References: BYOL (arXiv:2006.07733) table 6 for the asymmetric blur/solarization of the two
// views; DINO main_dino.py DataAugmentationDINO for global crops 1/2 and the local crops.
#include "train/view_plan_builder.h"

#include <algorithm>
#include <sstream>

namespace pretext {
namespace {

bool is_known(const std::string& recipe) {
  const auto names = augment_recipe_names();
  return std::find(names.begin(), names.end(), recipe) != names.end();
}

ViewGroup group(int64_t count, int64_t size, AugmentOptions augment) {
  ViewGroup g;
  g.count = count;
  g.size = size;
  g.augment = std::move(augment);
  return g;
}

}  // namespace

std::vector<std::string> augment_recipe_names() { return {"simclr", "byol", "dino", "mae"}; }

ViewPlan make_view_plan(const ViewSpec& spec, const std::string& recipe,
                        const AugmentOptions& augment) {
  if (!is_known(recipe)) {
    std::ostringstream known;
    for (const auto& name : augment_recipe_names()) known << " " << name;
    TORCH_CHECK_VALUE(false, "unknown augmentation recipe '", recipe, "'; known:", known.str());
  }
  TORCH_CHECK_VALUE(spec.num_global >= 1 && spec.global_size >= 1,
                    "view plan: need at least one global view of positive size, got ",
                    spec.num_global, " views of ", spec.global_size, " px");
  TORCH_CHECK_VALUE(spec.num_local >= 0, "view plan: num_local must be >= 0, got ", spec.num_local);
  std::vector<ViewGroup> groups;
  if (recipe == "simclr") {
    groups.push_back(group(spec.num_global, spec.global_size, augment));
  } else if (recipe == "mae") {
    // Crop and flip only: MAE's reconstruction target is the image itself.
    auto plain = augment;
    plain.jitter_prob(0.0).grayscale_prob(0.0).blur_prob(0.0).solarize_prob(0.0);
    groups.push_back(group(spec.num_global, spec.global_size, plain));
  } else {
    // Asymmetric pair: the first view is always blurred, the second rarely but may be solarized.
    auto first = augment;
    first.blur_prob(1.0).solarize_prob(0.0);
    auto second = augment;
    second.blur_prob(0.1).solarize_prob(0.2);
    groups.push_back(group(1, spec.global_size, first));
    if (spec.num_global >= 2) groups.push_back(group(1, spec.global_size, second));
    if (spec.num_global >= 3) groups.push_back(group(spec.num_global - 2, spec.global_size, first));
  }
  if (spec.num_local > 0) {
    TORCH_CHECK_VALUE(spec.local_size >= 1, "view plan: local_size must be >= 1, got ",
                      spec.local_size);
    auto local = augment;
    local.crop_scale_min(spec.local_scale_min).crop_scale_max(spec.local_scale_max);
    if (recipe == "dino") local.blur_prob(0.5).solarize_prob(0.0);
    groups.push_back(group(spec.num_local, spec.local_size, local));
  }
  return ViewPlan(std::move(groups));
}

}  // namespace pretext
