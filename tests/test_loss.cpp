// Specification of the losses (cross_entropy, nll_loss, mse_loss,
// binary_cross_entropy_with_logits) beyond the op table (tests/test_op_table.cpp): hand values,
// the three reductions, stability for huge logits, and bad-input errors.
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.h"

namespace tapegrad {
namespace {

using namespace testing;  // the shared test vocabulary of test_util.h

Tensor classes(const std::vector<std::int64_t>& values, std::optional<Shape> shape = std::nullopt) {
  return from_vector(values, shape);
}

// -log softmax(row)[t] = logsumexp(row) - row[t], computed here by hand.
double row_loss(const std::vector<double>& row, std::int64_t t) {
  double top = row[0];
  for (double v : row) top = std::max(top, v);
  double total = 0;
  for (double v : row) total += std::exp(v - top);
  return top + std::log(total) - row[static_cast<std::size_t>(t)];
}

// ---- cross_entropy ----

TEST(CrossEntropy, EqualsLogSumExpMinusTargetLogitForEachReduction) {
  const Tensor logits = f64({1, 2, 3, -1, 0.5, 0, 2, 2, -3}, Shape{3, 3});
  const Tensor target = classes({2, 0, 1});
  const double l0 = row_loss({1, 2, 3}, 2), l1 = row_loss({-1, 0.5, 0}, 0), l2 = row_loss({2, 2, -3}, 1);
  expect_values(cross_entropy(logits, target, Reduction::None), {l0, l1, l2}, 1e-12);
  EXPECT_NEAR(cross_entropy(logits, target, Reduction::Sum).item(), l0 + l1 + l2, 1e-12);
  EXPECT_NEAR(cross_entropy(logits, target).item(), (l0 + l1 + l2) / 3, 1e-12);
  EXPECT_EQ(cross_entropy(logits, target).dim(), 0);
}

TEST(CrossEntropy, StableForLogitsOfPlusMinusOneThousand) {
  const Tensor logits = f64({1000, -1000, 0, -1000, 1000, 1000}, Shape{2, 3});
  // Row 0 picks its maximum: loss ~ 0; row 1 picks -1000 against two logits of 1000: 2000 + log 2.
  const std::vector<double> losses = cross_entropy(logits, classes({0, 0}), Reduction::None).to_vector<double>();
  EXPECT_NEAR(losses[0], 0, 1e-12);
  EXPECT_NEAR(losses[1], 2000 + std::log(2.0), 1e-9);
  const Tensor x = leaf({1000, -1000, 0, -1000, 1000, 1000}, Shape{2, 3});
  const std::vector<double> g = gradient(cross_entropy(x, classes({0, 0}), Reduction::Sum), x).to_vector<double>();
  // softmax - onehot: row 0 [0, 0, 0]; row 1 [-1, 0.5, 0.5].
  const std::vector<double> expected = {0, 0, 0, -1, 0.5, 0.5};
  for (std::size_t i = 0; i < g.size(); ++i) {
    EXPECT_TRUE(std::isfinite(g[i])) << i;
    EXPECT_NEAR(g[i], expected[i], 1e-12) << i;
  }
  const Tensor single = cross_entropy(f64({1000, -1000, 0, -1000, 1000, 1000}, Shape{2, 3}).to(kFloat32), classes({0, 0}));
  EXPECT_NEAR(single.item(), (2000 + std::log(2.0)) / 2, 1e-3);
}

TEST(CrossEntropy, GradientIsSoftmaxMinusOneHotOverN) {
  const Tensor x = leaf({0.5, -1, 2, 0, 1, 1}, Shape{2, 3});
  const std::vector<double> g = gradient(cross_entropy(x, classes({1, 2})), x).to_vector<double>();
  const std::vector<double> p = softmax(x.detach(), 1).to_vector<double>();
  const std::vector<double> expected = {p[0] / 2, (p[1] - 1) / 2, p[2] / 2, p[3] / 2, p[4] / 2, (p[5] - 1) / 2};
  for (std::size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], expected[i], 1e-12) << i;
}

TEST(CrossEntropy, SpatialScoresAndUnbatchedLogits) {
  // [N, C, d] = [2, 3, 2]: each (n, d) position is one row over the 3 classes.
  const Tensor x = input({2, 3, 2}, 4);
  const Tensor target = classes({0, 2, 1, 1}, Shape{2, 2});
  const Tensor per_position = cross_entropy(x, target, Reduction::None);
  EXPECT_EQ(shape_of(per_position), "[2, 2]");
  const std::vector<double> v = x.to_vector<double>(), losses = per_position.to_vector<double>();
  for (std::int64_t n = 0; n < 2; ++n)
    for (std::int64_t d = 0; d < 2; ++d) {
      const std::vector<double> row = {v[n * 6 + d], v[n * 6 + 2 + d], v[n * 6 + 4 + d]};
      EXPECT_NEAR(losses[n * 2 + d], row_loss(row, target.to_vector<std::int64_t>()[n * 2 + d]), 1e-12);
    }
  expect_gradcheck([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], target); }, {x});
  const Tensor unbatched = cross_entropy(f64({1, 2, 3}), classes({1}, Shape{}));
  EXPECT_EQ(unbatched.dim(), 0);
  EXPECT_NEAR(unbatched.item(), row_loss({1, 2, 3}, 1), 1e-12);
}

