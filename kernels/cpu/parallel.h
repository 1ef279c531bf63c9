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

// Below this much work (about 100-300 us of one core) a kernel runs serially. Handing chunks to
// a worker costs a microsecond, but a worker that slept takes tens to wake, and data one core
// made must cross to the other: on a 2-core machine, kernels of a few hundred kilobytes ran
// slower on two threads than on one (bench_nn: 263 us per MLP step against 227 us at 1 << 19).
inline constexpr std::int64_t kParallelThreshold = 1 << 19;

// From a quarter of that up to it, a second thread pays on one machine and not on another, or
// not from one minute to the next: such work is split or not as measured while it runs
// (kernels/cpu/split_choice.h). Below, it always runs serially; above, always split.
inline constexpr std::int64_t kMeasuredSplitFloor = kParallelThreshold / 4;

// Weights of a multiply-add against that unit. A product split across threads re-packs its shared
// operand once per part, and its result lands in two cores' caches: the MNIST MLP's products (6.4M
// multiply-adds) gain from a second core only where it is free and their update is split to
// match (each core then updates the gradient rows it computed), so they fall in the measured band.
// Convolutions split by whole images, each unfolded and multiplied in one core's cache, and gain
// from a second thread from a batch of 16 of the B1 CNN on (bench_nn_functional: conv layers
// 1.3-1.5x faster at 8 than at 32).
inline constexpr std::int64_t kGemmMultiplyAddsPerUnit = 32;
inline constexpr std::int64_t kConvMultiplyAddsPerUnit = 8;

// An element of a scatter reads an index and writes where it points, a read-modify-write that
// costs about twice a plain elementwise op, so the max-pool backward of a batch of 128 is split.
inline constexpr std::int64_t kScatterUnitsPerElement = 2;
// Chunks per thread: small enough that a thread the scheduler parks delays at most a small
// part of a region, large enough that claiming them costs nothing measurable.
inline constexpr std::int64_t kChunksPerThread = 4;

// Whether work of this cost is large enough to split, were there threads to take it.
inline bool large_enough_to_split(std::int64_t work) { return work >= kParallelThreshold; }

inline bool worth_parallel(std::int64_t work) {
  return large_enough_to_split(work) && num_threads() > 1 && !inside_parallel_region();
}

// Whether work of this cost may run split, depending on the measurements (never for size alone).
inline bool may_be_split(std::int64_t work) { return work >= kMeasuredSplitFloor; }

// Whether work of this cost is split or not as measured, there being threads to take it.
inline bool worth_measuring(std::int64_t work) {
  return may_be_split(work) && !large_enough_to_split(work) && num_threads() > 1 && !inside_parallel_region();
}

// Calls f(begin, end) on contiguous chunks of [0, n) that the threads claim dynamically.
template <class F>
void parallel_for(std::int64_t n, F&& f) {
  const int threads = num_threads();
  run_parallel(n, threads * kChunksPerThread, threads, f);
}

}  // namespace tapegrad::kernels::cpu
