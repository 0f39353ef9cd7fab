// Threaded loader: worker threads decode and augment samples into per-view uint8 tensors
// while the trainer runs, keeping up to `prefetch_batches` finished batches ahead. Batches
// come out in sampler order whatever the thread count, and their pixels depend only on
// (seed, epoch, index).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "data/dataset.h"
#include "data/sampler.h"
#include "data/views.h"

namespace pretext {

/// One batch on the host, uint8 until it reaches the device.
struct HostBatch {
  std::vector<torch::Tensor> views;  ///< num_views tensors, each [B, C, S, S] uint8 (contiguous)
  torch::Tensor labels;              ///< [B] int64 (-1 for unlabelled samples)
  torch::Tensor indices;             ///< [B] int64 dataset indices
};

struct LoaderOptions {
  TORCH_ARG(int64_t, batch_size) = 256;
  /// Decode/augment threads (0 = do the work on the calling thread).
  TORCH_ARG(int64_t, num_workers) = 2;
  TORCH_ARG(int64_t, prefetch_batches) = 4;
  /// Drop the last partial batch (training) or serve it (evaluation).
  TORCH_ARG(bool, drop_last) = true;
  /// Seed of the per-sample augmentation RNG.
  TORCH_ARG(uint64_t, seed) = 0;
  /// What an unreadable sample (UnreadableSample from the dataset) does: stop (the run fails
  /// naming the file and reason) | skip (it is recorded, see unreadable_samples(), and replaced
  /// by the next readable index, so batches keep their size and order).
  TORCH_ARG(std::string, on_error) = "stop";
};

/// A sample that could not be read, with why.
struct UnreadableRecord {
  int64_t index = 0;
  std::string source;  ///< file path (or file and offset)
  std::string reason;
};

class Loader {
 public:
  Loader(std::shared_ptr<const Dataset> dataset, std::shared_ptr<const ViewPlan> plan,
         ShardedSampler sampler, LoaderOptions options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  /// Starts serving `epoch` from batch `first_batch` on (a resumed run skips what it used).
  void start_epoch(int64_t epoch, int64_t first_batch = 0);
  /// Next batch of the current epoch, or nullopt at its end. Rethrows a worker's error
  /// (a bad sample) on the calling thread.
  std::optional<HostBatch> next();
  int64_t batches_per_epoch() const;
  /// Under on_error=skip: every distinct unreadable sample met so far, each once, in the order
  /// met. Thread-safe.
  std::vector<UnreadableRecord> unreadable_samples() const;
  /// Under on_error=skip: how many served samples were replacements (a bad file met in two
  /// epochs counts twice).
  int64_t replaced_count() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// uint8 [B, C, H, W] -> float [B, C, H, W] on `device`, (x / 255 - mean) / std per channel.
/// The copy happens as uint8 so the host-to-device transfer is 4x smaller.
torch::Tensor to_normalized_float(const torch::Tensor& images, const std::vector<double>& mean,
                                  const std::vector<double>& std, const torch::Device& device);

}  // namespace pretext
