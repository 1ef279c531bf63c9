// The CUDA backend's speed: float32 gemm 4096^2 through tapegrad against cuBLAS called directly
// (tapegrad should reach >= 80% of it), the host time each recorded op costs on the CUDA path,
// an epoch of the MNIST MLP (938 Adam steps of 64) and a pass of the FashionMNIST CNN (7,200
// images in batches of 16) with the data already on the GPU. Without a usable GPU every
// benchmark reports why it was skipped.
// Run: build/tests/bench/bench_cuda
#include <benchmark/benchmark.h>

#ifdef TAPEGRAD_BENCH_CUBLAS
#include <cublas_v2.h>
#include <cuda_runtime.h>
#endif

#include <tapegrad/optim/adam.h>
#include <tapegrad/optim/sgd.h>
#include <tapegrad/tapegrad.h>

namespace {

using namespace tapegrad;

bool skip_without_gpu(benchmark::State& state) {
  if (cuda::is_available()) return false;
  state.SkipWithError("no usable CUDA device on this machine (tapegrad::cuda::is_available() is false)");
  return true;
}

void report_gemm_rate(benchmark::State& state, std::int64_t n) {
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(n * n * n) * state.iterations() / 1e9,
                                                 benchmark::Counter::kIsRate);
}

void BM_GemmTapegrad(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  const std::int64_t n = state.range(0);
  Generator generator(0);
  const Tensor a = randn({n, n}, generator).to(Device::cuda());
  const Tensor b = randn({n, n}, generator).to(Device::cuda());
  benchmark::DoNotOptimize(matmul(a, b));  // warm-up: cuBLAS handle, allocator cache
  cuda::synchronize();
  for (auto _ : state) {
    benchmark::DoNotOptimize(matmul(a, b));
    cuda::synchronize();
  }
  report_gemm_rate(state, n);
}
BENCHMARK(BM_GemmTapegrad)->Arg(4096)->Unit(benchmark::kMillisecond)->UseRealTime();

#ifdef TAPEGRAD_BENCH_CUBLAS
// The reference: one cublasSgemm on raw device buffers, nothing of tapegrad in between.
void BM_GemmCublasDirect(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  const std::int64_t n = state.range(0);
  const std::size_t bytes = static_cast<std::size_t>(n * n) * sizeof(float);
  float *a = nullptr, *b = nullptr, *c = nullptr;
  cudaMalloc(&a, bytes);
  cudaMalloc(&b, bytes);
  cudaMalloc(&c, bytes);
  cudaMemset(a, 0, bytes);
  cudaMemset(b, 0, bytes);
  cublasHandle_t handle;
  cublasCreate(&handle);
  const float alpha = 1, beta = 0;
  const int dim = static_cast<int>(n);
  const auto run = [&] {
    cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, dim, dim, dim, &alpha, a, dim, b, dim, &beta, c, dim);
  };
  run();
  cudaDeviceSynchronize();
  for (auto _ : state) {
    run();
    cudaDeviceSynchronize();
  }
  report_gemm_rate(state, n);
  cublasDestroy(handle);
  cudaFree(a);
  cudaFree(b);
  cudaFree(c);
}
BENCHMARK(BM_GemmCublasDirect)->Arg(4096)->Unit(benchmark::kMillisecond)->UseRealTime();
#endif

// Host time per recorded op: a chain of 1,000 small ops on tensors requiring grad, timed up to
// the last launch (the GPU works through the queue afterwards, outside the timing).
void BM_HostOverheadPerRecordedOp(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  constexpr int kOps = 1000;
  const Tensor x = ones({16}, TensorOptions(kFloat32).with_device(Device::cuda())).requires_grad_();
  for (auto _ : state) {
    Tensor y = x;
    for (int i = 0; i < kOps; ++i) y = y * 1.0001 + 0.5;
    state.PauseTiming();
    cuda::synchronize();
    y = Tensor();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * 2 * kOps);  // items/s = recorded ops per second
}
BENCHMARK(BM_HostOverheadPerRecordedOp)->Unit(benchmark::kMicrosecond);

nn::Sequential mnist_mlp() {
  return nn::Sequential(nn::Linear(784, 128), nn::ReLU(), nn::Linear(128, 64), nn::ReLU(), nn::Linear(64, 10));
}

nn::Sequential fashion_cnn() {
  return nn::Sequential(nn::Conv2d(1, 16, 5, 1, 2), nn::ReLU(), nn::MaxPool2d(2), nn::Conv2d(16, 32, 5, 1, 2), nn::ReLU(),
                        nn::MaxPool2d(2), nn::Flatten(), nn::Linear(7 * 7 * 32, 10));
}

// `steps` training steps over batches already on the GPU: forward, cross-entropy, backward,
// update; the loss of the last step is read back, as a training loop would print it.
void train_pass(benchmark::State& state, nn::Module& model, optim::Optimizer& optimizer, const Shape& batch_shape,
                std::int64_t steps) {
  Generator generator(0);
  const Tensor images = randn(batch_shape, generator).to(Device::cuda());
  const Tensor labels = randint(0, 10, {batch_shape[0]}, generator).to(Device::cuda());
  for (auto _ : state) {
    Tensor loss;
    for (std::int64_t step = 0; step < steps; ++step) {
      optimizer.zero_grad();
      loss = cross_entropy(model(images), labels);
      loss.backward();
      optimizer.step();
    }
    benchmark::DoNotOptimize(loss.item());
  }
  state.SetItemsProcessed(state.iterations() * steps * batch_shape[0]);
}

void BM_MnistMlpEpoch(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  manual_seed(0);
  nn::Sequential model = mnist_mlp();
  model.to(Device::cuda());
  optim::Adam adam(model.parameters(), {.lr = 1e-3});
  train_pass(state, model, adam, {64, 784}, 60000 / 64 + 1);
}
BENCHMARK(BM_MnistMlpEpoch)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_FashionCnnPass(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  manual_seed(0);
  nn::Sequential model = fashion_cnn();
  model.to(Device::cuda());
  optim::SGD sgd(model.parameters(), {.lr = 0.04});
  train_pass(state, model, sgd, {16, 1, 28, 28}, 7200 / 16);
}
BENCHMARK(BM_FashionCnnPass)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
