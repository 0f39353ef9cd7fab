// View plans per augmentation recipe.
#include "train/view_plan_builder.h"

#include <sstream>

namespace pretext {

std::vector<std::string> augment_recipe_names() { return {"simclr"}; }

ViewPlan make_view_plan(const ViewSpec& spec, const std::string& recipe,
                        const AugmentOptions& augment) {
  TORCH_CHECK_VALUE(spec.num_global >= 1 && spec.global_size >= 1,
                    "view plan: need at least one global view of positive size, got ",
                    spec.num_global, " views of ", spec.global_size, " px");
  if (recipe == "simclr") {
    TORCH_CHECK_VALUE(spec.num_local == 0, "view plan: recipe 'simclr' has no local crops, got ",
                      spec.num_local);
    ViewGroup global;
    global.count = spec.num_global;
    global.size = spec.global_size;
    global.augment = augment;
    return ViewPlan({global});
  }
  std::ostringstream known;
  for (const auto& name : augment_recipe_names()) known << " " << name;
  TORCH_CHECK_VALUE(false, "unknown augmentation recipe '", recipe, "'; known:", known.str());
  return ViewPlan({});
}

}  // namespace pretext
