// The table of objectives: one line each.
#include "objectives/registry.h"

#include <functional>
#include <sstream>
#include <utility>

#include "objectives/barlow_twins.h"
#include "objectives/byol.h"
#include "objectives/dino.h"
#include "objectives/mae.h"
#include "objectives/moco_v2.h"
#include "objectives/moco_v3.h"
#include "objectives/simclr.h"
#include "objectives/simsiam.h"
#include "objectives/vicreg.h"

namespace pretext {
namespace {

using SpecMaker = std::function<std::unique_ptr<ObjectiveSpec>()>;

template <typename Options, typename Impl>
std::pair<std::string, SpecMaker> entry(const std::string& name) {
  return {name, [name] { return std::make_unique<ObjectiveSpecFor<Options, Impl>>(name); }};
}

const std::vector<std::pair<std::string, SpecMaker>>& registry() {
  static const std::vector<std::pair<std::string, SpecMaker>> table = {
      entry<SimclrOptions, SimclrObjective>("simclr"),
      entry<MocoV2Options, MocoV2Objective>("moco_v2"),
      entry<MocoV3Options, MocoV3Objective>("moco_v3"),
      entry<ByolOptions, ByolObjective>("byol"),
      entry<SimsiamOptions, SimsiamObjective>("simsiam"),
      entry<BarlowTwinsOptions, BarlowTwinsObjective>("barlow_twins"),
      entry<VicregOptions, VicregObjective>("vicreg"),
      entry<DinoOptions, DinoObjective>("dino"),
      entry<MaeOptions, MaeObjective>("mae"),
  };
  return table;
}

}  // namespace

std::vector<std::string> objective_names() {
  std::vector<std::string> names;
  for (const auto& [name, maker] : registry()) names.push_back(name);
  return names;
}

std::unique_ptr<ObjectiveSpec> make_objective_spec(const std::string& name) {
  for (const auto& [known, maker] : registry()) {
    if (known == name) return maker();
  }
  std::ostringstream known;
  for (const auto& n : objective_names()) known << " " << n;
  TORCH_CHECK_VALUE(false, "unknown objective '", name, "'; known:", known.str());
  return nullptr;
}

}  // namespace pretext
