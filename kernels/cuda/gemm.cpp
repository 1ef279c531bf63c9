// CUDA matrix products through cuBLAS, column-major, in the terms to_column_major translates
// tapegrad's row-major problems into (launch_plans.h).
#include <climits>

#include <tapegrad/kernels/cuda/cuda.h>
#include <tapegrad/kernels/cuda/cuda_backend.h>
#include <tapegrad/kernels/cuda/cuda_check.h>

namespace tapegrad::kernels::cuda {
namespace {

int as_blas_int(std::int64_t value, const char* what) {
  TAPEGRAD_CHECK(value <= INT_MAX, "matmul on CUDA: {} is {}, more than cuBLAS's limit of {}; split the product",
                 what, value, INT_MAX);
  return static_cast<int>(value);
}

cublasOperation_t operation(bool transposed) { return transposed ? CUBLAS_OP_T : CUBLAS_OP_N; }

}  // namespace

void CudaBackend::gemm(const GemmProblem& p) {
  TAPEGRAD_CHECK(p.dtype != DType::Int64, "matmul: int64 has no BLAS path; convert with .to(kFloat64)");
  if (p.m == 0 || p.n == 0 || p.batch == 0) return;
  activate();
  const ColumnMajorGemm g = to_column_major(p);
  const int rows = as_blas_int(g.rows, "n"), cols = as_blas_int(g.cols, "m"), inner = as_blas_int(g.inner, "k");
  const int batch = as_blas_int(g.batch, "the batch");
  const int first_ld = as_blas_int(g.first_ld, "a leading dimension");
  const int second_ld = as_blas_int(g.second_ld, "a leading dimension");
  const int out_ld = as_blas_int(g.out_ld, "a leading dimension");
  const cublasOperation_t first_op = operation(g.transpose_first), second_op = operation(g.transpose_second);
  if (p.dtype == DType::Float32) {
    TAPEGRAD_CUBLAS_CHECK(
        cublasSetMathMode(cublas_, tapegrad::cuda::allow_tf32() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    const float alpha = static_cast<float>(p.alpha), beta = static_cast<float>(p.beta);
    TAPEGRAD_CUBLAS_CHECK(cublasSgemmStridedBatched(
        cublas_, first_op, second_op, rows, cols, inner, &alpha, static_cast<const float*>(g.first), first_ld,
        g.first_stride, static_cast<const float*>(g.second), second_ld, g.second_stride, &beta,
        static_cast<float*>(g.out), out_ld, g.out_stride, batch));
  } else {
    const double alpha = p.alpha, beta = p.beta;
    TAPEGRAD_CUBLAS_CHECK(cublasDgemmStridedBatched(
        cublas_, first_op, second_op, rows, cols, inner, &alpha, static_cast<const double*>(g.first), first_ld,
        g.first_stride, static_cast<const double*>(g.second), second_ld, g.second_stride, &beta,
        static_cast<double*>(g.out), out_ld, g.out_stride, batch));
  }
}

}  // namespace tapegrad::kernels::cuda
