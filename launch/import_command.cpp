// `pretext import`: published weights (a torchvision ResNet or timm ViT state dict, as
// safetensors or torch.save) into a pretext checkpoint that knn and the other evaluation commands
// load like a trained one. Every backbone of the configured objective (student, teacher) starts
// from the file; heads keep their fresh initialization. The .pt reader never runs code.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>

#include "distributed/comm.h"
#include "launch/commands.h"
#include "launch/components.h"
#include "launch/config.h"
#include "models/pt_archive.h"
#include "models/safetensors.h"
#include "models/state_dict.h"
#include "models/zip_archive.h"
#include "train/checkpoint.h"
#include "train/tensor_file.h"

namespace pretext {
namespace {

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0;
}

/// torch.save archives by their ZIP signature or pickle opcode, safetensors otherwise.
StateDict read_weights(const std::string& path) {
  TORCH_CHECK_VALUE(std::filesystem::is_regular_file(path), "--from: '", path, "' does not exist");
  std::string head(8, '\0');
  {
    std::ifstream in(path, std::ios::binary);
    in.read(head.data(), 8);
    head.resize(static_cast<size_t>(in.gcount()));
  }
  const bool torch_save =
      looks_like_zip(head) || (!head.empty() && static_cast<unsigned char>(head[0]) == 0x80);
  return torch_save ? read_pt(path) : read_safetensors(path).tensors;
}

/// Drops the classifier (torchvision `fc.*`, timm `head.*`) and a DistributedDataParallel
/// `module.` prefix shared by every name.
StateDict backbone_entries(const StateDict& file) {
  StateDict state = without_prefixes(file, {"fc.", "head.", "head_dist."});
  const bool wrapped = !state.empty() && std::all_of(state.begin(), state.end(), [](auto& e) {
    return starts_with(e.first, "module.");
  });
  if (wrapped) {
    for (auto& entry : state) entry.first = entry.first.substr(7);
    state = without_prefixes(state, {"fc.", "head.", "head_dist."});
  }
  return state;
}

const torch::Tensor* find_entry(const StateDict& state, const std::string& name) {
  for (const auto& entry : state) {
    if (entry.first == name) return &entry.second;
  }
  return nullptr;
}

/// Config settings the file determines (ResNet stem; ViT patch and image size) as INI text;
/// --config and overrides still win.
std::string settings_from_weights(const StateDict& state) {
  std::ostringstream ini;
  if (const torch::Tensor* conv1 = find_entry(state, "conv1.weight"); conv1 && conv1->dim() == 4) {
    ini << "[model]\nstem = " << (conv1->size(2) == 7 ? "imagenet" : "small") << "\n";
  }
  const torch::Tensor* proj = find_entry(state, "patch_embed.proj.weight");
  const torch::Tensor* pos = find_entry(state, "pos_embed");
  if (proj && proj->dim() == 4 && pos && pos->dim() == 3) {
    const int64_t patch = proj->size(2);
    const auto grid = static_cast<int64_t>(std::llround(std::sqrt(pos->size(1) - 1)));
    ini << "[model]\npatch_size = " << patch << "\n";
    if (grid * grid == pos->size(1) - 1) ini << "[data]\nimage_size = " << grid * patch << "\n";
  }
  return ini.str();
}

/// --arch as pretext names it (resnet18, vit_small) or as timm does (vit_small_patch16,
/// vit_small_patch16_224): the architecture, plus the patch and image size a timm name carries.
std::vector<std::string> arch_overrides(const std::string& name) {
  static const std::regex pretext_name("resnet18|resnet50|vit_tiny|vit_small|vit_base");
  static const std::regex timm_name("(vit_(tiny|small|base))_patch([0-9]+)(_([0-9]+))?");
  std::smatch match;
  if (std::regex_match(name, pretext_name)) return {"model.arch=" + name};
  TORCH_CHECK_VALUE(std::regex_match(name, match, timm_name), "--arch: unknown architecture '",
                    name,
                    "'; expected resnet18, resnet50, vit_tiny, vit_small, vit_base or a timm ViT "
                    "name such as vit_small_patch16 or vit_base_patch16_224");
  std::vector<std::string> overrides = {"model.arch=" + match[1].str(),
                                        "model.patch_size=" + match[3].str()};
  if (match[5].matched) overrides.push_back("data.image_size=" + match[5].str());
  return overrides;
}

int64_t input_channels(const StateDict& state) {
  for (const char* name : {"conv1.weight", "patch_embed.proj.weight"}) {
    const torch::Tensor* weight = find_entry(state, name);
    if (weight && weight->dim() == 4) return weight->size(1);
  }
  return 3;
}

}  // namespace

int run_import_command(const CommandLine& line) {
  const std::string from = line.value("--from");
  const std::string arch = line.value("--arch");
  StateDict state = backbone_entries(read_weights(from));

  // Lowest precedence first: what the file implies, --config, --arch, the user's overrides.
  RunConfig config;
  ConfigSources sources;
  sources.texts.emplace_back("settings read from " + from, settings_from_weights(state));
  if (!line.config_path().empty()) {
    sources.texts.emplace_back(line.config_path(), read_config_file(line.config_path()));
  }
  sources.overrides = arch_overrides(arch);
  sources.overrides.insert(sources.overrides.end(), line.overrides.begin(), line.overrides.end());
  apply_config(config, sources);
  apply_runtime_settings(config);

  LocalComm comm;
  std::shared_ptr<Objective> objective = build_objective(config, input_channels(state), comm);
  // torchvision's published weights predate BatchNorm's num_batches_tracked: count from 0, as
  // BatchNorm's own loader does for old state dicts.
  for (const auto& item : objective->encoder().named_buffers()) {
    if (item.key().size() >= 19 &&
        item.key().compare(item.key().size() - 19, 19, "num_batches_tracked") == 0 &&
        !find_entry(state, item.key())) {
      state.emplace_back(item.key(), torch::zeros_like(item.value()));
    }
  }
  for (Backbone* backbone : objective_backbones(*objective)) {
    load_module_state_dict(*backbone, state, from, "pretext's " + arch);
  }

  TensorFile file;
  file.metadata["format"] = "pretext-checkpoint-1";
  file.metadata["step"] = "0";
  file.metadata["epoch"] = "0";
  file.metadata["batch_in_epoch"] = "0";
  file.metadata["config"] = resolved_config_text(config);
  file.metadata["imported_from"] = from;
  add_module_state(*objective, "model/", file);
  write_tensor_file(line.out(), file);
  std::cout << "pretext: wrote " << line.out() << " (" << arch << " from " << from << ", "
            << state.size() << " tensors, objective " << config.objective << ")\n";
  return 0;
}

}  // namespace pretext
