// OpenBLAS, loaded at first use rather than linked: OpenBLAS picks its kernels when it loads,
// from the OPENBLAS_CORETYPE environment variable or its CPU table, and Debian's 0.3.21 does
// not know recent AVX-512 Xeons and silently falls back to half-speed AVX2 kernels. Loading it
// ourselves lets tapegrad set the core type first, so users get the fast kernels without
// knowing any of this. OpenBLAS runs single-threaded, called concurrently from tapegrad's own
// pool (the pthreads flavour of OpenBLAS is safe for that; the OpenMP flavour assumes its callers
// are OpenMP threads).
#pragma once

#include <string>

#include <tapegrad/kernels/backend.h>

namespace tapegrad::kernels::cpu::blas {

struct BlasInfo {
  std::string library;  // the shared object that was loaded
  std::string core;     // the kernel family OpenBLAS chose, e.g. "SkylakeX"
  int threads = 1;  // OpenBLAS's own threads: always 1
};

BlasInfo info();

// Row-major C = alpha * op(A) @ op(B) + beta * C.
void sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
           int ldb, float beta, float* c, int ldc);
void dgemm(bool trans_a, bool trans_b, int m, int n, int k, double alpha, const double* a, int lda,
           const double* b, int ldb, double beta, double* c, int ldc);

}  // namespace tapegrad::kernels::cpu::blas
