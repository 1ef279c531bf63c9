// Pooling layers over NCHW images: MaxPool2d, AvgPool2d and AdaptiveAvgPool2d, thin modules over
// max_pool2d, avg_pool2d and adaptive_avg_pool2d of autodiff/ops with PyTorch's options.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include <tapegrad/autodiff/ops.h>
#include <tapegrad/nn/module.h>

namespace tapegrad::nn {

struct MaxPool2dOptions {
  std::array<std::int64_t, 2> kernel_size{2, 2};
  std::array<std::int64_t, 2> stride{0, 0};  // 0: the kernel size, as PyTorch's default
  std::array<std::int64_t, 2> padding{0, 0};
  std::array<std::int64_t, 2> dilation{1, 1};
  bool ceil_mode = false;
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(const MaxPool2dOptions& options) : options_(options) {}
  explicit MaxPool2d(std::int64_t kernel_size, std::int64_t stride = 0, std::int64_t padding = 0,
                     std::int64_t dilation = 1, bool ceil_mode = false)
      : MaxPool2d(MaxPool2dOptions{{kernel_size, kernel_size}, {stride, stride}, {padding, padding},
                                   {dilation, dilation}, ceil_mode}) {}
  Tensor forward(const Tensor& input) override;
  // relu(forward(input)) as one max_pool2d_relu (what Sequential runs for a ReLU and this layer).
  Tensor forward_relu(const Tensor& input);
  std::string name() const override { return "MaxPool2d"; }
  std::string extra_repr() const override;

 private:
  Pool2dParams params() const;

  MaxPool2dOptions options_;
};

struct AvgPool2dOptions {
  std::array<std::int64_t, 2> kernel_size{2, 2};
  std::array<std::int64_t, 2> stride{0, 0};  // 0: the kernel size, as PyTorch's default
  std::array<std::int64_t, 2> padding{0, 0};
  bool ceil_mode = false;
  bool count_include_pad = true;
  std::optional<std::int64_t> divisor_override{};
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(const AvgPool2dOptions& options) : options_(options) {}
  explicit AvgPool2d(std::int64_t kernel_size, std::int64_t stride = 0, std::int64_t padding = 0,
                     bool ceil_mode = false, bool count_include_pad = true,
                     std::optional<std::int64_t> divisor_override = std::nullopt)
      : AvgPool2d(AvgPool2dOptions{{kernel_size, kernel_size}, {stride, stride}, {padding, padding}, ceil_mode,
                                   count_include_pad, divisor_override}) {}
  Tensor forward(const Tensor& input) override;
  std::string name() const override { return "AvgPool2d"; }
  std::string extra_repr() const override;

 private:
  AvgPool2dOptions options_;
};

// Averages [N, C, H, W] down to [N, C, output_size[0], output_size[1]] whatever H and W are;
// AdaptiveAvgPool2d(1) is global average pooling.
class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(const std::array<std::int64_t, 2>& output_size);
  explicit AdaptiveAvgPool2d(std::int64_t output_size) : AdaptiveAvgPool2d({output_size, output_size}) {}
  Tensor forward(const Tensor& input) override { return adaptive_avg_pool2d(input, output_size_); }
  std::string name() const override { return "AdaptiveAvgPool2d"; }
  std::string extra_repr() const override;

 private:
  std::array<std::int64_t, 2> output_size_;
};

}  // namespace tapegrad::nn
