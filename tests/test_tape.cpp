// The tape itself: define-by-run recording, backward() and grad() with their options, higher
// derivatives through create_graph, grad mode and detach, in-place safety checks, and the
// errors a misused tape raises.
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.h"

namespace tapegrad {
namespace {

using namespace testing;  // the shared test vocabulary of test_util.h

// Runs `body` once, expecting an AutogradError whose message contains every fragment.
template <class Body>
void expect_autograd_error(Body&& body, const std::vector<std::string>& fragments) {
  expect_error(
      [&] {
        try {
          body();
        } catch (const AutogradError&) {
          throw;
        } catch (const Error& other) {
          ADD_FAILURE() << "expected an AutogradError, got another tapegrad::Error: " << other.what();
          throw;
        }
      },
      fragments);
}

double derivative_at(double x0, const std::function<Tensor(const Tensor&)>& f) {
  Tensor x = leaf({x0}, Shape{});
  return grad({f(x)}, {x})[0].item();
}

// ---- define-by-run: ordinary control flow decides what is recorded ----

TEST(DefineByRun, IfTakesTheBranchOfTheCurrentValue) {
  const auto f = [](const Tensor& x) { return x.item() > 0 ? x * x : x * -3.0; };
  EXPECT_DOUBLE_EQ(derivative_at(2.0, f), 4.0);
  EXPECT_DOUBLE_EQ(derivative_at(-1.0, f), -3.0);
}

TEST(DefineByRun, WhileRecordsOnlyTheIterationsThatRan) {
  // Doubles until at least 100: from 3 that is 6 doublings (192), from 50 one (100).
  const auto f = [](const Tensor& x) {
    Tensor y = x;
    while (y.item() < 100) y = y * 2.0;
    return y;
  };
  EXPECT_DOUBLE_EQ(derivative_at(3.0, f), 64.0);
  EXPECT_DOUBLE_EQ(derivative_at(50.0, f), 2.0);
  EXPECT_DOUBLE_EQ(derivative_at(150.0, f), 1.0);
}

TEST(DefineByRun, ForLoopChainsThroughEveryIteration) {
  // y = sin(sin(sin(x))): dy/dx is the product of cos at each intermediate value.
  const double x0 = 0.7;
  const auto f = [](const Tensor& x) {
    Tensor y = x;
    for (int i = 0; i < 3; ++i) y = sin(y);
    return y;
  };
  const double s1 = std::sin(x0), s2 = std::sin(s1);
  EXPECT_NEAR(derivative_at(x0, f), std::cos(x0) * std::cos(s1) * std::cos(s2), 1e-14);
}

TEST(DefineByRun, DataDependentIndexingPicksWhatIsDifferentiated) {
  // Only the argmax element gets a gradient, whichever it is at run time.
  Tensor x = leaf({0.3, 2.0, -1.0});
  const std::int64_t best = x.argmax().item<std::int64_t>();
  (x[best] * 5.0).backward();
  expect_values(x.grad(), {0, 5, 0});
}

// ---- backward() ----

TEST(Backward, ScalarLossAccumulatesIntoLeafGrads) {
  Tensor x = leaf({1, 2, 3});
  Tensor w = leaf({4, 5, 6});
  const Tensor hidden = x * w;
  hidden.sum().backward();
  expect_values(x.grad(), {4, 5, 6});
  expect_values(w.grad(), {1, 2, 3});
  EXPECT_FALSE(hidden.grad().defined()) << "only leaves get .grad, as in PyTorch";
  EXPECT_EQ(x.grad().dtype(), kFloat64);
  EXPECT_FALSE(x.grad().requires_grad()) << "without create_graph, .grad is a plain tensor";
}

TEST(Backward, SecondBackwardAddsToExistingGrad) {
  Tensor x = leaf({1, 2});
  (x * x).sum().backward();
  (x * x).sum().backward();
  expect_values(x.grad(), {4, 8});  // 2 * 2x
  x.set_grad(Tensor());
  (x * 3.0).sum().backward();
  expect_values(x.grad(), {3, 3});
}

TEST(Backward, ExplicitGradientWeightsANonScalarOutput) {
  Tensor x = leaf({1, 2, 3});
  const Tensor y = x * x;
  y.backward(f64({1, 0.5, -1}));
  expect_values(x.grad(), {2, 2, -6});  // 2x * v
}

TEST(Backward, SeveralOutputsAtOnceSumTheirContributions) {
  Tensor x = leaf({1, 2});
  backward({(x * 3.0).sum(), (x * x).sum()});
  expect_values(x.grad(), {5, 7});  // 3 + 2x
}

TEST(Backward, NonScalarOutputWithoutGradientIsAnError) {
  Tensor x = leaf({1, 2, 3});
  expect_error([&] { (x * 2.0).backward(); }, {"backward", "single-element output", "shape [3]"});
}

TEST(Backward, GradientOfTheWrongShapeOrDtypeIsAnError) {
  Tensor x = leaf({1, 2, 3});
  const Tensor y = x * 2.0;
  expect_error([&] { y.backward(ones({2}, kFloat64)); }, {"backward", "[2]", "[3]"});
  expect_error([&] { y.backward(ones({3}, kFloat32)); }, {"backward", "float32", "float64"});
}

TEST(Backward, OutputThatDoesNotRequireGradIsAnError) {
  const Tensor plain = ones({2}, kFloat64);
  expect_autograd_error([&] { plain.sum().backward(); }, {"backward", "does not require grad"});
}

TEST(Backward, GradientsOfADiamondGraphAreSummed) {
  // x feeds four paths: x*x (twice), sin(x) and 3x.
  Tensor x = leaf({0.5, -1.5});
  (x * x + sin(x) + x * 3.0).sum().backward();
  const std::vector<double> xs{0.5, -1.5};
  expect_values(x.grad(), {2 * xs[0] + std::cos(xs[0]) + 3, 2 * xs[1] + std::cos(xs[1]) + 3}, 1e-12);

  // a = 2x reaches c through b = a*a and directly: dc/dx = 2 (1 + 2a).
  Tensor y = leaf({1.25});
  const Tensor a = y * 2.0;
  (a + a * a).backward();
  expect_values(y.grad(), {2 * (1 + 2 * 2.5)});
}

TEST(Backward, BroadcastOperandsReceiveReducedGradients) {
  Tensor bias = leaf({1, 2, 3});
  Tensor m = leaf({0, 0, 0, 0, 0, 0}, Shape{2, 3});
  (m + bias).sum().backward();
  EXPECT_EQ(bias.grad().shape(), Shape({3}));
  expect_values(bias.grad(), {2, 2, 2});
  expect_values(m.grad(), std::vector<double>(6, 1.0));
}

// ---- grad() ----

TEST(Grad, ReturnsGradientsWithoutTouchingDotGrad) {
  Tensor x = leaf({1, 2, 3});
  Tensor w = leaf({4, 5, 6});
  const std::vector<Tensor> g = grad({(x * w).sum()}, {x, w});
  ASSERT_EQ(g.size(), 2u);
  expect_values(g[0], {4, 5, 6});
  expect_values(g[1], {1, 2, 3});
  EXPECT_FALSE(x.grad().defined());
  EXPECT_FALSE(w.grad().defined());
}

TEST(Grad, GradientWithRespectToAnIntermediateTensor) {
  Tensor x = leaf({1, 2});
  const Tensor h = x * 3.0;
  const std::vector<Tensor> g = grad({(h * h).sum()}, {h, x});
  expect_values(g[0], {6, 12});   // 2h
  expect_values(g[1], {18, 36});  // 2h * 3
}

TEST(Grad, GradOutputsWeightEachOutput) {
  Tensor x = leaf({1, 2});
  const Tensor y1 = x * x, y2 = x * 10.0;
  const std::vector<Tensor> g = grad({y1, y2}, {x}, {f64({1, 1}), f64({0.5, -1})});
  expect_values(g[0], {2 + 5, 4 - 10});
}

TEST(Grad, UnusedInputIsAnErrorUnlessAllowed) {
  Tensor x = leaf({1, 2});
  Tensor unused = leaf({3});
  const Tensor y = (x * x).sum();
  expect_autograd_error([&] { grad({y}, {x, unused}, {}, true); }, {"grad", "input 1", "not used", "allow_unused"});
  const std::vector<Tensor> g = grad({y}, {x, unused}, {}, true, false, true);
  expect_values(g[0], {2, 4});
  EXPECT_FALSE(g[1].defined());
}

TEST(Grad, InputThatDoesNotRequireGradIsAnError) {
  Tensor x = leaf({1, 2});
  const Tensor constant = ones({2}, kFloat64);
  const Tensor y = (x * constant).sum();
  expect_autograd_error([&] { grad({y}, {constant}); }, {"grad", "input 0", "does not require grad"});
}

TEST(Grad, OfAnOutputThatDoesNotRequireGradIsAnError) {
  Tensor x = leaf({1, 2});
  const Tensor y = ones({1}, kFloat64);
  expect_autograd_error([&] { grad({y}, {x}); }, {"grad", "output 0", "does not require grad"});
}

// ---- higher derivatives ----

TEST(HigherOrder, CreateGraphGivesDerivativesOfCubeUpToOrderThree) {
  Tensor x = leaf({1.5}, Shape{});
  const Tensor y = x.pow(3);
  const Tensor dy = grad({y}, {x}, {}, std::nullopt, true)[0];
  EXPECT_TRUE(dy.requires_grad());
  EXPECT_DOUBLE_EQ(dy.item(), 3 * 1.5 * 1.5);
  const Tensor d2y = grad({dy}, {x}, {}, std::nullopt, true)[0];
  EXPECT_DOUBLE_EQ(d2y.item(), 6 * 1.5);
  const Tensor d3y = grad({d2y}, {x})[0];
  EXPECT_DOUBLE_EQ(d3y.item(), 6.0);
}

TEST(HigherOrder, BackwardWithCreateGraphStoresADifferentiableGrad) {
  Tensor x = leaf({2.0}, Shape{});
  x.pow(3).backward({}, false, true);
  const Tensor dx = x.grad();
  EXPECT_TRUE(dx.requires_grad());
  EXPECT_NE(dx.grad_fn(), nullptr);
  EXPECT_DOUBLE_EQ(dx.item(), 12.0);
  EXPECT_DOUBLE_EQ(grad({dx}, {x})[0].item(), 12.0);  // 6x
}

struct ElementwiseSecondDerivative {
  const char* name;
  Tensor (*f)(const Tensor&);
  double (*second)(double);
};

TEST(HigherOrder, SecondDerivativesOfElementwiseFunctionsMatchClosedForms) {
  const std::vector<ElementwiseSecondDerivative> cases{
      {"sin", [](const Tensor& t) { return sin(t); }, [](double v) { return -std::sin(v); }},
      {"exp", [](const Tensor& t) { return exp(t); }, [](double v) { return std::exp(v); }},
      {"tanh", [](const Tensor& t) { return tanh(t); },
       [](double v) { return -2 * std::tanh(v) * (1 - std::tanh(v) * std::tanh(v)); }},
      {"sigmoid", [](const Tensor& t) { return sigmoid(t); },
       [](double v) {
         const double s = 1 / (1 + std::exp(-v));
         return s * (1 - s) * (1 - 2 * s);
       }},
  };
  const std::vector<double> points{-2.0, -0.3, 0.0, 0.8, 1.7};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Tensor x = from_vector(points).requires_grad_();
    // f is elementwise, so the gradient of sum(f(x)) is f'(x) and that of sum(f'(x)) is f''(x).
    const Tensor first = grad({c.f(x).sum()}, {x}, {}, std::nullopt, true)[0];
    const Tensor second = grad({first.sum()}, {x})[0];
    std::vector<double> expected;
    for (double p : points) expected.push_back(c.second(p));
    expect_values(second, expected, 1e-12);
    expect_gradgradcheck([&](const std::vector<Tensor>& in) { return c.f(in[0]); }, {input({2, 3}, 31)});
  }
}

TEST(HigherOrder, GradOfGradOfMatmul) {
  // L = sum(A @ B): dL/dA = 1 @ B^T, so gA[i][k] = sum_j B[k][j]; then for s = sum(gA * W),
  // ds/dB[k][j] = sum_i W[i][k].
  Tensor a = input({2, 3}, 41);
  Tensor b = input({3, 4}, 42);
  const Tensor w = input({2, 3}, 43).detach();
  const Tensor ga = grad({matmul(a, b).sum()}, {a}, {}, std::nullopt, true)[0];
  expect_values(ga, b.sum({1}).unsqueeze(0).expand({2, 3}).to_vector<double>(), 1e-12);
  const std::vector<Tensor> second = grad({(ga * w).sum()}, {a, b}, {}, std::nullopt, false, true);
  EXPECT_FALSE(second[0].defined()) << "dL/dA does not depend on A";
  expect_values(second[1], w.sum({0}).unsqueeze(1).expand({3, 4}).to_vector<double>(), 1e-12);

  expect_gradgradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); },
                       {input({2, 3}, 44), input({3, 4}, 45)});
  expect_gradgradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]).pow(2); },
                       {input({2, 3}, 46), input({3, 2}, 47)});
}

