// SGD's update, following torch/optim/sgd.py (_single_tensor_sgd) step for step.
#include <tapegrad/optim/sgd.h>

#include <cmath>

#include <tapegrad/optim/update_ops.h>

namespace tapegrad::optim {

void SGDOptions::validate() const {
  TAPEGRAD_CHECK(!std::isnan(lr), "SGD: a learning rate is required (options.lr)");
  detail::check_non_negative("SGD", "learning rate", lr);
  detail::check_non_negative("SGD", "momentum value", momentum);
  detail::check_non_negative("SGD", "weight_decay value", weight_decay);
  detail::check_non_negative("SGD", "l1 value", l1);
  TAPEGRAD_CHECK(!nesterov || (momentum > 0 && dampening == 0),
                 "SGD: Nesterov momentum requires a momentum and zero dampening (momentum {}, dampening {})", momentum,
                 dampening);
}

void SGD::update(Tensor& param, const Tensor& grad, ParamState& state, const SGDOptions& options) {
  kernels::SgdStep step{.lr = options.lr, .momentum = options.momentum, .dampening = options.dampening,
                        .weight_decay = options.weight_decay, .nesterov = options.nesterov};
  Tensor buffer;
  if (options.momentum != 0) {
    buffer = state.find("momentum_buffer");
    step.first_step = !buffer.defined();  // the buffer starts as the first (decayed) gradient
    if (step.first_step) buffer = state.buffer("momentum_buffer", param);
  }
  detail::fused_update(param, grad, step, {buffer});
}

}  // namespace tapegrad::optim
