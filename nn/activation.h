// Parameter-free layers: Identity, activations, LogSoftmax, Flatten and Dropout, each a thin
// module over the function of autodiff/ops with the same name (pooling is nn/pooling.h).
#pragma once

#include <cstdint>

#include <tapegrad/autodiff/generator.h>
#include <tapegrad/autodiff/ops.h>
#include <tapegrad/nn/module.h>

namespace tapegrad::nn {

// Passes its input through: a placeholder where an architecture has an optional layer.
class Identity : public Module {
 public:
  Tensor forward(const Tensor& input) override { return input; }
  std::string name() const override { return "Identity"; }
};

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& input) override { return relu(input); }
  std::string name() const override { return "ReLU"; }
};

class Sigmoid : public Module {
 public:
  Tensor forward(const Tensor& input) override { return sigmoid(input); }
  std::string name() const override { return "Sigmoid"; }
};

class Tanh : public Module {
 public:
  Tensor forward(const Tensor& input) override { return tanh(input); }
  std::string name() const override { return "Tanh"; }
};

class GELU : public Module {
 public:
  explicit GELU(GeluApproximation approximate = GeluApproximation::None) : approximate_(approximate) {}
  Tensor forward(const Tensor& input) override { return gelu(input, approximate_); }
  std::string name() const override { return "GELU"; }
  std::string extra_repr() const override {
    return approximate_ == GeluApproximation::Tanh ? "approximate='tanh'" : "approximate='none'";
  }

 private:
  GeluApproximation approximate_;
};

class SiLU : public Module {
 public:
  Tensor forward(const Tensor& input) override { return silu(input); }
  std::string name() const override { return "SiLU"; }
};

class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : negative_slope_(negative_slope) {}
  Tensor forward(const Tensor& input) override { return leaky_relu(input, negative_slope_); }
  std::string name() const override { return "LeakyReLU"; }
  std::string extra_repr() const override { return fmt::format("negative_slope={}", negative_slope_); }

 private:
  double negative_slope_;
};

class Softplus : public Module {
 public:
  explicit Softplus(double beta = 1, double threshold = 20) : beta_(beta), threshold_(threshold) {}
  Tensor forward(const Tensor& input) override { return softplus(input, beta_, threshold_); }
  std::string name() const override { return "Softplus"; }
  std::string extra_repr() const override { return fmt::format("beta={}, threshold={}", beta_, threshold_); }

 private:
  double beta_, threshold_;
};

class LogSoftmax : public Module {
 public:
  explicit LogSoftmax(std::int64_t dim) : dim_(dim) {}
  Tensor forward(const Tensor& input) override { return log_softmax(input, dim_); }
  std::string name() const override { return "LogSoftmax"; }
  std::string extra_repr() const override { return fmt::format("dim={}", dim_); }

 private:
  std::int64_t dim_;
};

// Flattens dims start_dim..end_dim; the default keeps the batch dim, as nn.Flatten.
class Flatten : public Module {
 public:
  explicit Flatten(std::int64_t start_dim = 1, std::int64_t end_dim = -1) : start_dim_(start_dim), end_dim_(end_dim) {}
  Tensor forward(const Tensor& input) override { return flatten(input, start_dim_, end_dim_); }
  std::string name() const override { return "Flatten"; }
  std::string extra_repr() const override { return fmt::format("start_dim={}, end_dim={}", start_dim_, end_dim_); }

 private:
  std::int64_t start_dim_, end_dim_;
};

// Zeroes elements with probability p in training (scaling the rest by 1/(1-p)); identity in
// evaluation. Draws from `generator` when given, else from the global generator (manual_seed).
class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5, Generator* generator = nullptr);
  Tensor forward(const Tensor& input) override;
  std::string name() const override { return "Dropout"; }
  std::string extra_repr() const override { return fmt::format("p={}", p_); }

 private:
  double p_;
  Generator* generator_;
};

}  // namespace tapegrad::nn
