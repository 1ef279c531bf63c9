// Conv2d: PyTorch's initialization; the computation is conv2d() of autodiff/ops.
#include <tapegrad/nn/conv.h>

#include <cmath>

#include <tapegrad/nn/init.h>

namespace tapegrad::nn {

Conv2d::Conv2d(const Conv2dOptions& options) : options_(options) {
  TAPEGRAD_CHECK(options.in_channels > 0 && options.out_channels > 0,
                 "Conv2d: channel counts must be positive, got in_channels={}, out_channels={}", options.in_channels,
                 options.out_channels);
  TAPEGRAD_CHECK(options.kernel_size[0] > 0 && options.kernel_size[1] > 0,
                 "Conv2d: kernel_size must be positive, got ({}, {})", options.kernel_size[0], options.kernel_size[1]);
  weight = register_parameter("weight", empty({options.out_channels, options.in_channels, options.kernel_size[0],
                                               options.kernel_size[1]}, options.dtype));
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (options.bias) {
    bias = register_parameter("bias", empty({options.out_channels}, options.dtype));
    init::fan_in_uniform_(bias, init::fan_in_and_out(weight).first);
  }
}

Tensor Conv2d::forward(const Tensor& input) {
  return conv2d(input, weight, bias, Conv2dParams{options_.stride, options_.padding, options_.dilation});
}

std::string Conv2d::extra_repr() const {
  const auto pair = [](const std::array<std::int64_t, 2>& p) { return fmt::format("({}, {})", p[0], p[1]); };
  std::string repr = fmt::format("{}, {}, kernel_size={}, stride={}", options_.in_channels, options_.out_channels,
                                 pair(options_.kernel_size), pair(options_.stride));
  if (options_.padding != std::array<std::int64_t, 2>{0, 0}) repr += ", padding=" + pair(options_.padding);
  if (options_.dilation != std::array<std::int64_t, 2>{1, 1}) repr += ", dilation=" + pair(options_.dilation);
  if (!options_.bias) repr += ", bias=False";
  return repr;
}

}  // namespace tapegrad::nn
