// Core speed benchmarks: the per-op cost of recording and backpropagating through tiny tensors
// (where overhead, not arithmetic, dominates), a 1000-step Adam minimisation of the Beale
// function written against the tensor API, and matmul against OpenBLAS's sgemm called directly.
// Timings on shared machines wander: run with --benchmark_repetitions and read medians.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
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

Tensor beale(const Tensor& x, const Tensor& y) {
  const Tensor xy = x * y;
  const Tensor t1 = 1.5 - x + xy;
  const Tensor t2 = 2.25 - x + xy * y;
  const Tensor t3 = 2.625 - x + xy * y * y;
  return t1 * t1 + t2 * t2 + t3 * t3;
}

// Adam as torch.optim.Adam computes it, on one parameter, in place.
struct AdamState {
  Tensor m, v;
  void step(Tensor& p, int t, double lr, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8) {
    const Tensor g = p.grad();
    m.mul_(beta1).add_(g, 1 - beta1);
    v.mul_(beta2).addcmul_(g, g, 1 - beta2);
    const double bias1 = 1 - std::pow(beta1, t), bias2 = 1 - std::pow(beta2, t);
    Tensor denom = sqrt(v);
    denom.div_(std::sqrt(bias2)).add_(eps);
    p.addcdiv_(m, denom, -lr / bias1);
  }
};

// EXPERIMENTS.md C2: Adam lr 0.01 from (0.7, 1.4), at most 1000 steps, stop when |df| < 1e-7.
void BM_BealeAdam1000Steps(benchmark::State& state) {
  double final_x = 0, final_y = 0, final_f = 0, steps_run = 0;
  for (auto _ : state) {
    Tensor x = full({}, 0.7, kFloat64).requires_grad_();
    Tensor y = full({}, 1.4, kFloat64).requires_grad_();
    AdamState ax{zeros({}, kFloat64), zeros({}, kFloat64)}, ay{zeros({}, kFloat64), zeros({}, kFloat64)};
    double previous = INFINITY;
    int step = 1;
    for (; step <= 1000; ++step) {
      Tensor f = beale(x, y);
      f.backward();
      const double value = f.item();
      {
        NoGradGuard no_grad;
        ax.step(x, step, 0.01);
        ay.step(y, step, 0.01);
      }
      x.set_grad({});
      y.set_grad({});
      if (std::abs(previous - value) < 1e-7) break;
      previous = value;
    }
    final_x = x.item();
    final_y = y.item();
    final_f = previous;
    steps_run = std::min(step, 1000);
  }
  state.counters["x"] = final_x;
  state.counters["y"] = final_y;
  state.counters["f"] = final_f;
  state.counters["steps"] = steps_run;
}
BENCHMARK(BM_BealeAdam1000Steps)->Unit(benchmark::kMillisecond);

// matmul through the tape's op against cblas_sgemm on the same operands. The two alternate
// within each iteration, so both see the same machine noise and their ratio is meaningful even
// when absolute times wander.
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
  benchmark::AddCustomContext("tapegrad_threads", std::to_string(kernels::num_threads()));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
