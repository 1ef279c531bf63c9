// The parameter-free layers' checks and printing.
#include <tapegrad/nn/activation.h>

namespace tapegrad::nn {

Dropout::Dropout(double p, Generator* generator) : p_(p), generator_(generator) {
  TAPEGRAD_CHECK(p >= 0 && p <= 1, "Dropout: p must be a probability in [0, 1], got {}", p);
}

Tensor Dropout::forward(const Tensor& input) {
  return dropout(input, p_, is_training(), generator_ != nullptr ? *generator_ : default_generator());
}

std::string MaxPool2d::extra_repr() const {
  const auto stride = options_.stride == std::array<std::int64_t, 2>{0, 0} ? options_.kernel_size : options_.stride;
  const auto pair = [](const std::array<std::int64_t, 2>& p) {
    return p[0] == p[1] ? fmt::format("{}", p[0]) : fmt::format("({}, {})", p[0], p[1]);
  };
  return fmt::format("kernel_size={}, stride={}, padding={}", pair(options_.kernel_size), pair(stride),
                     pair(options_.padding));
}

}  // namespace tapegrad::nn
