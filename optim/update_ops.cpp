// The in-place update building blocks shared by the optimizers.
#include <tapegrad/optim/update_ops.h>

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

void check_non_negative(const char* optimizer, const char* what, double value) {
  TAPEGRAD_CHECK(value >= 0, "{}: invalid {}: {} (must be >= 0)", optimizer, what, value);
}

}  // namespace tapegrad::optim::detail
