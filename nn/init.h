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

// Fills `tensor` in place with values uniform in [low, high).
void uniform_(const Tensor& tensor, double low, double high, Generator& generator = default_generator());
// He initialization for a leaky-ReLU slope `a`: uniform in +-gain * sqrt(3 / fan_in), gain
// sqrt(2 / (1 + a^2)). Layers use a = sqrt(5), which gives +-1/sqrt(fan_in).
void kaiming_uniform_(const Tensor& weight, double a = 0, Generator& generator = default_generator());
// PyTorch's layer bias: uniform in +-1/sqrt(fan_in) of the layer's weight.
void fan_in_uniform_(const Tensor& bias, std::int64_t fan_in, Generator& generator = default_generator());

}  // namespace tapegrad::nn::init
