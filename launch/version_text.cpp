#include "launch/version_text.h"

#include <ATen/Context.h>
#include <ATen/cuda/CUDAContext.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <sstream>

#include "distributed/c10d_comm.h"

namespace pretext {
namespace {

/// CUDA's and cuDNN's integer versions (13000, 91900) as "13.0", "9.19.0".
std::string cuda_version(long code) {
  return std::to_string(code / 1000) + "." + std::to_string(code % 1000 / 10);
}
std::string cudnn_version(long code) {
  return std::to_string(code / 10000) + "." + std::to_string(code % 10000 / 100) + "." +
         std::to_string(code % 100);
}

}  // namespace

std::string version_text() {
  std::ostringstream out;
  out << "pretext " << PRETEXT_VERSION << "\nLibTorch " << TORCH_VERSION << "\n";
  const auto& cuda = at::detail::getCUDAHooks();
  if (cuda.isBuilt()) {
    out << "CUDA " << cuda_version(cuda.versionCUDART()) << "\n";
    out << "cuDNN " << (cuda.hasCuDNN() ? cudnn_version(cuda.versionCuDNN()) : "none") << "\n";
  } else {
    out << "CUDA none\ncuDNN none\n";
  }
  out << "NCCL " << nccl_version_text() << "\n";
  const int64_t gpus = static_cast<int64_t>(torch::cuda::device_count());
  out << "GPUs " << gpus;
  if (gpus > 0) {
    for (int64_t i = 0; i < gpus; ++i) {
      const cudaDeviceProp* device = at::cuda::getDeviceProperties(i);
      out << "\n  cuda:" << i << " " << device->name << ", "
          << device->totalGlobalMem / (1024 * 1024) << " MiB, compute capability " << device->major
          << "." << device->minor;
    }
  } else {
    out << " (none visible)";
  }
  out << "\n";
  return out.str();
}

}  // namespace pretext
