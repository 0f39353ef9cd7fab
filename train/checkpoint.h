// Training checkpoints: everything needed to continue bit-for-bit on the same hardware — the
// objective's parameters and buffers (encoder, heads, teacher, queue, center), the optimizer
// state, the position in the run and in the epoch, and LibTorch's RNG — in a tensor file
// (train/tensor_file.h), never a pickle.
#pragma once

#include <cstdint>
#include <string>

#include <torch/torch.h>

#include "train/optimizer.h"
#include "train/tensor_file.h"

namespace pretext {

/// Where a run stands: the next optimizer step to take.
struct RunPosition {
  int64_t step = 0;            ///< global optimizer steps completed
  int64_t epoch = 0;           ///< epoch the next batch belongs to
  int64_t batch_in_epoch = 0;  ///< batches of `epoch` already consumed
};

/// Parameters and buffers of `module` as "<prefix><name>" entries of `file`.
void add_module_state(const torch::nn::Module& module, const std::string& prefix, TensorFile& file);

/// Copies "<prefix><name>" tensors of `file` into `module`. Strict: a missing, extra or
/// differently shaped entry throws, listing the mismatches.
void load_module_state(torch::nn::Module& module, const std::string& prefix, const TensorFile& file,
                       const std::string& path);

/// Writes the checkpoint atomically. config_text is the resolved config, stored so
/// evaluation and resume can rebuild the same objective.
void save_checkpoint(const std::string& path, const torch::nn::Module& objective,
                     const Optimizer& optimizer, const RunPosition& position,
                     const std::string& config_text);

/// Restores objective and optimizer state and the RNG; returns the position to continue from.
RunPosition load_checkpoint(const std::string& path, torch::nn::Module& objective,
                            Optimizer& optimizer);

/// The resolved config text stored in a checkpoint.
std::string checkpoint_config_text(const TensorFile& file);

}  // namespace pretext
