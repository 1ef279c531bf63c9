// In-place building blocks that optimizer updates share and the Tensor API lacks: each writes
// into an existing buffer, so an update allocates nothing once its state exists.
#pragma once

#include <functional>
#include <initializer_list>

#include <tapegrad/autodiff/tensor.h>
#include <tapegrad/kernels/backend.h>
#include <tapegrad/optim/optimizer.h>

namespace tapegrad::optim::detail {

// Throws "<optimizer>: invalid <what>: <value>" unless value >= 0, the check PyTorch makes for
// learning rates, epsilons, decays and momenta.
void check_non_negative(const char* optimizer, const char* what, double value);

// A state buffer that no longer matches its parameter (the model moved to another device or
// dtype after the optimizer's first step) is an error: the kernel would read it as the
// parameter's memory.
void check_state_matches(const Tensor& param, const Tensor& buffer);

// One fused backend pass (Backend::optimizer_step) over a parameter, its gradient and its state
// buffers, listed in the order the step's rule names them (undefined where the step does not
// use one). The buffers are contiguous by construction; a strided parameter or gradient (rare)
// goes through a contiguous copy. Everything is written behind the tensors' backs, so the
// versions are bumped for a graph that saved them to notice. The buffers are passed by reference:
// copies of their handles would cost a small parameter's step more than its arithmetic.
void fused_update(Tensor& param, const Tensor& grad, const kernels::OptimizerStep& step,
                  std::initializer_list<std::reference_wrapper<const Tensor>> buffers);

}  // namespace tapegrad::optim::detail
