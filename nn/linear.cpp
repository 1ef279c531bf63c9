// Linear: PyTorch's initialization (reset_parameters) and forward.
#include <tapegrad/nn/linear.h>

#include <cmath>

#include <tapegrad/autodiff/ops.h>
#include <tapegrad/nn/init.h>

namespace tapegrad::nn {

Linear::Linear(const LinearOptions& options) : options_(options) {
  TAPEGRAD_CHECK(options.in_features >= 0 && options.out_features >= 0,
                 "Linear: feature counts must be non-negative, got in_features={}, out_features={}",
                 options.in_features, options.out_features);
  weight = register_parameter("weight", empty({options.out_features, options.in_features}, options.dtype));
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (options.bias) {
    bias = register_parameter("bias", empty({options.out_features}, options.dtype));
    init::fan_in_uniform_(bias, options.in_features);
  }
}

Tensor Linear::forward(const Tensor& input) { return linear(input, weight, bias); }

std::string Linear::extra_repr() const {
  return fmt::format("in_features={}, out_features={}, bias={}", options_.in_features, options_.out_features,
                     options_.bias ? "True" : "False");
}

}  // namespace tapegrad::nn
