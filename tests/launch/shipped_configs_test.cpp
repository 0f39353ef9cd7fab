// Every config shipped in configs/ resolves, builds its objective and view plan, and takes a
// forward pass, so no recipe file rots when options are renamed. The ImageNet recipes are
// checked for their backbone and resolution, then run at a small size.
#include <filesystem>

#include <gtest/gtest.h>

#include "launch/components.h"
#include "launch/config.h"
#include "tests/test_util.h"
#include "train/view_plan_builder.h"

namespace pretext {
namespace {

std::vector<std::string> shipped_configs() {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(testing::source_path("configs"))) {
    if (entry.path().extension() == ".cfg") names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool is_imagenet_recipe(const std::string& name) {
  return name.find("_imagenet.cfg") != std::string::npos;
}

RunConfig resolve(const std::string& name, std::vector<std::string> overrides = {}) {
  RunConfig config;
  ConfigSources sources;
  sources.texts.emplace_back(name, read_config_file(testing::source_path("configs/" + name)));
  sources.overrides = std::move(overrides);
  apply_config(config, sources);
  return config;
}

class ShippedConfig : public ::testing::TestWithParam<std::string> {};

TEST_P(ShippedConfig, ResolvesBuildsAndRunsAForwardPass) {
  const std::string name = GetParam();
  RunConfig full = resolve(name);
  EXPECT_GT(full.effective_lr(), 0.0);
  EXPECT_GT(full.trainer.epochs(), 0);
  std::vector<std::string> small;
  int64_t channels = 1;
  if (is_imagenet_recipe(name)) {
    if (full.backbone.arch().rfind("vit", 0) == 0) {
      EXPECT_EQ(full.backbone.patch_size(), 16) << name;
    } else {
      EXPECT_EQ(full.backbone.arch(), "resnet50") << name;
      EXPECT_EQ(full.backbone.stem(), "imagenet") << name;
    }
    EXPECT_EQ(full.image_size, 224) << name;
    EXPECT_EQ(full.trainer.mean().size(), 3u) << name;
    channels = 3;
    // Same recipe at a size a CPU test affords: 32 px global, 16 px local crops.
    small = {"data.image_size=32"};
    if (full.objective == "dino") small.push_back("dino.local_crops_size=16");
  }
  torch::manual_seed(0);
  RunConfig config = resolve(name, small);
  LocalComm comm;
  auto objective = build_objective(config, channels, comm);
  const ViewSpec spec = objective->view_spec();
  const std::string recipe =
      config.augment_recipe == "auto" ? objective->augment_recipe() : config.augment_recipe;
  const ViewPlan plan = make_view_plan(spec, recipe, config.augment);
  ASSERT_EQ(plan.num_views(), spec.num_global + spec.num_local);

  Batch batch;
  for (int64_t v = 0; v < plan.num_views(); ++v) {
    const int64_t size = plan.view_size(v);
    batch.views.push_back(torch::randn({4, channels, size, size}));
  }
  batch.labels = torch::zeros({4}, torch::kLong);
  batch.indices = torch::arange(4);
  objective->train();
  torch::NoGradGuard no_grad;
  Step step;
  const auto out = objective->compute_loss(batch, step);
  EXPECT_TRUE(std::isfinite(out.loss.item<double>())) << name;
}

INSTANTIATE_TEST_SUITE_P(Configs, ShippedConfig, ::testing::ValuesIn(shipped_configs()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string id = info.param.substr(0, info.param.size() - 4);
                           for (char& c : id) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return id;
                         });

TEST(ShippedConfigs, EveryObjectiveHasAFashionMnistAndAnImageNetRecipe) {
  const auto names = shipped_configs();
  const auto has = [&](const std::string& prefix, const std::string& suffix) {
    return std::any_of(names.begin(), names.end(), [&](const std::string& n) {
      return n.rfind(prefix, 0) == 0 && n.size() > suffix.size() &&
             n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0;
    });
  };
  for (const auto& objective : objective_names()) {
    EXPECT_TRUE(has(objective + "_", "_fmnist.cfg")) << objective << ": no Fashion-MNIST config";
    EXPECT_TRUE(has(objective + "_", "_imagenet.cfg")) << objective << ": no ImageNet recipe";
  }
}

}  // namespace
}  // namespace pretext
