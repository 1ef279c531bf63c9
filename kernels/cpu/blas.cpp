// Loads OpenBLAS with dlopen (see blas.h for why) and forwards the few entries tapegrad uses.
#include <tapegrad/kernels/cpu/blas.h>

#include <dlfcn.h>

#include <cblas.h>
#include <cstdlib>
#include <mutex>

namespace tapegrad::kernels::cpu::blas {
namespace {

struct OpenBlas {
  std::string library;
  decltype(&cblas_sgemm) sgemm = nullptr;
  decltype(&cblas_dgemm) dgemm = nullptr;
  decltype(&openblas_set_num_threads) set_num_threads = nullptr;
  decltype(&openblas_get_num_threads) get_num_threads = nullptr;
  decltype(&openblas_get_corename) get_corename = nullptr;
};

// OpenBLAS 0.3.21 falls back to Haswell kernels on AVX-512 CPUs it does not recognise; its
// SkylakeX kernels run on any CPU with AVX-512F/BW/DQ/VL. A user's own setting always wins.
void choose_core_type() {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    setenv("OPENBLAS_CORETYPE", "SkylakeX", 0);
}

template <class F>
void resolve(void* handle, const char* symbol, F& target, const std::string& library) {
  target = reinterpret_cast<F>(dlsym(handle, symbol));
  TAPEGRAD_CHECK(target != nullptr, "OpenBLAS library {} lacks the symbol {}; install libopenblas0-pthread",
                 library, symbol);
}

// OpenBLAS starts its own threads when it loads, unless OPENBLAS_NUM_THREADS says 1. tapegrad
// never uses them, and a process that has a second thread pays for atomic reference counts on
// every tensor handle from then on (glibc's single-thread fast path ends): a chain of small
// recorded ops ran 15% slower. The variable is set only while OpenBLAS loads, and only when the
// user has not set it.
void* open_without_threads(const char* library) {
  const bool set_here = std::getenv("OPENBLAS_NUM_THREADS") == nullptr;
  if (set_here) setenv("OPENBLAS_NUM_THREADS", "1", 0);
  void* handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
  if (set_here) unsetenv("OPENBLAS_NUM_THREADS");
  return handle;
}

OpenBlas load() {
  choose_core_type();
  OpenBlas blas;
  void* handle = nullptr;
  for (const char* candidate : {TAPEGRAD_OPENBLAS_LIBRARY, "libopenblas.so.0", "libopenblas.so"}) {
    handle = open_without_threads(candidate);
    if (handle != nullptr) {
      blas.library = candidate;
      break;
    }
  }
  TAPEGRAD_CHECK(handle != nullptr,
                 "cannot load OpenBLAS (tried {} and libopenblas.so.0): {}. Run scripts/setup.sh, or install "
                 "the Debian package libopenblas0-pthread",
                 TAPEGRAD_OPENBLAS_LIBRARY, dlerror());
  resolve(handle, "cblas_sgemm", blas.sgemm, blas.library);
  resolve(handle, "cblas_dgemm", blas.dgemm, blas.library);
  resolve(handle, "openblas_set_num_threads", blas.set_num_threads, blas.library);
  resolve(handle, "openblas_get_num_threads", blas.get_num_threads, blas.library);
  resolve(handle, "openblas_get_corename", blas.get_corename, blas.library);
  // tapegrad splits large products over its own threads (kernels/cpu/gemm.cpp); OpenBLAS's
  // threads would only wait beside them.
  blas.set_num_threads(1);
  return blas;
}

const OpenBlas& openblas() {
  static const OpenBlas instance = load();
  return instance;
}

CBLAS_TRANSPOSE transpose_flag(bool transposed) { return transposed ? CblasTrans : CblasNoTrans; }

}  // namespace

BlasInfo info() {
  const OpenBlas& blas = openblas();
  return {blas.library, blas.get_corename(), blas.get_num_threads()};
}

void sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
           int ldb, float beta, float* c, int ldc) {
  openblas().sgemm(CblasRowMajor, transpose_flag(trans_a), transpose_flag(trans_b), m, n, k, alpha, a, lda, b, ldb,
                   beta, c, ldc);
}

void dgemm(bool trans_a, bool trans_b, int m, int n, int k, double alpha, const double* a, int lda,
           const double* b, int ldb, double beta, double* c, int ldc) {
  openblas().dgemm(CblasRowMajor, transpose_flag(trans_a), transpose_flag(trans_b), m, n, k, alpha, a, lda, b, ldb,
                   beta, c, ldc);
}

}  // namespace tapegrad::kernels::cpu::blas
