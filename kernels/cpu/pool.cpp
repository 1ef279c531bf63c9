// CPU max pooling: each output is the maximum of its window together with where it was found,
// so the backward pass can route the gradient without searching again. Planes are independent
// and split across threads. A ReLU after the pooling (max_pool2d_relu) runs on each plane of
// the output while it is in cache, and its gradient inside the routing.
#include <algorithm>
#include <limits>
#include <type_traits>

#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include <tapegrad/kernels/cpu/conv_activation.h>
#include <tapegrad/kernels/cpu/cpu_backend.h>
#include <tapegrad/kernels/cpu/parallel.h>
#include <tapegrad/kernels/element_rules.h>

namespace tapegrad::kernels::cpu {
namespace {

// One [H, W] plane. Everything arrives by value: the int64 index stores could otherwise alias
// the geometry and force a reload of it on every element.
template <class T>
void max_pool_plane(const T* plane, std::int64_t sh, std::int64_t sw, const Window2d g, T* v, std::int64_t* idx) {
  for (std::int64_t oh = 0; oh < g.out_h; ++oh) {
    // The padding is -inf, so only the window's taps inside the image matter. Starting from
    // -inf at the first tap inside keeps that tap when the whole window is -inf.
    const std::int64_t h_start = oh * g.stride_h - g.pad_h;
    const auto [i_begin, i_end] = taps_inside(h_start, g.kernel_h, g.dilation_h, g.height);
    const std::int64_t first_h = clamped_position(h_start + i_begin * g.dilation_h, g.height);
    T* best = v + oh * g.out_w;
    std::int64_t* best_index = idx + oh * g.out_w;
    for (std::int64_t ow = 0; ow < g.out_w; ++ow) {
      const std::int64_t w_start = ow * g.stride_w - g.pad_w;
      const std::int64_t j_begin = taps_inside(w_start, g.kernel_w, g.dilation_w, g.width).begin;
      best[ow] = -std::numeric_limits<T>::infinity();
      best_index[ow] = first_h * g.width + clamped_position(w_start + j_begin * g.dilation_w, g.width);
    }
    // Window taps in row-major order, each swept across the whole output row: the loop
    // over outputs has no branches, so it vectorizes, and data-dependent comparisons
    // never meet the branch predictor.
    for (std::int64_t i = i_begin; i < i_end; ++i) {
      const std::int64_t h = h_start + i * g.dilation_h;
      const T* line = plane + h * sh;
      for (std::int64_t j = 0; j < g.kernel_w; ++j) {
        const std::int64_t shift = j * g.dilation_w - g.pad_w;  // input column = ow * stride + shift
        const auto [ow_begin, ow_end] = outputs_inside(g.out_w, g.stride_w, g.pad_w, j, g.dilation_w, g.width);
        const std::int64_t row_start = h * g.width + shift;
        for (std::int64_t ow = ow_begin; ow < ow_end; ++ow) {
          const T value = line[(ow * g.stride_w + shift) * sw];
          const T current = best[ow];
          const bool take = replaces_maximum(value, current);  // branch-free, so it vectorizes
          best[ow] = take ? value : current;
          best_index[ow] = take ? row_start + ow * g.stride_w : best_index[ow];
        }
      }
    }
  }
}

// The common layer, MaxPool2d(2) on rows of unit stride: windows tile the plane without padding
// or overlap, and each output reads its own 2 x 2 block. Outputs [begin, end) of one row.
template <class T>
void max_pool_row_2x2(const T* top, const T* bottom, std::int64_t top_index, std::int64_t width, std::int64_t begin,
                      std::int64_t end, T* values, std::int64_t* indices) {
  for (std::int64_t ow = begin; ow < end; ++ow) {
    const T a = top[2 * ow], b = top[2 * ow + 1], c = bottom[2 * ow], d = bottom[2 * ow + 1];
    // Taps in row-major order: 0 (a), 1 (b), then the next row's 0 (c) and 1 (d).
    const bool take_b = replaces_maximum(b, a);
    T best = take_b ? b : a;
    std::int64_t tap = take_b;
    const bool take_c = replaces_maximum(c, best);
    best = take_c ? c : best;
    tap = take_c ? width : tap;
    const bool take_d = replaces_maximum(d, best);
    best = take_d ? d : best;
    tap = take_d ? width + 1 : tap;
    values[ow] = best;
    indices[ow] = top_index + 2 * ow + tap;
  }
}

#ifdef __AVX512F__
// The same for float32, 16 outputs per step (masked at the row's end). Compilers keep the
// NaN-aware comparisons above as branches, which mispredict on real data; here they are masks.
void max_pool_row_2x2_avx512(const float* top, const float* bottom, std::int64_t top_index, std::int64_t width,
                             std::int64_t outputs, float* values, std::int64_t* indices) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512i right = _mm512_set1_epi32(1), below = _mm512_set1_epi32(static_cast<int>(width));
  const __m512i below_right = _mm512_set1_epi32(static_cast<int>(width + 1));
  const auto replaces_mask = [](__m512 value, __m512 best) {
    return _mm512_cmp_ps_mask(best, best, _CMP_ORD_Q) & _mm512_cmp_ps_mask(value, best, _CMP_NLE_UQ);
  };
  const auto lanes = [](std::int64_t count) {
    return count >= 16 ? __mmask16(0xFFFF) : count <= 0 ? __mmask16(0) : __mmask16((1u << count) - 1);
  };
  for (std::int64_t ow = 0; ow < outputs; ow += 16) {
    const std::int64_t count = std::min<std::int64_t>(16, outputs - ow);
    const __mmask16 first_half = lanes(2 * count), second_half = lanes(2 * count - 16);
    const __m512 t0 = _mm512_maskz_loadu_ps(first_half, top + 2 * ow);
    const __m512 t1 = _mm512_maskz_loadu_ps(second_half, top + 2 * ow + 16);
    const __m512 b0 = _mm512_maskz_loadu_ps(first_half, bottom + 2 * ow);
    const __m512 b1 = _mm512_maskz_loadu_ps(second_half, bottom + 2 * ow + 16);
    const __m512 a = _mm512_permutex2var_ps(t0, even, t1), b = _mm512_permutex2var_ps(t0, odd, t1);
    const __m512 c = _mm512_permutex2var_ps(b0, even, b1), d = _mm512_permutex2var_ps(b0, odd, b1);
    const __mmask16 take_b = replaces_mask(b, a);
    __m512 best = _mm512_mask_blend_ps(take_b, a, b);
    __m512i tap = _mm512_maskz_mov_epi32(take_b, right);
    const __mmask16 take_c = replaces_mask(c, best);
    best = _mm512_mask_blend_ps(take_c, best, c);
    tap = _mm512_mask_blend_epi32(take_c, tap, below);
    const __mmask16 take_d = replaces_mask(d, best);
    best = _mm512_mask_blend_ps(take_d, best, d);
    tap = _mm512_mask_blend_epi32(take_d, tap, below_right);
    _mm512_mask_storeu_ps(values + ow, lanes(count), best);
    // Indices relative to this step's first window fit in int32; widen and add the base. (The
    // zero-masked forms: the unmasked ones trip GCC 12's -Wmaybe-uninitialized.)
    const __m512i relative = _mm512_add_epi32(tap, even);  // lane l's window starts 2 l to the right
    const __m512i base = _mm512_set1_epi64(top_index + 2 * ow);
    const __m512i low = _mm512_add_epi64(base, _mm512_maskz_cvtepi32_epi64(0xFF, _mm512_maskz_extracti64x4_epi64(0xF, relative, 0)));
    const __m512i high = _mm512_add_epi64(base, _mm512_maskz_cvtepi32_epi64(0xFF, _mm512_maskz_extracti64x4_epi64(0xF, relative, 1)));
    _mm512_mask_storeu_epi64(indices + ow, static_cast<__mmask8>(lanes(count)), low);
    _mm512_mask_storeu_epi64(indices + ow + 8, static_cast<__mmask8>(lanes(count - 8)), high);
  }
}
#endif

template <class T>
void max_pool_plane_2x2(const T* plane, std::int64_t sh, const Window2d g, T* v, std::int64_t* idx) {
  for (std::int64_t oh = 0; oh < g.out_h; ++oh) {
    const T* top = plane + 2 * oh * sh;
    const T* bottom = top + sh;
    T* values = v + oh * g.out_w;
    std::int64_t* indices = idx + oh * g.out_w;
    const std::int64_t top_index = 2 * oh * g.width;
#ifdef __AVX512F__
    if constexpr (std::is_same_v<T, float>) {
      max_pool_row_2x2_avx512(top, bottom, top_index, g.width, g.out_w, values, indices);
      continue;
    }
#endif
    max_pool_row_2x2(top, bottom, top_index, g.width, 0, g.out_w, values, indices);
  }
}

// Windows that tile the plane: no padding, dilation or overlap, and (unlike ceil_mode's last
// windows) none hanging over the edge.
bool is_tiled(const Window2d& g, std::int64_t sw) {
  return sw == 1 && g.stride_h == g.kernel_h && g.stride_w == g.kernel_w && g.pad_h == 0 && g.pad_w == 0 &&
         g.dilation_h == 1 && g.dilation_w == 1 && g.out_h * g.kernel_h <= g.height && g.out_w * g.kernel_w <= g.width;
}

// With `relu`, each plane of values goes through ReLU while it is in cache.
template <class T>
void max_pool_planes(const TensorDesc& input, const Window2d& g, T* values, std::int64_t* indices, bool relu) {
  const T* x = input.ptr<T>();
  const std::int64_t sn = input.strides[0], sc = input.strides[1], sh = input.strides[2], sw = input.strides[3];
  const std::int64_t out_plane = g.out_h * g.out_w;
  const bool two_by_two = is_tiled(g, sw) && g.kernel_h == 2 && g.kernel_w == 2;
  const auto pool = [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t unit = begin; unit < end; ++unit) {
      const T* plane = x + (unit / g.channels) * sn + (unit % g.channels) * sc;
      T* v = values + unit * out_plane;
      std::int64_t* idx = indices + unit * out_plane;
      if (two_by_two)
        max_pool_plane_2x2(plane, sh, g, v, idx);
      else
        max_pool_plane(plane, sh, sw, g, v, idx);
      if (relu) apply_relu(v, out_plane);
    }
  };
  const std::int64_t planes = g.batch * g.channels;
  if (worth_parallel(planes * out_plane * g.kernel_h * g.kernel_w))
    parallel_for(planes, pool);
  else
    pool(0, planes);
}

