// 2-D convolution over NCHW images, PyTorch's nn.Conv2d (groups = 1).
#pragma once

#include <array>
#include <cstdint>

#include <tapegrad/autodiff/ops.h>
#include <tapegrad/nn/module.h>

namespace tapegrad::nn {

struct Conv2dOptions {
  std::int64_t in_channels = 0;
  std::int64_t out_channels = 0;
  std::array<std::int64_t, 2> kernel_size{1, 1};
  std::array<std::int64_t, 2> stride{1, 1};
  std::array<std::int64_t, 2> padding{0, 0};
  std::array<std::int64_t, 2> dilation{1, 1};
  bool bias = true;
  DType dtype = kFloat32;
};

class Conv2d : public Module {
 public:
  explicit Conv2d(const Conv2dOptions& options);
  // Square kernel, stride, padding and dilation, as nn.Conv2d(in, out, k, stride, padding).
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size, std::int64_t stride = 1,
         std::int64_t padding = 0, std::int64_t dilation = 1, bool bias = true)
      : Conv2d(Conv2dOptions{in_channels, out_channels, {kernel_size, kernel_size}, {stride, stride},
                             {padding, padding}, {dilation, dilation}, bias}) {}

  // input [N, in_channels, H, W] -> [N, out_channels, H', W']
  Tensor forward(const Tensor& input) override;
  std::string name() const override { return "Conv2d"; }
  std::string extra_repr() const override;

  const Conv2dOptions& options() const { return options_; }
  Tensor weight;  // [out_channels, in_channels, kh, kw], Kaiming-uniform
  Tensor bias;    // [out_channels], uniform in +-1/sqrt(fan_in); undefined without bias

 private:
  Conv2dOptions options_;
};

}  // namespace tapegrad::nn
