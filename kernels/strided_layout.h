// N operands walked together over one shape, each with its own strides, after merging the dims
// that are contiguous in all of them. The CPU loops walk it run by run; a CUDA thread maps its
// flat element index to the operands' offsets with `offsets`. Free of library headers so that
// nvcc compiles it as it is, and CPU tests exercise the index math the GPU runs.
#pragma once

#include <cstdint>

#include <tapegrad/kernels/host_device.h>

namespace tapegrad::kernels {

inline constexpr int kMaxLayoutDims = 8;  // = kMaxDims, checked where layouts are built

template <int N>
struct StridedLayout {
  int ndim = 0;
  std::int64_t sizes[kMaxLayoutDims];
  std::int64_t strides[N][kMaxLayoutDims];

  // The offset of row-major element `linear` (0 <= linear < product of sizes) in each operand.
  // The outermost coordinate is what remains of `linear` after the inner dims, so it needs no
  // division: a 1-D layout (every contiguous operand) costs one multiply per operand.
  TAPEGRAD_HOST_DEVICE void offsets(std::int64_t linear, std::int64_t (&out)[N]) const {
    for (int k = 0; k < N; ++k) out[k] = 0;
    for (int d = ndim - 1; d > 0; --d) {
      const std::int64_t coordinate = linear % sizes[d];
      linear /= sizes[d];
      for (int k = 0; k < N; ++k) out[k] += coordinate * strides[k][d];
    }
    for (int k = 0; k < N; ++k) out[k] += linear * strides[k][0];
  }
  // The offset of element `linear` in operand k alone.
  TAPEGRAD_HOST_DEVICE std::int64_t offset(int k, std::int64_t linear) const {
    std::int64_t result = 0;
    for (int d = ndim - 1; d > 0; --d) {
      result += (linear % sizes[d]) * strides[k][d];
      linear /= sizes[d];
    }
    return result + linear * strides[k][0];
  }
};

}  // namespace tapegrad::kernels
