// Checkpoint save/load on top of the tensor file format.
#include "train/checkpoint.h"

#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include <ATen/CPUGeneratorImpl.h>

namespace pretext {
namespace {

constexpr const char* kModelPrefix = "model/";
constexpr const char* kOptimizerPrefix = "optimizer/";
constexpr const char* kRngName = "rng/torch_cpu";

int64_t meta_int(const TensorFile& file, const std::string& key, const std::string& path) {
  const std::string& text = file.meta(key);
  try {
    return std::stoll(text);
  } catch (const std::exception&) {
    TORCH_CHECK(false, "checkpoint ", path, ": metadata '", key, "' is not an integer: '", text,
                "'");
  }
  return 0;
}

}  // namespace

void add_module_state(const torch::nn::Module& module, const std::string& prefix,
                      TensorFile& file) {
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    file.tensors.emplace_back(prefix + item.key(), item.value().detach());
  }
  for (const auto& item : module.named_buffers(/*recurse=*/true)) {
    file.tensors.emplace_back(prefix + item.key(), item.value().detach());
  }
}

void load_module_state(torch::nn::Module& module, const std::string& prefix, const TensorFile& file,
                       const std::string& path) {
  std::map<std::string, torch::Tensor> expected;
  for (const auto& item : module.named_parameters(true)) expected[item.key()] = item.value();
  for (const auto& item : module.named_buffers(true)) expected[item.key()] = item.value();

  std::vector<std::string> problems;
  std::set<std::string> seen;
  for (const auto& [full_name, tensor] : file.tensors) {
    if (full_name.rfind(prefix, 0) != 0) continue;
    const std::string name = full_name.substr(prefix.size());
    seen.insert(name);
    const auto it = expected.find(name);
    if (it == expected.end()) {
      problems.push_back("unexpected '" + name + "'");
    } else if (it->second.sizes() != tensor.sizes()) {
      std::ostringstream message;
      message << "'" << name << "' has shape " << tensor.sizes() << " in the file but "
              << it->second.sizes() << " in the model";
      problems.push_back(message.str());
    }
  }
  for (const auto& [name, tensor] : expected) {
    if (!seen.count(name)) problems.push_back("missing '" + name + "'");
  }
  if (!problems.empty()) {
    std::ostringstream message;
    for (size_t i = 0; i < problems.size() && i < 20; ++i) message << "\n  " << problems[i];
    if (problems.size() > 20) message << "\n  ... and " << problems.size() - 20 << " more";
    TORCH_CHECK(false, "checkpoint ", path, " does not match the model (", problems.size(),
                " mismatches):", message.str());
  }
  torch::NoGradGuard no_grad;
  for (const auto& [full_name, tensor] : file.tensors) {
    if (full_name.rfind(prefix, 0) != 0) continue;
    expected.at(full_name.substr(prefix.size())).copy_(tensor);
  }
}

void save_checkpoint(const std::string& path, const torch::nn::Module& objective,
                     const Optimizer& optimizer, const RunPosition& position,
                     const std::string& config_text) {
  TensorFile file;
  file.metadata["format"] = "pretext-checkpoint-1";
  file.metadata["step"] = std::to_string(position.step);
  file.metadata["epoch"] = std::to_string(position.epoch);
  file.metadata["batch_in_epoch"] = std::to_string(position.batch_in_epoch);
  file.metadata["config"] = config_text;
  add_module_state(objective, kModelPrefix, file);
  for (const auto& [name, tensor] : optimizer.state()) {
    file.tensors.emplace_back(kOptimizerPrefix + name, tensor);
  }
  file.tensors.emplace_back(kRngName, at::detail::getDefaultCPUGenerator().get_state());
  write_tensor_file(path, file);
}

RunPosition load_checkpoint(const std::string& path, torch::nn::Module& objective,
                            Optimizer& optimizer) {
  const TensorFile file = read_tensor_file(path);
  load_module_state(objective, kModelPrefix, file, path);
  std::map<std::string, torch::Tensor> optimizer_state;
  const std::string prefix = kOptimizerPrefix;
  for (const auto& [name, tensor] : file.tensors) {
    if (name.rfind(prefix, 0) == 0) optimizer_state[name.substr(prefix.size())] = tensor;
  }
  optimizer.load_state(optimizer_state);
  if (file.has(kRngName)) {
    at::Generator generator = at::detail::getDefaultCPUGenerator();  // a shared handle
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(file.get(kRngName));
  }
  RunPosition position;
  position.step = meta_int(file, "step", path);
  position.epoch = meta_int(file, "epoch", path);
  position.batch_in_epoch = meta_int(file, "batch_in_epoch", path);
  return position;
}

std::string checkpoint_config_text(const TensorFile& file) { return file.meta("config"); }

}  // namespace pretext
