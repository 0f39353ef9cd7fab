// ResNet-18/50 (He et al., arXiv:1512.03385), following torchvision/models/resnet.py (v1.5:
// the stride of a bottleneck sits on its 3x3 conv) module by module, so parameter names,
// shapes, state-dict order and initialization all match torchvision.
// Deviations: small-image stem; width multiplier also scales the stem (as SimCLR's wide
// ResNets do), unlike torchvision's width_per_group, which widens only bottleneck interiors.
#include "models/resnet.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace pretext {
namespace {

torch::nn::Conv2d conv3x3(int64_t in, int64_t out, int64_t stride) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false));
}

torch::nn::Conv2d conv1x1(int64_t in, int64_t out, int64_t stride) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1).stride(stride).bias(false));
}

/// Projection shortcut (`downsample`: 0 = 1x1 conv, 1 = BN) when the shape changes.
torch::nn::Sequential make_downsample(int64_t in, int64_t out, int64_t stride) {
  return torch::nn::Sequential(conv1x1(in, out, stride), BatchNorm(out));
}

/// Two 3x3 convs (ResNet-18/34). Registration order is torchvision's, which fixes the
/// state-dict order.
class BasicBlockImpl : public torch::nn::Module {
 public:
  static constexpr int64_t kExpansion = 1;

  BasicBlockImpl(int64_t in, int64_t planes, int64_t stride)
      : conv1(register_module("conv1", conv3x3(in, planes, stride))),
        bn1(register_module("bn1", BatchNorm(planes))),
        conv2(register_module("conv2", conv3x3(planes, planes, 1))),
        bn2(register_module("bn2", BatchNorm(planes))) {
    if (stride != 1 || in != planes * kExpansion) {
      downsample = register_module("downsample", make_downsample(in, planes * kExpansion, stride));
    }
  }

  torch::Tensor forward(const torch::Tensor& x) {
    // In-place ReLU and residual add, as torchvision: fewer fresh activation buffers.
    auto out = bn1(conv1(x)).relu_();
    out = bn2(conv2(out));
    const auto identity = downsample ? downsample->forward(x) : x;
    return out.add_(identity).relu_();
  }

  /// Each residual branch starts as the identity (Goyal et al., arXiv:1706.02677).
  void zero_init_last_bn() { torch::nn::init::zeros_(bn2->weight); }

  torch::nn::Conv2d conv1;
  BatchNorm bn1;
  torch::nn::Conv2d conv2;
  BatchNorm bn2;
  torch::nn::Sequential downsample{nullptr};
};

/// 1x1 reduce, 3x3 (carrying the stride), 1x1 expand by 4 (ResNet-50 and up).
class BottleneckImpl : public torch::nn::Module {
 public:
  static constexpr int64_t kExpansion = 4;

  BottleneckImpl(int64_t in, int64_t planes, int64_t stride)
      : conv1(register_module("conv1", conv1x1(in, planes, 1))),
        bn1(register_module("bn1", BatchNorm(planes))),
        conv2(register_module("conv2", conv3x3(planes, planes, stride))),
        bn2(register_module("bn2", BatchNorm(planes))),
        conv3(register_module("conv3", conv1x1(planes, planes * kExpansion, 1))),
        bn3(register_module("bn3", BatchNorm(planes * kExpansion))) {
    if (stride != 1 || in != planes * kExpansion) {
      downsample = register_module("downsample", make_downsample(in, planes * kExpansion, stride));
    }
  }

  torch::Tensor forward(const torch::Tensor& x) {
    auto out = bn1(conv1(x)).relu_();
    out = bn2(conv2(out)).relu_();
    out = bn3(conv3(out));
    const auto identity = downsample ? downsample->forward(x) : x;
    return out.add_(identity).relu_();
  }

  void zero_init_last_bn() { torch::nn::init::zeros_(bn3->weight); }

  torch::nn::Conv2d conv1;
  BatchNorm bn1;
  torch::nn::Conv2d conv2;
  BatchNorm bn2;
  torch::nn::Conv2d conv3;
  BatchNorm bn3;
  torch::nn::Sequential downsample{nullptr};
};

int64_t scaled_width(int64_t base, double width) {
  return std::max<int64_t>(1, std::llround(static_cast<double>(base) * width));
}

}  // namespace

