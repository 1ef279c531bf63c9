// float32 convolutions through oneDNN (the library PyTorch runs its CPU convolutions on), where
// they beat tapegrad's im2col + gemm kernels: layers with several input channels. oneDNN runs
// single-threaded inside tapegrad's own pool, one chunk of the batch per call, so its OpenMP
// runtime never starts threads of its own. Builds without oneDNN (TAPEGRAD_ONEDNN=OFF, or the
// library missing) compile this as a stub that handles nothing.
#pragma once

#include <cstdint>

#include <tapegrad/kernels/backend.h>

namespace tapegrad::kernels::cpu::onednn {

// Whether oneDNN takes this convolution: float32, contiguous operands, and enough input
// channels x taps that its blocked kernels win (a single-channel first layer stays on im2col).
bool handles(const Window2d& window, DType dtype, bool contiguous_operands);

// The three entries of the backend, on contiguous NCHW / OIHW float32 arrays; `bias` and
// `grad_bias` may be null.
void conv2d(const float* input, const float* weight, const float* bias, const Window2d& window,
            std::int64_t out_channels, float* out, ConvActivation activation);
void conv2d_input_grad(const float* grad_output, const float* weight, const Window2d& window,
                       std::int64_t out_channels, float* grad_input);
void conv2d_weight_grad(const float* input, const float* grad_output, const Window2d& window,
                        std::int64_t out_channels, float* grad_weight, float* grad_bias);

}  // namespace tapegrad::kernels::cpu::onednn
