// Adagrad's update, following torch/optim/adagrad.py (_single_tensor_adagrad).
#include <tapegrad/optim/adagrad.h>

#include <tapegrad/optim/update_ops.h>

namespace tapegrad::optim {

void AdagradOptions::validate() const {
  detail::check_non_negative("Adagrad", "learning rate", lr);
  detail::check_non_negative("Adagrad", "lr_decay value", lr_decay);
  detail::check_non_negative("Adagrad", "weight_decay value", weight_decay);
  detail::check_non_negative("Adagrad", "initial_accumulator_value value", initial_accumulator_value);
  detail::check_non_negative("Adagrad", "epsilon value", eps);
  detail::check_non_negative("Adagrad", "l1 value", l1);
}

void Adagrad::update(Tensor& param, const Tensor& grad, ParamState& state, const AdagradOptions& options) {
  const kernels::AdagradStep step{.lr = options.lr / (1 + static_cast<double>(state.step - 1) * options.lr_decay),
                                  .eps = options.eps, .weight_decay = options.weight_decay};
  const Tensor sum = state.buffer("sum", param, options.initial_accumulator_value);
  detail::fused_update(param, grad, step, {sum});
}

}  // namespace tapegrad::optim
