// Sequential's forward.
#include <tapegrad/nn/sequential.h>

namespace tapegrad::nn {

Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  for (const auto& module : *this) x = (*module)(x);  // through operator(), so the layers' hooks run
  return x;
}

}  // namespace tapegrad::nn
