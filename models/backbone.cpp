// Backbone factory: maps BackboneOptions (the config's [model] section) to a concrete encoder.
// Reference: torchvision.models.resnet18 / resnet50 builders.
// Deviations: none beyond those of models/resnet.h.
#include "models/backbone.h"

#include <cmath>

#include "models/resnet.h"

namespace pretext {

std::shared_ptr<Backbone> make_backbone(const BackboneOptions& options) {
  TORCH_CHECK_VALUE(std::isfinite(options.width()) && options.width() > 0.0,
                    "make_backbone: width must be positive, got ", options.width());
  TORCH_CHECK_VALUE(options.in_channels() > 0, "make_backbone: in_channels must be positive, got ",
                    options.in_channels());
  TORCH_CHECK_VALUE(options.stem() == "imagenet" || options.stem() == "small",
                    "make_backbone: unknown stem '", options.stem(), "'; known: imagenet, small");

  auto resnet = [&](ResNetOptions resnet_options) {
    return std::make_shared<ResNet>(resnet_options.stem(options.stem())
                                        .width(options.width())
                                        .in_channels(options.in_channels())
                                        .channels_last(options.channels_last())
                                        .arch_name(options.arch()));
  };
  if (options.arch() == "resnet18") {
    return resnet(ResNetOptions::resnet18());
  }
  TORCH_CHECK_VALUE(options.arch() == "resnet50", "make_backbone: unknown arch '", options.arch(),
                    "'; known: resnet18, resnet50");
  return resnet(ResNetOptions::resnet50());
}

}  // namespace pretext
