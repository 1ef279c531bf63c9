// Optimizer speed: EXPERIMENTS.md C2 (1000 Adam steps on the Beale function, forward and
// backward included; PyTorch takes about 111 ms) through optim::Adam, and one Adam or SGD step
// over the parameters of a 784-128-64-10 MLP, where the update's arithmetic dominates.
// Timings on shared machines wander: run with --benchmark_repetitions and read medians.
#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

#include <tapegrad/optim/optim.h>
#include <tapegrad/tapegrad.h>

namespace {

using namespace tapegrad;

Tensor beale(const Tensor& x, const Tensor& y) {
  const Tensor xy = x * y;
  const Tensor t1 = 1.5 - x + xy;
  const Tensor t2 = 2.25 - x + xy * y;
  const Tensor t3 = 2.625 - x + xy * y * y;
  return t1 * t1 + t2 * t2 + t3 * t3;
}

// EXPERIMENTS.md C2: Adam lr 0.01 from (0.7, 1.4), at most 1000 steps, stop when |df| < 1e-7.
void BM_BealeOptimAdam1000Steps(benchmark::State& state) {
  double final_x = 0, final_y = 0, final_f = 0;
  for (auto _ : state) {
    Tensor x = full({}, 0.7, kFloat64).requires_grad_();
    Tensor y = full({}, 1.4, kFloat64).requires_grad_();
    optim::Adam adam({x, y}, {.lr = 0.01});
    double previous = INFINITY;
    for (int step = 1; step <= 1000; ++step) {
      adam.zero_grad();
      Tensor f = beale(x, y);
      f.backward();
      const double value = f.item();
      adam.step();
      if (std::abs(previous - value) < 1e-7) break;
      previous = value;
    }
    final_x = x.item();
    final_y = y.item();
    final_f = previous;
  }
  state.counters["x"] = final_x;
  state.counters["y"] = final_y;
  state.counters["f"] = final_f;
}
BENCHMARK(BM_BealeOptimAdam1000Steps)->Unit(benchmark::kMillisecond);

// float32 parameters and gradients of Linear(784, 128), Linear(128, 64), Linear(64, 10).
std::vector<Tensor> mlp_parameters() {
  Generator generator(3);
  std::vector<Tensor> params;
  for (const Shape& shape : {Shape{784, 128}, Shape{128}, Shape{128, 64}, Shape{64}, Shape{64, 10}, Shape{10}}) {
    params.push_back(uniform(shape, -0.05, 0.05, generator).requires_grad_());
    params.back().set_grad(uniform(shape, -1, 1, generator));
  }
  return params;
}

template <class Optimizer, class Options>
void step_mlp(benchmark::State& state, Options options) {
  const std::vector<Tensor> params = mlp_parameters();
  Optimizer optimizer(params, options);
  optimizer.step();  // creates the state
  for (auto _ : state) optimizer.step();
  std::int64_t numel = 0;
  for (const Tensor& param : params) numel += param.numel();
  state.counters["params"] = static_cast<double>(numel);
  state.SetItemsProcessed(state.iterations() * numel);
}

void BM_MlpAdamStep(benchmark::State& state) { step_mlp<optim::Adam>(state, optim::AdamOptions{}); }
BENCHMARK(BM_MlpAdamStep)->Unit(benchmark::kMicrosecond);

void BM_MlpSgdMomentumStep(benchmark::State& state) {
  step_mlp<optim::SGD>(state, optim::SGDOptions{.lr = 0.01, .momentum = 0.9});
}
BENCHMARK(BM_MlpSgdMomentumStep)->Unit(benchmark::kMicrosecond);

void BM_MlpSgdStep(benchmark::State& state) { step_mlp<optim::SGD>(state, optim::SGDOptions{.lr = 0.01}); }
BENCHMARK(BM_MlpSgdStep)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
