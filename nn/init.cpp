// Initializers: one uniform draw, then a copy into the parameter under no-grad.
#include <tapegrad/nn/init.h>

#include <cmath>

#include <tapegrad/autodiff/grad_mode.h>
#include <tapegrad/autodiff/ops.h>

namespace tapegrad::nn::init {

std::pair<std::int64_t, std::int64_t> fan_in_and_out(const Tensor& weight) {
  TAPEGRAD_CHECK(weight.dim() >= 2, "fan_in_and_out: needs a weight of at least 2 dims, got shape {}", weight.shape());
  std::int64_t receptive_field = 1;
  for (int d = 2; d < weight.dim(); ++d) receptive_field *= weight.size(d);
  return {weight.size(1) * receptive_field, weight.size(0) * receptive_field};
}

void uniform_(const Tensor& tensor, double low, double high, Generator& generator) {
  NoGradGuard no_grad;
  const Tensor values = uniform(tensor.shape(), low, high, generator, TensorOptions(tensor.dtype()).with_device(tensor.device()));
  tensor.detach().copy_(values);
}

void kaiming_uniform_(const Tensor& weight, double a, Generator& generator) {
  const double gain = std::sqrt(2.0 / (1 + a * a));
  const auto fan_in = fan_in_and_out(weight).first;
  const double bound = fan_in > 0 ? gain * std::sqrt(3.0 / static_cast<double>(fan_in)) : 0;
  uniform_(weight, -bound, bound, generator);
}

void fan_in_uniform_(const Tensor& bias, std::int64_t fan_in, Generator& generator) {
  const double bound = fan_in > 0 ? 1 / std::sqrt(static_cast<double>(fan_in)) : 0;
  uniform_(bias, -bound, bound, generator);
}

}  // namespace tapegrad::nn::init
