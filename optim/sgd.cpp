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
  const Tensor g = detail::weight_decayed(grad, param, options.weight_decay, state);
  if (options.momentum == 0) {
    param.add_(g, -options.lr);
    return;
  }
  Tensor buffer = state.find("momentum_buffer");
  if (buffer.defined()) {
    buffer.mul_(options.momentum).add_(g, 1 - options.dampening);
  } else {
    buffer = state.buffer("momentum_buffer", param);
    buffer.copy_(g);
  }
  if (options.nesterov) {
    // p -= lr * (g + momentum * buf), without a temporary for the sum.
    param.add_(g, -options.lr).add_(buffer, -options.lr * options.momentum);
  } else {
    param.add_(buffer, -options.lr);
  }
}

}  // namespace tapegrad::optim
