// Autocast scopes: bf16 matrix products inside, fp32 outside, the previous state restored after
// nesting and exceptions, gradients of fp32 weights in fp32, unknown precisions refused.
#include "train/mixed_precision.h"

#include <stdexcept>

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace pretext {
namespace {

using MixedPrecisionTest = testing::Seeded;

TEST_F(MixedPrecisionTest, MatrixProductsRunInBf16InsideTheScopeOnly) {
  const auto a = torch::randn({8, 16});
  const auto weight = torch::randn({16, 4}, torch::requires_grad());
  const torch::Device cpu(torch::kCPU);
  const auto fp32_product = torch::mm(a, weight.detach());
  {
    AutocastScope scope(cpu, true);
    const auto product = torch::mm(a, weight);
    EXPECT_EQ(product.scalar_type(), torch::kBFloat16);
    // The same product as in fp32, up to bf16's rounding of inputs and output.
    EXPECT_TRUE(torch::allclose(product.to(torch::kFloat), fp32_product, 3e-2, 3e-2));
    {
      AutocastScope nested(cpu, true);
      EXPECT_EQ(torch::mm(a, weight).scalar_type(), torch::kBFloat16);
    }
    EXPECT_EQ(torch::mm(a, weight).scalar_type(), torch::kBFloat16);  // still inside
    // The fp32 master weight gets an fp32 gradient.
    torch::mm(a, weight).to(torch::kFloat).sum().backward();
  }
  EXPECT_EQ(weight.grad().scalar_type(), torch::kFloat);
  EXPECT_EQ(torch::mm(a, weight).scalar_type(), torch::kFloat);
  {
    AutocastScope off(cpu, false);
    EXPECT_EQ(torch::mm(a, weight).scalar_type(), torch::kFloat);
  }
  try {
    AutocastScope scope(cpu, true);
    throw std::runtime_error("in the forward pass");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(torch::mm(a, weight).scalar_type(), torch::kFloat);
}

TEST(MixedPrecision, PrecisionNames) {
  EXPECT_FALSE(uses_bf16("fp32"));
  EXPECT_TRUE(uses_bf16("bf16"));
  EXPECT_NE(testing::thrown_message([] { uses_bf16("fp16"); }).find("train.precision"),
            std::string::npos);
}

}  // namespace
}  // namespace pretext
