// Core speed benchmarks: the per-op cost of recording and backpropagating through tiny tensors
// (where overhead, not arithmetic, dominates), and matmul against OpenBLAS's sgemm called
// directly. The Beale/Adam loop of EXPERIMENTS.md C2 is in bench_optim.
// Timings on shared machines wander: run with --benchmark_repetitions and read medians.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include <tapegrad/kernels/cpu/blas.h>
#include <tapegrad/tapegrad.h>

namespace {

using namespace tapegrad;

// Forward + backward of a chain y <- y * w + b over 4-element tensors; 2 recorded ops per link.
void BM_RecordedOpChain(benchmark::State& state) {
  const std::int64_t links = state.range(0);
  Tensor w = full({4}, 0.999).requires_grad_();
  Tensor b = full({4}, 0.001).requires_grad_();
  Tensor x = ones({4}).requires_grad_();
  for (auto _ : state) {
    Tensor y = x;
    for (std::int64_t i = 0; i < links; ++i) y = y * w + b;
    y.sum().backward();
    benchmark::DoNotOptimize(x.grad());
    x.set_grad({});
    w.set_grad({});
    b.set_grad({});
  }
  const double recorded_ops = static_cast<double>(2 * links + 1);
  // Shown in seconds per recorded op (e.g. "450n" = 450 ns).
  state.counters["time_per_op"] =
      benchmark::Counter(recorded_ops, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_RecordedOpChain)->Arg(1000)->Unit(benchmark::kMicrosecond);

// matmul through the tape's op against OpenBLAS's cblas_sgemm on the same operands. The two
// alternate within each iteration, so both see the same machine noise and their ratio is
// meaningful even when absolute times wander. Where the build has oneDNN, matmul runs products
// this large on its sgemm, so the ratio also says how the two libraries compare.
void BM_MatmulAgainstDirectSgemm(benchmark::State& state) {
  using clock = std::chrono::steady_clock;
  const std::int64_t n = state.range(0);
  Generator generator(1);
  const Tensor a = rand({n, n}, generator), b = rand({n, n}, generator);
  Tensor c = empty({n, n});
  const int size = static_cast<int>(n);
  std::vector<double> matmul_seconds, sgemm_seconds;
  for (auto _ : state) {
    const auto t0 = clock::now();
    benchmark::DoNotOptimize(matmul(a, b));
    const auto t1 = clock::now();
    kernels::cpu::blas::sgemm(false, false, size, size, size, 1.0f, a.data_ptr<float>(), size, b.data_ptr<float>(),
                              size, 0.0f, c.data_ptr<float>(), size);
    benchmark::DoNotOptimize(c.data_ptr<float>());
    const auto t2 = clock::now();
    matmul_seconds.push_back(std::chrono::duration<double>(t1 - t0).count());
    sgemm_seconds.push_back(std::chrono::duration<double>(t2 - t1).count());
  }
  const auto median = [](std::vector<double> v) {
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
    return v[v.size() / 2];
  };
  const double flop = 2.0 * static_cast<double>(n * n * n);
  state.counters["matmul_GFLOPs"] = flop / median(matmul_seconds) / 1e9;
  state.counters["sgemm_GFLOPs"] = flop / median(sgemm_seconds) / 1e9;
  state.counters["matmul_over_sgemm"] = median(matmul_seconds) / median(sgemm_seconds);
}
BENCHMARK(BM_MatmulAgainstDirectSgemm)->Arg(512)->Arg(1024)->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace

int main(int argc, char** argv) {
  const kernels::cpu::blas::BlasInfo blas = kernels::cpu::blas::info();
  benchmark::AddCustomContext("blas_library", blas.library);
  benchmark::AddCustomContext("blas_core", blas.core);
  benchmark::AddCustomContext("blas_threads", std::to_string(blas.threads));
  benchmark::AddCustomContext("tapegrad_threads", std::to_string(num_threads()));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
