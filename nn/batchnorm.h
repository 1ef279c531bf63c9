// Batch normalization, PyTorch's nn.BatchNorm1d ([N, C] or [N, C, L]) and nn.BatchNorm2d
// ([N, C, H, W]): batch statistics and running-statistic updates in training, the running
// statistics in evaluation.
#pragma once

#include <cstdint>

#include <tapegrad/nn/module.h>

namespace tapegrad::nn {

struct BatchNormOptions {
  std::int64_t num_features = 0;
  double eps = 1e-5;
  double momentum = 0.1;
  bool affine = true;               // learnable weight (ones) and bias (zeros)
  bool track_running_stats = true;  // running_mean (zeros), running_var (ones), num_batches_tracked
  DType dtype = kFloat32;
};

class BatchNorm : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;

  const BatchNormOptions& options() const { return options_; }
  Tensor weight, bias;                                    // [C] when affine
  Tensor running_mean, running_var, num_batches_tracked;  // when tracking running statistics

 protected:
  // `ranks`: the input dims this flavour accepts (2 or 3 for 1d, 4 for 2d).
  BatchNorm(const BatchNormOptions& options, int min_rank, int max_rank);

 private:
  BatchNormOptions options_;
  int min_rank_, max_rank_;
};

class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(const BatchNormOptions& options) : BatchNorm(options, 2, 3) {}
  explicit BatchNorm1d(std::int64_t num_features) : BatchNorm1d(BatchNormOptions{num_features}) {}
  std::string name() const override { return "BatchNorm1d"; }
};

class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(const BatchNormOptions& options) : BatchNorm(options, 4, 4) {}
  explicit BatchNorm2d(std::int64_t num_features) : BatchNorm2d(BatchNormOptions{num_features}) {}
  std::string name() const override { return "BatchNorm2d"; }
};

}  // namespace tapegrad::nn
