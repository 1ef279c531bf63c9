// Convolutions over NCHW images and NCL sequences, PyTorch's nn.Conv2d, nn.Conv1d and
// nn.ConvTranspose2d (with groups), with PyTorch's default initialization.
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
  std::int64_t groups = 1;  // both channel counts must be multiples; groups == in_channels is depthwise
};

class Conv2d : public Module {
 public:
  explicit Conv2d(const Conv2dOptions& options);
  // Square kernel, stride, padding and dilation, as nn.Conv2d(in, out, k, stride, padding, dilation).
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size, std::int64_t stride = 1,
         std::int64_t padding = 0, std::int64_t dilation = 1, bool bias = true)
      : Conv2d(Conv2dOptions{in_channels, out_channels, {kernel_size, kernel_size}, {stride, stride},
                             {padding, padding}, {dilation, dilation}, bias}) {}

  // input [N, in_channels, H, W] -> [N, out_channels, H', W']
  Tensor forward(const Tensor& input) override;
  // relu(forward(input)), with the ReLU applied while the convolution writes its output.
  Tensor forward_relu(const Tensor& input);
  std::string name() const override { return "Conv2d"; }
  std::string extra_repr() const override;

  const Conv2dOptions& options() const { return options_; }
  Tensor weight;  // [out_channels, in_channels / groups, kh, kw], Kaiming-uniform
  Tensor bias;    // [out_channels], uniform in +-1/sqrt(fan_in); undefined without bias

 private:
  Conv2dParams params() const;
  Conv2dOptions options_;
};

struct Conv1dOptions {
  std::int64_t in_channels = 0;
  std::int64_t out_channels = 0;
  std::int64_t kernel_size = 1;
  std::int64_t stride = 1;
  std::int64_t padding = 0;
  std::int64_t dilation = 1;
  std::int64_t groups = 1;
  bool bias = true;
  DType dtype = kFloat32;
};

class Conv1d : public Module {
 public:
  explicit Conv1d(const Conv1dOptions& options);
  Conv1d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size, std::int64_t stride = 1,
         std::int64_t padding = 0, std::int64_t dilation = 1, std::int64_t groups = 1, bool bias = true)
      : Conv1d(Conv1dOptions{in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias}) {}

  // input [N, in_channels, L] (or [in_channels, L]) -> [N, out_channels, L']
  Tensor forward(const Tensor& input) override;
  std::string name() const override { return "Conv1d"; }
  std::string extra_repr() const override;

  const Conv1dOptions& options() const { return options_; }
  Tensor weight;  // [out_channels, in_channels / groups, kernel_size], Kaiming-uniform
  Tensor bias;    // [out_channels], uniform in +-1/sqrt(fan_in); undefined without bias

 private:
  Conv1dOptions options_;
};

struct ConvTranspose2dOptions {
  std::int64_t in_channels = 0;
  std::int64_t out_channels = 0;
  std::array<std::int64_t, 2> kernel_size{1, 1};
  std::array<std::int64_t, 2> stride{1, 1};
  std::array<std::int64_t, 2> padding{0, 0};
  std::array<std::int64_t, 2> output_padding{0, 0};
  std::int64_t groups = 1;
  bool bias = true;
  std::array<std::int64_t, 2> dilation{1, 1};
  DType dtype = kFloat32;
};

// The transpose (adjoint) of Conv2d: upsamples by the stride, as nn.ConvTranspose2d.
class ConvTranspose2d : public Module {
 public:
  explicit ConvTranspose2d(const ConvTranspose2dOptions& options);
  ConvTranspose2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size,
                  std::int64_t stride = 1, std::int64_t padding = 0, std::int64_t output_padding = 0,
                  std::int64_t groups = 1, bool bias = true, std::int64_t dilation = 1)
      : ConvTranspose2d(ConvTranspose2dOptions{in_channels, out_channels, {kernel_size, kernel_size},
                                               {stride, stride}, {padding, padding},
                                               {output_padding, output_padding}, groups, bias,
                                               {dilation, dilation}}) {}

  // input [N, in_channels, H, W] -> [N, out_channels, (H - 1) stride - 2 padding + dilation (k - 1) + output_padding + 1, ...]
  Tensor forward(const Tensor& input) override;
  std::string name() const override { return "ConvTranspose2d"; }
  std::string extra_repr() const override;

  const ConvTranspose2dOptions& options() const { return options_; }
  Tensor weight;  // [in_channels, out_channels / groups, kh, kw], Kaiming-uniform
  Tensor bias;    // [out_channels], uniform in +-1/sqrt(fan_in); undefined without bias

 private:
  ConvTranspose2dOptions options_;
};

}  // namespace tapegrad::nn
