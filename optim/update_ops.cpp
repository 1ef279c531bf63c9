// The in-place update building blocks shared by the optimizers.
#include <tapegrad/optim/update_ops.h>

#include <array>
#include <span>

#include <tapegrad/kernels/error.h>

namespace tapegrad::optim::detail {

void soft_threshold(Tensor& param, double threshold, ParamState& state) {
  Tensor inside = state.scratch_buffer("l1", param);
  inside.copy_(param).clamp_(-threshold, threshold);
  param.sub_(inside);
}

void check_state_matches(const Tensor& param, const Tensor& buffer) {
  TAPEGRAD_CHECK(buffer.device() == param.device() && buffer.dtype() == param.dtype() && buffer.shape() == param.shape(),
                 "optimizer step: a parameter is {} {} on {}, but its optimizer state is {} {} on {}; the model was "
                 "moved or converted after the optimizer's first step. Create the optimizer after moving the model, "
                 "or save the optimizer's state and load it again (loading follows the parameters)",
                 param.dtype(), param.shape(), param.device(), buffer.dtype(), buffer.shape(), buffer.device());
}

void fused_update(Tensor& param, const Tensor& grad, const kernels::OptimizerStep& step,
                  std::initializer_list<std::reference_wrapper<const Tensor>> buffers) {
  TAPEGRAD_CHECK(buffers.size() <= kernels::kMaxOptimizerState, "optimizer step: {} state buffers, at most {} are supported",
                 buffers.size(), kernels::kMaxOptimizerState);
  std::array<kernels::TensorDesc, kernels::kMaxOptimizerState> state{};  // no allocation per step
  std::size_t count = 0;
  for (const Tensor& buffer : buffers) {  // each reference_wrapper converts
    if (buffer.defined()) check_state_matches(param, buffer);
    state[count++] = buffer.defined() ? buffer.desc() : kernels::TensorDesc{};
  }
  Tensor param_copy, grad_copy;  // contiguous copies of strided operands, the rare case
  const Tensor& target = param.is_contiguous() ? param : (param_copy = param.contiguous());
  const Tensor& g = grad.is_contiguous() ? grad : (grad_copy = grad.contiguous());
  kernels::backend_for(param.device()).optimizer_step(step, target.desc(), g.desc(), std::span(state.data(), count));
  target.impl().storage->bump_version();
  for (const Tensor& written : buffers)
    if (written.defined()) written.impl().storage->bump_version();
  if (!target.is_same(param)) param.copy_(target);
}

void check_non_negative(const char* optimizer, const char* what, double value) {
  TAPEGRAD_CHECK(value >= 0, "{}: invalid {}: {} (must be >= 0)", optimizer, what, value);
}

}  // namespace tapegrad::optim::detail
