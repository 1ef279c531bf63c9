// SyncBatchNorm, as PyTorch's nn.SyncBatchNorm: batch normalization whose training statistics
// are those of the whole global batch, over every rank of distributed::world(), instead of each
// rank's share (DistributedDataParallel otherwise keeps BatchNorm local). Put it where a
// BatchNorm1d/2d would be; it takes [N, C], [N, C, L] and [N, C, H, W] inputs. In evaluation it
// uses its running statistics, which every rank updates alike.
#pragma once

#include <tapegrad/nn/batchnorm.h>
#include <tapegrad/nn/module.h>

namespace tapegrad::distributed {

class SyncBatchNorm : public nn::Module {
 public:
  explicit SyncBatchNorm(const nn::BatchNormOptions& options);
  explicit SyncBatchNorm(std::int64_t num_features) : SyncBatchNorm(nn::BatchNormOptions{num_features}) {}

  Tensor forward(const Tensor& input) override;
  std::string name() const override { return "SyncBatchNorm"; }
  std::string extra_repr() const override;

  const nn::BatchNormOptions& options() const { return options_; }
  // As BatchNorm's, under the same names, so state files interchange.
  Tensor weight, bias;
  Tensor running_mean, running_var, num_batches_tracked;

 private:
  nn::BatchNormOptions options_;
};

}  // namespace tapegrad::distributed
