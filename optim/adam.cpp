// Adam's and AdamW's updates, following torch/optim/adam.py and adamw.py (_single_tensor_*):
// moments and the denominator live in state buffers updated in place, so a step allocates
// nothing after the first.
#include <tapegrad/optim/adam.h>

#include <cmath>

#include <tapegrad/optim/update_ops.h>

namespace tapegrad::optim {
namespace {

template <class Options>
void validate_adam(const char* optimizer, const Options& options) {
  detail::check_non_negative(optimizer, "learning rate", options.lr);
  detail::check_non_negative(optimizer, "epsilon value", options.eps);
  for (int i = 0; i < 2; ++i)
    TAPEGRAD_CHECK(options.betas[i] >= 0 && options.betas[i] < 1,
                   "{}: invalid beta parameter at index {}: {} (must be in [0, 1))", optimizer, i, options.betas[i]);
  detail::check_non_negative(optimizer, "weight_decay value", options.weight_decay);
  detail::check_non_negative(optimizer, "l1 value", options.l1);
}

// The shared moment update and parameter step; `grad` already carries any L2 term.
void adam_step(Tensor& param, const Tensor& grad, ParamState& state, double lr, const std::array<double, 2>& betas,
               double eps, bool amsgrad) {
  const auto [beta1, beta2] = betas;
  Tensor exp_avg = state.buffer("exp_avg", param);
  Tensor exp_avg_sq = state.buffer("exp_avg_sq", param);
  exp_avg.mul_(beta1).add_(grad, 1 - beta1);
  exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2);
  const double step = static_cast<double>(state.step);
  const double bias_correction1 = 1 - std::pow(beta1, step);
  const double bias_correction2 = 1 - std::pow(beta2, step);
  const double step_size = lr / bias_correction1;
  const double bias_correction2_sqrt = std::sqrt(bias_correction2);
  Tensor second_moment = amsgrad ? state.buffer("max_exp_avg_sq", param) : exp_avg_sq;
  if (amsgrad) detail::maximum_into(second_moment, exp_avg_sq);
  Tensor denom = state.scratch_buffer("denom", param);
  detail::sqrt_into(second_moment, denom);
  denom.div_(bias_correction2_sqrt).add_(eps);
  param.addcdiv_(exp_avg, denom, -step_size);
}

}  // namespace

template <>
void AdamOptions::validate() const {
  validate_adam("Adam", *this);
}
template <>
void AdamWOptions::validate() const {
  validate_adam("AdamW", *this);
}

void Adam::update(Tensor& param, const Tensor& grad, ParamState& state, const AdamOptions& options) {
  const Tensor g = detail::weight_decayed(grad, param, options.weight_decay, state);
  adam_step(param, g, state, options.lr, options.betas, options.eps, options.amsgrad);
}

void AdamW::update(Tensor& param, const Tensor& grad, ParamState& state, const AdamWOptions& options) {
  if (options.weight_decay != 0) param.mul_(1 - options.lr * options.weight_decay);
  adam_step(param, grad, state, options.lr, options.betas, options.eps, options.amsgrad);
}

}  // namespace tapegrad::optim
