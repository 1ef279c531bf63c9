// Speed of the layer functions on the B1 CNN of EXPERIMENTS.md (Conv2d(1,16,k5,pad2) - ReLU -
// MaxPool2d(2) - Conv2d(16,32,k5,pad2) - ReLU - MaxPool2d(2) - Linear(1568,10) on 28x28): each
// conv layer's forward + backward alone, max pooling, and one whole training step's forward +
// backward. items/s counts images. Run with --benchmark_repetitions and read medians.
#include <benchmark/benchmark.h>

#include <tapegrad/tapegrad.h>

namespace {

using namespace tapegrad;

Conv2dParams padded(std::int64_t padding) {
  Conv2dParams p;
  p.padding = {padding, padding};
  return p;
}

// Forward + backward of one conv layer; the first layer's input is data (no gradient), the
// second's comes from the layer below (gradient needed). The output's gradient is a tensor of
// its own, as a layer above would send: a sum's gradient would be one broadcast value, which the
// backward first copies out to the output's shape, and that copy would be timed too.
void conv_layer(benchmark::State& state, std::int64_t in_channels, std::int64_t out_channels, std::int64_t size,
                bool input_grad) {
  const std::int64_t batch = state.range(0);
  Generator generator(1);
  Tensor x = randn({batch, in_channels, size, size}, generator);
  if (input_grad) x.requires_grad_();
  Tensor w = mul(randn({out_channels, in_channels, 5, 5}, generator), 0.1).requires_grad_();
  Tensor b = zeros({out_channels}).requires_grad_();
  const Tensor grad_output = randn({batch, out_channels, size, size}, generator);
  for (auto _ : state) {
    conv2d(x, w, b, padded(2)).backward(grad_output);
    benchmark::DoNotOptimize(w.grad());
    w.set_grad({});
    b.set_grad({});
    if (input_grad) x.set_grad({});
  }
  state.SetItemsProcessed(state.iterations() * batch);
}

void BM_Conv1ForwardBackward(benchmark::State& state) { conv_layer(state, 1, 16, 28, false); }
BENCHMARK(BM_Conv1ForwardBackward)->Arg(16)->Arg(128)->Unit(benchmark::kMicrosecond);

void BM_Conv2ForwardBackward(benchmark::State& state) { conv_layer(state, 16, 32, 14, true); }
BENCHMARK(BM_Conv2ForwardBackward)->Arg(16)->Arg(128)->Unit(benchmark::kMicrosecond);

void BM_Conv1Forward(benchmark::State& state) {
  const std::int64_t batch = state.range(0);
  Generator generator(2);
  const Tensor x = randn({batch, 1, 28, 28}, generator), w = randn({16, 1, 5, 5}, generator), b = zeros({16});
  for (auto _ : state) benchmark::DoNotOptimize(conv2d(x, w, b, padded(2)));
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_Conv1Forward)->Arg(16)->Unit(benchmark::kMicrosecond);

void BM_MaxPool2ForwardBackward(benchmark::State& state) {
  const std::int64_t batch = state.range(0);
  Generator generator(3);
  Tensor x = randn({batch, 16, 28, 28}, generator).requires_grad_();
  Pool2dParams p;
  for (auto _ : state) {
    max_pool2d(x, p).sum().backward();
    benchmark::DoNotOptimize(x.grad());
    x.set_grad({});
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_MaxPool2ForwardBackward)->Arg(16)->Unit(benchmark::kMicrosecond);

// The whole B1 network, forward + backward, at a given batch size (no optimizer step).
void BM_B1CnnStep(benchmark::State& state) {
  const std::int64_t batch = state.range(0);
  Generator generator(4);
  const Tensor x = randn({batch, 1, 28, 28}, generator);
  const Tensor target = randint(0, 10, {batch}, generator);
  std::vector<Tensor> params = {
      mul(randn({16, 1, 5, 5}, generator), 0.2), zeros({16}), mul(randn({32, 16, 5, 5}, generator), 0.05),
      zeros({32}), mul(randn({1568, 10}, generator), 0.02), zeros({10})};
  for (Tensor& p : params) p.requires_grad_();
  const Pool2dParams pool;
  for (auto _ : state) {
    Tensor h = max_pool2d(relu(conv2d(x, params[0], params[1], padded(2))), pool);
    h = max_pool2d(relu(conv2d(h, params[2], params[3], padded(2))), pool);
    const Tensor logits = add(matmul(flatten(h, 1), params[4]), params[5]);
    cross_entropy(logits, target).backward();
    for (Tensor& p : params) p.set_grad({});
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_B1CnnStep)->Arg(16)->Arg(128)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
