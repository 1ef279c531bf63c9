// A fused activation of a convolution or a max pooling, applied to a block of its outputs while
// they are still in the core's cache: a separate ReLU would stream the whole output through
// memory once more.
#pragma once

#include <cstdint>

#include <tapegrad/kernels/elementwise_ops.h>

namespace tapegrad::kernels::cpu {

// ReLU by UnaryOp::Relu's own rule (NaN stays NaN), so the fused result is relu()'s bit for bit.
template <class T>
void apply_relu(T* data, std::int64_t count) {
  const Unary<UnaryOp::Relu> relu{};
  for (std::int64_t i = 0; i < count; ++i) data[i] = relu(data[i]);
}

}  // namespace tapegrad::kernels::cpu
