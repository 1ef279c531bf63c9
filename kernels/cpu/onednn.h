// What the CPU backend hands to oneDNN (the library PyTorch runs its CPU convolutions on), where
// its kernels beat tapegrad's own: float32 convolutions with several input channels, and large
// float32 matrix products. oneDNN runs single-threaded inside tapegrad's own pool, one chunk of
// the batch or one part of a product per call, so its OpenMP runtime never starts threads of its
// own. Builds without oneDNN (TAPEGRAD_ONEDNN=OFF, or the library missing) compile this as a
// stub that handles nothing.
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

// Whether oneDNN takes a float32 product of m x n x k multiply-adds: large ones, where its
// sgemm beats OpenBLAS's.
bool handles_sgemm(std::int64_t m, std::int64_t n, std::int64_t k);

// How a product runs. One cut into parts fixed by its sizes alone, or not cut (`Whole`), runs each
// part as a matmul primitive made for its shape, which takes 0.5-1 ms on first use. One large
// enough to be cut into a part per thread (`MaybeSplit`) runs on oneDNN's sgemm, whose parts gave
// the whole product's bits in the layouts the tests check, so that results do not depend on the
// thread count, which primitives made for each part's shape do not promise. Neither is certain:
// oneDNN picks its kernels by shape (A B^T with 784 terms: the rows of some results differ from
// the whole's in the last bit), which is why middle-size products have fixed parts. sgemm compiles
// its kernels for B not transposed or A transposed in 26-33 ms on first use.
enum class ProductRun { Whole, MaybeSplit };

// C = alpha * op(A) * op(B) + beta * C on row-major arrays, as cblas_sgemm with CblasRowMajor.
void sgemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha, const float* a,
           std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc,
           ProductRun run);

}  // namespace tapegrad::kernels::cpu::onednn
