// Training-step throughput of the experiments' models: the MNIST MLP (784-128-64-10, Adam) at
// batch 64 and the FashionMNIST CNN of the augmentation study (two 5x5 convolutions, max
// pooling, plain SGD) at batch 16 and 128. Each step: forward, cross-entropy, backward, update.
// Run: build/tests/bench/bench_nn
//
// build/tests/bench/bench_nn --threads-in-turn [SECONDS] instead runs the MLP's and the CNN's
// (batch 16 and 128) steps on one thread and on all threads in alternating blocks of 20-30 ms,
// SECONDS (default 30) each, and prints per 3-second window the median step of each thread count
// and their ratio. A virtual machine's host changes how fast its cores work together from one minute
// to the next; blocks in turn see the same state, where runs one after the other do not.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

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

// A model, its optimizer and a fixed batch of random inputs and labels.
template <class Optimizer>
struct Training {
  nn::Sequential model;
  Optimizer optimizer;
  Tensor images, labels;

  template <class Options>
  Training(nn::Sequential net, const Options& options, const Shape& input_shape)
      : model(std::move(net)), optimizer(model.parameters(), options) {
    Generator generator(0);
    images = randn(input_shape, generator);
    labels = randint(0, 10, {input_shape[0]}, generator);
  }

  double step() {
    optimizer.zero_grad();
    const Tensor loss = cross_entropy(model(images), labels);
    loss.backward();
    optimizer.step();
    return loss.item();
  }
};

Training<optim::Adam> mlp_training(std::int64_t batch) {
  manual_seed(0);
  return {mnist_mlp(), optim::AdamOptions{.lr = 1e-3}, {batch, 784}};
}

Training<optim::SGD> cnn_training(std::int64_t batch) {
  manual_seed(0);
  return {fashion_cnn(), optim::SGDOptions{.lr = 0.04}, {batch, 1, 28, 28}};
}

template <class Optimizer>
void train_steps(benchmark::State& state, Training<Optimizer> training) {
  for (auto _ : state) benchmark::DoNotOptimize(training.step());
  state.SetItemsProcessed(state.iterations() * training.images.size(0));
  state.counters["steps/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_MnistMlpAdamStep(benchmark::State& state) { train_steps(state, mlp_training(state.range(0))); }
BENCHMARK(BM_MnistMlpAdamStep)->Arg(64)->Unit(benchmark::kMicrosecond);

void BM_FashionCnnSgdStep(benchmark::State& state) { train_steps(state, cnn_training(state.range(0))); }
BENCHMARK(BM_FashionCnnSgdStep)->Arg(16)->Arg(128)->Unit(benchmark::kMillisecond);

// ---- one thread against all, in turn ----

using Clock = std::chrono::steady_clock;

double median(std::vector<double> values) {
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2), values.end());
  return values[values.size() / 2];
}

// The median step, in microseconds, of a block of `steps` timed steps on `threads` threads,
// after two untimed ones that let the data settle where the new thread count puts it.
template <class Optimizer>
double block_median(Training<Optimizer>& training, int threads, int steps) {
  set_num_threads(threads);
  training.step();
  training.step();
  std::vector<double> times;
  for (int i = 0; i < steps; ++i) {
    const Clock::time_point start = Clock::now();
    training.step();
    times.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  return median(std::move(times));
}

template <class Optimizer>
void compare_in_turn(const std::string& name, Training<Optimizer> training, int all, int block_steps, double seconds) {
  constexpr double kWindowSeconds = 3;
  fmt::print("{}: steps on 1 and {} threads in turn, blocks of {} steps; per {:.0f}-second window, the median "
             "block's median step\n| window | 1 thread | {} threads | 1 thread / {} threads |\n|---:|---:|---:|---:|\n",
             name, all, block_steps, kWindowSeconds, all, all);
  std::vector<double> ratios;
  const Clock::time_point start = Clock::now();
  for (int window = 0; std::chrono::duration<double>(Clock::now() - start).count() < seconds; ++window) {
    std::vector<double> one, many;
    const Clock::time_point window_start = Clock::now();
    while (std::chrono::duration<double>(Clock::now() - window_start).count() < kWindowSeconds) {
      one.push_back(block_median(training, 1, block_steps));
      many.push_back(block_median(training, all, block_steps));
    }
    ratios.push_back(median(one) / median(many));
    fmt::print("| {:.0f} s | {:.0f} us | {:.0f} us | {:.2f} |\n", window * kWindowSeconds, median(one), median(many),
               ratios.back());
    std::fflush(stdout);
  }
  std::sort(ratios.begin(), ratios.end());
  fmt::print("{}: 1 thread / {} threads over {} windows: lowest {:.2f}, median {:.2f}, highest {:.2f}\n\n", name, all,
             ratios.size(), ratios.front(), median(ratios), ratios.back());
}

void threads_in_turn(double seconds) {
  const int all = num_threads();
  if (all < 2) {
    fmt::print("{} usable core: nothing to compare\n", all);
    return;
  }
  compare_in_turn("MNIST MLP, Adam, batch 64", mlp_training(64), all, 60, seconds);
  compare_in_turn("FashionMNIST CNN, SGD, batch 16", cnn_training(16), all, 6, seconds);
  compare_in_turn("FashionMNIST CNN, SGD, batch 128", cnn_training(128), all, 2, seconds);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "--threads-in-turn") == 0) {
    const double seconds = argc >= 3 ? std::atof(argv[2]) : 30;
    if (argc > 3 || !(seconds > 0)) {
      fmt::print(stderr, "usage: bench_nn --threads-in-turn [SECONDS > 0]\n");
      return 2;
    }
    threads_in_turn(seconds);
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
