// DINO: the loss against a naive per-sample loop over (teacher global, student crop) pairs,
// the teacher-temperature schedule, the head's structure, the center's EMA over global crops
// only, the frozen teacher and the first-epoch freeze of the last layer.
#include "objectives/dino.h"

#include <cmath>

#include <gtest/gtest.h>

#include "objectives/dino_loss.h"
#include "objectives/view_groups.h"
#include "tests/objectives/small_objective.h"
#include "tests/test_util.h"

namespace pretext {
namespace {

// For every teacher global crop t and student crop s != t: mean over samples of
// -sum_k p_t[k] log q_s[k], with softmax and log-softmax written out per sample in double.
torch::Tensor naive_dino_loss(const torch::Tensor& student, const torch::Tensor& teacher,
                              const torch::Tensor& center, int64_t num_global, double student_temp,
                              double teacher_temp) {
  const int64_t b = teacher.size(0) / num_global;
  const int64_t crops = student.size(0) / b;
  const int64_t k = student.size(1);
  auto total = torch::zeros({}, torch::kFloat64);
  int64_t terms = 0;
  for (int64_t t = 0; t < num_global; ++t) {
    for (int64_t s = 0; s < crops; ++s) {
      if (s == t) continue;
      auto pair = torch::zeros({}, torch::kFloat64);
      for (int64_t i = 0; i < b; ++i) {
        const auto tz = (teacher[t * b + i] - center[0]) / teacher_temp;
        const auto sz = student[s * b + i] / student_temp;
        auto t_norm = torch::zeros({}, torch::kFloat64);
        auto s_norm = torch::zeros({}, torch::kFloat64);
        for (int64_t j = 0; j < k; ++j) {
          t_norm = t_norm + torch::exp(tz[j]);
          s_norm = s_norm + torch::exp(sz[j]);
        }
        for (int64_t j = 0; j < k; ++j) {
          pair = pair - torch::exp(tz[j]) / t_norm * (sz[j] - torch::log(s_norm));
        }
      }
      total = total + pair / static_cast<double>(b);
      ++terms;
    }
  }
  return total / static_cast<double>(terms);
}

struct LossCase {
  int64_t num_global;
  int64_t num_crops;
  int64_t batch;
  int64_t dim;
};

class DinoLossTest : public testing::Seeded, public ::testing::WithParamInterface<LossCase> {};

TEST_P(DinoLossTest, MatchesNaiveLoopInValueAndGradient) {
  const LossCase c = GetParam();
  const auto student = torch::randn({c.num_crops * c.batch, c.dim}, torch::kFloat64);
  const auto teacher = torch::randn({c.num_global * c.batch, c.dim}, torch::kFloat64);
  const auto center = torch::randn({1, c.dim}, torch::kFloat64) * 0.3;

  auto s_fast = student.to(torch::kFloat32).requires_grad_();
  auto t_fast = teacher.to(torch::kFloat32).requires_grad_();
  const auto fast = dino_loss(s_fast, t_fast, center.to(torch::kFloat32), c.num_global, 0.1, 0.05);
  fast.loss.backward();
  auto s_ref = student.clone().requires_grad_();
  const auto ref = naive_dino_loss(s_ref, teacher, center, c.num_global, 0.1, 0.05);
  ref.backward();

  EXPECT_NEAR(fast.loss.item<double>(), ref.item<double>(), 1e-4 * std::abs(ref.item<double>()));
  EXPECT_TRUE(torch::allclose(s_fast.grad().to(torch::kFloat64), s_ref.grad(), 1e-3, 1e-6));
  // The teacher is a target: no gradient reaches it.
  EXPECT_FALSE(t_fast.grad().defined());
  EXPECT_TRUE(
      torch::allclose(fast.batch_center.to(torch::kFloat64), teacher.mean(0, true), 1e-5, 1e-6));
}

INSTANTIATE_TEST_SUITE_P(Crops, DinoLossTest,
                         ::testing::Values(LossCase{2, 2, 3, 5}, LossCase{2, 6, 4, 7},
                                           LossCase{1, 3, 2, 4}));

TEST(DinoLoss, IdenticalCropsOnlyCountOtherPairsAndShapesAreChecked) {
  // Two global crops only: the terms are (t0, s1) and (t1, s0). Make s1 match t0 exactly
  // (after temperatures) and s0 uniform: the loss is the mean of H(p0) and H(p1, uniform).
  const auto t = torch::tensor({{2.0f, 0.0f, 0.0f}, {0.0f, 1.0f, 0.0f}});
  const auto s = torch::tensor({{0.0f, 0.0f, 0.0f}, {2.0f, 0.0f, 0.0f}});
  const auto center = torch::zeros({1, 3});
  const auto out = dino_loss(s, t, center, 2, /*student_temp=*/1.0, /*teacher_temp=*/1.0);
  const auto p0 = torch::softmax(t[0], 0);
  const double entropy_p0 = -(p0 * torch::log(p0)).sum().item<double>();
  EXPECT_NEAR(out.loss.item<double>(), (entropy_p0 + std::log(3.0)) / 2.0, 1e-5);
  EXPECT_THROW(dino_loss(torch::ones({3, 4}), t, center, 2, 0.1, 0.04), c10::Error);
  EXPECT_THROW(dino_loss(s, t, torch::zeros({1, 4}), 2, 0.1, 0.04), c10::Error);
}

TEST(DinoTeacherTemp, LinearWarmUpLikeNumpyLinspaceThenConstant) {
  // np.linspace(0.04, 0.07, 30)[e] = 0.04 + 0.03 * e / 29.
  EXPECT_DOUBLE_EQ(dino_teacher_temp(0.04, 0.07, 30, 0), 0.04);
  EXPECT_NEAR(dino_teacher_temp(0.04, 0.07, 30, 10), 0.04 + 0.03 * 10.0 / 29.0, 1e-15);
  EXPECT_NEAR(dino_teacher_temp(0.04, 0.07, 30, 29), 0.07, 1e-15);
  EXPECT_DOUBLE_EQ(dino_teacher_temp(0.04, 0.07, 30, 31), 0.07);
  EXPECT_DOUBLE_EQ(dino_teacher_temp(0.04, 0.07, 0, 0), 0.07);
  EXPECT_DOUBLE_EQ(dino_teacher_temp(0.04, 0.07, 1, 0), 0.04);
}

TEST(DinoHead, OfficialParameterNamesAndWeightNormalizedPrototypes) {
  torch::manual_seed(3);
  DinoHead head(DinoHeadOptions(12, 20).hidden_dim(16).bottleneck_dim(8));
  std::vector<std::string> names;
  for (const auto& item : head->named_parameters()) names.push_back(item.key());
  const std::vector<std::string> expected = {
      "mlp.0.weight", "mlp.0.bias", "mlp.2.weight",        "mlp.2.bias",
      "mlp.4.weight", "mlp.4.bias", "last_layer.weight_g", "last_layer.weight_v"};
  EXPECT_EQ(names, expected);
  const auto params = head->named_parameters();
  EXPECT_FALSE(params["last_layer.weight_g"].requires_grad());  // norm_last_layer
  EXPECT_EQ(params["last_layer.weight_v"].sizes(), torch::IntArrayRef({20, 8}));

  // Reference forward: GELU MLP, unit bottleneck, rows of v scaled to unit norm.
  const auto x = torch::randn({5, 12});
  auto h =
      torch::gelu(torch::nn::functional::linear(x, params["mlp.0.weight"], params["mlp.0.bias"]));
  h = torch::gelu(torch::nn::functional::linear(h, params["mlp.2.weight"], params["mlp.2.bias"]));
  h = torch::nn::functional::linear(h, params["mlp.4.weight"], params["mlp.4.bias"]);
  h = h / h.norm(2, {1}, true);
  const auto v = params["last_layer.weight_v"];
  const auto expected_out = torch::matmul(h, (v / v.norm(2, {1}, true)).t());
  EXPECT_TRUE(torch::allclose(head->forward(x), expected_out, 1e-5, 1e-6));
  // Unit-norm inputs and prototypes: every logit is a cosine.
  EXPECT_LE(head->forward(x).abs().max().item<double>(), 1.0 + 1e-5);
}

TEST(ConcatSizeGroups, OneTensorPerRunOfSameSizeViewsInViewOrder) {
  const std::vector<torch::Tensor> views = {
      torch::full({2, 1, 4, 4}, 0.0), torch::full({2, 1, 4, 4}, 1.0),
      torch::full({2, 1, 2, 2}, 2.0), torch::full({2, 1, 2, 2}, 3.0),
      torch::full({2, 1, 2, 2}, 4.0)};
  const auto groups = concat_size_groups(views, views.size());
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].sizes(), torch::IntArrayRef({4, 1, 4, 4}));
  EXPECT_EQ(groups[1].sizes(), torch::IntArrayRef({6, 1, 2, 2}));
  EXPECT_EQ(groups[1][0].max().item<double>(), 2.0);  // view order kept inside a group
  EXPECT_EQ(groups[1][5].max().item<double>(), 4.0);
  // Only the first `count` views: the teacher's global crops.
  const auto globals = concat_size_groups(views, 2);
  ASSERT_EQ(globals.size(), 1u);
  EXPECT_EQ(globals[0].size(0), 4);
  EXPECT_THROW(concat_size_groups(views, 6), c10::Error);
}

