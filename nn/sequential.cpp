// Sequential's forward.
#include <tapegrad/nn/sequential.h>

#include <typeinfo>

#include <tapegrad/nn/activation.h>
#include <tapegrad/nn/conv.h>

namespace tapegrad::nn {
namespace {

// A Conv2d followed by a ReLU, neither a subclass nor hooked: the pair runs as one conv2d_relu,
// which gives what the two calls would (values and gradients) with one pass less over the
// convolution's output. A hook would have to see the output before the ReLU, so none may exist.
Conv2d* conv_before_relu(Module& layer, const Module* next) {
  if (next == nullptr || typeid(layer) != typeid(Conv2d) || typeid(*next) != typeid(ReLU)) return nullptr;
  if (layer.ever_had_forward_hooks() || next->ever_had_forward_hooks()) return nullptr;
  return static_cast<Conv2d*>(&layer);
}

}  // namespace

Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  for (auto it = begin(); it != end(); ++it) {
    const auto next = std::next(it);
    if (Conv2d* conv = conv_before_relu(**it, next != end() ? next->get() : nullptr)) {
      x = conv->forward_relu(x);
      it = next;
      continue;
    }
    x = (**it)(x);  // through operator(), so the layers' hooks run
  }
  return x;
}

}  // namespace tapegrad::nn
