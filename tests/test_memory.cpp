// Memory behaviour of the tape: million-op chains are walked and destroyed without recursion
// (no stack overflow), a long training loop holds resident memory flat, and gradients that
// carry a graph (create_graph) do not keep their leaf and graph alive through a reference cycle.
#include <cmath>
#include <fstream>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "test_util.h"

namespace tapegrad {
namespace {

using tapegrad::testing::expect_values;
using tapegrad::testing::leaf;

constexpr int kLongChain = 1'000'000;

// Resident set size of this process in kB, from /proc/self/status.
long resident_kb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// ---- long chains ----

TEST(LongChains, MillionOpChainBackpropagatesWithoutStackOverflow) {
  Tensor x = scalar_tensor(1.0, kFloat64).requires_grad_();
  Tensor y = x;
  for (int i = 0; i < kLongChain; ++i) y = y * 1.0000001;
  y.backward();
  // d/dx of x * c^n is c^n; the gradient multiplies the same factors in reverse order.
  EXPECT_NEAR(x.grad().item(), std::pow(1.0000001, kLongChain), 1e-9);
  EXPECT_NEAR(y.item(), std::pow(1.0000001, kLongChain), 1e-9);
}

TEST(LongChains, MillionOpChainIsDestroyedWithoutBackward) {
  std::weak_ptr<Node> last_node;
  {
    Tensor x = ones({2}, kFloat64).requires_grad_();
    Tensor y = x;
    for (int i = 0; i < kLongChain; ++i) y = y + 0.0;
    last_node = y.grad_fn();
    ASSERT_FALSE(last_node.expired());
  }
  EXPECT_TRUE(last_node.expired());
}

TEST(LongChains, ChainOfOpsThatSaveTheirInputsIsDestroyedWithoutBackward) {
  // Each mul saves its input tensor, whose grad_fn is the previous node: destruction goes
  // node -> saved tensor -> node, which must not recurse either.
  std::weak_ptr<Node> last_node;
  {
    Tensor w = scalar_tensor(1.0, kFloat64).requires_grad_();
    Tensor y = scalar_tensor(1.0, kFloat64).requires_grad_();
    for (int i = 0; i < kLongChain / 4; ++i) y = y * w;
    last_node = y.grad_fn();
  }
  EXPECT_TRUE(last_node.expired());
}

TEST(LongChains, ChainOfOpsThatSaveTheirInputsBackpropagates) {
  Tensor w = scalar_tensor(1.0, kFloat64).requires_grad_();
  Tensor y = scalar_tensor(2.0, kFloat64).requires_grad_();
  const Tensor start = y;
  const int n = kLongChain / 4;
  for (int i = 0; i < n; ++i) y = y * w;
  y.backward();
  EXPECT_EQ(start.grad().item(), 1.0);            // w^n
  EXPECT_EQ(w.grad().item(), 2.0 * n);            // n * 2 * w^(n-1)
}

// ---- steady state ----

TEST(SteadyState, HundredThousandTrainingStepsKeepResidentMemoryFlat) {
  Generator generator(17);
  Tensor w = randn({4}, generator, kFloat64).requires_grad_();
  Tensor b = zeros({1}, kFloat64).requires_grad_();
  const Tensor x = randn({4}, generator, kFloat64);
  const Tensor target = uniform({4}, -0.5, 0.5, generator, kFloat64);
  double loss_value = 0;
  const auto step = [&] {
    const Tensor prediction = tanh(w * x + b);
    const Tensor loss = (prediction - target).pow(2).mean();
    loss.backward();
    loss_value = loss.item();
    NoGradGuard no_grad;
    w.sub_(w.grad(), 0.05);
    b.sub_(b.grad(), 0.05);
    w.grad().zero_();
    b.grad().zero_();
  };
  const double initial_loss = [&] {
    step();
    return loss_value;
  }();
  for (int i = 1; i < 10'000; ++i) step();
  const long after_10k = resident_kb();
  for (int i = 10'000; i < 100'000; ++i) step();
  const long after_100k = resident_kb();
  ASSERT_GT(after_10k, 0) << "VmRSS not found in /proc/self/status";
  EXPECT_LT(after_100k - after_10k, 2048) << "resident memory grew from " << after_10k << " kB to " << after_100k
                                          << " kB between step 10k and step 100k";
  EXPECT_LT(loss_value, initial_loss) << "the steps did train";
}

// ---- reference cycles through .grad ----

TEST(ReferenceCycles, DroppingTensorsFreesTheGraphAfterAPlainBackward) {
  std::weak_ptr<Node> output_node;
  std::weak_ptr<TensorImpl> leaf_impl;
  {
    Tensor x = leaf({0.5, 1.5});
    const Tensor y = x.pow(3).sum();
    y.backward({}, true);
    output_node = y.grad_fn();
    leaf_impl = x.impl_ptr();
  }
  EXPECT_TRUE(output_node.expired());
  EXPECT_TRUE(leaf_impl.expired());
}

TEST(ReferenceCycles, CreateGraphGradientStoredInDotGradDoesNotKeepTheGraphAlive) {
  // x.grad = 3x^2 has a grad_fn whose graph reads x; x owns x.grad. Unless the graph refers to
  // x weakly, x -> .grad -> grad_fn -> ... -> x is a cycle and none of it is ever freed.
  std::weak_ptr<Node> output_node, grad_node;
  std::weak_ptr<TensorImpl> leaf_impl;
  {
    Tensor x = leaf({0.5, 1.5});
    const Tensor y = x.pow(3).sum();
    y.backward({}, false, true);
    ASSERT_NE(x.grad().grad_fn(), nullptr);
    expect_values(x.grad(), {0.75, 6.75});
    output_node = y.grad_fn();
    grad_node = x.grad().grad_fn();
    leaf_impl = x.impl_ptr();
  }
  EXPECT_TRUE(output_node.expired());
  EXPECT_TRUE(grad_node.expired()) << "the graph of x.grad outlived x";
  EXPECT_TRUE(leaf_impl.expired()) << "x was kept alive by its own gradient's graph";
}

TEST(ReferenceCycles, CreateGraphGradientThroughSavedLeafInputsDoesNotKeepTheGraphAlive) {
  // sin saves x itself, and the graph of x.grad reaches that sin node through pow's saved input
  // sin(x): here the cycle would run through the original graph, not only the recorded backward.
  std::weak_ptr<Node> sin_node, grad_node;
  std::weak_ptr<TensorImpl> leaf_impl;
  {
    Tensor x = leaf({0.5, 1.5});
    const Tensor s = sin(x);
    const Tensor y = s.pow(2).sum();
    y.backward({}, false, true);
    ASSERT_NE(x.grad().grad_fn(), nullptr);
    expect_values(x.grad(), {std::sin(1.0), std::sin(3.0)}, 1e-12);  // 2 sin x cos x
    sin_node = s.grad_fn();
    grad_node = x.grad().grad_fn();
    leaf_impl = x.impl_ptr();
  }
  EXPECT_TRUE(sin_node.expired());
  EXPECT_TRUE(grad_node.expired());
  EXPECT_TRUE(leaf_impl.expired());
}

TEST(ReferenceCycles, CreateGraphThroughGradDoesNotKeepTheGraphAlive) {
  std::weak_ptr<Node> output_node, grad_node;
  std::weak_ptr<TensorImpl> leaf_impl;
  {
    Tensor x = leaf({0.5, 1.5});
    const Tensor y = (sin(x) * x).sum();
    const Tensor dx = grad({y}, {x}, {}, std::nullopt, true)[0];
    const Tensor d2x = grad({dx.sum()}, {x})[0];
    EXPECT_TRUE(d2x.defined());
    output_node = y.grad_fn();
    grad_node = dx.grad_fn();
    leaf_impl = x.impl_ptr();
  }
  EXPECT_TRUE(output_node.expired());
  EXPECT_TRUE(grad_node.expired());
  EXPECT_TRUE(leaf_impl.expired());
}

}  // namespace
}  // namespace tapegrad
