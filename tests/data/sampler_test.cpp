// ShardedSampler: per-epoch permutations, rank partitions, DistributedSampler-style padding.
#include <algorithm>
#include <numeric>
#include <set>
#include <vector>

#include "data/rng.h"
#include "data/sampler.h"
#include "tests/test_util.h"

namespace pretext {
namespace {

std::vector<int64_t> sorted(std::vector<int64_t> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), int64_t{0});
  return v;
}

TEST(SampleSeedTest, MixesAllThreeKeys) {
  const uint64_t base = sample_seed(1, 2, 3);
  EXPECT_EQ(base, sample_seed(1, 2, 3));
  EXPECT_NE(base, sample_seed(0, 2, 3));
  EXPECT_NE(base, sample_seed(1, 3, 3));
  EXPECT_NE(base, sample_seed(1, 2, 4));
  // Swapping epoch and index must not collide.
  EXPECT_NE(sample_seed(1, 2, 3), sample_seed(1, 3, 2));
}

TEST(RngTest, UniformIntCoversTheRangeWithoutBias) {
  Rng rng(7);
  std::vector<int64_t> counts(6, 0);
  for (int i = 0; i < 60000; ++i) {
    const int64_t x = uniform_int(rng, -2, 3);
    ASSERT_GE(x, -2);
    ASSERT_LE(x, 3);
    ++counts[static_cast<size_t>(x + 2)];
  }
  for (const int64_t c : counts) {
    EXPECT_NEAR(c, 10000, 400);
  }
  for (int i = 0; i < 1000; ++i) {
    const double u = uniform(rng, 0.25, 0.5);
    ASSERT_GE(u, 0.25);
    ASSERT_LT(u, 0.5);
  }
}

TEST(ShardedSamplerTest, EachEpochIsAPermutation) {
  const ShardedSampler sampler(1000, /*seed=*/3, /*shuffle=*/true);
  EXPECT_EQ(sampler.samples_per_rank(), 1000);
  const auto e0 = sampler.indices(0);
  const auto e1 = sampler.indices(1);
  EXPECT_EQ(sorted(e0), iota(1000));
  EXPECT_EQ(sorted(e1), iota(1000));
  EXPECT_NE(e0, e1);
  EXPECT_NE(e0, iota(1000));
  EXPECT_EQ(e0, ShardedSampler(1000, 3, true).indices(0));
  EXPECT_NE(e0, ShardedSampler(1000, 4, true).indices(0));
}

TEST(ShardedSamplerTest, NoShuffleKeepsDatasetOrder) {
  EXPECT_EQ(ShardedSampler(10, 3, /*shuffle=*/false).indices(5), iota(10));
  EXPECT_EQ(
      ShardedSampler(10, 3, false, /*rank=*/1, /*world_size=*/3, /*drop_last=*/true).indices(0),
      std::vector<int64_t>({1, 4, 7}));
}

TEST(ShardedSamplerTest, RanksPartitionTheEpoch) {
  const int64_t world = 4;
  std::vector<int64_t> all;
  for (int64_t rank = 0; rank < world; ++rank) {
    const ShardedSampler sampler(1000, 11, true, rank, world, /*drop_last=*/true);
    EXPECT_EQ(sampler.samples_per_rank(), 250);
    const auto mine = sampler.indices(2);
    EXPECT_EQ(static_cast<int64_t>(mine.size()), 250);
    all.insert(all.end(), mine.begin(), mine.end());
  }
  EXPECT_EQ(sorted(all), iota(1000));  // disjoint and complete
}

TEST(ShardedSamplerTest, DropLastTruncatesUnevenSizes) {
  std::set<int64_t> seen;
  for (int64_t rank = 0; rank < 4; ++rank) {
    const ShardedSampler sampler(10, 5, true, rank, 4, /*drop_last=*/true);
    EXPECT_EQ(sampler.samples_per_rank(), 2);
    for (const int64_t i : sampler.indices(0)) {
      EXPECT_TRUE(seen.insert(i).second) << "index " << i << " served twice";
    }
  }
  EXPECT_EQ(seen.size(), 8u);
}

TEST(ShardedSamplerTest, PaddingWrapsAroundThePermutation) {
  const auto permutation = ShardedSampler(10, 5, true, 0, 1, /*drop_last=*/false).indices(3);
  for (int64_t rank = 0; rank < 4; ++rank) {
    const ShardedSampler sampler(10, 5, true, rank, 4, /*drop_last=*/false);
    ASSERT_EQ(sampler.samples_per_rank(), 3);
    const auto mine = sampler.indices(3);
    for (int64_t k = 0; k < 3; ++k) {
      EXPECT_EQ(mine[k], permutation[(k * 4 + rank) % 10]) << "rank " << rank << " k " << k;
    }
  }
  // More ranks than samples: wraps more than once, every rank still gets one.
  for (int64_t rank = 0; rank < 5; ++rank) {
    const auto mine = ShardedSampler(3, 0, false, rank, 5, false).indices(0);
    EXPECT_EQ(mine, std::vector<int64_t>({rank % 3}));
  }
}

TEST(ShardedSamplerTest, RejectsBadArguments) {
  EXPECT_THROW(ShardedSampler(0, 0, true), c10::Error);
  EXPECT_THROW(ShardedSampler(10, 0, true, 2, 2), c10::Error);
  EXPECT_THROW(ShardedSampler(10, 0, true, 0, 0), c10::Error);
  EXPECT_THROW(ShardedSampler(3, 0, true, 0, 4, /*drop_last=*/true), c10::Error);
  EXPECT_THROW(ShardedSampler(10, 0, true).indices(-1), c10::Error);
}

}  // namespace
}  // namespace pretext