// ---- grad mode and detach ----

TEST(HigherOrder, GradcheckOfAGradientPenalty) {
  // f(x) = sum((d/dx sum(x^3))^2) = sum(9 x^4): its value needs grad() inside, finite differences included.
  const Tensor x = tensor({0.5, -1.2, 0.8}, std::nullopt, kFloat64).requires_grad_();
  const auto penalty = [](const std::vector<Tensor>& v) {
    const Tensor inner = grad({sum(pow(v[0], 3.0))}, {v[0]}, {}, std::nullopt, /*create_graph=*/true)[0];
    return sum(inner * inner);
  };
  const GradcheckReport report = gradcheck(penalty, {x});
  EXPECT_TRUE(report.ok()) << fmt::format("{}", report);
  EXPECT_NEAR(penalty({x}).item(), 9 * (std::pow(0.5, 4) + std::pow(1.2, 4) + std::pow(0.8, 4)), 1e-12);
}

TEST(GradMode, NoGradGuardRecordsNothingAndRestoresTheMode) {
  Tensor x = leaf({1, 2});
  EXPECT_TRUE(GradMode::is_enabled());
  {
    NoGradGuard no_grad;
    EXPECT_FALSE(GradMode::is_enabled());
    const Tensor y = x * x + 1.0;
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
    {
      GradModeGuard enable(true);
      EXPECT_TRUE((x * 2.0).requires_grad()) << "grad mode can be switched back on inside";
    }
    EXPECT_FALSE(GradMode::is_enabled());
  }
  EXPECT_TRUE(GradMode::is_enabled());
  EXPECT_TRUE((x * x).requires_grad());
}

