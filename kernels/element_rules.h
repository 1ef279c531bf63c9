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

// The rows [begin, end) of a pooling window starting at `start` (stride * output - padding)
// that lie inside an input of `size`: padding is -inf, so only these are read.
struct WindowSpan {
  std::int64_t begin, end;
};
TAPEGRAD_HOST_DEVICE inline WindowSpan window_span(std::int64_t start, std::int64_t kernel, std::int64_t size) {
  return {start > 0 ? start : 0, start + kernel < size ? start + kernel : size};
}

}  // namespace tapegrad::kernels
