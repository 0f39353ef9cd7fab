// Gradient clipping: the global norm against torch's clip_grad_norm_ semantics, the per-parameter
// form against DINO's formula, and the mode check.
#include "train/gradient_clipping.h"

#include <gtest/gtest.h>

namespace pretext {
namespace {

std::vector<torch::Tensor> with_grads(const std::vector<torch::Tensor>& grads) {
  std::vector<torch::Tensor> params;
  for (const auto& g : grads) {
    auto p = torch::zeros_like(g).requires_grad_();
    p.mutable_grad() = g.clone();
    params.push_back(p);
  }
  return params;
}

TEST(GradientClipping, PerParameterScalesOnlyGradientsAboveTheLimit) {
  // Norms 5 (clipped to ~2) and 1 (kept).
  auto params = with_grads({torch::tensor({3.0, 4.0}), torch::tensor({0.6, 0.8})});
  clip_gradients(params, 2.0, "per_parameter");
  const double scale = 2.0 / (5.0 + 1e-6);  // DINO: clip / (norm + 1e-6)
  EXPECT_TRUE(torch::allclose(params[0].grad(), torch::tensor({3.0, 4.0}) * scale, 1e-12, 1e-12));
  EXPECT_TRUE(torch::equal(params[1].grad(), torch::tensor({0.6, 0.8})));
}

TEST(GradientClipping, GlobalScalesEveryGradientByOneFactor) {
  // Global norm sqrt(25 + 1) = sqrt(26) > 2: everything scales by 2 / sqrt(26).
  auto params = with_grads({torch::tensor({3.0, 4.0}), torch::tensor({0.6, 0.8})});
  clip_gradients(params, 2.0, "global");
  const double scale = 2.0 / std::sqrt(26.0);
  EXPECT_TRUE(torch::allclose(params[0].grad(), torch::tensor({3.0, 4.0}) * scale, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(params[1].grad(), torch::tensor({0.6, 0.8}) * scale, 1e-5, 1e-6));
}

TEST(GradientClipping, ZeroLimitIsOffAndUnknownModesAreRejected) {
  auto params = with_grads({torch::tensor({30.0, 40.0})});
  params.push_back(torch::zeros({2}).requires_grad_());  // no gradient: skipped
  clip_gradients(params, 0.0, "per_parameter");
  EXPECT_TRUE(torch::equal(params[0].grad(), torch::tensor({30.0, 40.0})));
  clip_gradients(params, 1.0, "per_parameter");
  EXPECT_FALSE(params[1].grad().defined());
  EXPECT_THROW(clip_gradients(params, 1.0, "layerwise"), c10::ValueError);
}

}  // namespace
}  // namespace pretext
