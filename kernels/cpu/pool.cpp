// CPU max pooling: each output is the maximum of its window together with where it was found,
// so the backward pass can route the gradient without searching again. Planes are independent
// and split across threads.
#include <algorithm>
#include <limits>

#include <tapegrad/kernels/cpu/cpu_backend.h>
#include <tapegrad/kernels/cpu/parallel.h>

namespace tapegrad::kernels::cpu {
namespace {

// One [H, W] plane. Everything arrives by value: the int64 index stores could otherwise alias
// the geometry and force a reload of it on every element.
template <class T>
void max_pool_plane(const T* plane, std::int64_t sh, std::int64_t sw, const Window2d g, T* v, std::int64_t* idx) {
  for (std::int64_t oh = 0; oh < g.out_h; ++oh) {
    // The padding is -inf, so only the window's part inside the image matters; with
    // padding at most half the kernel, that part is never empty. Starting from -inf at the
    // first element inside keeps that element when the whole window is -inf.
    const std::int64_t h0 = oh * g.stride_h - g.pad_h;
    const std::int64_t h_begin = std::max<std::int64_t>(h0, 0), h_end = std::min(h0 + g.kernel_h, g.height);
    T* best = v + oh * g.out_w;
    std::int64_t* best_index = idx + oh * g.out_w;
    for (std::int64_t ow = 0; ow < g.out_w; ++ow) {
      best[ow] = -std::numeric_limits<T>::infinity();
      best_index[ow] = h_begin * g.width + std::max<std::int64_t>(ow * g.stride_w - g.pad_w, 0);
    }
    // Window taps in row-major order, each swept across the whole output row: the loop
    // over outputs has no branches, so it vectorizes, and data-dependent comparisons
    // never meet the branch predictor.
    for (std::int64_t h = h_begin; h < h_end; ++h)
      for (std::int64_t j = 0; j < g.kernel_w; ++j) {
        const std::int64_t shift = j - g.pad_w;  // input column = ow * stride + shift
        const std::int64_t ow_begin = std::min(g.out_w, shift < 0 ? (-shift + g.stride_w - 1) / g.stride_w : 0);
        const std::int64_t ow_end =
            std::clamp<std::int64_t>(g.width - shift > 0 ? (g.width - 1 - shift) / g.stride_w + 1 : 0, ow_begin, g.out_w);
        const T* line = plane + h * sh;
        const std::int64_t row_start = h * g.width + shift;
        for (std::int64_t ow = ow_begin; ow < ow_end; ++ow) {
          const T value = line[(ow * g.stride_w + shift) * sw];
          const T current = best[ow];
          // Strictly greater keeps the first of equal maxima; a NaN wins, and once the
          // maximum is NaN it stays (NaN propagates, as in PyTorch).
          const bool take = (value > current) | ((value != value) & (current == current));
          best[ow] = take ? value : current;
          best_index[ow] = take ? row_start + ow * g.stride_w : best_index[ow];
        }
      }
  }
}

template <class T>
void max_pool_planes(const TensorDesc& input, const Window2d& g, T* values, std::int64_t* indices) {
  const T* x = input.ptr<T>();
  const std::int64_t sn = input.strides[0], sc = input.strides[1], sh = input.strides[2], sw = input.strides[3];
  const std::int64_t out_plane = g.out_h * g.out_w;
  const auto pool = [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t unit = begin; unit < end; ++unit)
      max_pool_plane(x + (unit / g.channels) * sn + (unit % g.channels) * sc, sh, sw, g, values + unit * out_plane,
                     indices + unit * out_plane);
  };
  const std::int64_t planes = g.batch * g.channels;
  if (worth_parallel(planes * out_plane * g.kernel_h * g.kernel_w))
    parallel_for(planes, pool);
  else
    pool(0, planes);
}

}  // namespace

void CpuBackend::max_pool2d(const TensorDesc& input, const Window2d& window, const TensorDesc& values,
                            const TensorDesc& indices) {
  TAPEGRAD_CHECK(is_floating(input.dtype), "max_pool2d: expected float32 or float64 data, got {}", input.dtype);
  if (input.dtype == DType::Float32)
    max_pool_planes(input, window, values.ptr<float>(), indices.ptr<std::int64_t>());
  else
    max_pool_planes(input, window, values.ptr<double>(), indices.ptr<std::int64_t>());
}

}  // namespace tapegrad::kernels::cpu
