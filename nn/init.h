// Parameter initialization, PyTorch's torch.nn.init: layers draw their initial weights with
// these (from the global generator that manual_seed sets, unless a generator is given).
#pragma once

#include <cstdint>
#include <utility>

#include <tapegrad/autodiff/generator.h>
#include <tapegrad/autodiff/tensor.h>

namespace tapegrad::nn::init {

// fan_in and fan_out of a weight: [out, in] for Linear, [out, in, kh, kw] for Conv2d.
std::pair<std::int64_t, std::int64_t> fan_in_and_out(const Tensor& weight);

// The nonlinearities torch.nn.init.calculate_gain knows, and their recommended gains: 1 for
// Linear and Sigmoid, 5/3 for Tanh, sqrt(2) for Relu, sqrt(2 / (1 + slope^2)) for LeakyRelu.
enum class Nonlinearity { Linear, Sigmoid, Tanh, Relu, LeakyRelu };
double calculate_gain(Nonlinearity nonlinearity, double negative_slope = 0.01);
// Which fan the Kaiming initializers keep the variance of: the forward pass's or the backward's.
enum class FanMode { FanIn, FanOut };

// In place, under no-grad, as torch.nn.init's functions of the same names.
void uniform_(const Tensor& tensor, double low = 0, double high = 1, Generator& generator = default_generator());
void normal_(const Tensor& tensor, double mean = 0, double std = 1, Generator& generator = default_generator());
void constant_(const Tensor& tensor, double value);
void zeros_(const Tensor& tensor);
void ones_(const Tensor& tensor);
// N(mean, std) restricted to [low, high], drawn by inverting the normal CDF (torch's method).
void trunc_normal_(const Tensor& tensor, double mean = 0, double std = 1, double low = -2, double high = 2,
                   Generator& generator = default_generator());
// Glorot: uniform in +-gain * sqrt(6 / (fan_in + fan_out)), or normal with std gain * sqrt(2 / (fan_in + fan_out)).
void xavier_uniform_(const Tensor& weight, double gain = 1, Generator& generator = default_generator());
void xavier_normal_(const Tensor& weight, double gain = 1, Generator& generator = default_generator());
// He: uniform in +-gain * sqrt(3 / fan), or normal with std gain / sqrt(fan), the gain that of
// `nonlinearity` with slope `a`. Layers use kaiming_uniform_ with a = sqrt(5), which gives
// +-1/sqrt(fan_in).
void kaiming_uniform_(const Tensor& weight, double a = 0, FanMode mode = FanMode::FanIn,
                      Nonlinearity nonlinearity = Nonlinearity::LeakyRelu, Generator& generator = default_generator());
void kaiming_normal_(const Tensor& weight, double a = 0, FanMode mode = FanMode::FanIn,
                     Nonlinearity nonlinearity = Nonlinearity::LeakyRelu, Generator& generator = default_generator());
// PyTorch's layer bias: uniform in +-1/sqrt(fan_in) of the layer's weight.
void fan_in_uniform_(const Tensor& bias, std::int64_t fan_in, Generator& generator = default_generator());

}  // namespace tapegrad::nn::init
