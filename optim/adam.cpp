// Adam's and AdamW's updates, following torch/optim/adam.py and adamw.py (_single_tensor_*):
// the moments live in state buffers that one fused backend pass updates in place together
// with the parameter, so a step allocates nothing after the first.
#include <tapegrad/optim/adam.h>

#include <cmath>

#include <tapegrad/kernels/backend.h>
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

// 1 - beta^step for both betas. The parameters of a group are nearly always at the same step, so
// the last answer is kept: two calls of pow cost more than the whole update of a small parameter.
void set_bias_corrections(kernels::AdamStep& step, std::int64_t count) {
  struct Corrections {
    double beta1 = 0, beta2 = 0;
    std::int64_t count = 0;  // no step is 0: the first is 1
    double first = 0, second = 0;
  };
  thread_local Corrections last;
  if (count != last.count || step.beta1 != last.beta1 || step.beta2 != last.beta2)
    last = {.beta1 = step.beta1, .beta2 = step.beta2, .count = count,
            .first = 1 - std::pow(step.beta1, static_cast<double>(count)),
            .second = 1 - std::pow(step.beta2, static_cast<double>(count))};
  step.bias_correction1 = last.first;
  step.bias_correction2 = last.second;
}

void adam_step(Tensor& param, const Tensor& grad, ParamState& state, const kernels::AdamStep& scalars) {
  const Tensor exp_avg = state.buffer("exp_avg", param);  // handles: buffer() may grow the list
  const Tensor exp_avg_sq = state.buffer("exp_avg_sq", param);
  const Tensor max_exp_avg_sq = scalars.amsgrad ? state.buffer("max_exp_avg_sq", param) : Tensor();
  kernels::AdamStep step = scalars;
  set_bias_corrections(step, state.step);
  detail::fused_update(param, grad, step, {exp_avg, exp_avg_sq, max_exp_avg_sq});
}

template <class Options>
kernels::AdamStep adam_scalars(const Options& options, bool decoupled) {
  return {.lr = options.lr, .beta1 = options.betas[0], .beta2 = options.betas[1], .eps = options.eps,
          .weight_decay = options.weight_decay, .decoupled_weight_decay = decoupled, .amsgrad = options.amsgrad};
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
  adam_step(param, grad, state, adam_scalars(options, false));
}

void AdamW::update(Tensor& param, const Tensor& grad, ParamState& state, const AdamWOptions& options) {
  adam_step(param, grad, state, adam_scalars(options, true));
}

}  // namespace tapegrad::optim
