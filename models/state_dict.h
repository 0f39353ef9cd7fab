// State dicts as PyTorch users know them: parameter and buffer names to tensors, in the order of
// torch.nn.Module.state_dict() (module by module, each module's own parameters then buffers), so
// exported files list entries exactly as torchvision and timm do.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace pretext {

/// Ordered (name, tensor) entries; names are unique.
using StateDict = std::vector<std::pair<std::string, torch::Tensor>>;

/// The module's parameters and buffers in torch.nn.Module.state_dict() order, detached, on CPU
/// and contiguous (channels-last weights are stored in the standard layout).
StateDict module_state_dict(const torch::nn::Module& module);

/// Names of `state` that start with one of `prefixes` removed (e.g. torchvision's "fc.").
StateDict without_prefixes(const StateDict& state, const std::vector<std::string>& prefixes);

/// Copies `state` into the module's parameters and buffers (converting dtype and device).
/// Strict: when any name is missing, unexpected or differently shaped it throws c10::Error
/// "<origin> does not match <what>" listing every mismatch, and changes nothing.
void load_module_state_dict(torch::nn::Module& module, const StateDict& state,
                            const std::string& origin, const std::string& what);

}  // namespace pretext
