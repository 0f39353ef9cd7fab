// Backbone factory: maps BackboneOptions (the config's [model] section) to a concrete encoder.
// Reference: torchvision.models.resnet18 / resnet50 builders; timm vit_tiny_patch16_224,
// vit_small_patch16_224, vit_base_patch16_224 (with num_classes = 0).
// Deviations: none beyond those of models/resnet.h and models/vit.h.
#include "models/backbone.h"

#include <cmath>

#include "models/resnet.h"
#include "models/vit.h"

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
  auto vit = [&](VitOptions vit_options) {
    TORCH_CHECK_VALUE(options.width() == 1.0, "make_backbone: width applies to ResNets only; ",
                      options.arch(), " takes its width from the arch name, got width ",
                      options.width());
    return std::make_shared<VisionTransformer>(vit_options.patch_size(options.patch_size())
                                                   .image_size(options.image_size())
                                                   .in_channels(options.in_channels())
                                                   .pos_embed(options.pos_embed())
                                                   .drop_path(options.drop_path())
                                                   .layer_scale(options.layer_scale())
                                                   .arch_name(options.arch()));
  };
  if (options.arch() == "resnet18") return resnet(ResNetOptions::resnet18());
  if (options.arch() == "resnet50") return resnet(ResNetOptions::resnet50());
  if (options.arch() == "vit_tiny") return vit(VitOptions::tiny());
  if (options.arch() == "vit_small") return vit(VitOptions::small());
  TORCH_CHECK_VALUE(options.arch() == "vit_base", "make_backbone: unknown arch '", options.arch(),
                    "'; known: resnet18, resnet50, vit_tiny, vit_small, vit_base");
  return vit(VitOptions::base());
}

}  // namespace pretext
