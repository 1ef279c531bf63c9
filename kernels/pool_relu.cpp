// Max pooling followed by a ReLU, for any backend: the pooling kernel and the elementwise ones,
// run one after the other. Backends that can fuse them override these entries.
#include <tapegrad/kernels/backend.h>
#include <tapegrad/kernels/scratch.h>

namespace tapegrad::kernels {

void Backend::max_pool2d_relu(const TensorDesc& input, const Window2d& window, const TensorDesc& values,
                              const TensorDesc& indices) {
  max_pool2d(input, window, values, indices);
  unary(UnaryOp::Relu, values, values, {});
}

void Backend::max_pool2d_relu_backward(const TensorDesc& grad_values, const TensorDesc& values,
                                       const TensorDesc& indices, const Window2d& window,
                                       const TensorDesc& grad_input) {
  const Scratch passed(*this, grad_values.shape, grad_values.dtype);
  binary(BinaryOp::ReluGrad, grad_values, values, passed.desc(), 1);
  max_pool2d_backward(passed.desc(), indices, window, grad_input);
}

}  // namespace tapegrad::kernels
