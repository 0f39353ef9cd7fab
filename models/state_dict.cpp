// State-dict extraction and strict loading, as torch.nn.Module.state_dict / load_state_dict.
#include "models/state_dict.h"

#include <map>
#include <set>
#include <sstream>

namespace pretext {
namespace {

void add_own_entries(const torch::nn::Module& module, const std::string& prefix, StateDict& state) {
  const std::string dotted = prefix.empty() ? "" : prefix + ".";
  for (const auto& item : module.named_parameters(/*recurse=*/false)) {
    state.emplace_back(dotted + item.key(), item.value().detach().to(torch::kCPU).contiguous());
  }
  for (const auto& item : module.named_buffers(/*recurse=*/false)) {
    state.emplace_back(dotted + item.key(), item.value().detach().to(torch::kCPU).contiguous());
  }
}

std::map<std::string, torch::Tensor> module_entries(torch::nn::Module& module) {
  std::map<std::string, torch::Tensor> entries;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    entries[item.key()] = item.value();
  }
  for (const auto& item : module.named_buffers(/*recurse=*/true)) {
    entries[item.key()] = item.value();
  }
  return entries;
}

}  // namespace

StateDict module_state_dict(const torch::nn::Module& module) {
  StateDict state;
  add_own_entries(module, "", state);
  // include_self = false: the root need not live in a shared_ptr.
  for (const auto& item : module.named_modules("", /*include_self=*/false)) {
    add_own_entries(*item.value(), item.key(), state);
  }
  return state;
}

StateDict without_prefixes(const StateDict& state, const std::vector<std::string>& prefixes) {
  StateDict kept;
  for (const auto& entry : state) {
    bool dropped = false;
    for (const auto& prefix : prefixes) dropped = dropped || entry.first.rfind(prefix, 0) == 0;
    if (!dropped) kept.push_back(entry);
  }
  return kept;
}

void load_module_state_dict(torch::nn::Module& module, const StateDict& state,
                            const std::string& origin, const std::string& what) {
  const std::map<std::string, torch::Tensor> expected = module_entries(module);
  std::vector<std::string> missing;
  std::vector<std::string> unexpected;
  std::vector<std::string> wrong_shape;
  std::set<std::string> seen;
  for (const auto& [name, tensor] : state) {
    seen.insert(name);
    const auto it = expected.find(name);
    if (it == expected.end()) {
      unexpected.push_back(name);
    } else if (it->second.sizes() != tensor.sizes()) {
      std::ostringstream line;
      line << name << ": " << tensor.sizes() << " in the file, " << it->second.sizes()
           << " in the model";
      wrong_shape.push_back(line.str());
    }
  }
  for (const auto& [name, tensor] : expected) {
    if (!seen.count(name)) missing.push_back(name);
  }
  if (!missing.empty() || !unexpected.empty() || !wrong_shape.empty()) {
    std::ostringstream message;
    auto list = [&](const char* title, const std::vector<std::string>& items) {
      if (items.empty()) return;
      message << "\n  " << title << " (" << items.size() << "):";
      for (size_t i = 0; i < items.size() && i < 12; ++i) message << "\n    " << items[i];
      if (items.size() > 12) message << "\n    ... and " << items.size() - 12 << " more";
    };
    list("missing from the file", missing);
    list("unexpected in the file", unexpected);
    list("shape mismatch", wrong_shape);
    TORCH_CHECK(false, origin, " does not match ", what, ":", message.str());
  }
  torch::NoGradGuard no_grad;
  for (const auto& [name, tensor] : state) expected.at(name).copy_(tensor);
}

}  // namespace pretext
