// What both backends' optimizer_step start with: the checks of its arguments and the state
// buffers as typed pointers for the rule (kernels/optim_updates.h).
#pragma once

#include <span>

#include <tapegrad/kernels/backend.h>
#include <tapegrad/kernels/error.h>
#include <tapegrad/kernels/optim_updates.h>

namespace tapegrad::kernels {

inline void check_optimizer_step(const TensorDesc& param, std::span<const TensorDesc> state) {
  TAPEGRAD_CHECK(is_floating(param.dtype), "optimizer step: expected float32 or float64 parameters, got {}",
                 param.dtype);
  TAPEGRAD_CHECK(state.size() <= kMaxOptimizerState, "optimizer step: {} state buffers, at most {} are supported",
                 state.size(), kMaxOptimizerState);
}

template <class T>
StateBuffers<T> state_buffers(std::span<const TensorDesc> state) {
  StateBuffers<T> buffers;
  for (std::size_t i = 0; i < state.size(); ++i) buffers.buffer[i] = state[i].ptr<T>();
  return buffers;
}

}  // namespace tapegrad::kernels
