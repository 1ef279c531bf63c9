// Conv2d, Conv1d and ConvTranspose2d: PyTorch's option checks and initialization; the computation
// is conv2d(), conv1d() and conv_transpose2d() of autodiff/ops.
#include <tapegrad/nn/conv.h>

#include <cmath>

#include <tapegrad/nn/init.h>

namespace tapegrad::nn {
namespace {

using Pair = std::array<std::int64_t, 2>;

std::string pair_repr(const Pair& p) { return fmt::format("({}, {})", p[0], p[1]); }

// PyTorch's checks of a convolution layer's channel counts and kernel.
void check_channels(const char* layer, std::int64_t in_channels, std::int64_t out_channels, std::int64_t groups) {
  TAPEGRAD_CHECK(in_channels > 0 && out_channels > 0,
                 "{}: channel counts must be positive, got in_channels={}, out_channels={}", layer, in_channels,
                 out_channels);
  TAPEGRAD_CHECK(groups > 0, "{}: groups must be positive, got {}", layer, groups);
  TAPEGRAD_CHECK(in_channels % groups == 0, "{}: in_channels must be divisible by groups, got in_channels={}, groups={}",
                 layer, in_channels, groups);
  TAPEGRAD_CHECK(out_channels % groups == 0,
                 "{}: out_channels must be divisible by groups, got out_channels={}, groups={}", layer, out_channels,
                 groups);
}

void check_kernel(const char* layer, const Pair& kernel_size) {
  TAPEGRAD_CHECK(kernel_size[0] > 0 && kernel_size[1] > 0, "{}: kernel_size must be positive, got ({}, {})", layer,
                 kernel_size[0], kernel_size[1]);
}

// PyTorch's reset_parameters: Kaiming-uniform weights (a = sqrt(5)), bias uniform in +-1/sqrt(fan_in),
// fan_in read from the weight's dims 1, 2, ...
void initialize(const Tensor& weight, const Tensor& bias) {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) init::fan_in_uniform_(bias, init::fan_in_and_out(weight).first);
}

// The options PyTorch's repr shows beyond the channels, kernel and stride, when not their defaults.
std::string optional_repr(const Pair& padding, const Pair& dilation, const Pair& output_padding, std::int64_t groups,
                          bool bias) {
  std::string repr;
  if (padding != Pair{0, 0}) repr += ", padding=" + pair_repr(padding);
  if (dilation != Pair{1, 1}) repr += ", dilation=" + pair_repr(dilation);
  if (output_padding != Pair{0, 0}) repr += ", output_padding=" + pair_repr(output_padding);
  if (groups != 1) repr += fmt::format(", groups={}", groups);
  if (!bias) repr += ", bias=False";
  return repr;
}

}  // namespace

Conv2d::Conv2d(const Conv2dOptions& options) : options_(options) {
  check_channels("Conv2d", options.in_channels, options.out_channels, options.groups);
  check_kernel("Conv2d", options.kernel_size);
  weight = register_parameter("weight", empty({options.out_channels, options.in_channels / options.groups,
                                               options.kernel_size[0], options.kernel_size[1]}, options.dtype));
  if (options.bias) bias = register_parameter("bias", empty({options.out_channels}, options.dtype));
  initialize(weight, bias);
}

Tensor Conv2d::forward(const Tensor& input) { return conv2d(input, weight, bias, params()); }

Tensor Conv2d::forward_relu(const Tensor& input) { return conv2d_relu(input, weight, bias, params()); }

Conv2dParams Conv2d::params() const {
  return Conv2dParams{options_.stride, options_.padding, options_.dilation, options_.groups};
}

std::string Conv2d::extra_repr() const {
  return fmt::format("{}, {}, kernel_size={}, stride={}", options_.in_channels, options_.out_channels,
                     pair_repr(options_.kernel_size), pair_repr(options_.stride)) +
         optional_repr(options_.padding, options_.dilation, {0, 0}, options_.groups, options_.bias);
}

Conv1d::Conv1d(const Conv1dOptions& options) : options_(options) {
  check_channels("Conv1d", options.in_channels, options.out_channels, options.groups);
  check_kernel("Conv1d", {options.kernel_size, options.kernel_size});
  weight = register_parameter(
      "weight", empty({options.out_channels, options.in_channels / options.groups, options.kernel_size}, options.dtype));
  if (options.bias) bias = register_parameter("bias", empty({options.out_channels}, options.dtype));
  initialize(weight, bias);
}

Tensor Conv1d::forward(const Tensor& input) {
  return conv1d(input, weight, bias, Conv1dParams{options_.stride, options_.padding, options_.dilation, options_.groups});
}

std::string Conv1d::extra_repr() const {
  std::string repr = fmt::format("{}, {}, kernel_size=({},), stride=({},)", options_.in_channels,
                                 options_.out_channels, options_.kernel_size, options_.stride);
  if (options_.padding != 0) repr += fmt::format(", padding=({},)", options_.padding);
  if (options_.dilation != 1) repr += fmt::format(", dilation=({},)", options_.dilation);
  return repr + optional_repr({0, 0}, {1, 1}, {0, 0}, options_.groups, options_.bias);
}

ConvTranspose2d::ConvTranspose2d(const ConvTranspose2dOptions& options) : options_(options) {
  check_channels("ConvTranspose2d", options.in_channels, options.out_channels, options.groups);
  check_kernel("ConvTranspose2d", options.kernel_size);
  for (int d = 0; d < 2; ++d)
    TAPEGRAD_CHECK(options.output_padding[d] >= 0 &&
                       (options.output_padding[d] < options.stride[d] || options.output_padding[d] < options.dilation[d]),
                   "ConvTranspose2d: output_padding must be non-negative and smaller than either the stride or the "
                   "dilation, got output_padding {} with stride {} and dilation {}", pair_repr(options.output_padding),
                   pair_repr(options.stride), pair_repr(options.dilation));
  weight = register_parameter("weight", empty({options.in_channels, options.out_channels / options.groups,
                                               options.kernel_size[0], options.kernel_size[1]}, options.dtype));
  if (options.bias) bias = register_parameter("bias", empty({options.out_channels}, options.dtype));
  initialize(weight, bias);
}

Tensor ConvTranspose2d::forward(const Tensor& input) {
  return conv_transpose2d(input, weight, bias,
                          ConvTranspose2dParams{options_.stride, options_.padding, options_.output_padding,
                                                options_.groups, options_.dilation});
}

std::string ConvTranspose2d::extra_repr() const {
  return fmt::format("{}, {}, kernel_size={}, stride={}", options_.in_channels, options_.out_channels,
                     pair_repr(options_.kernel_size), pair_repr(options_.stride)) +
         optional_repr(options_.padding, options_.dilation, options_.output_padding, options_.groups, options_.bias);
}

}  // namespace tapegrad::nn
