// Splitting CPU work across threads, only when there is enough of it to pay for waking a
// worker: small tensors — the common case in per-op overhead — stay on the calling thread.
// This is the one place that decides whether a kernel runs in parallel; kernels state their
// cost in units of one element of a plain elementwise op.
#pragma once

#include <algorithm>
#include <cstdint>

#include <tapegrad/kernels/backend.h>
#include <tapegrad/kernels/cpu/thread_pool.h>

namespace tapegrad::kernels::cpu {

// Below this much work a kernel runs serially: handing chunks to a worker costs about a
// microsecond, and a sleeping worker takes several to wake.
inline constexpr std::int64_t kParallelThreshold = 1 << 15;

// Chunks per thread: small enough that a thread the scheduler parks delays at most a small
// part of a region, large enough that claiming them costs nothing measurable.
inline constexpr std::int64_t kChunksPerThread = 4;

inline bool worth_parallel(std::int64_t work) {
  return work >= kParallelThreshold && num_threads() > 1 && !inside_parallel_region();
}

// Calls f(begin, end) on contiguous chunks of [0, n) that the threads claim dynamically.
template <class F>
void parallel_for(std::int64_t n, F&& f) {
  const int threads = num_threads();
  run_parallel(n, threads * kChunksPerThread, threads, f);
}

}  // namespace tapegrad::kernels::cpu
