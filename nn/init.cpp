// Initializers: one draw of the tensor's shape, then a copy into it under no-grad.
#include <tapegrad/nn/init.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include <tapegrad/autodiff/grad_mode.h>
#include <tapegrad/autodiff/ops.h>

namespace tapegrad::nn::init {

std::pair<std::int64_t, std::int64_t> fan_in_and_out(const Tensor& weight) {
  TAPEGRAD_CHECK(weight.dim() >= 2, "fan_in_and_out: needs a weight of at least 2 dims, got shape {}", weight.shape());
  std::int64_t receptive_field = 1;
  for (int d = 2; d < weight.dim(); ++d) receptive_field *= weight.size(d);
  return {weight.size(1) * receptive_field, weight.size(0) * receptive_field};
}

double calculate_gain(Nonlinearity nonlinearity, double negative_slope) {
  switch (nonlinearity) {
    case Nonlinearity::Linear:
    case Nonlinearity::Sigmoid: return 1;
    case Nonlinearity::Tanh: return 5.0 / 3.0;
    case Nonlinearity::Relu: return std::sqrt(2.0);
    case Nonlinearity::LeakyRelu: return std::sqrt(2.0 / (1 + negative_slope * negative_slope));
  }
  return 1;
}

namespace {

TensorOptions options_of(const Tensor& tensor) { return TensorOptions(tensor.dtype()).with_device(tensor.device()); }

// Copies freshly drawn values into the tensor, as the tensor's own data: the autograd graph
// never sees initialization.
void assign(const Tensor& tensor, const Tensor& values) {
  NoGradGuard no_grad;
  tensor.detach().copy_(values);
}

void check_floating(const char* name, const Tensor& tensor) {
  TAPEGRAD_CHECK(tensor.defined() && tensor.is_floating_point(), "{}: expected a floating-point tensor, got {}", name,
                 tensor.defined() ? fmt::format("{} of shape {}", tensor.dtype(), tensor.shape()) : "an undefined tensor");
}

// The inverse of erf on (-1, 1): Winitzki's closed-form approximation (about 2e-3 off), then
// Newton's steps on erf to double precision.
double inverse_erf(double y) {
  if (std::abs(y) >= 1) return std::copysign(INFINITY, y);
  constexpr double a = 0.147;
  const double log_term = std::log(1 - y * y), first = 2 / (std::numbers::pi * a) + log_term / 2;
  double x = std::copysign(std::sqrt(std::sqrt(first * first - log_term / a) - first), y);
  for (int step = 0; step < 8; ++step) x -= (std::erf(x) - y) / (2 / std::sqrt(std::numbers::pi) * std::exp(-x * x));
  return x;
}

double normal_cdf(double x) { return (1 + std::erf(x / std::sqrt(2.0))) / 2; }

std::int64_t fan_of(const Tensor& weight, FanMode mode) {
  const auto [fan_in, fan_out] = fan_in_and_out(weight);
  return mode == FanMode::FanIn ? fan_in : fan_out;
}

}  // namespace

void uniform_(const Tensor& tensor, double low, double high, Generator& generator) {
  check_floating("uniform_", tensor);
  assign(tensor, uniform(tensor.shape(), low, high, generator, options_of(tensor)));
}

void normal_(const Tensor& tensor, double mean, double std, Generator& generator) {
  check_floating("normal_", tensor);
  TAPEGRAD_CHECK(std >= 0, "normal_: std must be non-negative, got {}", std);
  assign(tensor, normal(tensor.shape(), mean, std, generator, options_of(tensor)));
}

void constant_(const Tensor& tensor, double value) {
  TAPEGRAD_CHECK(tensor.defined(), "constant_: got an undefined tensor");
  assign(tensor, full(tensor.shape(), value, options_of(tensor)));
}

void zeros_(const Tensor& tensor) { constant_(tensor, 0); }
void ones_(const Tensor& tensor) { constant_(tensor, 1); }

void trunc_normal_(const Tensor& tensor, double mean, double std, double low, double high, Generator& generator) {
  check_floating("trunc_normal_", tensor);
  TAPEGRAD_CHECK(std > 0 && low < high, "trunc_normal_: needs std > 0 and low < high, got std {} and [{}, {}]", std, low,
                 high);
  // Uniform between the CDF values of the bounds (mapped to erf's range), then back through the
  // inverse CDF: exact even far in a tail, where redrawing would rarely succeed.
  const double lower = 2 * normal_cdf((low - mean) / std) - 1, upper = 2 * normal_cdf((high - mean) / std) - 1;
  std::vector<double> values = uniform(tensor.shape(), lower, upper, generator, kFloat64).to_vector<double>();
  for (double& value : values)
    value = std::clamp(mean + std * std::sqrt(2.0) * inverse_erf(value), low, high);
  assign(tensor, from_vector(values, tensor.shape()).to(tensor.dtype()).to(tensor.device()));
}

void xavier_uniform_(const Tensor& weight, double gain, Generator& generator) {
  const auto [fan_in, fan_out] = fan_in_and_out(weight);
  const double bound = gain * std::sqrt(6.0 / static_cast<double>(std::max<std::int64_t>(1, fan_in + fan_out)));
  uniform_(weight, -bound, bound, generator);
}

void xavier_normal_(const Tensor& weight, double gain, Generator& generator) {
  const auto [fan_in, fan_out] = fan_in_and_out(weight);
  normal_(weight, 0, gain * std::sqrt(2.0 / static_cast<double>(std::max<std::int64_t>(1, fan_in + fan_out))), generator);
}

void kaiming_uniform_(const Tensor& weight, double a, FanMode mode, Nonlinearity nonlinearity, Generator& generator) {
  const std::int64_t fan = fan_of(weight, mode);
  const double bound = fan > 0 ? calculate_gain(nonlinearity, a) * std::sqrt(3.0 / static_cast<double>(fan)) : 0;
  uniform_(weight, -bound, bound, generator);
}

void kaiming_normal_(const Tensor& weight, double a, FanMode mode, Nonlinearity nonlinearity, Generator& generator) {
  const std::int64_t fan = fan_of(weight, mode);
  normal_(weight, 0, fan > 0 ? calculate_gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan)) : 0, generator);
}

void fan_in_uniform_(const Tensor& bias, std::int64_t fan_in, Generator& generator) {
  const double bound = fan_in > 0 ? 1 / std::sqrt(static_cast<double>(fan_in)) : 0;
  uniform_(bias, -bound, bound, generator);
}

}  // namespace tapegrad::nn::init
