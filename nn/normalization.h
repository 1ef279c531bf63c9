// Layer and group normalization, PyTorch's nn.LayerNorm and nn.GroupNorm: per-sample statistics,
// so training and evaluation behave alike and no running statistics are kept.
#pragma once

#include <cstdint>

#include <tapegrad/nn/module.h>

namespace tapegrad::nn {

struct LayerNormOptions {
  Shape normalized_shape;          // the input's last dims, normalized together
  double eps = 1e-5;
  bool elementwise_affine = true;  // learnable weight (ones) and bias (zeros) of normalized_shape
  DType dtype = kFloat32;
};

class LayerNorm : public Module {
 public:
  explicit LayerNorm(const LayerNormOptions& options);
  explicit LayerNorm(Shape normalized_shape) : LayerNorm(LayerNormOptions{std::move(normalized_shape)}) {}
  Tensor forward(const Tensor& input) override;
  std::string name() const override { return "LayerNorm"; }
  std::string extra_repr() const override;

  const LayerNormOptions& options() const { return options_; }
  Tensor weight, bias;  // normalized_shape, when elementwise_affine

 private:
  LayerNormOptions options_;
};

struct GroupNormOptions {
  std::int64_t num_groups = 0;
  std::int64_t num_channels = 0;
  double eps = 1e-5;
  bool affine = true;  // learnable weight (ones) and bias (zeros) per channel
  DType dtype = kFloat32;
};

// Input [N, C, ...]: each sample's channels in num_groups groups, each group normalized over
// its channels and positions.
class GroupNorm : public Module {
 public:
  explicit GroupNorm(const GroupNormOptions& options);
  GroupNorm(std::int64_t num_groups, std::int64_t num_channels)
      : GroupNorm(GroupNormOptions{num_groups, num_channels}) {}
  Tensor forward(const Tensor& input) override;
  std::string name() const override { return "GroupNorm"; }
  std::string extra_repr() const override;

  const GroupNormOptions& options() const { return options_; }
  Tensor weight, bias;  // [num_channels], when affine

 private:
  GroupNormOptions options_;
};

}  // namespace tapegrad::nn
