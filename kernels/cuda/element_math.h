// What one CUDA thread computes, written as plain host/device functions: the kernels in the .cu
// files are grid-stride loops around these (and the rules both devices share, in
// kernels/element_rules.h), and the CPU tests run the same functions over every index and
// compare with the CPU backend, so the GPU's index math and arithmetic are checked on machines
// without a GPU. Free of library headers, for nvcc.
#pragma once

#include <cmath>
#include <cstdint>

#include <tapegrad/kernels/element_rules.h>
#include <tapegrad/kernels/host_device.h>
#include <tapegrad/kernels/kernel_params.h>
#include <tapegrad/kernels/strided_layout.h>

namespace tapegrad::kernels::cuda {

// Entry e of the im2col columns; image strides (n, c, h, w).
template <class T>
TAPEGRAD_HOST_DEVICE T im2col_element(const T* image, const std::int64_t (&s)[4], const Window2d& g, std::int64_t e) {
  const std::int64_t plane = g.out_h * g.out_w, row_length = g.batch * plane;
  const std::int64_t row = e / row_length, column = e % row_length;
  const std::int64_t j = row % g.kernel_w, i = (row / g.kernel_w) % g.kernel_h, c = row / (g.kernel_w * g.kernel_h);
  const std::int64_t n = column / plane, oh = (column % plane) / g.out_w, ow = column % g.out_w;
  const std::int64_t h = tap_source(oh, g.stride_h, g.pad_h, i, g.dilation_h);
  const std::int64_t w = tap_source(ow, g.stride_w, g.pad_w, j, g.dilation_w);
  const bool inside = h >= 0 && h < g.height && w >= 0 && w < g.width;
  return inside ? image[n * s[0] + c * s[1] + h * s[2] + w * s[3]] : T(0);
}

// Pixel e of the contiguous image [N, C, H, W] that col2im folds back: the sum of the column
// entries im2col would have read from it, in the fixed order (i, j) of the window's taps.
template <class T>
TAPEGRAD_HOST_DEVICE T col2im_element(const T* columns, const Window2d& g, std::int64_t e) {
  const std::int64_t plane = g.out_h * g.out_w, row_length = g.batch * plane;
  const std::int64_t w = e % g.width, h = (e / g.width) % g.height;
  const std::int64_t c = (e / (g.width * g.height)) % g.channels, n = e / (g.width * g.height * g.channels);
  T sum = 0;
  for (std::int64_t i = 0; i < g.kernel_h; ++i) {
    const std::int64_t oh = tap_output(h, g.stride_h, g.pad_h, i, g.dilation_h, g.out_h);
    if (oh < 0) continue;
    for (std::int64_t j = 0; j < g.kernel_w; ++j) {
      const std::int64_t ow = tap_output(w, g.stride_w, g.pad_w, j, g.dilation_w, g.out_w);
      if (ow >= 0) sum += columns[column_row(g, c, i, j) * row_length + n * plane + oh * g.out_w + ow];
    }
  }
  return sum;
}

// Output e of max pooling [N, C, out_h, out_w]: the window's maximum and where it is (h * W + w
// in its plane). Padding is -inf, so only the window's taps inside the image are scanned, in
// row-major order: strictly greater keeps the first of equal maxima, and the first NaN wins.
template <class T>
TAPEGRAD_HOST_DEVICE void max_pool_element(const T* input, const std::int64_t (&s)[4], const Window2d& g,
                                           std::int64_t e, T& value, std::int64_t& index) {
  const std::int64_t ow = e % g.out_w, oh = (e / g.out_w) % g.out_h;
  const std::int64_t c = (e / (g.out_w * g.out_h)) % g.channels, n = e / (g.out_w * g.out_h * g.channels);
  const T* plane = input + n * s[0] + c * s[1];
  const std::int64_t h_start = oh * g.stride_h - g.pad_h, w_start = ow * g.stride_w - g.pad_w;
  const auto [i_begin, i_end] = taps_inside(h_start, g.kernel_h, g.dilation_h, g.height);
  const auto [j_begin, j_end] = taps_inside(w_start, g.kernel_w, g.dilation_w, g.width);
  T best = -INFINITY;
  std::int64_t best_index = clamped_position(h_start + i_begin * g.dilation_h, g.height) * g.width +
                            clamped_position(w_start + j_begin * g.dilation_w, g.width);
  for (std::int64_t i = i_begin; i < i_end; ++i)
    for (std::int64_t j = j_begin; j < j_end; ++j) {
      const std::int64_t h = h_start + i * g.dilation_h, w = w_start + j * g.dilation_w;
      const T candidate = plane[h * s[2] + w * s[3]];
      if (replaces_maximum(candidate, best)) {
        best = candidate;
        best_index = h * g.width + w;
      }
    }
  value = best;
  index = best_index;
}

// The sum of `reduction` elements of `in` from `base`, at the offsets of the reduced dims, in
// index order (one thread per output).
template <class T>
TAPEGRAD_HOST_DEVICE Accumulator<T> sum_over(const T* in, std::int64_t base, const StridedLayout<1>& reduced,
                                             std::int64_t begin, std::int64_t end, std::int64_t step) {
  Accumulator<T> total = 0;
  for (std::int64_t k = begin; k < end; k += step) total += in[base + reduced.offset(0, k)];
  return total;
}

// The element of a gather at layout index i: out[off(out)] = in[off(in) + index * in_step].
// Returns false, doing nothing, when the index is outside [0, extent); `bad` then holds it.
template <class T>
TAPEGRAD_HOST_DEVICE bool gather_element(const StridedLayout<3>& layout, std::int64_t i, const std::int64_t* index,
                                         std::int64_t extent, std::int64_t in_step, const T* in, T* out,
                                         std::int64_t& bad) {
  std::int64_t off[3];
  layout.offsets(i, off);
  const std::int64_t j = index[off[0]];
  if (j < 0 || j >= extent) {
    bad = j;
    return false;
  }
  out[off[1]] = in[off[2] + j * in_step];
  return true;
}

// Slice s of a scatter_add: its `length` contributions added in index order, so repeated
// indices sum in the same order on every run. Returns false at the first index outside
// [0, extent), with `bad` holding it.
template <class T>
TAPEGRAD_HOST_DEVICE bool scatter_add_slice(const StridedLayout<3>& slices, std::int64_t s, std::int64_t length,
                                            std::int64_t index_step, std::int64_t src_step, const std::int64_t* index,
                                            const T* src, std::int64_t extent, std::int64_t out_step, T* out,
                                            std::int64_t& bad) {
  std::int64_t off[3];
  slices.offsets(s, off);
  for (std::int64_t i = 0; i < length; ++i) {
    const std::int64_t j = index[off[0] + i * index_step];
    if (j < 0 || j >= extent) {
      bad = j;
      return false;
    }
    out[off[2] + j * out_step] += src[off[1] + i * src_step];
  }
  return true;
}

// Output position j of slice s of a scatter_add, computed by the thread that owns it: the
// slice's contributions whose index is j, added in index order onto the current value — the same
// additions in the same order scatter_add_slice makes, so both give identical bits. More threads
// (one per output element, not per slice) for more reads (each scans the slice's indices).
template <class T>
TAPEGRAD_HOST_DEVICE bool scatter_add_owned(const StridedLayout<3>& slices, std::int64_t s, std::int64_t j,
                                            std::int64_t length, std::int64_t index_step, std::int64_t src_step,
                                            const std::int64_t* index, const T* src, std::int64_t extent,
                                            std::int64_t out_step, T* out, std::int64_t& bad) {
  std::int64_t off[3];
  slices.offsets(s, off);
  T total = out[off[2] + j * out_step];
  for (std::int64_t i = 0; i < length; ++i) {
    const std::int64_t k = index[off[0] + i * index_step];
    if (k < 0 || k >= extent) {
      bad = k;
      return false;
    }
    if (k == j) total += src[off[1] + i * src_step];
  }
  out[off[2] + j * out_step] = total;
  return true;
}

// Whether a scatter_add runs one thread per output element (scatter_add_owned) rather than one
// per slice: when slices are too few to fill a GPU and scanning a slice's indices once per
// output element stays cheap (max-pool backward: a few hundred planes, each scattering its
// window maxima over the plane). Never for an output of extent 0: it has no owners to read the
// indices, and every index must still be reported as out of bounds.
TAPEGRAD_HOST_DEVICE constexpr bool scatter_by_owner(std::int64_t slices, std::int64_t extent, std::int64_t length) {
  return extent > 0 && slices < 4096 && extent * length <= (std::int64_t{1} << 20);
}

}  // namespace tapegrad::kernels::cuda
