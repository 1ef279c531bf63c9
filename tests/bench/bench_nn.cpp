// Training-step throughput of the experiments' models: the MNIST MLP (784-128-64-10, Adam) at
// batch 64 and the FashionMNIST CNN of the augmentation study (two 5x5 convolutions, max
// pooling, plain SGD) at batch 16 and 128. Each step: forward, cross-entropy, backward, update.
// Run: build/tests/bench/bench_nn
#include <benchmark/benchmark.h>

#include <tapegrad/optim/adam.h>
#include <tapegrad/optim/sgd.h>
#include <tapegrad/tapegrad.h>

namespace {

using namespace tapegrad;

nn::Sequential mnist_mlp() {
  return nn::Sequential(nn::Linear(784, 128), nn::ReLU(), nn::Linear(128, 64), nn::ReLU(), nn::Linear(64, 10));
}

nn::Sequential fashion_cnn() {
  return nn::Sequential(nn::Conv2d(1, 16, 5, 1, 2), nn::ReLU(), nn::MaxPool2d(2), nn::Conv2d(16, 32, 5, 1, 2), nn::ReLU(),
                        nn::MaxPool2d(2), nn::Flatten(), nn::Linear(7 * 7 * 32, 10));
}

void train_steps(benchmark::State& state, nn::Module& model, optim::Optimizer& optimizer, const Shape& input_shape) {
  Generator generator(0);
  const std::int64_t batch = input_shape[0];
  const Tensor images = randn(input_shape, generator);
  const Tensor labels = randint(0, 10, {batch}, generator);
  for (auto _ : state) {
    optimizer.zero_grad();
    const Tensor loss = cross_entropy(model(images), labels);
    loss.backward();
    optimizer.step();
    benchmark::DoNotOptimize(loss.item());
  }
  state.SetItemsProcessed(state.iterations() * batch);
  state.counters["steps/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_MnistMlpAdamStep(benchmark::State& state) {
  manual_seed(0);
  nn::Sequential model = mnist_mlp();
  optim::Adam adam(model.parameters(), {.lr = 1e-3});
  train_steps(state, model, adam, {state.range(0), 784});
}
BENCHMARK(BM_MnistMlpAdamStep)->Arg(64)->Unit(benchmark::kMicrosecond);

void BM_FashionCnnSgdStep(benchmark::State& state) {
  manual_seed(0);
  nn::Sequential model = fashion_cnn();
  optim::SGD sgd(model.parameters(), {.lr = 0.04});
  train_steps(state, model, sgd, {state.range(0), 1, 28, 28});
}
BENCHMARK(BM_FashionCnnSgdStep)->Arg(16)->Arg(128)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
