// Linear (fully connected) layer: y = x W^T + b, PyTorch's nn.Linear.
#pragma once

#include <cstdint>

#include <tapegrad/nn/module.h>

namespace tapegrad::nn {

struct LinearOptions {
  std::int64_t in_features = 0;
  std::int64_t out_features = 0;
  bool bias = true;
  DType dtype = kFloat32;
};

class Linear : public Module {
 public:
  explicit Linear(const LinearOptions& options);
  Linear(std::int64_t in_features, std::int64_t out_features, bool bias = true)
      : Linear(LinearOptions{in_features, out_features, bias}) {}

  // input [..., in_features] -> [..., out_features]
  Tensor forward(const Tensor& input) override;
  std::string name() const override { return "Linear"; }
  std::string extra_repr() const override;

  const LinearOptions& options() const { return options_; }
  Tensor weight;  // [out_features, in_features], Kaiming-uniform
  Tensor bias;    // [out_features], uniform in +-1/sqrt(in_features); undefined without bias

 private:
  LinearOptions options_;
};

}  // namespace tapegrad::nn