TEST(CrossEntropy, BadTargetsAreRefusedWithClearMessages) {
  const Tensor logits = zeros({2, 5});
  expect_error([&] { cross_entropy(logits, classes({1, 7})); }, {"cross_entropy", "target 7", "5 classes"});
  expect_error([&] { cross_entropy(logits, classes({-1, 0})); }, {"cross_entropy", "target -1"});
  expect_error([&] { cross_entropy(logits, classes({1, 2, 3})); }, {"cross_entropy", "[2]", "[3]"});
  expect_error([&] { cross_entropy(logits, zeros({2})); }, {"cross_entropy", "int64", "float32"});
  expect_error([&] { cross_entropy(zeros({2, 5}, kInt64), classes({1, 2})); }, {"cross_entropy", "floating-point"});
}

// ---- nll_loss ----

TEST(NllLoss, PicksMinusTheTargetLogProbability) {
  const Tensor lp = f64({-0.1, -2, -3, -1.5, -0.3, -2.5}, Shape{2, 3});
  expect_values(nll_loss(lp, classes({2, 1}), Reduction::None), {3, 0.3}, 1e-12);
  EXPECT_NEAR(nll_loss(lp, classes({2, 1})).item(), 1.65, 1e-12);
  EXPECT_NEAR(nll_loss(lp, classes({0, 0}), Reduction::Sum).item(), 1.6, 1e-12);
}

TEST(NllLoss, OfLogSoftmaxEqualsCrossEntropy) {
  const Tensor x = input({4, 6}, 5);
  const Tensor target = classes({5, 0, 3, 3});
  EXPECT_NEAR(nll_loss(log_softmax(x, 1), target).item(), cross_entropy(x, target).item(), 1e-12);
  expect_values(gradient(nll_loss(log_softmax(x, 1), target), x).detach(),
                gradient(cross_entropy(x, target), x).to_vector<double>(), 1e-12);
}

TEST(NllLoss, OutOfRangeTargetIsRefused) {
  expect_error([] { nll_loss(zeros({2, 3}), classes({0, 3})); }, {"nll_loss", "target 3", "3 classes"});
}

// ---- mse_loss ----

TEST(MseLoss, MeanSumAndNoneOfSquaredDifferences) {
  const Tensor a = f64({1, 2, 3, 4}, Shape{2, 2}), b = f64({0, 2, 5, 1}, Shape{2, 2});
  expect_values(mse_loss(a, b, Reduction::None), {1, 0, 4, 9});
  EXPECT_DOUBLE_EQ(mse_loss(a, b, Reduction::Sum).item(), 14);
  EXPECT_DOUBLE_EQ(mse_loss(a, b).item(), 3.5);
}

TEST(MseLoss, ShapesMustMatchExactly) {
  // PyTorch would broadcast [4] against [4, 1] into a [4, 4] loss; here it is an error.
  expect_error([] { mse_loss(zeros({4}), zeros({4, 1})); }, {"mse_loss", "[4]", "[4, 1]", "same shape"});
  expect_error([] { mse_loss(zeros({4}), zeros({4}, kFloat64)); }, {"mse_loss", "different dtypes"});
}

// ---- binary_cross_entropy_with_logits ----

TEST(BceWithLogits, MatchesTheDefinitionAndStaysFiniteForHugeLogits) {
  const Tensor x = f64({0.5, -1, 0, 2}), t = f64({1, 0, 0.5, 0.25});
  std::vector<double> expected;
  const std::vector<double> xs = x.to_vector<double>(), ts = t.to_vector<double>();
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const double p = 1 / (1 + std::exp(-xs[i]));  // -[t log p + (1 - t) log(1 - p)]
    expected.push_back(-(ts[i] * std::log(p) + (1 - ts[i]) * std::log(1 - p)));
  }
  expect_values(binary_cross_entropy_with_logits(x, t, Reduction::None), expected, 1e-12);
  // x = 1000 with t = 0 costs 1000; x = -1000 with t = 0 costs nothing.
  expect_values(binary_cross_entropy_with_logits(f64({1000, -1000}), f64({0, 0}), Reduction::None), {1000, 0}, 1e-9);
  EXPECT_NEAR(binary_cross_entropy_with_logits(f64({1000, -1000}), f64({0, 0}), Reduction::Sum).item(), 1000, 1e-9);
}

TEST(BceWithLogits, GradientAtZeroLogitIsSigmoidMinusTarget) {
  const Tensor x = leaf({0, 0}), t = f64({1, 0.2});
  expect_values(gradient(binary_cross_entropy_with_logits(x, t, Reduction::Sum), x), {-0.5, 0.3}, 1e-12);
}

TEST(BceWithLogits, ShapesMustMatch) {
  expect_error([] { binary_cross_entropy_with_logits(zeros({3}), zeros({3, 1})); },
               {"binary_cross_entropy_with_logits", "[3]", "[3, 1]"});
}

}  // namespace
}  // namespace tapegrad
