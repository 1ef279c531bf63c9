// CPU matrix products: every (batched) gemm goes to OpenBLAS; int64 has no BLAS and is refused
// by the op layer before it gets here.
#include <tapegrad/kernels/cpu/blas.h>
#include <tapegrad/kernels/cpu/cpu_backend.h>

namespace tapegrad::kernels::cpu {

void CpuBackend::gemm(const GemmProblem& p) {
  TAPEGRAD_CHECK(p.dtype != DType::Int64, "matmul: int64 has no BLAS path; convert with .to(kFloat64)");
  const auto as_int = [](std::int64_t v) { return static_cast<int>(v); };
  for (std::int64_t batch = 0; batch < p.batch; ++batch) {
    if (p.dtype == DType::Float32) {
      blas::sgemm(p.a.transposed, p.b.transposed, as_int(p.m), as_int(p.n), as_int(p.k), static_cast<float>(p.alpha),
                  static_cast<const float*>(p.a.data) + batch * p.a.batch_stride, as_int(p.a.leading_dim),
                  static_cast<const float*>(p.b.data) + batch * p.b.batch_stride, as_int(p.b.leading_dim),
                  static_cast<float>(p.beta), static_cast<float*>(p.c.data) + batch * p.c.batch_stride,
                  as_int(p.c.leading_dim));
    } else {
      blas::dgemm(p.a.transposed, p.b.transposed, as_int(p.m), as_int(p.n), as_int(p.k), p.alpha,
                  static_cast<const double*>(p.a.data) + batch * p.a.batch_stride, as_int(p.a.leading_dim),
                  static_cast<const double*>(p.b.data) + batch * p.b.batch_stride, as_int(p.b.leading_dim), p.beta,
                  static_cast<double*>(p.c.data) + batch * p.c.batch_stride, as_int(p.c.leading_dim));
    }
  }
}

}  // namespace tapegrad::kernels::cpu
