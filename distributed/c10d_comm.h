// The multi-process communicator on PyTorch's c10d: ProcessGroupGloo on CPU tensors,
// ProcessGroupNCCL for CUDA devices in builds that have it. Rendezvous goes through a TCP
// store that rank 0 hosts on MASTER_ADDR only (bound_tcp_store.h; torchrun's own agent store
// when torchrun provides one) or through a FileStore (one machine, tests). c10d headers stay
// in distributed/, so nothing outside it needs them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <torch/torch.h>

#include "distributed/comm.h"
#include "distributed/environment.h"

namespace pretext {

/// The [dist] config section.
struct DistOptions {
  /// auto (NCCL for a CUDA device, Gloo otherwise) | gloo | nccl.
  TORCH_ARG(std::string, backend) = "auto";
  /// Seconds a rendezvous or collective may wait for a peer before failing.
  TORCH_ARG(double, timeout_s) = 300.0;
  /// Batch statistics over the global batch in every BatchNorm (SimCLR, BYOL, MoCo v3: on).
  TORCH_ARG(bool, sync_batch_norm) = false;
};

/// "gloo" or "nccl" for `device` under options.backend(); an unknown name, or nccl in a build
/// without it, throws c10::ValueError naming dist.backend.
std::string resolve_backend(const DistOptions& options, const torch::Device& device);

/// The NCCL the NCCL process group was compiled against and the one loaded at run time
/// ("2.28.9 (loaded 2.28.9)"); "none" in builds without NCCL.
std::string nccl_version_text();

/// Joins the job described by `env` through the store at env.master_addr:env.master_port
/// (rank 0 hosts it, bound to that address). Blocks until every rank has joined or
/// timeout_s passes.
std::unique_ptr<Comm> connect_tcp(const DistributedEnv& env, const DistOptions& options,
                                  const torch::Device& device);

/// Joins a group of `world_size` ranks on one machine through a FileStore at `path` (a file
/// that no earlier group used). Ranks may be threads of one process or separate processes.
std::unique_ptr<Comm> connect_file(const std::string& path, int64_t rank, int64_t world_size,
                                   const DistOptions& options, const torch::Device& device);

/// LocalComm for a world of one, the TCP group otherwise.
std::unique_ptr<Comm> connect_from_env(const DistributedEnv& env, const DistOptions& options,
                                       const torch::Device& device);

}  // namespace pretext
