// Online linear probe: one step equals torch's own linear layer + cross-entropy + SGD with
// momentum on the labelled samples, the encoder is never changed (parameters, BatchNorm
// statistics, training flag), and on separable features it learns the classes.
#include "evaluation/online_probe.h"

#include <cmath>

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace pretext {
namespace {

using OnlineProbeTest = testing::Seeded;

// Linear layer + BatchNorm: parameters and running statistics a careless probe would touch.
class SmallEncoder final : public Backbone {
 public:
  SmallEncoder() {
    linear = register_module("linear", torch::nn::Linear(6, 4));
    norm = register_module("norm", torch::nn::BatchNorm1d(4));
  }
  torch::Tensor forward(const torch::Tensor& images) override {
    return norm->forward(linear->forward(images.flatten(1)));
  }
  int64_t feature_dim() const override { return 4; }
  std::string arch() const override { return "small"; }
  torch::nn::Linear linear{nullptr};
  torch::nn::BatchNorm1d norm{nullptr};
};

TEST_F(OnlineProbeTest, StepsEqualTorchSgdOnLabelledSamplesAndLeaveTheEncoderAlone) {
  SmallEncoder encoder;
  encoder.train();
  std::vector<torch::Tensor> snapshot;
  for (const auto& p : encoder.parameters()) snapshot.push_back(p.detach().clone());
  for (const auto& b : encoder.buffers()) snapshot.push_back(b.detach().clone());

  const auto options = OnlineProbeOptions().lr(0.5).momentum(0.9);
  OnlineProbe probe(4, 3, options);
  LocalComm comm;

  // The reference: autograd through torch's Linear, mean cross-entropy over labelled samples,
  // torch::optim::SGD with momentum at the cosine-scheduled rate.
  torch::nn::Linear reference(4, 3);
  {
    torch::NoGradGuard no_grad;
    reference->weight.zero_();
    reference->bias.zero_();
  }
  torch::optim::SGD sgd(reference->parameters(), torch::optim::SGDOptions(0.5).momentum(0.9));

  const std::vector<double> progress = {0.0, 0.25, 0.6};
  for (size_t step = 0; step < progress.size(); ++step) {
    const auto images = torch::randn({8, 1, 2, 3});
    auto labels = torch::randint(0, 3, {8}, torch::kLong);
    labels[2] = -1;  // unlabelled: ignored by the probe
    labels[5] = -1;
    const auto metrics = probe->train_on(encoder, images, labels, progress[step], comm);

    torch::Tensor features;
    {
      torch::NoGradGuard no_grad;
      encoder.eval();
      features = encoder.forward(images);
      encoder.train();
    }
    const auto keep = labels.ge(0).nonzero().squeeze(1);
    const double lr = 0.5 * 0.5 * (1.0 + std::cos(M_PI * progress[step]));
    for (auto& group : sgd.param_groups()) {
      static_cast<torch::optim::SGDOptions&>(group.options()).lr(lr);
    }
    sgd.zero_grad();
    const auto loss = torch::nn::functional::cross_entropy(
        reference->forward(features.index_select(0, keep)), labels.index_select(0, keep));
    loss.backward();
    sgd.step();

    ASSERT_EQ(metrics.size(), 2u);
    EXPECT_EQ(metrics[0].first, "online_probe/loss");
    EXPECT_NEAR(metrics[0].second.item<double>(), loss.item<double>(), 1e-5) << "step " << step;
    const auto state = probe->named_buffers();
    EXPECT_TRUE(torch::allclose(state["weight"], reference->weight, 1e-5, 1e-6)) << step;
    EXPECT_TRUE(torch::allclose(state["bias"], reference->bias, 1e-5, 1e-6)) << step;
  }

  EXPECT_TRUE(encoder.is_training());
  size_t i = 0;
  for (const auto& p : encoder.parameters()) {
    EXPECT_TRUE(torch::equal(p, snapshot[i++]));
    EXPECT_FALSE(p.grad().defined());
  }
  for (const auto& b : encoder.buffers()) EXPECT_TRUE(torch::equal(b, snapshot[i++]));
}

// Identity features: classes along separate axes are learnt to full accuracy.
class FlattenEncoder final : public Backbone {
 public:
  torch::Tensor forward(const torch::Tensor& images) override { return images.flatten(1); }
  int64_t feature_dim() const override { return 5; }
  std::string arch() const override { return "flatten"; }
};

TEST_F(OnlineProbeTest, LearnsSeparableClasses) {
  FlattenEncoder encoder;
  OnlineProbe probe(5, 5, OnlineProbeOptions());
  LocalComm comm;
  const auto centres = torch::eye(5) * 3.0;
  double last_acc = 0.0;
  for (int step = 0; step < 200; ++step) {
    const auto labels = torch::randint(0, 5, {32}, torch::kLong);
    const auto images =
        (centres.index_select(0, labels) + 0.3 * torch::randn({32, 5})).view({32, 1, 1, 5});
    last_acc =
        probe->train_on(encoder, images, labels, step / 200.0, comm)[1].second.item<double>();
  }
  EXPECT_DOUBLE_EQ(last_acc, 100.0);
  EXPECT_THROW(OnlineProbe(5, 0, OnlineProbeOptions()), c10::Error);
  EXPECT_THROW(OnlineProbe(5, 3, OnlineProbeOptions().lr(0.0)), c10::Error);
}

}  // namespace
}  // namespace pretext
