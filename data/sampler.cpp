// ShardedSampler: one permutation per (seed, epoch), shared by all ranks, split rank-strided.
// Reference: torch.utils.data.distributed.DistributedSampler (num_samples, padding, slicing).
// Deviations: the permutation comes from mt19937_64 + Fisher-Yates, not torch.randperm, so
// index orders differ from PyTorch's for the same seed.
#include "data/sampler.h"

#include <numeric>
#include <utility>

#include <c10/util/Exception.h>

#include "data/rng.h"

namespace pretext {

namespace {
// Third key of sample_seed for the epoch permutation, so it never equals a sample's stream.
constexpr uint64_t kPermutationStream = 0xFFFFFFFFFFFFFFFFULL;
}  // namespace

ShardedSampler::ShardedSampler(int64_t dataset_size, uint64_t seed, bool shuffle, int64_t rank,
                               int64_t world_size, bool drop_last)
    : dataset_size_(dataset_size),
      seed_(seed),
      shuffle_(shuffle),
      rank_(rank),
      world_size_(world_size) {
  TORCH_CHECK_VALUE(dataset_size > 0, "ShardedSampler: dataset_size must be positive, got ",
                    dataset_size);
  TORCH_CHECK_VALUE(world_size > 0, "ShardedSampler: world_size must be positive, got ",
                    world_size);
  TORCH_CHECK_VALUE(0 <= rank && rank < world_size, "ShardedSampler: rank ", rank, " outside [0, ",
                    world_size, ")");
  if (drop_last) {
    samples_per_rank_ = dataset_size / world_size;
    TORCH_CHECK_VALUE(samples_per_rank_ > 0, "ShardedSampler: dataset of ", dataset_size,
                      " samples is smaller than world_size ", world_size,
                      " with drop_last; every rank would get nothing");
  } else {
    samples_per_rank_ = (dataset_size + world_size - 1) / world_size;
  }
}

std::vector<int64_t> ShardedSampler::indices(int64_t epoch) const {
  TORCH_CHECK_VALUE(epoch >= 0, "ShardedSampler: epoch must be >= 0, got ", epoch);
  std::vector<int64_t> order(static_cast<size_t>(dataset_size_));
  std::iota(order.begin(), order.end(), int64_t{0});
  if (shuffle_) {
    Rng rng(sample_seed(seed_, static_cast<uint64_t>(epoch), kPermutationStream));
    for (int64_t i = dataset_size_ - 1; i > 0; --i) {  // Fisher-Yates
      std::swap(order[i], order[uniform_int(rng, 0, i)]);
    }
  }
  // Pad by wrapping (possibly several times) or truncate to total_size, then take every
  // world_size-th element starting at rank.
  const int64_t total_size = samples_per_rank_ * world_size_;
  std::vector<int64_t> mine;
  mine.reserve(static_cast<size_t>(samples_per_rank_));
  for (int64_t position = rank_; position < total_size; position += world_size_) {
    mine.push_back(order[position % dataset_size_]);
  }
  return mine;
}

}  // namespace pretext