// Outputs of a plane whose ReLU gradients are taken together (on the stack) before the scatter.
constexpr std::int64_t kRoutedBlock = 256;

// Each plane of the gradient is zeroed and receives its outputs' gradients while it sits in
// the core's cache: one pass over memory, where zeros and then a scatter make two. With
// `relu_values` (a fused ReLU's outputs), a gradient passes only where its output is positive.
template <class T>
void max_pool_backward_planes(const T* grad_values, const std::int64_t* indices, const Window2d& g, T* grad_input,
                              const T* relu_values) {
  const std::int64_t in_plane = g.height * g.width, out_plane = g.out_h * g.out_w;
  const auto route = [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t unit = begin; unit < end; ++unit) {
      T* plane = grad_input + unit * in_plane;
      const T* grad = grad_values + unit * out_plane;
      const std::int64_t* index = indices + unit * out_plane;
      std::fill_n(plane, in_plane, T(0));
      if (relu_values == nullptr) {
        for (std::int64_t o = 0; o < out_plane; ++o) plane[index[o]] += grad[o];
      } else {
        // The ReLU's gradient in blocks first, a loop of selects that vectorizes: inside the
        // scatter, the compiler branches on each output's sign, which mispredicts.
        const Binary<BinaryOp::ReluGrad> relu_grad{};
        const T* output = relu_values + unit * out_plane;
        T passed[kRoutedBlock];
        for (std::int64_t start = 0; start < out_plane; start += kRoutedBlock) {
          const std::int64_t count = std::min(kRoutedBlock, out_plane - start);
          for (std::int64_t o = 0; o < count; ++o) passed[o] = relu_grad(grad[start + o], output[start + o]);
          for (std::int64_t o = 0; o < count; ++o) plane[index[start + o]] += passed[o];
        }
      }
    }
  };
  const std::int64_t planes = g.batch * g.channels;
  if (worth_parallel(planes * (in_plane + kScatterUnitsPerElement * out_plane)))
    parallel_for(planes, route);
  else
    route(0, planes);
}

