#include "train/mixed_precision.h"

#include <ATen/autocast_mode.h>

namespace pretext {

bool uses_bf16(const std::string& precision) {
  TORCH_CHECK_VALUE(precision == "fp32" || precision == "bf16",
                    "train.precision must be fp32 or bf16, got '", precision, "'");
  return precision == "bf16";
}

AutocastScope::AutocastScope(const torch::Device& device, bool enabled)
    : device_type_(device.type()), active_(enabled) {
  if (!active_) return;
  TORCH_CHECK_VALUE(device_type_ == torch::kCPU || device_type_ == torch::kCUDA,
                    "train.precision = bf16 needs a cpu or cuda device, got ", device);
  was_enabled_ = at::autocast::is_autocast_enabled(device_type_);
  previous_dtype_ = at::autocast::get_autocast_dtype(device_type_);
  at::autocast::set_autocast_dtype(device_type_, torch::kBFloat16);
  at::autocast::set_autocast_enabled(device_type_, true);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  // Leaving the outermost scope frees the bf16 copies of the weights cached for this step.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(device_type_, was_enabled_);
  at::autocast::set_autocast_dtype(device_type_, previous_dtype_);
}

void set_cuda_tf32(bool allowed) {
  at::globalContext().setAllowTF32CuBLAS(allowed);
  at::globalContext().setAllowTF32CuDNN(allowed);
}

}  // namespace pretext
