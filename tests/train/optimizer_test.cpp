// Tests for train/optimizer: SGD and LARS against a naive per-element reference written with
// plain double arithmetic, SGD against torch::optim::SGD, and bitwise resume from state().

#include "train/optimizer.h"

#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace pretext {
namespace {

using Values = std::vector<double>;

class OptimizerTest : public testing::Seeded {};

/// Deterministic gradient for parameter `which` at step `step`, same in the reference.
double grad_value(int which, int step, size_t i) {
  return std::sin(0.7 * static_cast<double>(i) + 1.3 * step + which) + 0.1 * (which + 1);
}

/// Parameters: a 2-d weight [2, 3] and a 1-d bias [3], float64.
NamedTensors make_params() {
  auto w =
      torch::tensor({0.5, -1.0, 0.25, 2.0, -0.75, 1.5}, torch::kFloat64).reshape({2, 3}).clone();
  auto b = torch::tensor({0.1, -0.2, 0.3}, torch::kFloat64);
  return {{"w", w.requires_grad_()}, {"b", b.requires_grad_()}};
}

void set_grads(const NamedTensors& params, int step) {
  for (size_t k = 0; k < params.size(); ++k) {
    const torch::Tensor& p = params[k].second;
    auto g = torch::empty({p.numel()}, p.options().requires_grad(false));
    for (int64_t i = 0; i < p.numel(); ++i) {
      g[i] = grad_value(static_cast<int>(k), step, static_cast<size_t>(i));
    }
    p.mutable_grad() = g.reshape(p.sizes());
  }
}

Values values_of(const torch::Tensor& t) {
  auto flat = t.detach().to(torch::kFloat64).contiguous().view({-1});
  return Values(flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel());
}

double norm(const Values& v) {
  double sum = 0.0;
  for (const double x : v) sum += x * x;
  return std::sqrt(sum);
}

/// Naive reference of one parameter's trajectory under `options` for `steps` steps.
Values reference(Values p, int which, bool one_dim, const OptimizerOptions& options, double lr,
                 int steps) {
  Values buf;
  const bool excluded = options.exclude_bias_and_norm() && one_dim;
  const double wd = excluded ? 0.0 : options.weight_decay();
  for (int step = 0; step < steps; ++step) {
    Values g(p.size());
    for (size_t i = 0; i < p.size(); ++i) g[i] = grad_value(which, step, i);
    Values d(p.size());
    for (size_t i = 0; i < p.size(); ++i) d[i] = g[i] + wd * p[i];
    if (options.name() == "lars" && !excluded) {
      const double pn = norm(p);
      const double gn = norm(g);
      const double trust =
          pn > 0 && gn > 0 ? options.trust_coefficient() * pn / (gn + wd * pn) : 1.0;
      for (double& x : d) x *= trust;
    }
    if (options.momentum() != 0.0) {
      if (buf.empty()) {
        buf = d;
      } else {
        for (size_t i = 0; i < p.size(); ++i) buf[i] = options.momentum() * buf[i] + d[i];
      }
      for (size_t i = 0; i < p.size(); ++i) {
        d[i] = options.nesterov() ? d[i] + options.momentum() * buf[i] : buf[i];
      }
    }
    for (size_t i = 0; i < p.size(); ++i) p[i] -= lr * d[i];
  }
  return p;
}

void expect_matches_reference(const OptimizerOptions& options) {
  const double lr = 0.3;
  const int steps = 4;
  NamedTensors params = make_params();
  std::vector<Values> initial;
  for (const auto& named : params) initial.push_back(values_of(named.second));
  Optimizer optimizer(params, options);
  for (int step = 0; step < steps; ++step) {
    set_grads(params, step);
    optimizer.step(lr);
  }
  for (size_t k = 0; k < params.size(); ++k) {
    const Values want =
        reference(initial[k], static_cast<int>(k), params[k].second.dim() <= 1, options, lr, steps);
    const Values got = values_of(params[k].second);
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_NEAR(got[i], want[i], 1e-12)
          << options.name() << " param " << params[k].first << " element " << i;
    }
  }
}

TEST_F(OptimizerTest, SgdMatchesNaiveReference) {
  expect_matches_reference(OptimizerOptions().name("sgd").momentum(0.9).weight_decay(0.05));
  expect_matches_reference(OptimizerOptions().name("sgd").momentum(0.0).weight_decay(0.05));
  expect_matches_reference(
      OptimizerOptions().name("sgd").momentum(0.8).weight_decay(0.01).nesterov(true));
  expect_matches_reference(
      OptimizerOptions().name("sgd").weight_decay(0.05).exclude_bias_and_norm(false));
}

