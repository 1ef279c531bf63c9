// CUDA max pooling: one thread per output scans its window with the CPU's rule (strictly
// greater keeps the first maximum; the first NaN wins) and records where the maximum was, for
// the backward scatter.
#include <tapegrad/kernels/cuda/device_loops.cuh>

namespace tapegrad::kernels::cuda {

template <class T>
__global__ void max_pool2d_kernel(const T* input, std::int64_t sn, std::int64_t sc, std::int64_t sh, std::int64_t sw,
                                  Window2d g, std::int64_t total, T* values, std::int64_t* indices) {
  const std::int64_t strides[4] = {sn, sc, sh, sw};
  TAPEGRAD_GRID_STRIDE_LOOP(e, total) { max_pool_element(input, strides, g, e, values[e], indices[e]); }
}

template <class T>
void max_pool2d(const T* input, const std::int64_t (&s)[4], const Window2d& window, T* values, std::int64_t* indices,
                Stream stream) {
  const std::int64_t total = window.batch * window.channels * window.out_h * window.out_w;
  launch_elementwise("max_pool2d", total, stream, max_pool2d_kernel<T>, input, s[0], s[1], s[2], s[3], window, total,
                     values, indices);
}

template void max_pool2d<float>(const float*, const std::int64_t (&)[4], const Window2d&, float*, std::int64_t*,
                                Stream);
template void max_pool2d<double>(const double*, const std::int64_t (&)[4], const Window2d&, double*, std::int64_t*,
                                 Stream);

}  // namespace tapegrad::kernels::cuda
