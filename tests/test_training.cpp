// End-to-end: the experiments' models, built from the nn layers and driven by the optimizers,
// learn a tiny synthetic batch (memorize random labels) until the loss falls below a bound.
// Fast by design; the real datasets are the examples' business.
#include <gtest/gtest.h>

#include <tapegrad/optim/adam.h>
#include <tapegrad/optim/sgd.h>

#include "test_util.h"

namespace tapegrad {
namespace {

using namespace testing;  // the shared test vocabulary of test_util.h

// Runs `steps` full-batch steps and returns the first and last losses.
std::pair<double, double> fit(nn::Module& model, optim::Optimizer& optimizer, const Tensor& x, const Tensor& y,
                              int steps) {
  double first = 0, last = 0;
  for (int step = 0; step < steps; ++step) {
    optimizer.zero_grad();
    const Tensor loss = cross_entropy(model(x), y);
    loss.backward();
    optimizer.step();
    last = loss.item();
    if (step == 0) first = last;
  }
  return {first, last};
}

TEST(Training, MlpWithAdamMemorizesASmallBatch) {
  manual_seed(1);
  Generator generator(2);
  const Tensor x = randn({32, 784}, generator);
  const Tensor y = randint(0, 10, {32}, generator);
  nn::Sequential mlp(nn::Linear(784, 128), nn::ReLU(), nn::Linear(128, 64), nn::ReLU(), nn::Linear(64, 10));
  optim::Adam adam(mlp.parameters(), {.lr = 1e-3});
  const auto [first, last] = fit(mlp, adam, x, y, 60);
  EXPECT_GT(first, 2.0);  // about log(10) at initialization
  EXPECT_LT(last, 0.05);
  mlp.eval();
  const Tensor predicted = argmax(mlp(x), 1);
  EXPECT_EQ(sum(eq(predicted, y)).item(), 32);
}

TEST(Training, BatchNormMlpWithMomentumSgdTrainsAtALargeLearningRate) {
  manual_seed(3);
  Generator generator(4);
  const Tensor x = rand({60, 784}, generator);
  const Tensor y = randint(0, 10, {60}, generator);
  nn::Sequential mlp(nn::Linear(784, 128), nn::BatchNorm1d(128), nn::ReLU(), nn::Linear(128, 64), nn::BatchNorm1d(64),
                     nn::ReLU(), nn::Linear(64, 10));
  optim::SGD sgd(mlp.parameters(), {.lr = 0.5, .momentum = 0.9});
  const auto [first, last] = fit(mlp, sgd, x, y, 60);
  EXPECT_LT(last, 0.1 * first);
}

TEST(Training, FashionCnnWithSgdMemorizesASmallBatch) {
  manual_seed(5);
  Generator generator(6);
  const Tensor x = randn({16, 1, 28, 28}, generator);
  const Tensor y = randint(0, 10, {16}, generator);
  nn::Sequential cnn(nn::Conv2d(1, 16, 5, 1, 2), nn::ReLU(), nn::MaxPool2d(2), nn::Conv2d(16, 32, 5, 1, 2), nn::ReLU(),
                     nn::MaxPool2d(2), nn::Flatten(), nn::Linear(7 * 7 * 32, 10));
  optim::SGD sgd(cnn.parameters(), {.lr = 0.04});
  const auto [first, last] = fit(cnn, sgd, x, y, 60);
  EXPECT_GT(first, 1.5);
  EXPECT_LT(last, 0.1);
}

}  // namespace
}  // namespace tapegrad
