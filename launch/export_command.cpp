// `pretext export`: one encoder of a checkpoint as a state dict under torchvision (ResNet) or
// timm (ViT) names, as safetensors or a torch.save archive, for PyTorch users to load with
// strict=True. Heads and the torchvision classifier `fc` are left out: the export is a feature
// extractor (torchvision: set model.fc = torch.nn.Identity() before load_state_dict; timm:
// create_model(..., num_classes=0)).
#include <filesystem>
#include <iostream>

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
  if (auto* vit = dynamic_cast<VisionTransformer*>(&encoder)) {
    const auto& o = vit->options();
    return "  model = timm.create_model('" + encoder.arch() + "_patch" +
           std::to_string(o.patch_size()) + "_" + std::to_string(o.image_size()) +
           "', num_classes=0, in_chans=" + std::to_string(o.in_channels()) +
           (o.layer_scale() > 0 ? ", init_values=1e-4" : "") + ")\n  model.load_state_dict(" +
           load + ")\n";
  }
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
