// MlpHead: shapes, where BatchNorm and ReLU sit, gradient flow, validation.
#include "models/heads.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace pretext {
namespace {

using MlpHeadTest = testing::Seeded;

std::vector<std::string> child_types(MlpHead& head) {
  std::vector<std::string> types;
  for (const auto& child : head->named_children()) {
    for (const auto& layer : child.value()->children()) {
      types.push_back(layer->name());
    }
  }
  return types;
}

TEST_F(MlpHeadTest, TwoLayerShapeAndLayout) {
  MlpHead head(MlpHeadOptions::two_layer(16, 32, 8));
  EXPECT_EQ(head->forward(torch::randn({4, 16})).sizes(), torch::IntArrayRef({4, 8}));
  EXPECT_EQ(child_types(head),
            (std::vector<std::string>{"torch::nn::LinearImpl", "pretext::BatchNormImpl",
                                      "torch::nn::ReLUImpl", "torch::nn::LinearImpl"}));
  const auto params = head->named_parameters();
  EXPECT_EQ(params["layers.0.weight"].sizes(), torch::IntArrayRef({32, 16}));
  EXPECT_EQ(params["layers.1.weight"].sizes(), torch::IntArrayRef({32}));
  EXPECT_EQ(params["layers.3.weight"].sizes(), torch::IntArrayRef({8, 32}));
  EXPECT_TRUE(params.contains("layers.3.bias"));
}

TEST_F(MlpHeadTest, ThreeLayerNoHiddenBatchNormNoBias) {
  MlpHead head(MlpHeadOptions({8, 16, 16, 4}).hidden_batch_norm(false).bias(false));
  EXPECT_EQ(child_types(head),
            (std::vector<std::string>{"torch::nn::LinearImpl", "torch::nn::ReLUImpl",
                                      "torch::nn::LinearImpl", "torch::nn::ReLUImpl",
                                      "torch::nn::LinearImpl"}));
  EXPECT_EQ(head->parameters().size(), 3u);  // three weights, no biases
  EXPECT_EQ(head->forward(torch::randn({3, 8})).sizes(), torch::IntArrayRef({3, 4}));
}

TEST_F(MlpHeadTest, SingleLinearLayer) {
  MlpHead head(MlpHeadOptions({8, 4}));
  EXPECT_EQ(child_types(head), (std::vector<std::string>{"torch::nn::LinearImpl"}));
  EXPECT_EQ(head->forward(torch::randn({2, 8})).sizes(), torch::IntArrayRef({2, 4}));
}

TEST_F(MlpHeadTest, OutputBatchNormHasNoAffine) {
  MlpHead head(MlpHeadOptions::two_layer(8, 16, 4).output_batch_norm(true));
  const auto types = child_types(head);
  ASSERT_EQ(types.size(), 5u);
  EXPECT_EQ(types.back(), "pretext::BatchNormImpl");
  EXPECT_FALSE(head->named_parameters().contains("layers.4.weight"));
  EXPECT_TRUE(head->named_buffers().contains("layers.4.running_mean"));
  // Training-mode BN without affine: every output feature has zero mean, unit variance.
  const auto y = head->forward(torch::randn({64, 8}));
  EXPECT_LT(y.mean(0).abs().max().item<double>(), 1e-5);
  EXPECT_NEAR(y.var(0, /*unbiased=*/false).mean().item<double>(), 1.0, 1e-3);
}

TEST_F(MlpHeadTest, GradientsReachEveryParameter) {
  MlpHead head(MlpHeadOptions({6, 12, 12, 3}));
  const auto x = torch::randn({5, 6}, torch::requires_grad());
  head->forward(x).pow(2).sum().backward();
  for (const auto& p : head->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
  EXPECT_GT(x.grad().abs().sum().item<double>(), 0.0);
}

TEST_F(MlpHeadTest, RejectsBadDimsAndInputs) {
  EXPECT_THROW(MlpHead(MlpHeadOptions({8})), c10::ValueError);
  EXPECT_THROW(MlpHead(MlpHeadOptions({8, 0, 4})), c10::ValueError);
  EXPECT_THROW(MlpHead(MlpHeadOptions({-1, 4})), c10::ValueError);
  MlpHead head(MlpHeadOptions({8, 4}));
  EXPECT_THROW(head->forward(torch::randn({2, 7})), c10::Error);
}

}  // namespace
}  // namespace pretext