TEST_F(OptimizerTest, LarsMatchesNaiveReference) {
  expect_matches_reference(OptimizerOptions().name("lars").weight_decay(0.05));
  expect_matches_reference(
      OptimizerOptions().name("lars").weight_decay(1e-6).trust_coefficient(0.02).nesterov(true));
  expect_matches_reference(
      OptimizerOptions().name("lars").weight_decay(0.1).exclude_bias_and_norm(false));
}

TEST_F(OptimizerTest, OneDimParamsGetNoDecayOrAdaptation) {
  // With zero gradients, a 2-d weight shrinks by weight decay but a 1-d bias does not move.
  NamedTensors params = make_params();
  const auto bias_before = params[1].second.detach().clone();
  const auto weight_before = params[0].second.detach().clone();
  Optimizer optimizer(params, OptimizerOptions().name("lars").weight_decay(0.5).momentum(0.0));
  for (const auto& named : params) named.second.mutable_grad() = torch::zeros_like(named.second);
  optimizer.step(0.1);
  EXPECT_TRUE(torch::equal(params[1].second, bias_before));
  EXPECT_TRUE(torch::allclose(params[0].second, weight_before * (1.0 - 0.1 * 0.5)));
}

TEST_F(OptimizerTest, SgdMatchesTorchOptimSgd) {
  for (const bool nesterov : {false, true}) {
    auto a = torch::randn({4, 5}).requires_grad_();
    auto b = a.detach().clone().requires_grad_();
    Optimizer ours(
        {{"a", a}},
        OptimizerOptions().name("sgd").momentum(0.9).weight_decay(1e-4).nesterov(nesterov));
    torch::optim::SGD theirs(
        {b}, torch::optim::SGDOptions(0.05).momentum(0.9).weight_decay(1e-4).nesterov(nesterov));
    for (int step = 0; step < 5; ++step) {
      const auto g = torch::randn({4, 5});
      a.mutable_grad() = g.clone();
      b.mutable_grad() = g.clone();
      ours.step(0.05);
      theirs.step();
    }
    EXPECT_TRUE(torch::equal(a, b))
        << "nesterov " << nesterov << ": max difference " << (a - b).abs().max().item<double>();
  }
}

TEST_F(OptimizerTest, PerStepWeightDecayMatchesTorchSgdWithThatDecay) {
  // A weight-decay schedule passes each step's value; it must act exactly like an optimizer
  // built with that decay.
  auto a = torch::randn({4, 5}).requires_grad_();
  auto b = a.detach().clone().requires_grad_();
  Optimizer ours({{"a", a}}, OptimizerOptions().name("sgd").momentum(0.9).weight_decay(1e-4));
  torch::optim::SGD theirs({b}, torch::optim::SGDOptions(0.05).momentum(0.9).weight_decay(0.3));
  for (int step = 0; step < 3; ++step) {
    const auto g = torch::randn({4, 5});
    a.mutable_grad() = g.clone();
    b.mutable_grad() = g.clone();
    ours.step(0.05, 0.3);
    theirs.step();
  }
  EXPECT_TRUE(torch::equal(a, b)) << "max difference " << (a - b).abs().max().item<double>();
  EXPECT_THROW(ours.step(0.05, -1.0), c10::ValueError);
}

TEST_F(OptimizerTest, AdamwMatchesTorchOptimAdamW) {
  // MAE's betas, decay on a matrix only (the 1-d bias is exempt on both sides).
  auto w = torch::randn({4, 5}).requires_grad_();
  auto b = torch::randn({5}).requires_grad_();
  auto w2 = w.detach().clone().requires_grad_();
  auto b2 = b.detach().clone().requires_grad_();
  Optimizer ours({{"w", w}, {"b", b}},
                 OptimizerOptions().name("adamw").beta1(0.9).beta2(0.95).weight_decay(0.05));
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<torch::Tensor>{w2},
                      std::make_unique<torch::optim::AdamWOptions>(
                          torch::optim::AdamWOptions(1e-3).betas({0.9, 0.95}).weight_decay(0.05)));
  groups.emplace_back(std::vector<torch::Tensor>{b2},
                      std::make_unique<torch::optim::AdamWOptions>(
                          torch::optim::AdamWOptions(1e-3).betas({0.9, 0.95}).weight_decay(0.0)));
  torch::optim::AdamW theirs(std::move(groups));
  for (int step = 0; step < 5; ++step) {
    const auto gw = torch::randn({4, 5});
    const auto gb = torch::randn({5});
    w.mutable_grad() = gw.clone();
    b.mutable_grad() = gb.clone();
    w2.mutable_grad() = gw.clone();
    b2.mutable_grad() = gb.clone();
    ours.step(1e-3);
    theirs.step();
  }
  EXPECT_TRUE(torch::allclose(w, w2, 1e-6, 1e-7))
      << "max difference " << (w - w2).abs().max().item<double>();
  EXPECT_TRUE(torch::allclose(b, b2, 1e-6, 1e-7))
      << "max difference " << (b - b2).abs().max().item<double>();
  EXPECT_THROW(Optimizer({{"w", w}}, OptimizerOptions().name("adamw").beta2(1.0)), c10::ValueError);
}

