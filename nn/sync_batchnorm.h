// SyncBatchNorm, as PyTorch's nn.SyncBatchNorm: batch normalization whose training statistics
// are those of the whole global batch, over every rank of distributed::world(), instead of each
// rank's share (DistributedDataParallel otherwise keeps BatchNorm local). Put it where a
// BatchNorm1d/2d would be; it takes [N, C], [N, C, L] and [N, C, H, W] inputs. In evaluation it
// uses its running statistics, which every rank updates alike.
#pragma once

#include <tapegrad/nn/batchnorm.h>

namespace tapegrad::distributed {

// A BatchNorm (same parameters and buffers under the same names, so state files interchange)
// whose training statistics come from every rank.
class SyncBatchNorm : public nn::BatchNorm {
 public:
  explicit SyncBatchNorm(const nn::BatchNormOptions& options) : nn::BatchNorm(options, 2, 4) {}
  explicit SyncBatchNorm(std::int64_t num_features) : SyncBatchNorm(nn::BatchNormOptions{num_features}) {}

  Tensor forward(const Tensor& input) override;
  std::string name() const override { return "SyncBatchNorm"; }
};

}  // namespace tapegrad::distributed
