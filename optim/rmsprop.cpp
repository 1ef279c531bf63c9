// RMSprop's update, following torch/optim/rmsprop.py (_single_tensor_rmsprop).
#include <tapegrad/optim/rmsprop.h>

#include <tapegrad/optim/update_ops.h>

namespace tapegrad::optim {

void RMSpropOptions::validate() const {
  detail::check_non_negative("RMSprop", "learning rate", lr);
  detail::check_non_negative("RMSprop", "epsilon value", eps);
  detail::check_non_negative("RMSprop", "momentum value", momentum);
  detail::check_non_negative("RMSprop", "weight_decay value", weight_decay);
  detail::check_non_negative("RMSprop", "alpha value", alpha);
  detail::check_non_negative("RMSprop", "l1 value", l1);
}

void RMSprop::update(Tensor& param, const Tensor& grad, ParamState& state, const RMSpropOptions& options) {
  const Tensor g = detail::weight_decayed(grad, param, options.weight_decay, state);
  Tensor square_avg = state.buffer("square_avg", param);
  square_avg.mul_(options.alpha).addcmul_(g, g, 1 - options.alpha);
  Tensor avg = state.scratch_buffer("avg", param);
  if (options.centered) {
    Tensor grad_avg = state.buffer("grad_avg", param);
    grad_avg.mul_(options.alpha).add_(g, 1 - options.alpha);
    avg.copy_(square_avg).addcmul_(grad_avg, grad_avg, -1);
    detail::sqrt_into(avg, avg);
  } else {
    detail::sqrt_into(square_avg, avg);
  }
  avg.add_(options.eps);
  if (options.momentum > 0) {
    Tensor buffer = state.buffer("momentum_buffer", param);
    buffer.mul_(options.momentum).addcdiv_(g, avg);
    param.add_(buffer, -options.lr);
  } else {
    param.addcdiv_(g, avg, -options.lr);
  }
}

}  // namespace tapegrad::optim
