// Host-side helpers the CUDA backend's op families share: checks and the views of tensor
// descriptions the kernels take.
#pragma once

#include <cstdint>

#include <tapegrad/kernels/backend.h>
#include <tapegrad/kernels/coalesce.h>
#include <tapegrad/kernels/error.h>

namespace tapegrad::kernels::cuda {

inline bool is_contiguous(const TensorDesc& t) { return all_contiguous<1>(t.shape, {&t.strides}); }

// The (n, c, h, w) strides of an image, as the convolution and pooling kernels take them.
struct ImageStrides {
  std::int64_t values[4];
  explicit ImageStrides(const TensorDesc& t) : values{t.strides[0], t.strides[1], t.strides[2], t.strides[3]} {}
};

inline void check_float(DType dtype, const char* op) {
  TAPEGRAD_CHECK(is_floating(dtype), "{}: expected float32 or float64 data, got {}", op, dtype);
}

}  // namespace tapegrad::kernels::cuda