TEST(GradMode, DetachSharesStorageButLeavesTheGraph) {
  Tensor x = leaf({1, 2});
  const Tensor y = x * 3.0;
  Tensor d = y.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.is_leaf());
  EXPECT_EQ(d.impl().storage.get(), y.impl().storage.get());
  EXPECT_EQ(d.data_ptr<double>(), y.data_ptr<double>());
  // z = x * stop_gradient(3x): only the explicit x path carries gradient.
  (x * d).sum().backward();
  expect_values(x.grad(), {3, 6});
  d.fill_(0);  // detached and not requiring grad: writable even with grad mode on
  expect_values(y, {0, 0});
}

TEST(GradMode, RequiresGradIsOnlyForFloatingPointTensors) {
  Tensor i = from_vector(std::vector<std::int64_t>{1, 2});
  expect_error([&] { i.requires_grad_(); }, {"requires_grad_", "floating-point", "int64"});
  EXPECT_FALSE(i.requires_grad());
  Tensor f = ones({2});
  f.requires_grad_();
  EXPECT_TRUE(f.requires_grad());
  f.requires_grad_(false);
  EXPECT_FALSE(f.requires_grad());
  const Tensor non_leaf = leaf({1}) * 2.0;
  Tensor handle = non_leaf;
  expect_error([&] { handle.requires_grad_(false); }, {"requires_grad_(false)", "non-leaf", "detach()"});
}

