// Turns an objective's view spec and an augmentation recipe into the data pipeline's ViewPlan,
// so objectives never touch data/ directly. Multi-crop is a property of the spec (num_local),
// available to every recipe.
#pragma once

#include <string>
#include <vector>

#include "data/views.h"
#include "objectives/objective.h"

namespace pretext {

/// Recipe names this builder knows.
std::vector<std::string> augment_recipe_names();

/// Builds the views in ViewSpec order: num_global crops of global_size, then num_local crops of
/// local_size with area in [local_scale_min, local_scale_max]. `augment` is the base chain.
///  - "simclr": every view uses `augment` as given.
///  - "byol" (BYOL / DINO asymmetric chains): global view 1 blurs always and never solarizes,
///    global view 2 blurs with p 0.1 and solarizes with p 0.2, further global views as view 1;
///  - "dino": as "byol" for the global views; local crops blur with p 0.5, never solarize.
///  - "mae": RandomResizedCrop and flip from `augment`, no colour, blur or solarization.
/// Local crops of "simclr" and "byol" use `augment`'s blur and solarization. An unknown recipe
/// lists the known ones.
ViewPlan make_view_plan(const ViewSpec& spec, const std::string& recipe,
                        const AugmentOptions& augment);

}  // namespace pretext
