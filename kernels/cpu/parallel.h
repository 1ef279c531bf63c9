// Splitting CPU work across threads (OpenMP), only when there is enough of it to pay for the
// fork: small tensors — the common case in per-op overhead — stay on the calling thread.
#pragma once

#include <algorithm>
#include <cstdint>

#include <tapegrad/kernels/backend.h>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace tapegrad::kernels::cpu {

// Below this many elements a kernel runs serially: a parallel region costs a few microseconds.
inline constexpr std::int64_t kParallelThreshold = 1 << 15;

inline bool worth_parallel(std::int64_t work) { return work >= kParallelThreshold && num_threads() > 1; }

// Calls f(begin, end) on contiguous chunks of [0, n), one chunk per thread.
template <class F>
void parallel_for(std::int64_t n, F&& f) {
  const int threads = static_cast<int>(std::min<std::int64_t>(num_threads(), n));
  if (threads <= 1) {
    f(std::int64_t{0}, n);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
#ifdef _OPENMP
    const int thread = omp_get_thread_num();
#else
    const int thread = 0;
#endif
    const std::int64_t chunk = (n + threads - 1) / threads;
    const std::int64_t begin = std::min<std::int64_t>(n, thread * chunk);
    const std::int64_t end = std::min<std::int64_t>(n, begin + chunk);
    if (begin < end) f(begin, end);
  }
}

}  // namespace tapegrad::kernels::cpu
