// The pooling layers' option checks and printing; the computation is autodiff/ops/pooling.cpp.
#include <tapegrad/nn/pooling.h>

namespace tapegrad::nn {
namespace {

using Pair = std::array<std::int64_t, 2>;

// One number when both dims agree, as PyTorch prints an int kernel_size.
std::string pair_repr(const Pair& p) {
  return p[0] == p[1] ? fmt::format("{}", p[0]) : fmt::format("({}, {})", p[0], p[1]);
}

Pair stride_or_kernel(const Pair& stride, const Pair& kernel) { return stride == Pair{0, 0} ? kernel : stride; }

}  // namespace

Pool2dParams MaxPool2d::params() const {
  return {options_.kernel_size, options_.stride, options_.padding, options_.dilation, options_.ceil_mode};
}

Tensor MaxPool2d::forward(const Tensor& input) { return max_pool2d(input, params()); }

Tensor MaxPool2d::forward_relu(const Tensor& input) { return max_pool2d_relu(input, params()); }

std::string MaxPool2d::extra_repr() const {
  std::string repr = fmt::format("kernel_size={}, stride={}, padding={}", pair_repr(options_.kernel_size),
                                 pair_repr(stride_or_kernel(options_.stride, options_.kernel_size)),
                                 pair_repr(options_.padding));
  if (options_.dilation != Pair{1, 1} || options_.ceil_mode)
    repr += fmt::format(", dilation={}, ceil_mode={}", pair_repr(options_.dilation),
                        options_.ceil_mode ? "True" : "False");
  return repr;
}

Tensor AvgPool2d::forward(const Tensor& input) {
  return avg_pool2d(input, AvgPool2dParams{options_.kernel_size, options_.stride, options_.padding, options_.ceil_mode,
                                           options_.count_include_pad, options_.divisor_override});
}

std::string AvgPool2d::extra_repr() const {
  return fmt::format("kernel_size={}, stride={}, padding={}", pair_repr(options_.kernel_size),
                     pair_repr(stride_or_kernel(options_.stride, options_.kernel_size)), pair_repr(options_.padding));
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(const std::array<std::int64_t, 2>& output_size) : output_size_(output_size) {
  TAPEGRAD_CHECK(output_size[0] >= 0 && output_size[1] >= 0,
                 "AdaptiveAvgPool2d: output_size must be non-negative, got ({}, {})", output_size[0], output_size[1]);
}

std::string AdaptiveAvgPool2d::extra_repr() const { return "output_size=" + pair_repr(output_size_); }

}  // namespace tapegrad::nn
