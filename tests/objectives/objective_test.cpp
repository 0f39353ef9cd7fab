// Properties every registered objective must have, parameterized over the registry so a new
// objective is covered the moment it is registered.
#include <gtest/gtest.h>

#include "models/backbone.h"
#include "objectives/embedding_stats.h"
#include "objectives/registry.h"
#include "tests/objectives/small_objective.h"
#include "tests/test_util.h"

namespace pretext {
namespace {

class EmbeddingStats : public testing::Seeded {};

constexpr int64_t kImageSize = 16;

std::shared_ptr<Objective> build_small(const std::string& name, Comm& comm) {
  auto spec = make_objective_spec(name);
  // Shrink every width-like option so the test stays fast.
  for (auto& binding : spec->bindings()) {
    const std::string small = testing::small_objective_option(binding.key);
    if (!small.empty()) assign_option(binding, binding.key, small);
  }
  return spec->build(testing::needs_vit(name) ? testing::small_vit_context(kImageSize, &comm)
                                              : testing::small_context(kImageSize, &comm));
}

Batch random_batch(const Objective& objective, int64_t batch_size) {
  const ViewSpec spec = objective.view_spec();
  std::vector<int64_t> sizes(static_cast<size_t>(spec.num_global), spec.global_size);
  sizes.resize(static_cast<size_t>(spec.num_global + spec.num_local), spec.local_size);
  return testing::random_views(batch_size, sizes);
}

class EveryObjective : public testing::Seeded, public ::testing::WithParamInterface<std::string> {};

TEST_P(EveryObjective, ComputeLossIsFiniteRepeatableAndTrainsTheEncoder) {
  LocalComm comm;
  auto objective = build_small(GetParam(), comm);
  objective->train();
  const Batch batch = random_batch(*objective, 8);
  Step step;
  step.total = 10;
  const auto first = objective->compute_loss(batch, step);
  ASSERT_TRUE(first.loss.defined());
  EXPECT_EQ(first.loss.dim(), 0);
  EXPECT_TRUE(std::isfinite(first.loss.item<double>()));
  for (const auto& [name, value] : first.metrics) {
    EXPECT_FALSE(value.requires_grad()) << name << " must be detached";
  }
  // No method state changes inside compute_loss: the same batch gives the same loss.
  const auto second = objective->compute_loss(batch, step);
  EXPECT_NEAR(second.loss.item<double>(), first.loss.item<double>(), 1e-5);
  first.loss.backward();
  int64_t with_grad = 0;
  for (const auto& p : objective->encoder().parameters()) {
    if (p.grad().defined() && p.grad().abs().sum().item<double>() > 0) ++with_grad;
  }
  EXPECT_GT(with_grad, 0);
}

// With the method state held fixed (no EMA, queue or center update), the loss is one fixed
// function of the trained weights, so gradient steps on one batch must lower it. (With the
// state moving, a fixed batch is no test: MoCo's queue fills with that batch's own keys and
// DINO's center chases the mode the student collapsed onto.)
TEST_P(EveryObjective, GradientStepsLowerTheLossOfAFixedBatch) {
  LocalComm comm;
  auto objective = build_small(GetParam(), comm);
  objective->train();
  const Batch batch = random_batch(*objective, 16);
  torch::optim::SGD sgd(objective->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  Step step;
  step.total = 20;
  double first = 0.0;
  double last = 0.0;
  for (int64_t i = 0; i < 20; ++i) {
    step.index = i;
    sgd.zero_grad();
    const auto out = objective->compute_loss(batch, step);
    out.loss.backward();
    sgd.step();
    (i == 0 ? first : last) = out.loss.item<double>();
  }
  EXPECT_LT(last, first);
}

TEST_P(EveryObjective, StateUpdatesKeepTheLossFinite) {
  LocalComm comm;
  auto objective = build_small(GetParam(), comm);
  objective->train();
  torch::optim::SGD sgd(objective->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  Step step;
  step.total = 6;
  for (int64_t i = 0; i < step.total; ++i) {
    step.index = i;
    sgd.zero_grad();
    const auto out = objective->compute_loss(random_batch(*objective, 8), step);
    out.loss.backward();
    objective->before_optimizer_step(step);
    sgd.step();
    objective->after_optimizer_step(step);
    ASSERT_TRUE(std::isfinite(out.loss.item<double>())) << "step " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Registry, EveryObjective, ::testing::ValuesIn(objective_names()));

TEST(Registry, UnknownNameListsTheKnownOnes) {
  try {
    make_objective_spec("simclrr");
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("simclr"), std::string::npos);
  }
}

TEST_F(EmbeddingStats, EmbeddingStatsDetectCollapse) {
  const auto healthy = torch::randn({64, 16});
  const auto collapsed = torch::ones({64, 16}) + 1e-6 * torch::randn({64, 16});
  EXPECT_NEAR(normalized_embedding_std(healthy).item<double>(), 1.0 / 4.0, 0.03);
  EXPECT_LT(normalized_embedding_std(collapsed).item<double>(), 1e-3);
  EXPECT_GT(effective_rank(healthy).item<double>(), 10.0);
  EXPECT_LT(effective_rank(collapsed).item<double>(), 1.5);
}

}  // namespace
}  // namespace pretext
