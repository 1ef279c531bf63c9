// What every CUDA kernel file shares: the grid-stride loop over 64-bit element indices, the
// checked launch (geometry from launch_geometry.h) and the per-thread math (element_math.h).
#pragma once

#include <cuda_runtime.h>

#include <tapegrad/kernels/cuda/element_math.h>
#include <tapegrad/kernels/cuda/launch_geometry.h>
#include <tapegrad/kernels/cuda/launchers.h>

namespace tapegrad::kernels::cuda {

__device__ inline std::int64_t thread_first_element() {
  return first_element(blockIdx.x, static_cast<int>(threadIdx.x), static_cast<int>(blockDim.x));
}
__device__ inline std::int64_t grid_threads() { return static_cast<std::int64_t>(gridDim.x) * blockDim.x; }

// for (i : this thread's elements of [0, n))
#define TAPEGRAD_GRID_STRIDE_LOOP(i, n) \
  for (std::int64_t i = thread_first_element(), i##_step = grid_threads(); i < (n); i += i##_step)

// Launches `kernel` with one thread per element of n (grid-stride beyond kMaxBlocks blocks).
template <class... Params, class... Args>
void launch_elementwise(const char* name, std::int64_t n, Stream stream, void (*kernel)(Params...), Args&&... args) {
  if (n <= 0) return;
  const LaunchGeometry g = launch_geometry(n);
  kernel<<<static_cast<unsigned>(g.blocks), g.threads, 0, stream>>>(static_cast<Params>(args)...);
  check_launch(name);
}

}  // namespace tapegrad::kernels::cuda