ResNet::ResNet(ResNetOptions options) : options_(std::move(options)) {
  const auto& blocks = options_.blocks_per_stage();
  TORCH_CHECK_VALUE(blocks.size() == 4, "ResNet: blocks_per_stage needs 4 stages, got ",
                    blocks.size(), " (", torch::IntArrayRef(blocks), ")");
  for (const int64_t count : blocks) {
    TORCH_CHECK_VALUE(count >= 1, "ResNet: every stage needs at least one block, got ",
                      torch::IntArrayRef(blocks));
  }
  TORCH_CHECK_VALUE(options_.stem() == "imagenet" || options_.stem() == "small",
                    "ResNet: unknown stem '", options_.stem(), "'; known: imagenet, small");
  TORCH_CHECK_VALUE(std::isfinite(options_.width()) && options_.width() > 0.0,
                    "ResNet: width must be positive, got ", options_.width());
  TORCH_CHECK_VALUE(options_.in_channels() > 0, "ResNet: in_channels must be positive, got ",
                    options_.in_channels());
  TORCH_CHECK_VALUE(options_.num_classes() >= 0, "ResNet: num_classes must be >= 0, got ",
                    options_.num_classes());

  const bool bottleneck = options_.bottleneck();
  const int64_t expansion = bottleneck ? BottleneckImpl::kExpansion : BasicBlockImpl::kExpansion;
  int64_t channels = scaled_width(64, options_.width());

  if (options_.stem() == "imagenet") {
    conv1_ = torch::nn::Conv2d(torch::nn::Conv2dOptions(options_.in_channels(), channels, 7)
                                   .stride(2)
                                   .padding(3)
                                   .bias(false));
  } else {
    conv1_ = conv3x3(options_.in_channels(), channels, 1);
  }
  conv1_ = register_module("conv1", conv1_);
  bn1_ = register_module("bn1", BatchNorm(channels));

  const int64_t base_widths[4] = {64, 128, 256, 512};
  for (size_t stage = 0; stage < blocks.size(); ++stage) {
    const int64_t planes = scaled_width(base_widths[stage], options_.width());
    torch::nn::Sequential layer;
    for (int64_t b = 0; b < blocks[stage]; ++b) {
      const int64_t stride = (stage > 0 && b == 0) ? 2 : 1;
      if (bottleneck) {
        layer->push_back(std::make_shared<BottleneckImpl>(channels, planes, stride));
      } else {
        layer->push_back(std::make_shared<BasicBlockImpl>(channels, planes, stride));
      }
      channels = planes * expansion;
    }
    stages_.push_back(register_module("layer" + std::to_string(stage + 1), layer));
  }
  feature_dim_ = channels;

  if (options_.num_classes() > 0) {
    fc_ = register_module("fc", torch::nn::Linear(feature_dim_, options_.num_classes()));
  }
  reset_parameters();
  if (options_.channels_last()) {
    torch::NoGradGuard no_grad;
    for (auto& p : parameters()) {
      if (p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
    }
  }
}

void ResNet::reset_parameters() {
  torch::NoGradGuard no_grad;
  // torchvision's scheme; fc keeps nn.Linear's default init, as there.
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* conv = module->as<torch::nn::Conv2d>()) {
      torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
    } else if (auto* bn = module->as<BatchNormImpl>()) {
      torch::nn::init::ones_(bn->weight);
      torch::nn::init::zeros_(bn->bias);
    }
  }
  if (options_.zero_init_residual()) {
    for (auto& module : modules(/*include_self=*/false)) {
      if (auto* block = module->as<BasicBlockImpl>()) {
        block->zero_init_last_bn();
      } else if (auto* block = module->as<BottleneckImpl>()) {
        block->zero_init_last_bn();
      }
    }
  }
}

torch::Tensor ResNet::forward(const torch::Tensor& images) {
  TORCH_CHECK(images.dim() == 4 && images.size(1) == options_.in_channels(), arch(),
              ": expected images [B, ", options_.in_channels(), ", H, W], got ", images.sizes());
  const auto input =
      options_.channels_last() ? images.contiguous(torch::MemoryFormat::ChannelsLast) : images;
  auto x = bn1_(conv1_(input)).relu_();
  if (options_.stem() == "imagenet") {
    x = torch::max_pool2d(x, /*kernel_size=*/{3, 3}, /*stride=*/{2, 2}, /*padding=*/{1, 1});
  }
  for (auto& stage : stages_) {
    x = stage->forward(x);
  }
  x = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);  // [B, feature_dim]
  return fc_ ? fc_(x) : x;
}

}  // namespace pretext
