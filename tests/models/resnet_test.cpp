// ResNet: output shapes for both stems, torchvision's parameter names, shapes and counts
// (checked against torchvision itself when Python has it), initialization.
#include "models/resnet.h"

#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "models/backbone.h"
#include "tests/test_util.h"

namespace pretext {
namespace {

using ResNetTest = testing::Seeded;

using testing::names_of;
using testing::parameter_count;

/// "name d0 d1 ..." per state-dict entry in PyTorch's state_dict() order: each module's own
/// parameters, then its own buffers, then its children in registration order.
std::vector<std::string> state_dict_lines(torch::nn::Module& model) {
  std::vector<std::string> lines;
  auto add = [&](const std::string& prefix, const std::string& name, const torch::Tensor& t) {
    std::ostringstream line;
    line << (prefix.empty() ? "" : prefix + ".") << name;
    for (const int64_t d : t.sizes()) {
      line << ' ' << d;
    }
    lines.push_back(line.str());
  };
  for (const auto& item : model.named_modules()) {
    for (const auto& p : item.value()->named_parameters(/*recurse=*/false)) {
      add(item.key(), p.key(), p.value());
    }
    for (const auto& b : item.value()->named_buffers(/*recurse=*/false)) {
      add(item.key(), b.key(), b.value());
    }
  }
  return lines;
}

/// torchvision's ResNet-18 parameter names, written out from its naming rules.
std::vector<std::string> expected_resnet18_parameters(bool with_fc) {
  std::vector<std::string> names = {"conv1.weight", "bn1.weight", "bn1.bias"};
  for (int stage = 1; stage <= 4; ++stage) {
    for (int block = 0; block < 2; ++block) {
      const std::string p = "layer" + std::to_string(stage) + "." + std::to_string(block) + ".";
      for (const char* suffix :
           {"conv1.weight", "bn1.weight", "bn1.bias", "conv2.weight", "bn2.weight", "bn2.bias"}) {
        names.push_back(p + suffix);
      }
      if (stage > 1 && block == 0) {
        for (const char* suffix :
             {"downsample.0.weight", "downsample.1.weight", "downsample.1.bias"}) {
          names.push_back(p + suffix);
        }
      }
    }
  }
  if (with_fc) {
    names.push_back("fc.weight");
    names.push_back("fc.bias");
  }
  return names;
}

TEST_F(ResNetTest, ImagenetStemShapes) {
  const auto x = torch::randn({2, 3, 64, 64});
  auto r18 = make_backbone(BackboneOptions().arch("resnet18"));
  EXPECT_EQ(r18->feature_dim(), 512);
  EXPECT_EQ(r18->arch(), "resnet18");
  EXPECT_EQ(r18->forward(x).sizes(), torch::IntArrayRef({2, 512}));

  auto r50 = make_backbone(BackboneOptions().arch("resnet50"));
  EXPECT_EQ(r50->feature_dim(), 2048);
  EXPECT_EQ(r50->arch(), "resnet50");
  EXPECT_EQ(r50->forward(x).sizes(), torch::IntArrayRef({2, 2048}));
}

TEST_F(ResNetTest, SmallStemGrayscaleShapes) {
  const auto x = torch::randn({2, 1, 28, 28});
  for (const char* arch : {"resnet18", "resnet50"}) {
    auto net = make_backbone(BackboneOptions().arch(arch).stem("small").in_channels(1));
    const auto y = net->forward(x);
    EXPECT_EQ(y.sizes(), torch::IntArrayRef({2, net->feature_dim()})) << arch;
    EXPECT_TRUE(torch::isfinite(y).all().item<bool>()) << arch;
  }
  // No max-pool and stride 1: layer1 sees the full 28x28 resolution.
  auto net = std::make_shared<ResNet>(ResNetOptions::resnet18().stem("small").in_channels(1));
  EXPECT_EQ(net->named_parameters()["conv1.weight"].sizes(), torch::IntArrayRef({64, 1, 3, 3}));
}

TEST_F(ResNetTest, WidthMultiplier) {
  auto half = make_backbone(BackboneOptions().arch("resnet18").width(0.5).stem("small"));
  EXPECT_EQ(half->feature_dim(), 256);
  EXPECT_EQ(half->forward(torch::randn({2, 3, 16, 16})).sizes(), torch::IntArrayRef({2, 256}));
  auto params = half->named_parameters();
  EXPECT_EQ(params["conv1.weight"].size(0), 32);
  EXPECT_EQ(params["layer2.0.conv1.weight"].sizes(), torch::IntArrayRef({64, 32, 3, 3}));

  auto r50 = make_backbone(BackboneOptions().arch("resnet50").width(0.5).stem("small"));
  EXPECT_EQ(r50->feature_dim(), 1024);
  EXPECT_EQ(r50->named_parameters()["layer1.0.conv1.weight"].sizes(),
            torch::IntArrayRef({32, 32, 1, 1}));
  EXPECT_EQ(r50->named_parameters()["layer4.0.conv3.weight"].sizes(),
            torch::IntArrayRef({1024, 256, 1, 1}));
  EXPECT_EQ(r50->forward(torch::randn({2, 3, 8, 8})).sizes(), torch::IntArrayRef({2, 1024}));

  // Tiny widths round to at least one channel.
  auto tiny = make_backbone(BackboneOptions().arch("resnet18").width(0.001).stem("small"));
  EXPECT_EQ(tiny->feature_dim(), 1);
  EXPECT_EQ(tiny->forward(torch::randn({2, 3, 8, 8})).sizes(), torch::IntArrayRef({2, 1}));
}

TEST_F(ResNetTest, Resnet18ParameterNamesMatchTorchvision) {
  ResNet with_fc(ResNetOptions::resnet18().num_classes(1000));
  EXPECT_EQ(names_of(with_fc.named_parameters()), expected_resnet18_parameters(true));
  ResNet without_fc(ResNetOptions::resnet18());
  EXPECT_EQ(names_of(without_fc.named_parameters()), expected_resnet18_parameters(false));
}

TEST_F(ResNetTest, Resnet50NamesSpotCheck) {
  ResNet net(ResNetOptions::resnet50().num_classes(1000));
  const auto params = net.named_parameters();
  const auto buffers = net.named_buffers();
  EXPECT_EQ(params["layer1.0.downsample.0.weight"].sizes(), torch::IntArrayRef({256, 64, 1, 1}));
  EXPECT_EQ(params["layer1.0.downsample.1.bias"].sizes(), torch::IntArrayRef({256}));
  // v1.5: the stride-2 conv of a bottleneck is its 3x3.
  EXPECT_EQ(params["layer2.0.conv2.weight"].sizes(), torch::IntArrayRef({128, 128, 3, 3}));
  EXPECT_EQ(params["layer3.5.conv3.weight"].sizes(), torch::IntArrayRef({1024, 256, 1, 1}));
  EXPECT_EQ(params["fc.weight"].sizes(), torch::IntArrayRef({1000, 2048}));
  EXPECT_FALSE(params.contains("layer1.1.downsample.0.weight"));
  EXPECT_FALSE(params.contains("layer4.3.conv1.weight"));
  EXPECT_EQ(buffers["layer4.2.bn3.running_var"].sizes(), torch::IntArrayRef({2048}));
  EXPECT_EQ(buffers["bn1.num_batches_tracked"].scalar_type(), torch::kLong);
  EXPECT_TRUE(buffers.contains("layer3.0.downsample.1.num_batches_tracked"));
  EXPECT_EQ(params.size(), 161u);
  EXPECT_EQ(buffers.size(), 3u * 53u);  // 53 BN layers x (mean, var, count)
}

TEST_F(ResNetTest, ParameterCountsMatchTorchvision) {
  ResNet r18(ResNetOptions::resnet18().num_classes(1000));
  EXPECT_EQ(parameter_count(r18), 11689512);
  ResNet r50(ResNetOptions::resnet50().num_classes(1000));
  EXPECT_EQ(parameter_count(r50), 25557032);
  r50.eval();  // one sample: training-mode BN would have a single value per channel
  EXPECT_EQ(r50.forward(torch::randn({1, 3, 32, 32})).sizes(), torch::IntArrayRef({1, 1000}));
}

TEST_F(ResNetTest, InitializationFollowsTorchvision) {
  ResNet net(ResNetOptions::resnet50().zero_init_residual(true));
  const auto params = net.named_parameters();
  EXPECT_TRUE(params["layer1.0.bn3.weight"].eq(0).all().item<bool>());
  EXPECT_TRUE(params["layer1.0.bn2.weight"].eq(1).all().item<bool>());
  EXPECT_TRUE(params["layer1.0.downsample.1.weight"].eq(1).all().item<bool>());
  EXPECT_TRUE(params["bn1.bias"].eq(0).all().item<bool>());
  // kaiming_normal_(fan_out, relu): std = sqrt(2 / (out_channels * kh * kw)).
  const auto w = params["layer4.0.conv2.weight"];  // [512, 512, 3, 3]
  const double expected_std = std::sqrt(2.0 / (512.0 * 9.0));
  EXPECT_NEAR(w.std().item<double>(), expected_std, 0.02 * expected_std);
  EXPECT_NEAR(w.mean().item<double>(), 0.0, 0.02 * expected_std);

  ResNet basic(ResNetOptions::resnet18().zero_init_residual(true));
  EXPECT_TRUE(basic.named_parameters()["layer3.1.bn2.weight"].eq(0).all().item<bool>());
  EXPECT_TRUE(basic.named_parameters()["layer3.1.bn1.weight"].eq(1).all().item<bool>());
}

TEST_F(ResNetTest, GradientReachesStem) {
  auto net = make_backbone(BackboneOptions().stem("small"));
  net->forward(torch::randn({2, 3, 8, 8})).pow(2).sum().backward();
  const auto grad = net->named_parameters()["conv1.weight"].grad();
  ASSERT_TRUE(grad.defined());
  EXPECT_GT(grad.abs().sum().item<double>(), 0.0);
}

TEST_F(ResNetTest, RejectsBadOptions) {
  EXPECT_THROW(make_backbone(BackboneOptions().arch("resnet34")), c10::ValueError);
  try {
    make_backbone(BackboneOptions().arch("vgg"));
    FAIL() << "expected an error";
  } catch (const c10::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("resnet18, resnet50"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_backbone(BackboneOptions().stem("cifar")), c10::ValueError);
  EXPECT_THROW(make_backbone(BackboneOptions().width(0.0)), c10::ValueError);
  EXPECT_THROW(make_backbone(BackboneOptions().width(-1.0)), c10::ValueError);
  EXPECT_THROW(make_backbone(BackboneOptions().in_channels(0)), c10::ValueError);
  EXPECT_THROW(ResNet(ResNetOptions({2, 2, 2}, false)), c10::ValueError);
  EXPECT_THROW(ResNet(ResNetOptions({2, 0, 2, 2}, false)), c10::ValueError);
  auto net = make_backbone(BackboneOptions().stem("small"));
  EXPECT_THROW(net->forward(torch::randn({2, 1, 8, 8})), c10::Error);
  EXPECT_THROW(net->forward(torch::randn({3, 8, 8})), c10::Error);
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) {
    if (!line.empty()) {
      lines.push_back(line);
    }
  }
  return lines;
}

TEST_F(ResNetTest, StateDictMatchesTorchvisionPython) {
  // Architecture only: torchvision's weight init is skipped, it costs seconds for ResNet-50.
  const std::string script =
      "import torch, torchvision\n"
      "torch.nn.Module.reset_parameters = lambda self: None\n"
      "torch.nn.init.kaiming_normal_ = lambda tensor, *args, **kwargs: tensor\n"
      "for name in ('resnet18', 'resnet50'):\n"
      "    print('#', name)\n"
      "    model = getattr(torchvision.models, name)()\n"
      "    for k, v in model.state_dict().items():\n"
      "        print(k, *v.shape)\n";
  const auto python =
      testing::run_command("'" + testing::python() + "' -c \"" + script + "\" 2>/dev/null");
  const std::string& output = python.output;
  ASSERT_EQ(python.exit_code, 0) << testing::python() << " failed; output:\n" << output;

  std::vector<std::string> expected = split_lines(output);
  std::vector<std::string> actual;
  for (const char* arch : {"resnet18", "resnet50"}) {
    actual.push_back(std::string("# ") + arch);
    const auto options =
        std::string(arch) == "resnet18" ? ResNetOptions::resnet18() : ResNetOptions::resnet50();
    // named_modules() includes the root, which must then live in a shared_ptr.
    auto net = std::make_shared<ResNet>(ResNetOptions(options).num_classes(1000));
    for (auto& line : state_dict_lines(*net)) {
      actual.push_back(std::move(line));
    }
  }
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_EQ(actual[i], expected[i]) << "state-dict entry " << i;
  }
}

}  // namespace
}  // namespace pretext
