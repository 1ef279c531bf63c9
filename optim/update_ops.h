// In-place building blocks that optimizer updates share and the Tensor API lacks: each writes
// into an existing buffer, so an update allocates nothing once its state exists.
#pragma once

#include <tapegrad/autodiff/tensor.h>
#include <tapegrad/optim/optimizer.h>

namespace tapegrad::optim::detail {

// destination = sqrt(source); same shape, dtype and device.
void sqrt_into(const Tensor& source, const Tensor& destination);
// grad + weight_decay * param (PyTorch's coupled L2 penalty) in a scratch buffer of `state`,
// or grad itself when weight_decay is 0.
Tensor weight_decayed(const Tensor& grad, const Tensor& param, double weight_decay, ParamState& state);
// Throws "<optimizer>: invalid <what>: <value>" unless value >= 0, the check PyTorch makes for
// learning rates, epsilons, decays and momenta.
void check_non_negative(const char* optimizer, const char* what, double value);

}  // namespace tapegrad::optim::detail