// ---- in-place updates ----

TEST(InPlace, UpdatingALeafUnderNoGradGuardIsHowOptimizersStep) {
  // Gradient descent on (w - 3)^2 from w = 0 with step 0.25 halves the distance to 3 each step.
  Tensor w = leaf({0.0});
  for (int step = 0; step < 5; ++step) {
    w.set_grad(Tensor());
    (w - 3.0).pow(2).sum().backward();
    NoGradGuard no_grad;
    w.sub_(w.grad(), 0.25);
  }
  EXPECT_NEAR(w.item(), 3 - 3 * std::pow(0.5, 5), 1e-12);
  EXPECT_TRUE(w.is_leaf());
  EXPECT_TRUE(w.requires_grad());
}

TEST(InPlace, UpdatingALeafThatRequiresGradWhileRecordingIsAnError) {
  // Updates of non-leaves and of plain tensors are recorded instead (test_inplace_autograd.cpp).
  Tensor w = leaf({1, 2});
  expect_error([&] { w.add_(1.0); }, {"add_", "in-place", "requires grad", "NoGradGuard"});
}

TEST(InPlace, ModifyingASavedOutputIsDetectedAtBackward) {
  Tensor x = leaf({0.5, 1.0});
  Tensor y = x.exp();  // exp saves its output, and mul saves y twice
  const Tensor z = y * y;
  {
    NoGradGuard no_grad;
    y.mul_(2.0);
  }
  expect_autograd_error([&] { z.sum().backward(); }, {"mul", "modified by an inplace operation", "version"});
}

