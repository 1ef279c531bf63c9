// How CUDA kernels cover n elements: blocks of kThreadsPerBlock threads, at most kMaxBlocks of
// them, each thread striding over the whole range (a grid-stride loop). Indices are 64-bit
// throughout, so tensors past 2^31 elements are covered without overflow, and the grid never
// exceeds what a launch allows. Plain arithmetic, tested on the CPU.
#pragma once

#include <cstdint>

#include <tapegrad/kernels/host_device.h>

namespace tapegrad::kernels::cuda {

inline constexpr int kThreadsPerBlock = 256;
// Enough blocks to fill any current GPU many times over; larger ranges loop instead.
inline constexpr std::int64_t kMaxBlocks = 1 << 16;

struct LaunchGeometry {
  std::int64_t blocks = 1;
  int threads = kThreadsPerBlock;

  TAPEGRAD_HOST_DEVICE constexpr std::int64_t total_threads() const { return blocks * threads; }
};

TAPEGRAD_HOST_DEVICE constexpr std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// One thread per element while that fits in kMaxBlocks blocks; never zero blocks.
TAPEGRAD_HOST_DEVICE constexpr LaunchGeometry launch_geometry(std::int64_t n, int threads = kThreadsPerBlock,
                                                               std::int64_t max_blocks = kMaxBlocks) {
  const std::int64_t wanted = ceil_div(n > 0 ? n : 1, threads);
  return {wanted < max_blocks ? wanted : max_blocks, threads};
}

// The first element thread `thread` of block `block` handles; it then steps by total_threads().
TAPEGRAD_HOST_DEVICE constexpr std::int64_t first_element(std::int64_t block, int thread, int threads) {
  return block * threads + thread;
}

// How many elements of [0, n) that thread handles (the tail threads get one fewer).
TAPEGRAD_HOST_DEVICE constexpr std::int64_t elements_of_thread(const LaunchGeometry& g, std::int64_t block,
                                                                int thread, std::int64_t n) {
  const std::int64_t first = first_element(block, thread, g.threads);
  return first < n ? ceil_div(n - first, g.total_threads()) : 0;
}

}  // namespace tapegrad::kernels::cuda
