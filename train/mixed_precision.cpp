// LibTorch 2.4 replaced the per-backend autocast switches (set_enabled, set_cpu_enabled,
// set_autocast_gpu_dtype, ...) with ones taking the device type; both spellings are kept here.
#include "train/mixed_precision.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#define PRETEXT_AUTOCAST_BY_DEVICE_TYPE \
  (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4))

namespace pretext {
namespace {

bool autocast_enabled(torch::DeviceType type) {
#if PRETEXT_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::is_autocast_enabled(type);
#else
  return type == torch::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

void set_autocast_enabled(torch::DeviceType type, bool enabled) {
#if PRETEXT_AUTOCAST_BY_DEVICE_TYPE
  at::autocast::set_autocast_enabled(type, enabled);
#else
  if (type == torch::kCUDA) {
    at::autocast::set_enabled(enabled);
  } else {
    at::autocast::set_cpu_enabled(enabled);
  }
#endif
}

torch::ScalarType autocast_dtype(torch::DeviceType type) {
#if PRETEXT_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::get_autocast_dtype(type);
#else
  return type == torch::kCUDA ? at::autocast::get_autocast_gpu_dtype()
                              : at::autocast::get_autocast_cpu_dtype();
#endif
}

void set_autocast_dtype(torch::DeviceType type, torch::ScalarType dtype) {
#if PRETEXT_AUTOCAST_BY_DEVICE_TYPE
  at::autocast::set_autocast_dtype(type, dtype);
#else
  if (type == torch::kCUDA) {
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    at::autocast::set_autocast_cpu_dtype(dtype);
  }
#endif
}

}  // namespace

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
  was_enabled_ = autocast_enabled(device_type_);
  previous_dtype_ = autocast_dtype(device_type_);
  set_autocast_dtype(device_type_, torch::kBFloat16);
  set_autocast_enabled(device_type_, true);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  // Leaving the outermost scope frees the bf16 copies of the weights cached for this step.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast_enabled(device_type_, was_enabled_);
  set_autocast_dtype(device_type_, previous_dtype_);
}

void set_cuda_tf32(bool allowed) {
  at::globalContext().setAllowTF32CuBLAS(allowed);
  at::globalContext().setAllowTF32CuDNN(allowed);
}

}  // namespace pretext