TEST(InPlace, ModifyingASavedInputIsDetectedAtBackward) {
  Tensor x = leaf({1, 2});
  const Tensor z = x * x;
  {
    NoGradGuard no_grad;
    x.add_(1.0);
  }
  expect_autograd_error([&] { z.sum().backward(); }, {"mul", "modified by an inplace operation"});
}

TEST(InPlace, ModifyingThroughAnotherViewOfTheStorageIsDetected) {
  // sin saves its input; a write through any view of the same storage bumps the shared version.
  Tensor x = leaf({1, 2, 3});
  const Tensor loss = sin(x).sum();
  {
    NoGradGuard no_grad;
    x.detach().narrow(0, 0, 1).fill_(5);
  }
  expect_autograd_error([&] { loss.backward(); }, {"sin", "modified by an inplace operation"});
}

TEST(InPlace, ModifyingATensorNoBackwardNeedsIsFine) {
  // add saves nothing, so changing its input afterwards cannot corrupt the gradient.
  Tensor x = leaf({1, 2});
  const Tensor y = x + 1.0;
  {
    NoGradGuard no_grad;
    x.mul_(10.0);
  }
  y.sum().backward();
  expect_values(x.grad(), {1, 1});
}

// A leaf saved by ops before and after it takes new data (set_data): each backward gets the
// memory its op saw, although ops share one saved alias of a leaf while its memory stays.
TEST(InPlace, ALeafSavedBeforeAndAfterSetDataGivesEachBackwardTheDataItsOpSaw) {
  Tensor w = leaf({3, 3});
  Tensor x = leaf({5, 5});
  const Tensor before = (w * x).sum() + (w * w).sum();
  w.set_data(from_vector(std::vector<double>{7, 7}, Shape{2}));
  const Tensor after = (w * x).sum();
  after.backward();
  expect_values(x.grad(), {7, 7});
  x.set_grad({});
  before.backward();
  expect_values(x.grad(), {3, 3});
}

// ---- freeing the graph ----

TEST(GraphLifetime, BackwardTwiceWithoutRetainGraphIsAnError) {
  Tensor x = leaf({1, 2});
  const Tensor loss = (x.exp() * x).sum();
  loss.backward();
  expect_autograd_error([&] { loss.backward(); }, {"second time", "retain_graph=true"});
}

TEST(GraphLifetime, RetainGraphAllowsASecondBackward) {
  Tensor x = leaf({1, 2});
  const Tensor loss = (x.exp() * x).sum();
  loss.backward({}, true);
  loss.backward();
  // d/dx (x e^x) = (1 + x) e^x, accumulated twice.
  expect_values(x.grad(), {2 * 2 * std::exp(1.0), 2 * 3 * std::exp(2.0)}, 1e-12);
}

TEST(GraphLifetime, GradFreesTheGraphUnlessRetained) {
  Tensor x = leaf({1, 2});
  const Tensor loss = (x * x).sum();
  grad({loss}, {x}, {}, true);
  expect_values(grad({loss}, {x})[0], {2, 4});
  expect_autograd_error([&] { grad({loss}, {x}); }, {"retain_graph=true"});
  // create_graph retains the graph by default.
  const Tensor cube = x.pow(3).sum();
  grad({cube}, {x}, {}, std::nullopt, true);
  expect_values(grad({cube}, {x})[0], {3, 12});
}

// ---- operand mismatches ----

TEST(Mismatches, ErrorsNameTheOpAndBothOperands) {
  const Tensor a = ones({2, 3}), b = ones({4});
  expect_error([&] { a + b; }, {"add", "[2, 3]", "[4]", "cannot be broadcast"});
  expect_error([&] { a * ones({3, 2}, kFloat64); }, {"mul", "[2, 3]", "[3, 2]"});
  expect_error([&] { matmul(a, ones({4, 5})); }, {"matmul", "[2, 3]", "[4, 5]"});
  expect_error([&] { a.index_select(0, ones({1})); }, {"index_select", "int64"});
}

}  // namespace
}  // namespace tapegrad
