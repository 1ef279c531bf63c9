// In-place building blocks that optimizer updates share and the Tensor API lacks: each writes
// into an existing buffer, so an update allocates nothing once its state exists.
#pragma once

#include <initializer_list>

#include <tapegrad/autodiff/tensor.h>
#include <tapegrad/kernels/backend.h>
#include <tapegrad/optim/optimizer.h>

namespace tapegrad::optim::detail {

// Throws "<optimizer>: invalid <what>: <value>" unless value >= 0, the check PyTorch makes for
// learning rates, epsilons, decays and momenta.
void check_non_negative(const char* optimizer, const char* what, double value);

// One fused backend pass over a parameter, its gradient and its state buffers:
// call(backend, param_desc, grad_desc). The buffers are contiguous by construction; a strided
// parameter or gradient (rare) goes through a contiguous copy. Everything is written behind the
// tensors' backs, so the versions are bumped for a graph that saved them to notice.
// A state buffer that no longer matches its parameter (the model moved to another device or
// dtype after the optimizer's first step) is an error: the kernel would read it as the
// parameter's memory.
void check_state_matches(const Tensor& param, const Tensor& buffer);

template <class Call>
void fused_update(Tensor& param, const Tensor& grad, std::initializer_list<Tensor> buffers, Call&& call) {
  for (const Tensor& buffer : buffers)
    if (buffer.defined()) check_state_matches(param, buffer);
  const Tensor target = param.is_contiguous() ? param : param.contiguous();
  const Tensor g = grad.is_contiguous() ? grad : grad.contiguous();
  call(kernels::backend_for(param.device()), target.desc(), g.desc());
  target.impl().storage->bump_version();
  for (const Tensor& written : buffers)
    if (written.defined()) written.impl().storage->bump_version();
  if (!target.is_same(param)) param.copy_(target);
}

// The description of an optional buffer: empty when the update does not use it.
inline kernels::TensorDesc desc_or_empty(const Tensor& t) { return t.defined() ? t.desc() : kernels::TensorDesc{}; }

}  // namespace tapegrad::optim::detail
