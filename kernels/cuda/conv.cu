// CUDA im2col / col2im. im2col writes each column entry from one thread; col2im is written as a
// gather — one thread per image pixel sums the column entries that read it, in a fixed (i, j)
// order — so the input gradient needs no atomics and is the same on every run.
#include <tapegrad/kernels/cuda/device_loops.cuh>

namespace tapegrad::kernels::cuda {

// ---- kernels ----

template <class T>
__global__ void im2col_kernel(const T* image, std::int64_t sn, std::int64_t sc, std::int64_t sh, std::int64_t sw,
                              Window2d g, std::int64_t total, T* columns) {
  const std::int64_t plane = g.out_h * g.out_w, row_length = g.batch * plane;
  TAPEGRAD_GRID_STRIDE_LOOP(e, total) {
    const std::int64_t row = e / row_length, column = e % row_length;
    const std::int64_t j = row % g.kernel_w, i = (row / g.kernel_w) % g.kernel_h, c = row / (g.kernel_w * g.kernel_h);
    const std::int64_t n = column / plane, oh = (column % plane) / g.out_w, ow = column % g.out_w;
    const std::int64_t h = oh * g.stride_h - g.pad_h + i * g.dilation_h;
    const std::int64_t w = ow * g.stride_w - g.pad_w + j * g.dilation_w;
    const bool inside = h >= 0 && h < g.height && w >= 0 && w < g.width;
    columns[e] = inside ? image[n * sn + c * sc + h * sh + w * sw] : T(0);
  }
}

template <class T>
__global__ void col2im_kernel(const T* columns, Window2d g, std::int64_t total, T* image) {
  const std::int64_t plane = g.out_h * g.out_w, row_length = g.batch * plane;
  TAPEGRAD_GRID_STRIDE_LOOP(e, total) {
    const std::int64_t w = e % g.width, h = (e / g.width) % g.height;
    const std::int64_t c = (e / (g.width * g.height)) % g.channels, n = e / (g.width * g.height * g.channels);
    T sum = 0;
    for (std::int64_t i = 0; i < g.kernel_h; ++i) {
      const std::int64_t h_shifted = h + g.pad_h - i * g.dilation_h;  // = oh * stride_h
      if (h_shifted < 0 || h_shifted % g.stride_h != 0) continue;
      const std::int64_t oh = h_shifted / g.stride_h;
      if (oh >= g.out_h) continue;
      for (std::int64_t j = 0; j < g.kernel_w; ++j) {
        const std::int64_t w_shifted = w + g.pad_w - j * g.dilation_w;
        if (w_shifted < 0 || w_shifted % g.stride_w != 0) continue;
        const std::int64_t ow = w_shifted / g.stride_w;
        if (ow >= g.out_w) continue;
        sum += columns[((c * g.kernel_h + i) * g.kernel_w + j) * row_length + n * plane + oh * g.out_w + ow];
      }
    }
    image[e] = sum;
  }
}

// ---- launchers ----

template <class T>
void im2col(const T* image, const std::int64_t (&s)[4], const Window2d& window, T* columns, Stream stream) {
  const std::int64_t total =
      window.channels * window.kernel_h * window.kernel_w * window.batch * window.out_h * window.out_w;
  launch_elementwise("im2col", total, stream, im2col_kernel<T>, image, s[0], s[1], s[2], s[3], window, total, columns);
}

template <class T>
void col2im(const T* columns, const Window2d& window, T* image, Stream stream) {
  const std::int64_t total = window.batch * window.channels * window.height * window.width;
  launch_elementwise("col2im", total, stream, col2im_kernel<T>, columns, window, total, image);
}

template void im2col<float>(const float*, const std::int64_t (&)[4], const Window2d&, float*, Stream);
template void im2col<double>(const double*, const std::int64_t (&)[4], const Window2d&, double*, Stream);
template void col2im<float>(const float*, const Window2d&, float*, Stream);
template void col2im<double>(const double*, const Window2d&, double*, Stream);

}  // namespace tapegrad::kernels::cuda
