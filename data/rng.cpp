// Seed mixing and portable draws for the per-sample RNG (see rng.h).
// Reference: splitmix64 (Steele, Lea, Flood 2014), finalizer constants as in Java's
// SplittableRandom. Deviations: none.
#include "data/rng.h"

#include <c10/util/Exception.h>

namespace pretext {

uint64_t sample_seed(uint64_t seed, uint64_t epoch, uint64_t index) {
  uint64_t x = seed ^ (epoch * 0x9E3779B97F4A7C15ULL) ^ (index * 0xC2B2AE3D27D4EB4FULL);
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

double uniform01(Rng& rng) {
  return static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0);  // 2^-53
}

double uniform(Rng& rng, double lo, double hi) {
  TORCH_CHECK_VALUE(lo <= hi, "uniform: need lo <= hi, got [", lo, ", ", hi, ")");
  return lo + (hi - lo) * uniform01(rng);
}

int64_t uniform_int(Rng& rng, int64_t lo, int64_t hi) {
  TORCH_CHECK_VALUE(lo <= hi, "uniform_int: need lo <= hi, got [", lo, ", ", hi, "]");
  const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
  if (span == UINT64_MAX) {
    return static_cast<int64_t>(rng());
  }
  const uint64_t range = span + 1;
  // Reject the top partial block of 2^64 so every residue is equally likely.
  const uint64_t limit = UINT64_MAX - (UINT64_MAX % range + 1) % range;
  uint64_t x = rng();
  while (x > limit) {
    x = rng();
  }
  return static_cast<int64_t>(static_cast<uint64_t>(lo) + x % range);
}

bool bernoulli(Rng& rng, double p) { return uniform01(rng) < p; }

}  // namespace pretext
