// Per-sample randomness: a sample's augmentation depends only on (seed, epoch, index), never
// on which loader thread ran it or in what order. The draw helpers below are written out
// instead of using <random>'s distributions, whose output differs between standard libraries.
#pragma once

#include <cstdint>
#include <random>

namespace pretext {

using Rng = std::mt19937_64;

/// splitmix64 finalizer over the three keys.
uint64_t sample_seed(uint64_t seed, uint64_t epoch, uint64_t index);

/// Uniform double in [0, 1) from the top 53 bits of one draw.
double uniform01(Rng& rng);

/// Uniform double in [lo, hi) (lo when lo == hi).
double uniform(Rng& rng, double lo, double hi);

/// Uniform integer in [lo, hi] (inclusive), without modulo bias.
int64_t uniform_int(Rng& rng, int64_t lo, int64_t hi);

/// true with probability p. Always consumes one draw, so later draws do not depend on p.
bool bernoulli(Rng& rng, double p);

}  // namespace pretext
