// Helpers shared by the op families: argument checks with messages that name the op and both
// operands, access to the inputs' backend, and broadcast views for kernels.
#pragma once

#include <initializer_list>

#include <tapegrad/autodiff/node.h>
#include <tapegrad/autodiff/ops.h>

namespace tapegrad::detail {

inline kernels::Backend& backend_of(const Tensor& t) { return kernels::backend_for(t.device()); }

inline void check_defined(const char* op, const Tensor& t) {
  TAPEGRAD_CHECK(t.defined(), "{}: got an undefined tensor", op);
}

inline void check_floating(const char* op, const Tensor& t) {
  check_defined(op, t);
  TAPEGRAD_CHECK(t.is_floating_point(), "{}: expected a floating-point tensor, got {} of shape {}; convert with .to(kFloat32)",
                 op, t.dtype(), t.shape());
}

// Two operands of one op: defined, on the same device.
inline void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  check_defined(op, a);
  check_defined(op, b);
  TAPEGRAD_CHECK(a.device() == b.device(), "{}: operands are on different devices ({} of shape {} and {} of shape {}); move "
                 "one with .to(device)", op, a.device(), a.shape(), b.device(), b.shape());
}

// Two operands of an op without type promotion: same device and same dtype.
inline void check_compatible(const char* op, const Tensor& a, const Tensor& b) {
  check_same_device(op, a, b);
  TAPEGRAD_CHECK(a.dtype() == b.dtype(), "{}: operands have different dtypes ({} of shape {} and {} of shape {}); convert "
                 "one with .to(dtype)", op, a.dtype(), a.shape(), b.dtype(), b.shape());
}

inline void check_index(const char* op, const Tensor& index, const Tensor& source) {
  check_defined(op, index);
  TAPEGRAD_CHECK(index.dtype() == kInt64, "{}: indices must be int64, got {} of shape {}", op, index.dtype(), index.shape());
  TAPEGRAD_CHECK(index.device() == source.device(), "{}: indices are on {} but the tensor is on {}", op, index.device(),
                 source.device());
}

// The kernel view of `t` broadcast to `shape` (stride 0 along broadcast dims).
inline kernels::TensorDesc broadcast_desc(const Tensor& t, const Shape& shape) {
  kernels::TensorDesc d = t.desc();
  if (d.shape == shape) return d;
  const int offset = shape.size() - d.shape.size();
  Strides strides = Dims::filled(shape.size(), 0);
  for (int i = 0; i < d.shape.size(); ++i) strides[offset + i] = d.shape[i] == 1 ? 0 : d.strides[i];
  d.shape = shape;
  d.strides = strides;
  return d;
}

// Kernels address dims by index, which a 0-dim tensor has none of: ops view it as [1] instead.
inline Tensor at_least_1d(const Tensor& t) { return t.dim() == 0 ? reshape(t, {1}) : t; }

// An unbatched [C, H, W] image runs as a batch of one, as in PyTorch.
inline bool is_unbatched(const Tensor& t) { return t.defined() && t.dim() == 3; }

inline TensorOptions options_of(const Tensor& t) { return TensorOptions(t.dtype()).with_device(t.device()); }

// ReLU's gradient: `grad` where `input` is positive, else 0. The output of the ReLU may stand in
// for its input: it is positive at exactly the same places.
Tensor relu_backward(const Tensor& grad, const Tensor& input);

}  // namespace tapegrad::detail
