// CUDA im2col / col2im. im2col writes each column entry from one thread; col2im is written as a
// gather — one thread per image pixel sums the column entries that read it, in a fixed (i, j)
// order — so the input gradient needs no atomics and is the same on every run.
#include <tapegrad/kernels/cuda/device_loops.cuh>

namespace tapegrad::kernels::cuda {

// ---- kernels ----

template <class T>
__global__ void im2col_kernel(const T* image, std::int64_t sn, std::int64_t sc, std::int64_t sh, std::int64_t sw,
                              Window2d g, std::int64_t total, T* columns) {
  const std::int64_t strides[4] = {sn, sc, sh, sw};
  TAPEGRAD_GRID_STRIDE_LOOP(e, total) { columns[e] = im2col_element(image, strides, g, e); }
}

template <class T>
__global__ void col2im_kernel(const T* columns, Window2d g, std::int64_t total, T* image) {
  TAPEGRAD_GRID_STRIDE_LOOP(e, total) { image[e] = col2im_element(columns, g, e); }
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
