// `pretext export`: one encoder of a checkpoint as a state dict under torchvision (ResNet) or
// timm (ViT) names, as safetensors or a torch.save archive, for PyTorch users to load with
// strict=True. Heads and the torchvision classifier `fc` are left out: the export is a feature
// extractor (torchvision: set model.fc = torch.nn.Identity() before load_state_dict; timm:
// create_model(..., num_classes=0)).
#include <filesystem>
#include <iostream>
#include <set>
#include <sstream>

#include "distributed/comm.h"
#include "launch/commands.h"
#include "launch/components.h"
#include "models/pt_archive.h"
#include "models/resnet.h"
#include "models/safetensors.h"
#include "models/state_dict.h"
#include "models/vit.h"

namespace pretext {
namespace {

/// --format, else the --out extension.
std::string export_format(const CommandLine& line) {
  std::string format = line.value("--format");
  if (format.empty()) {
    const std::string extension = std::filesystem::path(line.out()).extension().string();
    if (extension == ".safetensors") format = "safetensors";
    if (extension == ".pt" || extension == ".pth") format = "pt";
  }
  TORCH_CHECK_VALUE(format == "safetensors" || format == "pt",
                    "--format: expected safetensors "
                    "or pt, got '",
                    format, "' (or give --out a .safetensors / .pt name)");
  return format;
}

/// The model names timm registers for pretext's ViT sizes (timm 1.0: vit_<size>_patch<P>_<I>).
bool timm_registers(const std::string& arch, int64_t patch, int64_t image) {
  static const std::set<std::string> names = {
      "vit_tiny_patch16_224",  "vit_tiny_patch16_384",  "vit_small_patch8_224",
      "vit_small_patch16_224", "vit_small_patch16_384", "vit_small_patch32_224",
      "vit_small_patch32_384", "vit_base_patch8_224",   "vit_base_patch16_224",
      "vit_base_patch16_384",  "vit_base_patch32_224",  "vit_base_patch32_384"};
  return names.count(arch + "_patch" + std::to_string(patch) + "_" + std::to_string(image)) > 0;
}

/// timm.create_model with the registered name where timm has one for this size and these
/// block settings; otherwise timm's VisionTransformer built with the export's arguments.
std::string timm_loading_hint(const VisionTransformer& vit, const std::string& load) {
  const auto& o = vit.options();
  std::ostringstream call;
  const bool stock_blocks = o.mlp_ratio() == 4.0 && o.qkv_bias();
  if (stock_blocks && timm_registers(vit.arch(), o.patch_size(), o.image_size())) {
    call << "timm.create_model('" << vit.arch() << "_patch" << o.patch_size() << "_"
         << o.image_size() << "', num_classes=0, in_chans=" << o.in_channels();
  } else {
    call << "timm.models.vision_transformer.VisionTransformer(img_size=" << o.image_size()
         << ", patch_size=" << o.patch_size() << ", in_chans=" << o.in_channels()
         << ", num_classes=0, embed_dim=" << o.embed_dim() << ", depth=" << o.depth()
         << ", num_heads=" << o.num_heads() << ", mlp_ratio=" << o.mlp_ratio()
         << ", qkv_bias=" << (o.qkv_bias() ? "True" : "False");
  }
  // Any value works: load_state_dict overwrites the LayerScale gammas.
  if (o.layer_scale() > 0) call << ", init_values=1e-4";
  return "  model = " + call.str() + ")\n  model.load_state_dict(" + load + ")\n";
}

/// How a PyTorch user loads the file, or why the stock builder will not match.
std::string loading_hint(Backbone& encoder, const std::string& format, const std::string& out) {
  const std::string load = format == "pt" ? "torch.load('" + out + "', weights_only=True)"
                                          : "safetensors.torch.load_file('" + out + "')";
  if (auto* resnet = dynamic_cast<ResNet*>(&encoder)) {
    const auto& o = resnet->options();
    std::string hint = "  model = torchvision.models." + encoder.arch() +
                       "(); model.fc = torch.nn.Identity()\n  model.load_state_dict(" + load +
                       ")\n";
    if (o.stem() != "imagenet" || o.width() != 1.0 || o.in_channels() != 3) {
      hint += "  note: this ResNet has stem '" + o.stem() + "', width " +
              std::to_string(o.width()) + " and " + std::to_string(o.in_channels()) +
              " input channels; torchvision's builder needs the same layers (replace conv1 / "
              "maxpool for the small stem or other channel counts)\n";
    }
    return hint;
  }
  if (auto* vit = dynamic_cast<VisionTransformer*>(&encoder)) return timm_loading_hint(*vit, load);
  return "";
}

}  // namespace

int run_export_command(const CommandLine& line) {
  const std::string format = export_format(line);
  const std::string part = line.value("--part", "backbone");
  LocalComm comm;
  const CheckpointRun run = load_checkpoint_weights(line.checkpoint(), line.overrides, comm);
  Backbone& encoder = objective_part(*run.objective, part);
  const StateDict state = module_state_dict(encoder);
  if (format == "safetensors") {
    write_safetensors(line.out(), state,
                      {{"format", "pt"},
                       {"pretext.arch", encoder.arch()},
                       {"pretext.objective", run.config.objective},
                       {"pretext.part", part},
                       {"pretext.checkpoint", line.checkpoint()}});
  } else {
    write_pt(line.out(), state);
  }
  std::cout << "pretext: wrote " << line.out() << " (" << format << ", " << state.size()
            << " tensors: the " << part << " " << encoder.arch() << " of a " << run.config.objective
            << " checkpoint)\nload it in PyTorch with:\n"
            << loading_hint(encoder, format, line.out());
  return 0;
}

}  // namespace pretext