void pool_planes(const char* op, const TensorDesc& input, const Window2d& window, const TensorDesc& values,
                 const TensorDesc& indices, bool relu) {
  TAPEGRAD_CHECK(is_floating(input.dtype), "{}: expected float32 or float64 data, got {}", op, input.dtype);
  if (input.dtype == DType::Float32)
    max_pool_planes(input, window, values.ptr<float>(), indices.ptr<std::int64_t>(), relu);
  else
    max_pool_planes(input, window, values.ptr<double>(), indices.ptr<std::int64_t>(), relu);
}

template <class T>
const T* data_or_null(const TensorDesc* t) {
  return t != nullptr ? t->ptr<T>() : nullptr;
}

void route_planes(const char* op, const TensorDesc& grad_values, const TensorDesc& indices, const Window2d& window,
                  const TensorDesc& grad_input, const TensorDesc* relu_values) {
  TAPEGRAD_CHECK(is_floating(grad_values.dtype), "{}: expected float32 or float64 data, got {}", op,
                 grad_values.dtype);
  if (grad_values.dtype == DType::Float32)
    max_pool_backward_planes(grad_values.ptr<float>(), indices.ptr<std::int64_t>(), window, grad_input.ptr<float>(),
                             data_or_null<float>(relu_values));
  else
    max_pool_backward_planes(grad_values.ptr<double>(), indices.ptr<std::int64_t>(), window,
                             grad_input.ptr<double>(), data_or_null<double>(relu_values));
}

}  // namespace

void CpuBackend::max_pool2d(const TensorDesc& input, const Window2d& window, const TensorDesc& values,
                            const TensorDesc& indices) {
  pool_planes("max_pool2d", input, window, values, indices, false);
}

void CpuBackend::max_pool2d_relu(const TensorDesc& input, const Window2d& window, const TensorDesc& values,
                                 const TensorDesc& indices) {
  pool_planes("max_pool2d_relu", input, window, values, indices, true);
}

void CpuBackend::max_pool2d_backward(const TensorDesc& grad_values, const TensorDesc& indices, const Window2d& window,
                                     const TensorDesc& grad_input) {
  route_planes("max_pool2d_backward", grad_values, indices, window, grad_input, nullptr);
}

void CpuBackend::max_pool2d_relu_backward(const TensorDesc& grad_values, const TensorDesc& values,
                                          const TensorDesc& indices, const Window2d& window,
                                          const TensorDesc& grad_input) {
  route_planes("max_pool2d_relu_backward", grad_values, indices, window, grad_input, &values);
}

}  // namespace tapegrad::kernels::cpu
