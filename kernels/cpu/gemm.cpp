// CPU matrix products: every (batched) gemm goes to OpenBLAS, or for large float32 products to
// oneDNN where the build has it (kernels/cpu/onednn.h), both single-threaded; large
// products are split across tapegrad's own threads (kernels/cpu/thread_pool.h) by rows or
// columns of the result, so one pool serves every kernel and nothing spins between them, and
// middle-size ones as measured (kernels/cpu/split_choice.h). int64 has no BLAS and is refused by
// the op layer before it gets here.
#include <algorithm>

#include <tapegrad/kernels/cpu/blas.h>
#include <tapegrad/kernels/cpu/cpu_backend.h>
#include <tapegrad/kernels/cpu/onednn.h>
#include <tapegrad/kernels/cpu/parallel.h>
#include <tapegrad/kernels/cpu/split_choice.h>

namespace tapegrad::kernels::cpu {
namespace {

// Splitting a product re-packs the shared operand once per part, so there is one part per
// thread (a 512 x 512 product: 317 GFLOP/s on 2 threads in 2 parts, 174 in 4), and parts stay
// large.
constexpr std::int64_t kMinPartExtent = 32;

// A product's cost in the units of kernels/cpu/parallel.h.
std::int64_t product_work(std::int64_t m, std::int64_t n, std::int64_t k) {
  return m * n * k / kGemmMultiplyAddsPerUnit;
}

// `run`: whether the product this call computes all or part of could be split across threads.
template <class T>
void blas_gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a,
               std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc,
               onednn::ProductRun run) {
  const auto i = [](std::int64_t v) { return static_cast<int>(v); };
  if constexpr (std::is_same_v<T, float>) {
    if (onednn::handles_sgemm(m, n, k))
      onednn::sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, run);
    else
      blas::sgemm(trans_a, trans_b, i(m), i(n), i(k), alpha, a, i(lda), b, i(ldb), beta, c, i(ldc));
  } else
    blas::dgemm(trans_a, trans_b, i(m), i(n), i(k), alpha, a, i(lda), b, i(ldb), beta, c, i(ldc));
}

// How one matrix of the batch is cut: into `count` parts of rows or of columns of the result.
struct Parts {
  bool by_rows;
  std::int64_t count;
};
constexpr Parts kWhole{true, 1};

// A large product: one part per thread along the longer side of the result.
Parts parts_per_thread(const GemmProblem& p) {
  const bool by_rows = p.m >= p.n;
  return {by_rows, std::min<std::int64_t>(num_threads(), (by_rows ? p.m : p.n) / kMinPartExtent)};
}

// A middle-size product: two parts fixed by its sizes, whether they then run on one thread or
// two, so that both ways give the same bits (oneDNN's sgemm chooses its blocking from the shape
// it is given: of A B^T with 784 terms, a 64 x 128 result differs in the last bit from its two
// halves). Cut along the side of the largest of A, B and C, so that each core reads or writes
// only its half of it: the columns where B is the largest, else the rows. In a linear layer that
// half is the half of the weights, or of their gradient, that the core's part of a split update
// reads and writes: the MNIST MLP's forward product (B the weights) cut by columns and its weight
// gradient (C the largest) by rows, the Adam update of its first layer took 29 us, against 47 us
// with the forward cut by rows, each core reading all the weights and half of them from the
// other core's cache.
Parts middle_size_parts(const GemmProblem& p) {
  const bool by_columns = p.k * p.n > std::max(p.m * p.k, p.m * p.n);
  const std::int64_t along = by_columns ? p.n : p.m, across = by_columns ? p.m : p.n;
  if (along >= 2 * kMinPartExtent) return {!by_columns, 2};
  return across >= 2 * kMinPartExtent ? Parts{by_columns, 2} : kWhole;
}

// One matrix of the batch, in its parts, on up to `threads` threads.
template <class T>
void gemm_one(const GemmProblem& p, const T* a, const T* b, T* c, Parts parts, int threads, onednn::ProductRun run) {
  const T alpha = static_cast<T>(p.alpha), beta = static_cast<T>(p.beta);
  const std::int64_t lda = p.a.leading_dim, ldb = p.b.leading_dim, ldc = p.c.leading_dim;
  if (parts.count <= 1) {
    blas_gemm(p.a.transposed, p.b.transposed, p.m, p.n, p.k, alpha, a, lda, b, ldb, beta, c, ldc, run);
    return;
  }
  run_parallel(parts.by_rows ? p.m : p.n, parts.count, threads, [&](std::int64_t begin, std::int64_t end) {
    if (parts.by_rows) {  // rows [begin, end) of op(A) and of C
      const T* a_rows = p.a.transposed ? a + begin : a + begin * lda;
      blas_gemm(p.a.transposed, p.b.transposed, end - begin, p.n, p.k, alpha, a_rows, lda, b, ldb, beta,
                c + begin * ldc, ldc, run);
    } else {  // columns [begin, end) of op(B) and of C
      const T* b_columns = p.b.transposed ? b + begin * ldb : b + begin;
      blas_gemm(p.a.transposed, p.b.transposed, p.m, end - begin, p.k, alpha, a, lda, b_columns, ldb, beta,
                c + begin, ldc, run);
    }
  });
}

WorkSite product_site(const GemmProblem& p) {
  using Kind = WorkSite::Kind;
  const Kind kind = p.a.transposed ? (p.b.transposed ? Kind::TransposedProduct : Kind::TransposedAProduct)
                                   : (p.b.transposed ? Kind::TransposedBProduct : Kind::Product);
  return {kind, {p.m, p.n, p.k, p.batch}};
}

template <class T>
void gemm_batch(const GemmProblem& p) {
  const auto a = static_cast<const T*>(p.a.data);
  const auto b = static_cast<const T*>(p.b.data);
  const auto c = static_cast<T*>(p.c.data);
  const std::int64_t work = product_work(p.m, p.n, p.k);
  const auto run = large_enough_to_split(work) ? onednn::ProductRun::MaybeSplit : onednn::ProductRun::Whole;
  const bool middle_size = may_be_split(work) && !large_enough_to_split(work);
  const Parts fixed = middle_size ? middle_size_parts(p) : kWhole;
  const auto matrices = [&](std::int64_t begin, std::int64_t end, Parts parts, int threads) {
    for (std::int64_t i = begin; i < end; ++i)
      gemm_one(p, a + i * p.a.batch_stride, b + i * p.b.batch_stride, c + i * p.c.batch_stride, parts, threads, run);
  };
  // Matrices with results of their own run on different threads; one result summed over the
  // batch (stride 0) keeps its order.
  if (p.c.batch_stride != 0 && p.batch >= 2 * num_threads() && worth_parallel(work * p.batch))
    parallel_for(p.batch, [&](std::int64_t begin, std::int64_t end) { matrices(begin, end, fixed, 1); });
  else if (middle_size && worth_measuring(work))
    run_timed_choice(product_site(p), [&](bool split) { matrices(0, p.batch, fixed, split ? num_threads() : 1); });
  else if (!middle_size && worth_parallel(work))
    matrices(0, p.batch, parts_per_thread(p), num_threads());
  else
    matrices(0, p.batch, fixed, 1);
}

}  // namespace

void CpuBackend::gemm(const GemmProblem& p) {
  TAPEGRAD_CHECK(p.dtype != DType::Int64, "matmul: int64 has no BLAS path; convert with .to(kFloat64)");
  if (p.dtype == DType::Float32)
    gemm_batch<float>(p);
  else
    gemm_batch<double>(p);
}

}  // namespace tapegrad::kernels::cpu
