// SyncBatchNorm: the mean, then the variance about it, each summed over the ranks (two passes, so
// no E[x^2] - E[x]^2 cancellation), through a differentiable allreduce whose backward allreduces
// the gradient: d(sum over ranks)/d(rank's part) is the identity, and the gradient reaching the
// sum is the sum of every rank's contributions.
#include <tapegrad/nn/sync_batchnorm.h>

#include <fmt/format.h>

#include <tapegrad/autodiff/function.h>
#include <tapegrad/autodiff/grad_mode.h>
#include <tapegrad/autodiff/ops.h>
#include <tapegrad/nn/distributed.h>

namespace tapegrad::distributed {
namespace {

struct AllReduceSum : autograd::Function<AllReduceSum> {
  static Tensor forward(autograd::AutogradContext*, const Tensor& local) {
    Tensor total = local.contiguous().clone();
    world().all_reduce(total);
    return total;
  }
  static std::vector<Tensor> backward(autograd::AutogradContext*, std::vector<Tensor> grad_outputs) {
    Tensor total = grad_outputs[0].contiguous().clone();
    world().all_reduce(total);
    return {total};
  }
};

}  // namespace

Tensor SyncBatchNorm::forward(const Tensor& input) {
  const nn::BatchNormOptions& options = this->options();
  // Evaluation shares nothing, as in PyTorch: the running statistics, or without them the rank's
  // own batch.
  if (!is_training()) return nn::BatchNorm::forward(input);
  TAPEGRAD_CHECK(input.defined() && input.dim() >= 2 && input.dim() <= 4 && input.size(1) == options.num_features,
                 "SyncBatchNorm: expected an input of 2 to 4 dims with {} channels in dim 1, got {}",
                 options.num_features, input.defined() ? fmt::format("shape {}", input.shape()) : "an undefined tensor");
  Dims reduced;
  for (int d = 0; d < input.dim(); ++d)
    if (d != 1) reduced.push_back(d);
  const double count = world().all_gather(from_vector(std::vector<std::int64_t>{input.numel() / input.size(1)}))
                           .sum().item<double>();
  TAPEGRAD_CHECK(count > 1, "SyncBatchNorm: expected more than 1 value per channel over all ranks in training, got "
                 "input shape {} on this rank", input.shape());
  // [1, C, 1, ...]: broadcasts against the input.
  const Tensor mean = AllReduceSum::apply(input.sum(reduced, true)) / count;
  const Tensor centered = input - mean;
  const Tensor variance = AllReduceSum::apply((centered * centered).sum(reduced, true)) / count;
  Tensor output = centered / sqrt(variance + options.eps);
  if (options.affine) {
    Shape channel_shape = Shape::filled(input.dim(), 1);
    channel_shape[1] = options.num_features;
    output = output * weight.view(channel_shape) + bias.view(channel_shape);
  }
  if (options.track_running_stats) {
    NoGradGuard no_grad;
    const double momentum = options.momentum;
    // The running variance is the unbiased one, as in BatchNorm.
    running_mean.mul_(1 - momentum).add_(mean.reshape({options.num_features}) * momentum);
    running_var.mul_(1 - momentum).add_(variance.reshape({options.num_features}) * (momentum * count / (count - 1)));
    num_batches_tracked.add_(1);
  }
  return output;
}

}  // namespace tapegrad::distributed
