// Seedable source of randomness. Draws are counter-based (Philox): a generator is just a seed
// and a running offset, so the same seed gives the same numbers, bit for bit, on any thread
// count — and on the GPU, which evaluates the same function.
#pragma once

#include <cstdint>
#include <mutex>

namespace tapegrad {

class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0x7a9e9ad5ull) : seed_(seed) {}

  void manual_seed(std::uint64_t seed);
  std::uint64_t seed() const { return seed_; }
  std::uint64_t offset() const;
  void set_offset(std::uint64_t offset);

  // Reserves `count` counters and returns the first; the caller draws counters [first, first+count).
  std::uint64_t reserve(std::uint64_t count);
  // One 64-bit random number (host side: shuffles, permutations, crop boxes).
  std::uint64_t next_u64();
  // Uniform in [0, 1), double precision.
  double next_double();

 private:
  mutable std::mutex mutex_;
  std::uint64_t seed_;
  std::uint64_t offset_ = 0;
};

// The generator used when none is passed.
Generator& default_generator();
// Seeds the default generator.
void manual_seed(std::uint64_t seed);

}  // namespace tapegrad