class DinoTest : public testing::Seeded {
 protected:
  static std::shared_ptr<DinoObjective> build(DinoOptions options = small()) {
    return std::make_shared<DinoObjective>(testing::small_context(), options);
  }
  static DinoOptions small() {
    return DinoOptions()
        .out_dim(24)
        .hidden_dim(32)
        .bottleneck_dim(8)
        .local_crops_number(3)
        .local_crops_size(8);
  }
  static Batch batch(int64_t size, int64_t locals = 3) {
    std::vector<int64_t> sizes = {16, 16};
    sizes.resize(static_cast<size_t>(2 + locals), 8);
    return testing::random_views(size, sizes);
  }
};

TEST_F(DinoTest, ViewSpecAsksForMultiCrop) {
  const ViewSpec spec = build()->view_spec();
  EXPECT_EQ(spec.num_global, 2);
  EXPECT_EQ(spec.num_local, 3);
  EXPECT_EQ(spec.global_size, 16);
  EXPECT_EQ(spec.local_size, 8);
  EXPECT_DOUBLE_EQ(spec.local_scale_min, 0.05);
  EXPECT_DOUBLE_EQ(spec.local_scale_max, 0.4);
  EXPECT_EQ(build()->augment_recipe(), "dino");
}

TEST_F(DinoTest, CenterFollowsItsEmaOfTheTeacherOutputOnGlobalCropsOnly) {
  auto dino = build(small().center_momentum(0.9));
  dino->train();
  Step step;
  step.total = 10;
  const Batch b = batch(4);
  // The teacher's output on the two global crops, computed independently of the objective.
  torch::Tensor teacher_out;
  {
    torch::NoGradGuard no_grad;
    auto& teacher = dino->eval_encoder();
    teacher_out = dino->teacher_head()(teacher.forward(torch::cat({b.views[0], b.views[1]})));
  }
  const auto before = dino->center().clone();
  dino->compute_loss(b, step);
  EXPECT_TRUE(torch::equal(dino->center(), before)) << "compute_loss must not move the center";
  dino->after_optimizer_step(step);
  const auto expected = before * 0.9 + teacher_out.mean(0, true) * 0.1;
  EXPECT_TRUE(torch::allclose(dino->center(), expected, 1e-5, 1e-6));
}

