// Per-element rules both backends follow, written once: the CPU loops and the CUDA kernels call
// these, so the devices agree by construction (and CPU tests check the GPU's arithmetic). Free
// of library headers, for nvcc.
#pragma once

#include <cmath>
#include <cstdint>

#include <tapegrad/kernels/host_device.h>
#include <tapegrad/kernels/kernel_params.h>

namespace tapegrad::kernels {

// Sums of float are accumulated in double.
template <class T> struct AccumulatorOf { using type = T; };
template <> struct AccumulatorOf<float> { using type = double; };
template <class T> using Accumulator = typename AccumulatorOf<T>::type;

// Whether `value` replaces `best` as the maximum so far: strictly greater keeps the first of
// equal maxima, and the first NaN wins and stays (torch.max's rule).
template <class T>
TAPEGRAD_HOST_DEVICE inline bool replaces_maximum(T value, T best) {
  return (best == best) & !(value <= best);
}

// The maximum (or minimum) of one slice of `extent` elements `step` apart, and its first index;
// the first NaN wins and ends the search.
template <class T>
TAPEGRAD_HOST_DEVICE void extreme_of_slice(const T* xs, std::int64_t extent, std::int64_t step, Extreme extreme,
                                           T& value, std::int64_t& index) {
  const bool take_min = extreme == Extreme::Min;
  T best = xs[0];
  std::int64_t best_index = 0;
  for (std::int64_t j = 1; j < extent && best == best; ++j) {
    const T candidate = xs[j * step];
    const bool better = take_min ? candidate < best : candidate > best;
    if (better || candidate != candidate) {
      best = candidate;
      best_index = j;
    }
  }
  value = best;
  index = best_index;
}

// Softmax or log-softmax of one slice, stably: the maximum is subtracted first.
template <class T>
TAPEGRAD_HOST_DEVICE void softmax_slice(const T* xs, T* ys, std::int64_t extent, std::int64_t in_step,
                                        std::int64_t out_step, SoftmaxOutput output) {
  using Acc = Accumulator<T>;
  T max_value = -INFINITY;
  for (std::int64_t j = 0; j < extent; ++j) max_value = xs[j * in_step] > max_value ? xs[j * in_step] : max_value;
  if (!std::isfinite(max_value)) max_value = 0;  // all -inf (or inf/NaN): let them propagate
  Acc total = 0;
  for (std::int64_t j = 0; j < extent; ++j) total += std::exp(Acc(xs[j * in_step] - max_value));
  if (output == SoftmaxOutput::LogProbabilities) {
    // (x - max) - log(total), never x - (max + log(total)): the sum max + log(total) rounds to
    // the precision of max, costing float32 inputs near 1000 five bits of every output.
    const T log_total = static_cast<T>(std::log(total));
    for (std::int64_t j = 0; j < extent; ++j) ys[j * out_step] = (xs[j * in_step] - max_value) - log_total;
  } else {
    const Acc inverse = Acc(1) / total;
    for (std::int64_t j = 0; j < extent; ++j)
      ys[j * out_step] = static_cast<T>(std::exp(Acc(xs[j * in_step] - max_value)) * inverse);
  }
}

// The running sums of one slice, in index order: ys[j] = xs[0] + ... + xs[j]. Carried in the
// accumulator type, so float32 running sums are double until stored, as torch's CPU cumsum does.
template <class T>
TAPEGRAD_HOST_DEVICE void cumsum_slice(const T* xs, T* ys, std::int64_t extent, std::int64_t in_step,
                                       std::int64_t out_step) {
  Accumulator<T> total = 0;
  for (std::int64_t j = 0; j < extent; ++j) {
    total += xs[j * in_step];
    ys[j * out_step] = static_cast<T>(total);
  }
}

// Whether a goes strictly before b in a slice sorted in `order`, NaN the greatest value (as
// torch.sort): equal values, and two NaNs, go in neither order.
template <class T>
TAPEGRAD_HOST_DEVICE bool sorts_before(T a, T b, SortOrder order) {
  const bool a_nan = a != a, b_nan = b != b;  // never true for integers
  if (order == SortOrder::Ascending) return !a_nan && (b_nan || a < b);
  return !b_nan && (a_nan || a > b);
}

// The stable sorting permutation of one slice by insertion, written to indices[j * out_step]:
// quadratic in the slice's length, for a device thread that owns a slice and has no scratch memory.
template <class T>
TAPEGRAD_HOST_DEVICE void argsort_slice_by_insertion(const T* xs, std::int64_t extent, std::int64_t in_step,
                                                     SortOrder order, std::int64_t* indices, std::int64_t out_step) {
  for (std::int64_t j = 0; j < extent; ++j) {
    const T x = xs[j * in_step];
    std::int64_t i = j;
    for (; i > 0 && sorts_before(x, xs[indices[(i - 1) * out_step] * in_step], order); --i)
      indices[i * out_step] = indices[(i - 1) * out_step];
    indices[i * out_step] = j;
  }
}

// The taps [begin, end) of a pooling window along one axis, starting at `start` (stride * output -
// padding) with taps `dilation` apart, whose positions start + tap * dilation lie inside an input of
// `size`: padding is -inf, so only these are read. Empty (begin == end) when every tap is padding.
struct TapSpan {
  std::int64_t begin, end;
};
TAPEGRAD_HOST_DEVICE inline TapSpan taps_inside(std::int64_t start, std::int64_t kernel, std::int64_t dilation,
                                                std::int64_t size) {
  std::int64_t begin = start < 0 ? (-start + dilation - 1) / dilation : 0;
  std::int64_t end = start < size ? (size - 1 - start) / dilation + 1 : 0;
  begin = begin < kernel ? begin : kernel;
  end = end < kernel ? end : kernel;
  return {begin, end < begin ? begin : end};
}

// The input position a pooling window reports when it has no tap inside the input (possible with
// dilation and ceil_mode): its first tap, moved into the input, so routing a gradient there stays
// in bounds.
TAPEGRAD_HOST_DEVICE inline std::int64_t clamped_position(std::int64_t position, std::int64_t size) {
  return position < 0 ? 0 : (position < size ? position : size - 1);
}

// ---- Convolution windows (im2col / col2im): along one axis, output position o's tap t reads
// input position o * stride - pad + t * dilation; outside [0, extent) it reads the zero padding.
// The unfolded columns are [channels * kernel_h * kernel_w, batch * out_h * out_w], one row per
// (channel, tap row, tap column). ----

TAPEGRAD_HOST_DEVICE constexpr std::int64_t tap_source(std::int64_t output, std::int64_t stride, std::int64_t pad,
                                                      std::int64_t tap, std::int64_t dilation) {
  return output * stride - pad + tap * dilation;
}

// The outputs [begin, end) of [0, outputs) whose tap reads inside [0, extent): the others read padding.
struct OutputRange {
  std::int64_t begin, end;
};
TAPEGRAD_HOST_DEVICE constexpr OutputRange outputs_inside(std::int64_t outputs, std::int64_t stride, std::int64_t pad,
                                                          std::int64_t tap, std::int64_t dilation, std::int64_t extent) {
  const std::int64_t shift = pad - tap * dilation;  // source = o * stride - shift
  std::int64_t begin = shift > 0 ? (shift + stride - 1) / stride : 0;
  std::int64_t end = extent + shift > 0 ? (extent - 1 + shift) / stride + 1 : 0;
  begin = begin < outputs ? begin : outputs;
  end = end < begin ? begin : (end < outputs ? end : outputs);
  return {begin, end};
}

// The inverse of tap_source: the output whose tap reads input position `source`, or -1 where none does.
TAPEGRAD_HOST_DEVICE constexpr std::int64_t tap_output(std::int64_t source, std::int64_t stride, std::int64_t pad,
                                                      std::int64_t tap, std::int64_t dilation, std::int64_t outputs) {
  const std::int64_t shifted = source + pad - tap * dilation;  // = output * stride where a tap lands
  if (shifted < 0 || shifted % stride != 0 || shifted / stride >= outputs) return -1;
  return shifted / stride;
}

// The column row of channel c's tap (i, j).
TAPEGRAD_HOST_DEVICE constexpr std::int64_t column_row(const Window2d& g, std::int64_t c, std::int64_t i,
                                                      std::int64_t j) {
  return (c * g.kernel_h + i) * g.kernel_w + j;
}

}  // namespace tapegrad::kernels
