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
  const kernels::RmspropStep step{.lr = options.lr, .alpha = options.alpha, .eps = options.eps,
                                  .weight_decay = options.weight_decay, .momentum = options.momentum,
                                  .centered = options.centered};
  const Tensor square_avg = state.buffer("square_avg", param);  // handles: buffer() may grow the list
  const Tensor grad_avg = options.centered ? state.buffer("grad_avg", param) : Tensor();
  const Tensor buffer = options.momentum > 0 ? state.buffer("momentum_buffer", param) : Tensor();
  detail::fused_update(param, grad, step, {square_avg, grad_avg, buffer});
}

}  // namespace tapegrad::optim
