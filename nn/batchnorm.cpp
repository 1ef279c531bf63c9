// BatchNorm: parameters and buffers as PyTorch registers them (so state files interchange),
// and the mode switch between batch and running statistics; the arithmetic is batch_norm().
#include <tapegrad/nn/batchnorm.h>

#include <tapegrad/autodiff/grad_mode.h>
#include <tapegrad/autodiff/ops.h>

namespace tapegrad::nn {

BatchNorm::BatchNorm(const BatchNormOptions& options, int min_rank, int max_rank)
    : options_(options), min_rank_(min_rank), max_rank_(max_rank) {
  TAPEGRAD_CHECK(options.num_features > 0, "BatchNorm: num_features must be positive, got {}", options.num_features);
  TAPEGRAD_CHECK(options.eps > 0, "BatchNorm: eps must be positive, got {}", options.eps);
  const Shape features{options.num_features};
  if (options.affine) {
    weight = register_parameter("weight", ones(features, options.dtype));
    bias = register_parameter("bias", zeros(features, options.dtype));
  }
  if (options.track_running_stats) {
    running_mean = register_buffer("running_mean", zeros(features, options.dtype));
    running_var = register_buffer("running_var", ones(features, options.dtype));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, kInt64));
  }
}

Tensor BatchNorm::forward(const Tensor& input) {
  TAPEGRAD_CHECK(input.defined() && input.dim() >= min_rank_ && input.dim() <= max_rank_ &&
                     input.size(1) == options_.num_features,
                 "{}: expected an input of {} dims with {} channels in dim 1, got {}", name(),
                 min_rank_ == max_rank_ ? fmt::format("{}", min_rank_) : fmt::format("{} or {}", min_rank_, max_rank_),
                 options_.num_features, input.defined() ? fmt::format("shape {}", input.shape()) : "an undefined tensor");
  // Without running statistics there is nothing to use in evaluation: batch statistics always.
  const bool use_batch_statistics = is_training() || !options_.track_running_stats;
  if (is_training() && options_.track_running_stats) {
    NoGradGuard no_grad;
    num_batches_tracked.add_(1);
  }
  return batch_norm(input, running_mean, running_var, weight, bias, use_batch_statistics, options_.momentum,
                    options_.eps);
}

std::string BatchNorm::extra_repr() const {
  return fmt::format("{}, eps={}, momentum={}, affine={}, track_running_stats={}", options_.num_features, options_.eps,
                     options_.momentum, options_.affine ? "True" : "False",
                     options_.track_running_stats ? "True" : "False");
}

}  // namespace tapegrad::nn
