// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a
// counter-based generator, so element i of a random tensor is a pure function of (seed,
// offset + i). The CPU loop and a CUDA kernel therefore draw the same numbers, and any slice
// of a draw can be computed independently (and in parallel).
#pragma once

#include <cmath>
#include <cstdint>

#include <tapegrad/kernels/host_device.h>

namespace tapegrad::kernels {

struct Philox4x32 {
  std::uint32_t words[4];
};

TAPEGRAD_HOST_DEVICE inline Philox4x32 philox4x32(std::uint64_t counter, std::uint64_t key) {
  constexpr std::uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr std::uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  std::uint32_t c0 = static_cast<std::uint32_t>(counter), c1 = static_cast<std::uint32_t>(counter >> 32);
  std::uint32_t c2 = 0, c3 = 0;
  std::uint32_t k0 = static_cast<std::uint32_t>(key), k1 = static_cast<std::uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = static_cast<std::uint64_t>(kMul0) * c0;
    const std::uint64_t p1 = static_cast<std::uint64_t>(kMul1) * c2;
    const std::uint32_t hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
    const std::uint32_t hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  return {{c0, c1, c2, c3}};
}

// Uniform in [0, 1) with the full mantissa of the target type.
TAPEGRAD_HOST_DEVICE inline double uniform_double(std::uint32_t hi, std::uint32_t lo) {
  const std::uint64_t bits = (static_cast<std::uint64_t>(hi) << 21) ^ (lo >> 11);  // 53 bits
  return static_cast<double>(bits & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}
TAPEGRAD_HOST_DEVICE inline float uniform_float(std::uint32_t word) {
  return static_cast<float>(word >> 8) * (1.0f / 16777216.0f);  // 24 bits
}

enum class Distribution : std::uint8_t { Uniform, Normal };

// The value of element `index` of a draw: Uniform in [a, b), Normal with mean a and std b.
template <class T>
TAPEGRAD_HOST_DEVICE inline T random_element(Distribution dist, double a, double b, std::uint64_t seed,
                                             std::uint64_t counter) {
  const Philox4x32 r = philox4x32(counter, seed);
  const double u1 = uniform_double(r.words[0], r.words[1]);
  if (dist == Distribution::Uniform) {
    if constexpr (sizeof(T) == 4) {
      const T value = static_cast<T>(a) + static_cast<T>(b - a) * uniform_float(r.words[0]);
      return value < static_cast<T>(b) ? value : static_cast<T>(a);  // rounding could reach b
    } else {
      const T value = static_cast<T>(a + (b - a) * u1);
      return value < static_cast<T>(b) ? value : static_cast<T>(a);  // rounding could reach b
    }
  }
  // Box-Muller; 1 - u1 lies in (0, 1], so the log is finite.
  const double u2 = uniform_double(r.words[2], r.words[3]);
  const double radius = std::sqrt(-2.0 * std::log(1.0 - u1));
  return static_cast<T>(a + b * radius * std::cos(6.283185307179586 * u2));
}

}  // namespace tapegrad::kernels
