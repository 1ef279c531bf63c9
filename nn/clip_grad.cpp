#include <tapegrad/nn/clip_grad.h>

#include <cmath>

#include <tapegrad/autodiff/grad_mode.h>
#include <tapegrad/autodiff/ops.h>

namespace tapegrad::nn::utils {
namespace {

std::vector<Tensor> gradients_of(const std::vector<Tensor>& parameters) {
  std::vector<Tensor> gradients;
  for (const Tensor& parameter : parameters) {
    TAPEGRAD_CHECK(parameter.defined(), "clip_grad: a parameter is an undefined tensor");
    if (parameter.grad().defined()) gradients.push_back(parameter.grad());
  }
  return gradients;
}

// The p-norm of one gradient, in float64 so that sums over millions of elements stay exact enough.
double norm_of(const Tensor& gradient, double norm_type) {
  const Tensor magnitudes = abs(gradient.to(kFloat64));
  if (magnitudes.numel() == 0) return 0;
  if (std::isinf(norm_type)) return max(magnitudes).item();
  return std::pow(sum(pow(magnitudes, norm_type)).item(), 1 / norm_type);
}

}  // namespace

double clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm, double norm_type,
                       bool error_if_nonfinite) {
  TAPEGRAD_CHECK(norm_type > 0, "clip_grad_norm_: norm_type must be positive (or infinity), got {}", norm_type);
  NoGradGuard no_grad;
  const std::vector<Tensor> gradients = gradients_of(parameters);
  // The norm of the per-gradient norms is the norm of all gradients concatenated.
  double total = 0;
  for (const Tensor& gradient : gradients) {
    const double norm = norm_of(gradient, norm_type);
    total = std::isinf(norm_type) ? std::max(total, norm) : total + std::pow(norm, norm_type);
  }
  if (!std::isinf(norm_type)) total = std::pow(total, 1 / norm_type);
  TAPEGRAD_CHECK(!error_if_nonfinite || std::isfinite(total),
                 "clip_grad_norm_: the total norm of order {} of the gradients is {}; they cannot be clipped. Pass "
                 "error_if_nonfinite = false to scale them anyway", norm_type, total);
  const double coefficient = max_norm / (total + 1e-6);
  if (coefficient < 1)
    for (Tensor gradient : gradients) gradient.mul_(coefficient);
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& parameters, double clip_value) {
  TAPEGRAD_CHECK(clip_value >= 0, "clip_grad_value_: clip_value must be non-negative, got {}", clip_value);
  NoGradGuard no_grad;
  for (Tensor gradient : gradients_of(parameters)) gradient.copy_(clamp(gradient, -clip_value, clip_value));
}

}  // namespace tapegrad::nn::utils
