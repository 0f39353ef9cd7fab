// Per-sample randomness: a sample's augmentation depends only on (seed, epoch, index), never
// on which loader thread ran it or in what order.
#pragma once

#include <cstdint>
#include <random>

namespace pretext {

using Rng = std::mt19937_64;

/// splitmix64 finalizer over the three keys.
uint64_t sample_seed(uint64_t seed, uint64_t epoch, uint64_t index);

}  // namespace pretext
