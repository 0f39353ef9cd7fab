// EMA helpers against their formulas.
#include "objectives/momentum.h"

#include <cmath>

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace pretext {
namespace {

class MomentumTest : public testing::Seeded {};

TEST_F(MomentumTest, EmaUpdateFollowsTheFormulaAndCopiesBuffers) {
  torch::nn::Sequential online(torch::nn::Linear(4, 3), torch::nn::BatchNorm1d(3));
  torch::nn::Sequential target(torch::nn::Linear(4, 3), torch::nn::BatchNorm1d(3));
  online->train();
  online->forward(torch::randn({8, 4}));  // moves BN running stats away from their init
  std::vector<torch::Tensor> before;
  for (const auto& p : target->parameters()) before.push_back(p.detach().clone());
  ema_update(*online, *target, 0.9);
  const auto online_params = online->parameters();
  const auto target_params = target->parameters();
  for (size_t i = 0; i < before.size(); ++i) {
    const auto expected = before[i] * 0.9 + online_params[i].detach() * 0.1;
    EXPECT_TRUE(torch::allclose(target_params[i], expected, 1e-6, 1e-7)) << "parameter " << i;
  }
  const auto online_buffers = online->buffers();
  const auto target_buffers = target->buffers();
  for (size_t i = 0; i < online_buffers.size(); ++i) {
    EXPECT_TRUE(torch::equal(online_buffers[i], target_buffers[i])) << "buffer " << i;
  }
}

TEST_F(MomentumTest, CopyAndFreeze) {
  torch::nn::Linear online(5, 2);
  torch::nn::Linear target(5, 2);
  copy_parameters(*online, *target);
  EXPECT_TRUE(torch::equal(online->weight, target->weight));
  freeze(*target);
  for (const auto& p : target->parameters()) EXPECT_FALSE(p.requires_grad());
  torch::nn::Linear wrong(4, 2);
  EXPECT_THROW(copy_parameters(*online, *wrong), c10::Error);
}

TEST(CosineSchedule, RampsFromBaseToFinal) {
  Step step;
  step.total = 100;
  step.index = 0;
  EXPECT_DOUBLE_EQ(cosine_schedule(0.996, 1.0, step), 0.996);
  step.index = 50;
  EXPECT_NEAR(cosine_schedule(0.996, 1.0, step), 0.998, 1e-12);
  step.index = 100;
  EXPECT_DOUBLE_EQ(cosine_schedule(0.996, 1.0, step), 1.0);
}

}  // namespace
}  // namespace pretext
