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

// sum(|g|^p) of one gradient (max |g| for p = infinity), in float64 so that sums over millions of
// elements stay exact enough; a 0-dim tensor on the gradient's device, so nothing waits for it.
Tensor norm_term(const Tensor& gradient, double norm_type) {
  const Tensor magnitudes = abs(gradient.to(kFloat64));
  if (magnitudes.numel() == 0) return zeros({}, TensorOptions(kFloat64).with_device(gradient.device()));
  return std::isinf(norm_type) ? max(magnitudes) : sum(pow(magnitudes, norm_type));
}

}  // namespace

double clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm, double norm_type,
                       bool error_if_nonfinite) {
  TAPEGRAD_CHECK(norm_type > 0, "clip_grad_norm_: norm_type must be positive (or infinity), got {}", norm_type);
  NoGradGuard no_grad;
  const std::vector<Tensor> gradients = gradients_of(parameters);
  // The terms of all gradients combined on the device, read back once: the norm of the
  // concatenated gradients.
  double total = 0;
  if (!gradients.empty()) {
    Tensor combined = norm_term(gradients.front(), norm_type);
    for (std::size_t i = 1; i < gradients.size(); ++i) {
      const Tensor term = norm_term(gradients[i], norm_type).to(combined.device());
      combined = std::isinf(norm_type) ? maximum(combined, term) : add(combined, term);
    }
    total = std::isinf(norm_type) ? combined.item() : std::pow(combined.item(), 1 / norm_type);
  }
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
