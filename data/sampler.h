// Which dataset indices a rank sees in an epoch. The permutation is a pure function of
// (seed, epoch), identical on every rank, then split by rank, so a run resumes mid-epoch by
// skipping the batches already consumed (torch DistributedSampler semantics).
#pragma once

#include <cstdint>
#include <vector>

namespace pretext {

class ShardedSampler {
 public:
  /// drop_last: drop the tail so every rank gets the same number of samples; otherwise pad by
  /// wrapping around, as DistributedSampler does.
  ShardedSampler(int64_t dataset_size, uint64_t seed, bool shuffle, int64_t rank = 0,
                 int64_t world_size = 1, bool drop_last = true);

  /// This rank's indices for `epoch`, in the order they are to be served.
  std::vector<int64_t> indices(int64_t epoch) const;
  /// Length of indices(epoch) for every epoch.
  int64_t samples_per_rank() const { return samples_per_rank_; }

 private:
  int64_t dataset_size_;
  uint64_t seed_;
  bool shuffle_;
  int64_t rank_;
  int64_t world_size_;
  int64_t samples_per_rank_;
};

}  // namespace pretext
