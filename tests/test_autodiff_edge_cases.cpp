// Automatic differentiation differentiates the program that ran, not the mathematical function
// it was meant to compute: these are the cases (EXPERIMENTS.md D1-D5) where that shows, written
// with ordinary C++ control flow in float64.
#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.h"

namespace tapegrad {
namespace {

using tapegrad::testing::expect_values;

using ScalarFunction = std::function<Tensor(const Tensor&)>;

// d f / d x at x0, by reverse mode on a 0-dim float64 leaf.
double derivative_at(const ScalarFunction& f, double x0) {
  Tensor x = scalar_tensor(x0, kFloat64).requires_grad_();
  return grad({f(x)}, {x})[0].item();
}

// ---- D1: a nested composite agrees with its hand-derived derivative ----

Tensor nested_composite(const Tensor& x) {
  const Tensor e = exp(x);
  const Tensor u = e + e.pow(2);
  return exp(u) + sin(u);
}

double nested_composite_derivative(double x) {
  // u = e^x + e^2x, u' = e^x + 2 e^2x, f' = (e^u + cos u) u'
  const double e = std::exp(x), u = e + e * e;
  return (std::exp(u) + std::cos(u)) * (e + 2 * e * e);
}

TEST(EdgeCasesD1, NestedCompositeDerivativeIs555Point9719AtOneHalf) {
  const double derivative = derivative_at(nested_composite, 0.5);
  EXPECT_GE(derivative, 555.9719);  // 555.97196790...
  EXPECT_LT(derivative, 555.9720);
  EXPECT_NEAR(derivative, nested_composite_derivative(0.5), 1e-12 * 555.9719);
}

TEST(EdgeCasesD1, NestedCompositeMatchesTheExplicitDerivativeEverywhereSampled) {
  for (double x = -2.0; x <= 1.0; x += 0.25)
    EXPECT_NEAR(derivative_at(nested_composite, x), nested_composite_derivative(x),
                1e-12 * std::abs(nested_composite_derivative(x)) + 1e-14)
        << "x = " << x;
}

// ---- D2: branches decide the derivative at the point they single out ----

// x^3 for x <= 0, x^3 + 200 for x > 0: a jump at 0 that autodiff cannot see.
Tensor jump(const Tensor& x) {
  if (x.item() <= 0) return x.pow(3);
  return x.pow(3) + 200.0;
}

// The same values, with x == 0 handled by its own (equal-valued) branch.
Tensor jump_with_zero_branch(const Tensor& x) {
  if (x.item() == 0) return x * -1728.0;
  return jump(x);
}

Tensor fourth_power(const Tensor& x) { return x.pow(4); }

Tensor fourth_power_with_zero_branch(const Tensor& x) {
  if (x.item() == 0) return x * 897.0;
  return x.pow(4);
}

TEST(EdgeCasesD2, JumpFunctionHasDerivativeZeroAtZero) {
  EXPECT_EQ(derivative_at(jump, 0.0), 0.0);
}

TEST(EdgeCasesD2, ExtraBranchAtZeroGivesMinus1728) {
  EXPECT_EQ(jump_with_zero_branch(scalar_tensor(0.0, kFloat64)).item(), jump(scalar_tensor(0.0, kFloat64)).item())
      << "both programs compute the same value at 0";
  EXPECT_EQ(derivative_at(jump_with_zero_branch, 0.0), -1728.0);
}

TEST(EdgeCasesD2, FourthPowerHasDerivativeZeroAtZeroOr897WithABranch) {
  EXPECT_EQ(derivative_at(fourth_power, 0.0), 0.0);
  EXPECT_EQ(derivative_at(fourth_power_with_zero_branch, 0.0), 897.0);
}

TEST(EdgeCasesD2, AwayFromZeroTheBranchesHaveTheirOrdinaryDerivatives) {
  for (double x = -10.0; x <= 10.0; x += 0.5) {
    if (x == 0) continue;
    EXPECT_NEAR(derivative_at(jump, x), 3 * x * x, 1e-12) << "x = " << x;
    EXPECT_NEAR(derivative_at(jump_with_zero_branch, x), 3 * x * x, 1e-12) << "x = " << x;
    EXPECT_NEAR(derivative_at(fourth_power_with_zero_branch, x), 4 * x * x * x, 1e-9) << "x = " << x;
  }
}

// ---- D3: a loop's condition decides how many factors of 1/2 the derivative has ----

Tensor halve_while_at_least(const Tensor& input) {
  Tensor x = input;
  while (std::abs(x.item()) >= 1e-6) x = x / 2.0;
  return x;
}

Tensor halve_while_above(const Tensor& input) {
  Tensor x = input;
  while (std::abs(x.item()) > 1e-6) x = x / 2.0;
  return x;
}

TEST(EdgeCasesD3, HalvingLoopWithAtLeastConditionGivesOneHalfAtTheThreshold) {
  EXPECT_EQ(derivative_at(halve_while_at_least, 1e-6), 0.5);
}

TEST(EdgeCasesD3, HalvingLoopWithStrictConditionGivesOneAtTheThreshold) {
  EXPECT_EQ(derivative_at(halve_while_above, 1e-6), 1.0);
}

TEST(EdgeCasesD3, HalvingLoopDerivativeCountsTheIterations) {
  // From 1, twenty halvings reach 2^-20 < 1e-6 <= 2^-19.
  EXPECT_EQ(derivative_at(halve_while_at_least, 1.0), std::ldexp(1.0, -20));
  EXPECT_EQ(derivative_at(halve_while_at_least, -1.0), std::ldexp(1.0, -20));
  EXPECT_EQ(derivative_at(halve_while_above, 5e-7), 1.0) << "no iteration ran";
}

// ---- D4: a step written with a comparison has no gradient path ----

Tensor heaviside(const Tensor& x) { return gt(x, 0.0).to(x.dtype()); }

TEST(EdgeCasesD4, HeavisideViaComparisonDoesNotRequireGrad) {
  // As torch's (x > 0).float(): the result is a constant as far as the tape is concerned.
  const Tensor x = linspace(-10, 10, 201, kFloat64).requires_grad_();
  const Tensor h = heaviside(x);
  EXPECT_FALSE(h.requires_grad());
  EXPECT_EQ(h.grad_fn(), nullptr);
  EXPECT_EQ(h.dtype(), kFloat64);
  std::vector<double> expected;
  for (double v : x.to_vector<double>()) expected.push_back(v > 0 ? 1.0 : 0.0);
  expect_values(h, expected, 0.0);
  try {
    grad({h.sum()}, {x});
    ADD_FAILURE() << "differentiating a comparison should be refused";
  } catch (const AutogradError& error) {
    EXPECT_NE(std::string(error.what()).find("does not require grad"), std::string::npos) << error.what();
  }
}

TEST(EdgeCasesD4, HeavisideContributesZeroDerivativeEverywhere) {
  // y = H(x) * w + sin(x): the step's only gradient path is through w.
  Tensor x = linspace(-10, 10, 201, kFloat64).requires_grad_();
  Tensor w = scalar_tensor(3.0, kFloat64).requires_grad_();
  const Tensor stepped = heaviside(x) * w;
  const std::vector<Tensor> through_step = grad({stepped.sum()}, {x, w}, {}, true, false, true);
  EXPECT_FALSE(through_step[0].defined()) << "no gradient path from the step back to x";
  const std::vector<double> xs = x.to_vector<double>();
  EXPECT_EQ(through_step[1].item(), std::count_if(xs.begin(), xs.end(), [](double v) { return v > 0; }))
      << "dy/dw = H(x), summed";

  const Tensor y = stepped + sin(x);
  const Tensor dy = grad({y.sum()}, {x})[0];
  expect_values(dy, cos(x.detach()).to_vector<double>(), 1e-15);
}

// ---- D5: sigmoid least squares against its closed-form gradient ----

TEST(EdgeCasesD5, SigmoidLeastSquaresGradientMatchesTheClosedForm) {
  for (std::uint64_t seed : {1u, 2u, 3u, 4u, 5u}) {
    Generator generator(seed);
    const Tensor a = randn({5}, generator, kFloat64);
    Tensor x = randn({5}, generator, kFloat64).requires_grad_();
    const double y = rand({}, generator, kFloat64).item();
    const Tensor loss = (y - sigmoid(dot(a, x))).pow(2);
    const Tensor dx = grad({loss}, {x})[0];

    // d/dx (y - s(a.x))^2 = -2 e^{a.x} (e^{a.x} (y - 1) + y) / (1 + e^{a.x})^3 * a
    const double z = dot(a, x).item(), e = std::exp(z);
    const double scale = -2 * e * (e * (y - 1) + y) / std::pow(1 + e, 3);
    std::vector<double> expected;
    for (double ai : a.to_vector<double>()) expected.push_back(scale * ai);
    SCOPED_TRACE(::testing::Message() << "seed " << seed << ", a.x = " << z << ", y = " << y);
    expect_values(dx, expected, 1e-14);
  }
}

}  // namespace
}  // namespace tapegrad