TEST_F(OptimizerTest, SkipsFrozenParamsAndParamsWithoutGrad) {
  auto frozen = torch::ones({3, 3});
  auto no_grad_yet = torch::ones({2, 2}).requires_grad_();
  Optimizer optimizer({{"frozen", frozen}, {"later", no_grad_yet}}, OptimizerOptions());
  optimizer.step(1.0);
  EXPECT_TRUE(torch::equal(no_grad_yet, torch::ones({2, 2})));
  EXPECT_TRUE(optimizer.state().empty());
}

TEST_F(OptimizerTest, StateRoundTripResumesBitwise) {
  for (const std::string name : {"sgd", "lars", "adamw"}) {
    const auto options = OptimizerOptions().name(name).weight_decay(1e-3).nesterov(name != "adamw");
    NamedTensors params = make_params();
    Optimizer uninterrupted(params, options);
    for (int step = 0; step < 3; ++step) {
      set_grads(params, step);
      uninterrupted.step(0.2);
    }
    std::map<std::string, torch::Tensor> saved;
    for (const auto& [key, value] : uninterrupted.state()) saved[key] = value.clone();
    // Two parameters: one momentum buffer each, or Adam's two moments and step count each.
    ASSERT_EQ(saved.size(), name == "adamw" ? 6u : 2u);
    ASSERT_EQ(saved.count(name == "adamw" ? "exp_avg_sq/w" : "momentum/w"), 1u);

    NamedTensors resumed_params;
    for (const auto& [key, value] : params) {
      resumed_params.emplace_back(key, value.detach().clone().requires_grad_());
    }
    Optimizer resumed(resumed_params, options);
    resumed.load_state(saved);
    for (int step = 3; step < 6; ++step) {
      set_grads(params, step);
      set_grads(resumed_params, step);
      uninterrupted.step(0.2);
      resumed.step(0.2);
    }
    for (size_t k = 0; k < params.size(); ++k) {
      EXPECT_TRUE(torch::equal(params[k].second, resumed_params[k].second))
          << name << " " << params[k].first;
    }
  }
}

TEST_F(OptimizerTest, LoadStateRejectsUnknownNamesAndShapes) {
  Optimizer optimizer(make_params(), OptimizerOptions());
  try {
    optimizer.load_state({{"momentum/nope", torch::zeros({3})}});
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("momentum/nope"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("momentum/w"), std::string::npos) << e.what();
  }
  EXPECT_THROW(optimizer.load_state({{"w", torch::zeros({2, 3})}}), c10::Error);
  try {
    optimizer.load_state({{"momentum/w", torch::zeros({3, 2})}});
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("shape"), std::string::npos) << e.what();
  }
}

TEST_F(OptimizerTest, RejectsUnknownNameAndBadOptions) {
  try {
    Optimizer(make_params(), OptimizerOptions().name("adam"));
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("sgd|lars|adamw"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Optimizer(make_params(), OptimizerOptions().momentum(-0.1)), c10::Error);
  EXPECT_THROW(Optimizer(make_params(), OptimizerOptions().momentum(0.0).nesterov(true)),
               c10::Error);
}

TEST_F(OptimizerTest, ZeroGradZeroesGradients) {
  NamedTensors params = make_params();
  Optimizer optimizer(params, OptimizerOptions());
  set_grads(params, 0);
  optimizer.zero_grad();
  for (const auto& named : params) {
    EXPECT_EQ(named.second.grad().abs().sum().item<double>(), 0.0);
  }
}

}  // namespace
}  // namespace pretext
