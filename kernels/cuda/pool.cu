// CUDA max pooling: one thread per output scans its window in row-major order with the CPU's
// rule (strictly greater keeps the first maximum; the first NaN wins) and records where the
// maximum was, for the backward scatter.
#include <tapegrad/kernels/cuda/device_loops.cuh>

namespace tapegrad::kernels::cuda {

template <class T>
__global__ void max_pool2d_kernel(const T* input, std::int64_t sn, std::int64_t sc, std::int64_t sh, std::int64_t sw,
                                  Window2d g, std::int64_t total, T* values, std::int64_t* indices) {
  TAPEGRAD_GRID_STRIDE_LOOP(e, total) {
    const std::int64_t ow = e % g.out_w, oh = (e / g.out_w) % g.out_h;
    const std::int64_t c = (e / (g.out_w * g.out_h)) % g.channels, n = e / (g.out_w * g.out_h * g.channels);
    const T* plane = input + n * sn + c * sc;
    // Padding is -inf, so only the window's part inside the image matters.
    const std::int64_t h0 = oh * g.stride_h - g.pad_h, w0 = ow * g.stride_w - g.pad_w;
    const std::int64_t h_begin = h0 > 0 ? h0 : 0, h_end = h0 + g.kernel_h < g.height ? h0 + g.kernel_h : g.height;
    const std::int64_t w_begin = w0 > 0 ? w0 : 0, w_end = w0 + g.kernel_w < g.width ? w0 + g.kernel_w : g.width;
    T best = -INFINITY;
    std::int64_t best_index = h_begin * g.width + w_begin;
    for (std::int64_t h = h_begin; h < h_end; ++h)
      for (std::int64_t w = w_begin; w < w_end; ++w) {
        const T value = plane[h * sh + w * sw];
        if (value > best || (value != value && best == best)) {
          best = value;
          best_index = h * g.width + w;
        }
      }
    values[e] = best;
    indices[e] = best_index;
  }
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
