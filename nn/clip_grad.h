// Gradient clipping, PyTorch's torch.nn.utils.clip_grad_norm_ and clip_grad_value_: called
// between backward() and the optimizer's step, on the parameters' gradients in place.
#pragma once

#include <limits>
#include <vector>

#include <tapegrad/autodiff/tensor.h>

namespace tapegrad::nn::utils {

// Scales every gradient by max_norm / (total_norm + 1e-6) when that is below 1, total_norm
// being the norm of all gradients together as one vector (norm_type 2 by default, any p > 0, or
// infinity for the largest magnitude). Parameters without a gradient are skipped. Returns the
// total norm before clipping. With error_if_nonfinite, a NaN or infinite total norm throws
// instead of scaling the gradients by NaN.
double clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm, double norm_type = 2,
                       bool error_if_nonfinite = false);
// Clamps every gradient element into [-clip_value, clip_value].
void clip_grad_value_(const std::vector<Tensor>& parameters, double clip_value);

}  // namespace tapegrad::nn::utils