TEST_F(DinoTest, TeacherIsFrozenAndGetsNoGradient) {
  auto dino = build();
  dino->train();
  Step step;
  step.total = 10;
  dino->compute_loss(batch(4), step).loss.backward();
  for (const auto& p : dino->eval_encoder().parameters()) {
    EXPECT_FALSE(p.requires_grad());
    EXPECT_FALSE(p.grad().defined());
  }
  for (const auto& p : dino->teacher_head()->parameters()) EXPECT_FALSE(p.grad().defined());
  int64_t student_grads = 0;
  for (const auto& p : dino->encoder().parameters()) student_grads += p.grad().defined();
  EXPECT_GT(student_grads, 0);
}

TEST_F(DinoTest, LastLayerIsFrozenDuringTheFirstEpochOnly) {
  auto dino = build(small().freeze_last_layer_epochs(1));
  dino->train();
  std::vector<torch::Tensor> trainable;
  for (const auto& p : dino->parameters()) {
    if (p.requires_grad()) trainable.push_back(p);
  }
  torch::optim::SGD sgd(trainable, torch::optim::SGDOptions(0.5));
  const auto weight_v = dino->student_head()->named_parameters()["last_layer.weight_v"];
  const auto before = weight_v.detach().clone();
  Step step;
  step.total = 10;
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    step.epoch = epoch;
    sgd.zero_grad();
    dino->compute_loss(batch(4), step).loss.backward();
    ASSERT_TRUE(weight_v.grad().defined());
    dino->before_optimizer_step(step);
    sgd.step();
    dino->after_optimizer_step(step);
    if (epoch == 0) {
      EXPECT_FALSE(weight_v.grad().defined());
      EXPECT_TRUE(torch::equal(weight_v, before)) << "the last layer moved in epoch 0";
    } else {
      EXPECT_FALSE(torch::equal(weight_v, before)) << "the last layer never trained";
    }
  }
}

TEST_F(DinoTest, WrongViewCountAndBadOptionsAreRejected) {
  auto dino = build();
  Step step;
  EXPECT_THROW(dino->compute_loss(batch(4, /*locals=*/1), step), c10::Error);
  EXPECT_THROW(build(small().student_temp(0.0)), c10::ValueError);
  EXPECT_THROW(build(small().center_momentum(1.0)), c10::ValueError);
  EXPECT_THROW(build(small().local_crops_scale_min(0.5).local_crops_scale_max(0.4)),
               c10::ValueError);
}

}  // namespace
}  // namespace pretext
