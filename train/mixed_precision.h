// Mixed precision by autocast (torch.autocast in C++): inside a scope, matrix products and
// convolutions run in bf16 while the weights, their gradients and the optimizer state stay fp32
// (the model's own parameters are the master weights; bf16 keeps fp32's exponent range, so no
// loss scaling is needed). Reductions and losses that autocast lists as fp32 stay fp32.
#pragma once

#include <string>

#include <torch/torch.h>

namespace pretext {

/// "fp32" (autocast off) or "bf16"; anything else throws naming train.precision.
bool uses_bf16(const std::string& precision);

/// Enables autocast to bf16 for `device`'s type while alive (when `enabled`), restoring the
/// previous state after; nesting and exceptions are safe.
class AutocastScope {
 public:
  AutocastScope(const torch::Device& device, bool enabled);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  torch::DeviceType device_type_;
  bool active_ = false;
  bool was_enabled_ = false;
  torch::ScalarType previous_dtype_ = torch::kFloat;
};

/// TF32 tensor-core matrix products and convolutions for fp32 work on CUDA (Ampere and newer);
/// nothing changes on the CPU.
void set_cuda_tf32(bool allowed);

}  // namespace pretext
