// Building a StridedLayout from a shape and its operands' strides, shared by the CPU loops and
// the CUDA launchers: dims of size 1 vanish and neighbouring dims contiguous in every operand
// merge, so the innermost run is as long as possible and the index math as short.
#pragma once

#include <array>
#include <cstdint>

#include <tapegrad/kernels/shape.h>
#include <tapegrad/kernels/strided_layout.h>

namespace tapegrad::kernels {

static_assert(kMaxLayoutDims == kMaxDims, "a layout must hold every dim a tensor can have");

template <int N>
StridedLayout<N> coalesce(const Shape& shape, const std::array<const Strides*, N>& strides) {
  StridedLayout<N> layout;
  for (int d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    const int last = layout.ndim - 1;
    bool mergeable = last >= 0;
    for (int k = 0; k < N && mergeable; ++k)
      mergeable = layout.strides[k][last] == (*strides[k])[d] * shape[d];
    if (mergeable) {
      layout.sizes[last] *= shape[d];
      for (int k = 0; k < N; ++k) layout.strides[k][last] = (*strides[k])[d];
      continue;
    }
    layout.sizes[layout.ndim] = shape[d];
    for (int k = 0; k < N; ++k) layout.strides[k][layout.ndim] = (*strides[k])[d];
    ++layout.ndim;
  }
  if (layout.ndim == 0) {  // a single element
    layout.ndim = 1;
    layout.sizes[0] = 1;
    for (int k = 0; k < N; ++k) layout.strides[k][0] = 0;
  }
  return layout;
}

// True when every operand is laid out row-major without gaps: the whole walk is one flat run.
template <int N>
bool all_contiguous(const Shape& shape, const std::array<const Strides*, N>& strides) {
  std::int64_t expected = 1;
  for (int d = shape.size() - 1; d >= 0; --d) {
    if (shape[d] == 1) continue;
    for (int k = 0; k < N; ++k)
      if ((*strides[k])[d] != expected) return false;
    expected *= shape[d];
  }
  return true;
}

}  // namespace tapegrad::kernels
