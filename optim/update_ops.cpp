// The in-place update building blocks shared by the optimizers.
#include <tapegrad/optim/update_ops.h>

#include <tapegrad/kernels/error.h>

namespace tapegrad::optim::detail {

void soft_threshold(Tensor& param, double threshold, ParamState& state) {
  Tensor inside = state.scratch_buffer("l1", param);
  inside.copy_(param).clamp_(-threshold, threshold);
  param.sub_(inside);
}

void check_non_negative(const char* optimizer, const char* what, double value) {
  TAPEGRAD_CHECK(value >= 0, "{}: invalid {}: {} (must be >= 0)", optimizer, what, value);
}

}  // namespace tapegrad::optim::detail
