// The in-place update building blocks shared by the optimizers. sqrt and maximum call the backend
// directly: the Tensor API has no in-place form of them, and an update must not allocate.
#include <tapegrad/optim/update_ops.h>

#include <tapegrad/kernels/error.h>

namespace tapegrad::optim::detail {

void soft_threshold(Tensor& param, double threshold, ParamState& state) {
  Tensor inside = state.scratch_buffer("l1", param);
  inside.copy_(param).clamp_(-threshold, threshold);
  param.sub_(inside);
}

void sqrt_into(const Tensor& source, const Tensor& destination) {
  kernels::backend_for(destination.device()).unary(kernels::UnaryOp::Sqrt, source.desc(), destination.desc(), 0, 0);
  destination.impl().storage->bump_version();
}

Tensor weight_decayed(const Tensor& grad, const Tensor& param, double weight_decay, ParamState& state) {
  if (weight_decay == 0) return grad;
  Tensor decayed = state.scratch_buffer("weight_decayed", param);
  decayed.copy_(grad).add_(param, weight_decay);
  return decayed;
}

void check_non_negative(const char* optimizer, const char* what, double value) {
  TAPEGRAD_CHECK(value >= 0, "{}: invalid {}: {} (must be >= 0)", optimizer, what, value);
}

}  // namespace tapegrad::optim::detail
