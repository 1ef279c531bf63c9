// CUDA matrix products through cuBLAS. cuBLAS is column-major and tapegrad row-major; a
// row-major C = op(A) op(B) is the column-major C^T = op(B)^T op(A)^T, and a row-major matrix
// read column-major is its transpose — so swapping the operands (and m with n) is the whole
// translation, done here and nowhere else.
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

cublasOperation_t operation(const GemmOperand& operand) { return operand.transposed ? CUBLAS_OP_T : CUBLAS_OP_N; }

}  // namespace

void CudaBackend::gemm(const GemmProblem& p) {
  TAPEGRAD_CHECK(p.dtype != DType::Int64, "matmul: int64 has no BLAS path; convert with .to(kFloat64)");
  if (p.m == 0 || p.n == 0 || p.batch == 0) return;
  activate();
  const int m = as_blas_int(p.m, "m"), n = as_blas_int(p.n, "n"), k = as_blas_int(p.k, "k");
  const int batch = as_blas_int(p.batch, "the batch");
  // A leading dimension must be at least 1 even for empty operands.
  const int lda = std::max(1, as_blas_int(p.a.leading_dim, "a leading dimension"));
  const int ldb = std::max(1, as_blas_int(p.b.leading_dim, "a leading dimension"));
  const int ldc = std::max(1, as_blas_int(p.c.leading_dim, "a leading dimension"));
  // Column-major view: C^T [n, m] = op(B)^T [n, k] @ op(A)^T [k, m].
  if (p.dtype == DType::Float32) {
    TAPEGRAD_CUBLAS_CHECK(
        cublasSetMathMode(cublas_, tapegrad::cuda::allow_tf32() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    const float alpha = static_cast<float>(p.alpha), beta = static_cast<float>(p.beta);
    TAPEGRAD_CUBLAS_CHECK(cublasSgemmStridedBatched(
        cublas_, operation(p.b), operation(p.a), n, m, k, &alpha, static_cast<const float*>(p.b.data), ldb,
        p.b.batch_stride, static_cast<const float*>(p.a.data), lda, p.a.batch_stride, &beta,
        static_cast<float*>(p.c.data), ldc, p.c.batch_stride, batch));
  } else {
    const double alpha = p.alpha, beta = p.beta;
    TAPEGRAD_CUBLAS_CHECK(cublasDgemmStridedBatched(
        cublas_, operation(p.b), operation(p.a), n, m, k, &alpha, static_cast<const double*>(p.b.data), ldb,
        p.b.batch_stride, static_cast<const double*>(p.a.data), lda, p.a.batch_stride, &beta,
        static_cast<double*>(p.c.data), ldc, p.c.batch_stride, batch));
  }
}

}  // namespace tapegrad::kernels::cuda
