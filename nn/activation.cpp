// The parameter-free layers' checks and printing.
#include <tapegrad/nn/activation.h>

namespace tapegrad::nn {

Dropout::Dropout(double p, Generator* generator) : p_(p), generator_(generator) {
  TAPEGRAD_CHECK(p >= 0 && p <= 1, "Dropout: p must be a probability in [0, 1], got {}", p);
}

Tensor Dropout::forward(const Tensor& input) {
  return dropout(input, p_, is_training(), generator_ != nullptr ? *generator_ : default_generator());
}

}  // namespace tapegrad::nn
