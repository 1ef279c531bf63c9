// Sequential's forward.
#include <tapegrad/nn/sequential.h>

#include <typeinfo>

#include <tapegrad/nn/activation.h>
#include <tapegrad/nn/conv.h>
#include <tapegrad/nn/pooling.h>

namespace tapegrad::nn {
namespace {

// Whether `layer` is exactly a `Layer` (not a subclass) that never had a forward hook: only then
// may Sequential run it other than through its own forward, since a hook would have to see
// the tensors the layer is given and gives back.
template <class Layer>
bool is_plain(const Module* layer) {
  return layer != nullptr && typeid(*layer) == typeid(Layer) && !layer->ever_had_forward_hooks();
}

// A ReLU followed by a MaxPool2d runs in the other order: ReLU is monotone, so
// relu(max_pool(x)) equals max_pool(relu(x)) value for value (NaN included), and the input
// gradients are equal to the bit: each window passes its gradient to the same first maximum,
// and only where that maximum is positive. The ReLU and its gradient then touch the pooled
// tensor (4x smaller for 2x2 windows).
bool is_relu_before_pool(const Module* layer, const Module* next) {
  return is_plain<ReLU>(layer) && is_plain<MaxPool2d>(next);
}

}  // namespace

Tensor Sequential::forward(const Tensor& input) {
  const auto layer_at = [this](auto it) { return it != end() ? it->get() : nullptr; };
  Tensor x = input;
  for (auto it = begin(); it != end(); ++it) {
    Module* layer = it->get();
    Module* next = layer_at(std::next(it));
    if (is_relu_before_pool(layer, next)) {
      x = relu(next->forward(x));
      ++it;
    } else if (is_plain<Conv2d>(layer) && is_plain<ReLU>(next) &&  // `next` exists, so it + 2 is at most end()
               !is_relu_before_pool(next, layer_at(std::next(it, 2)))) {
      // A Conv2d and its ReLU run as one conv2d_relu: the same values and gradients, with one
      // pass less over the convolution's output.
      x = static_cast<Conv2d*>(layer)->forward_relu(x);
      ++it;
    } else {
      x = (*layer)(x);  // through operator(), so the layer's hooks run
    }
  }
  return x;
}

}  // namespace tapegrad::nn
