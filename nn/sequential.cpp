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

// A ReLU next to a MaxPool2d, in either order, runs as one max_pool2d_relu: ReLU is monotone, so
// relu(max_pool(x)) equals max_pool(relu(x)) value for value (NaN included), and the input
// gradients are equal to the bit: each window passes its gradient to the same first maximum,
// and only where that maximum is positive. The ReLU and its gradient then touch the pooled
// tensor (4x smaller for 2x2 windows), while each plane is in cache. Returns the pooling layer
// of such a pair, else null.
MaxPool2d* pool_of_relu_pair(Module* layer, Module* next) {
  if (is_plain<ReLU>(layer) && is_plain<MaxPool2d>(next)) return static_cast<MaxPool2d*>(next);
  if (is_plain<MaxPool2d>(layer) && is_plain<ReLU>(next)) return static_cast<MaxPool2d*>(layer);
  return nullptr;
}

}  // namespace

Tensor Sequential::forward(const Tensor& input) {
  const auto layer_at = [this](auto it) { return it != end() ? it->get() : nullptr; };
  Tensor x = input;
  for (auto it = begin(); it != end(); ++it) {
    Module* layer = it->get();
    Module* next = layer_at(std::next(it));
    if (MaxPool2d* pool = pool_of_relu_pair(layer, next)) {
      x = pool->forward_relu(x);
      ++it;
    } else if (is_plain<Conv2d>(layer) && is_plain<ReLU>(next) &&  // `next` exists, so it + 2 is at most end()
               pool_of_relu_pair(next, layer_at(std::next(it, 2))) == nullptr) {
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
