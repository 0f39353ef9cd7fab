// Turns an objective's view spec and augmentation recipe into the data pipeline's ViewPlan,
// so objectives never touch data/ directly.
#pragma once

#include <string>
#include <vector>

#include "data/views.h"
#include "objectives/objective.h"

namespace pretext {

/// Recipe names this builder knows.
std::vector<std::string> augment_recipe_names();

/// recipe "simclr": num_global views of global_size through `augment`. An unknown recipe
/// lists the known ones.
ViewPlan make_view_plan(const ViewSpec& spec, const std::string& recipe,
                        const AugmentOptions& augment);

}  // namespace pretext
