// What the op table (tests/test_op_table.cpp) cannot say about the elementwise ops: hand-computed
// values, saturation at extremes, the gradient at kinks and ties, NaN propagation, integer
// arithmetic, comparisons and operators. In-place updates: test_inplace.cpp.
#include <cmath>
#include <functional>
#include <limits>
#include <numbers>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.h"

namespace tapegrad {
namespace {

using namespace testing;  // the shared test vocabulary of test_util.h

// ---- binary arithmetic ----

TEST(Elementwise, AddBroadcastsColumnAgainstRow) {
  // [3, 1] + [1, 4] -> [3, 4]: entry (i, j) is column[i] + row[j].
  const Tensor sum_grid = add(f64({1, 2, 3}, Shape{3, 1}), f64({10, 20, 30, 40}, Shape{1, 4}));
  EXPECT_EQ(shape_of(sum_grid), "[3, 4]");
  expect_values(sum_grid, {11, 21, 31, 41, 12, 22, 32, 42, 13, 23, 33, 43});
}

TEST(Elementwise, AddAndSubScaleTheSecondOperandByAlpha) {
  const Tensor a = f64({1, 2, 3}), b = f64({10, 20, 30});
  expect_values(add(a, b), {11, 22, 33});
  expect_values(add(a, b, 2), {21, 42, 63});       // a + 2 b
  expect_values(sub(a, b), {-9, -18, -27});
  expect_values(sub(a, b, 0.5), {-4, -8, -12});    // a - b / 2
  expect_values(sub(a, b, -1), {11, 22, 33});      // a - (-1) b
}

TEST(Elementwise, MulAndDivBroadcastARowAcrossAMatrix) {
  const Tensor matrix = f64({1, 2, 3, 4, 5, 6}, Shape{2, 3}), row = f64({1, 2, 4});
  expect_values(mul(matrix, row), {1, 4, 12, 4, 10, 24});
  expect_values(div(matrix, row), {1, 1, 0.75, 4, 2.5, 1.5});
  expect_values(neg(row), {-1, -2, -4});
}

TEST(Elementwise, ZeroDimScalarBroadcastsAgainstAnyShape) {
  const Tensor two = scalar_tensor(2.0, kFloat64);
  const Tensor doubled = mul(f64({1, 2, 3, 4, 5, 6}, Shape{2, 3}), two);
  EXPECT_EQ(shape_of(doubled), "[2, 3]");
  expect_values(doubled, {2, 4, 6, 8, 10, 12});
  const Tensor both_scalars = add(two, scalar_tensor(0.5, kFloat64));
  EXPECT_EQ(both_scalars.dim(), 0);
  EXPECT_DOUBLE_EQ(both_scalars.item(), 2.5);
}

TEST(Elementwise, ScalarFormsMatchTheirFormulas) {
  const Tensor a = f64({1, 2, 4});
  expect_values(add(a, 1.5), {2.5, 3.5, 5.5});
  expect_values(sub(a, 1.5), {-0.5, 0.5, 2.5});
  expect_values(rsub(a, 1.5), {0.5, -0.5, -2.5});  // 1.5 - a
  expect_values(mul(a, 3.0), {3, 6, 12});
  expect_values(div(a, 4.0), {0.25, 0.5, 1});
  expect_values(rdiv(a, 8.0), {8, 4, 2});           // 8 / a
}

TEST(Elementwise, OperatorsMatchTheNamedOps) {
  const Tensor a = f64({1, 2, 4}), b = f64({2, 8, 1});
  expect_values(a + b, {3, 10, 5});
  expect_values(a - b, {-1, -6, 3});
  expect_values(a * b, {2, 16, 4});
  expect_values(a / b, {0.5, 0.25, 4});
  expect_values(a + 1.0, {2, 3, 5});
  expect_values(a - 1.0, {0, 1, 3});
  expect_values(a * 2.0, {2, 4, 8});
  expect_values(a / 2.0, {0.5, 1, 2});
  expect_values(1.0 + a, {2, 3, 5});
  expect_values(1.0 - a, {0, -1, -3});
  expect_values(2.0 * a, {2, 4, 8});
  expect_values(2.0 / a, {2, 1, 0.5});
  expect_values(-a, {-1, -2, -4});
}

TEST(Elementwise, BinaryGradientsReduceOverBroadcastDims) {
  // d sum(a * b) / d a for a [3, 1] against b [1, 4]: each a_i meets every b_j, so it gets sum(b).
  const Tensor a = leaf({1, 2, 3}, Shape{3, 1}), b = leaf({1, 2, 3, 4}, Shape{1, 4});
  const auto grads = grad({sum(mul(a, b))}, {a, b});
  EXPECT_EQ(shape_of(grads[0]), "[3, 1]");
  expect_values(grads[0], {10, 10, 10});
  EXPECT_EQ(shape_of(grads[1]), "[1, 4]");
  expect_values(grads[1], {6, 6, 6, 6});
  // sub with alpha: d(a - alpha b)/db = -alpha, summed over the 3 rows b was broadcast across.
  expect_values(gradient(sub(a, b, 2.5), b), {-7.5, -7.5, -7.5, -7.5});
}

TEST(Elementwise, SumsOfOneShapePassTheGradientScaledByAlpha) {
  // Operands of one shape take the node that keeps no shapes: a gets the gradient as it is, b
  // alpha times it (-alpha for sub; sub with alpha -1 passes it unscaled).
  const Tensor a = leaf({1, 2, 3}, Shape{3}), b = leaf({4, 5, 6}, Shape{3});
  const Tensor weights = f64({1, 2, 3});  // distinct per element, so a misplaced gradient shows
  const auto weighted = [&](const Tensor& y, const Tensor& x) { return grad({sum(y * weights)}, {x})[0]; };
  expect_values(weighted(add(a, b, 2), a), {1, 2, 3});
  expect_values(weighted(add(a, b, 2), b), {2, 4, 6});
  expect_values(weighted(sub(a, b, 0.5), a), {1, 2, 3});
  expect_values(weighted(sub(a, b, 0.5), b), {-0.5, -1, -1.5});
  expect_values(weighted(sub(a, b, -1), b), {1, 2, 3});
  expect_values(weighted(a - b, b), {-1, -2, -3});
}

TEST(Elementwise, SquareOfAnIntermediateHasDerivativeTwiceTheProduct) {
  // t * t with t computed (not a leaf) takes mul's single-product path: d(t^2)/dt = 2 t.
  const Tensor x = input({2, 3}, 41);
  const Tensor t = tanh(x);
  const Tensor dx = gradient(sum(t * t), x);
  const Tensor expected = (2.0 * t * (1.0 - t * t)).detach();
  expect_values(dx, expected.to_vector<double>(), 1e-12);
  const auto square_of_intermediate = [](const std::vector<Tensor>& in) {
    const Tensor t = exp(in[0]);
    return t * t;
  };
  expect_gradcheck(square_of_intermediate, {x});
  expect_gradgradcheck(square_of_intermediate, {x});
}

// ---- powers ----

TEST(Elementwise, PowWithScalarExponentMatchesHandValues) {
  expect_values(pow(f64({1, -2, 3}), 2.0), {1, 4, 9});
  expect_values(pow(f64({4, 9, 0.25}), 0.5), {2, 3, 0.5});
  expect_values(pow(f64({2, -1, 0.5}), 3.0), {8, -1, 0.125});
  expect_values(pow(f64({2, 4, -0.5}), -1.0), {0.5, 0.25, -2});
  expect_values(pow(f64({0, 5}), 0.0), {1, 1});  // x^0 = 1, including 0^0 as in PyTorch
  expect_values(f64({3}).pow(2.0), {9});
}

TEST(Elementwise, PowWithTensorExponentAndScalarBaseMatchHandValues) {
  expect_values(pow(f64({2, 3, 4}), f64({3, 2, 0.5})), {8, 9, 2});
  expect_values(pow(f64({2, 3}, Shape{2, 1}), f64({0, 1, 2})), {1, 2, 4, 1, 3, 9});  // broadcast to [2, 3]
  expect_values(pow(2.0, f64({0, 1, 3, -1})), {1, 2, 8, 0.5});
}

TEST(Elementwise, PowScalarExponentGradientIsExponentTimesPowerMinusOne) {
  const Tensor x = leaf({1, 2, 4});
  expect_values(gradient(pow(x, 2.0), x), {2, 4, 8});            // 2 x
  expect_values(gradient(pow(x, 0.5), x), {0.5, 0.5 / std::sqrt(2.0), 0.25});  // 1 / (2 sqrt x)
  expect_values(gradient(pow(x, 3.0), x), {3, 12, 48});           // 3 x^2
  expect_values(gradient(pow(x, -1.0), x), {-1, -0.25, -0.0625}); // -1 / x^2
  expect_values(gradient(pow(x, 0.0), x), {0, 0, 0});
}

TEST(Elementwise, PowTensorExponentGradientIsZeroWhereBaseIsZero) {
  // d(a^b)/db = a^b log(a) is taken as 0 at a = 0 (its limit for b > 0), as PyTorch does; the
  // base still gets b a^(b-1).
  const Tensor base = leaf({0, 2}), exponent = leaf({2, 3});
  const auto grads = grad({sum(pow(base, exponent))}, {base, exponent});
  expect_values(grads[0], {0, 12});
  expect_values(grads[1], {0, 8 * std::log(2.0)});
}

TEST(Elementwise, PowOfZeroBaseHasZeroExponentGradient) {
  // 0^b = 0 for b > 0; d(0^b)/db = 0^b log(0) is taken as 0 rather than 0 * -inf = NaN, as in PyTorch.
  const Tensor exponent = leaf({1, 2.5});
  const Tensor y = pow(0.0, exponent);
  expect_values(y, {0, 0});
  expect_values(gradient(y, exponent), {0, 0});
}

// ---- transcendental functions and activations ----

TEST(Elementwise, TranscendentalFunctionsMatchHandValues) {
  expect_values(exp(f64({0, 1, -1})), {1, std::exp(1.0), std::exp(-1.0)});
  expect_values(log(f64({1, std::exp(2.0), 0.5})), {0, 2, std::log(0.5)});
  expect_values(sqrt(f64({4, 0.25, 2})), {2, 0.5, std::sqrt(2.0)});
  expect_values(abs(f64({-2, 0, 3})), {2, 0, 3});
  expect_values(sin(f64({0, std::numbers::pi / 2, std::numbers::pi / 6})), {0, 1, 0.5});
  expect_values(cos(f64({0, std::numbers::pi, std::numbers::pi / 3})), {1, -1, 0.5});
  expect_values(tanh(f64({0, 0.5})), {0, std::tanh(0.5)});
  expect_values(sigmoid(f64({0, 2})), {0.5, 1 / (1 + std::exp(-2.0))});
  expect_values(relu(f64({-1, 0, 2.5})), {0, 0, 2.5});
}

TEST(Elementwise, SigmoidAndTanhSaturateWithoutOverflowAtThousand) {
  // exp(1000) overflows; sigmoid splits by sign so both ends stay finite, and so do gradients.
  const Tensor x = leaf({-1000, 1000});
  const Tensor s = sigmoid(x), t = tanh(x);
  expect_values(s, {0, 1});
  expect_values(t, {-1, 1});
  expect_values(gradient(s, x), {0, 0});
  expect_values(gradient(t, x), {0, 0});
  expect_values(sigmoid(f64({-1000, 1000}).to(kFloat32)), {0, 1});
}

TEST(Elementwise, AbsAndReluUseZeroGradientAtTheKink) {
  // PyTorch's conventions: sign(0) = 0 for abs, and relu's gradient is 0 at 0.
  const Tensor x = leaf({-2, 0, 3});
  expect_values(gradient(abs(x), x), {-1, 0, 1});
  expect_values(gradient(relu(x), x), {0, 0, 1});
}

TEST(Elementwise, ReluPassesNoGradientWhereTheInputIsNotPositive) {
  // As PyTorch's threshold_backward: a NaN gradient reaches only the positive inputs.
  const Tensor x = leaf({-1, 0, 2});
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor g = grad({relu(x)}, {x}, {f64({nan, nan, nan})})[0];
  EXPECT_EQ(g[0].item(), 0);
  EXPECT_EQ(g[1].item(), 0);
  EXPECT_TRUE(std::isnan(g[2].item()));
}

// ---- clamp, minimum, maximum, where ----

TEST(Elementwise, ClampLimitsToEitherOrBothBounds) {
  const Tensor x = f64({-2, -0.5, 0, 0.5, 2});
  expect_values(clamp(x, -0.5, 0.5), {-0.5, -0.5, 0, 0.5, 0.5});
  expect_values(clamp(x, -0.5, std::nullopt), {-0.5, -0.5, 0, 0.5, 2});
  expect_values(clamp(x, std::nullopt, 0.5), {-2, -0.5, 0, 0.5, 0.5});
}

TEST(Elementwise, ClampGradientPassesInsideTheBoundsInclusive) {
  // As torch.clamp: the gradient is 1 where low <= x <= high (bounds included), 0 outside.
  const Tensor x = leaf({-2, -0.5, 0, 0.5, 2});
  expect_values(gradient(clamp(x, -0.5, 0.5), x), {0, 1, 1, 1, 0});
  expect_values(gradient(clamp(x, -0.5, std::nullopt), x), {0, 1, 1, 1, 1});
  expect_values(gradient(clamp(x, std::nullopt, 0.5), x), {1, 1, 1, 1, 0});
}

TEST(Elementwise, ClampWithLowAboveHighGivesHigh) {
  // torch.clamp is min(max(x, low), high): with low > high every element becomes high, and no
  // element lies inside the bounds, so no gradient passes.
  const Tensor x = leaf({-1, 0.5, 2});
  const Tensor y = clamp(x, 1.0, 0.0);
  expect_values(y, {0, 0, 0});
  expect_values(gradient(y, x), {0, 0, 0});
  Tensor z = f64({-1, 0.5, 2});
  z.clamp_(1, 0);
  expect_values(z, {0, 0, 0});
}

TEST(Elementwise, MinimumAndMaximumPickElementwiseAndBroadcast) {
  const Tensor a = f64({1, 5, 3, 7}, Shape{2, 2}), b = f64({4, 4});
  expect_values(minimum(a, b), {1, 4, 3, 4});
  expect_values(maximum(a, b), {4, 5, 4, 7});
}

TEST(Elementwise, MinimumAndMaximumRouteGradientToTheSelectedOperandAndSplitTies) {
  // At a tie (the middle element) each operand gets half, as in PyTorch.
  const Tensor a = leaf({1, 2, 5}), b = leaf({3, 2, 4});
  auto grads = grad({sum(maximum(a, b))}, {a, b});
  expect_values(grads[0], {0, 0.5, 1});
  expect_values(grads[1], {1, 0.5, 0});
  grads = grad({sum(minimum(a, b))}, {a, b});
  expect_values(grads[0], {1, 0.5, 0});
  expect_values(grads[1], {0, 0.5, 1});
}

TEST(Elementwise, MinimumAndMaximumPropagateNaNFromEitherOperand) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor a = f64({nan, 1}), b = f64({1, nan});
  for (const Tensor& result : {minimum(a, b), maximum(a, b), minimum(b, a), maximum(b, a)})
    for (const double value : result.to_vector<double>()) EXPECT_TRUE(std::isnan(value));
}

TEST(Elementwise, WhereTakesFirstValueWhereConditionIsTrue) {
  const Tensor condition = f64({1, 0, 2, 0}, Shape{2, 2}).to(kBool);
  expect_values(where(condition, f64({1, 2, 3, 4}, Shape{2, 2}), f64({-1, -2, -3, -4}, Shape{2, 2})), {1, -2, 3, -4});
  // Broadcasting all three: [3] condition, [2, 1] and 0-dim values -> [2, 3].
  const Tensor picked = where(f64({1, 0, 1}).to(kBool), f64({10, 20}, Shape{2, 1}), scalar_tensor(-1, kFloat64));
  EXPECT_EQ(shape_of(picked), "[2, 3]");
  expect_values(picked, {10, -1, 10, 20, -1, 20});
  // As torch, a condition of another dtype is refused rather than read as its truth.
  expect_error([] { where(from_vector<std::int64_t>({0, 1}), f64({1, 2}), f64({3, 4})); }, {"where", "bool", "int64"});
}

TEST(Elementwise, WhereRoutesGradientByTheCondition) {
  const Tensor a = leaf({1, 2, 3}), b = leaf({5}, Shape{});
  const Tensor condition = f64({1, 0, 1}) > 0.5;
  const auto grads = grad({sum(where(condition, a, b))}, {a, b});
  expect_values(grads[0], {1, 0, 1});
  EXPECT_EQ(grads[1].dim(), 0);  // b was broadcast to the one position the condition rejects
  expect_values(grads[1], {1});
}

// ---- comparisons and sign: values only ----

TEST(Elementwise, ComparisonsGiveBool) {
  const Tensor a = f64({1, 2, 3}), b = f64({2, 2, 2});
  expect_values(eq(a, b), {0, 1, 0});
  expect_values(ne(a, b), {1, 0, 1});
  expect_values(lt(a, b), {1, 0, 0});
  expect_values(le(a, b), {1, 1, 0});
  expect_values(gt(a, b), {0, 0, 1});
  expect_values(ge(a, b), {0, 1, 1});
  EXPECT_EQ(eq(a, b).dtype(), kBool);
  EXPECT_EQ(lt(a.to(kFloat32), b.to(kFloat32)).dtype(), kBool);
  const Tensor ints = from_vector<std::int64_t>({1, 2, 3});
  EXPECT_EQ(gt(ints, 1.5).dtype(), kBool);
  expect_values(gt(ints, 1.5), {0, 1, 1});
}

TEST(Elementwise, ScalarComparisonsAndOperatorsMatchTheNamedOps) {
  const Tensor a = f64({1, 2, 3}), b = f64({2, 2, 2});
  expect_values(eq(a, 2.0), {0, 1, 0});
  expect_values(ne(a, 2.0), {1, 0, 1});
  expect_values(lt(a, 2.0), {1, 0, 0});
  expect_values(le(a, 2.0), {1, 1, 0});
  expect_values(gt(a, 2.0), {0, 0, 1});
  expect_values(ge(a, 2.0), {0, 1, 1});
  expect_values(a == b, {0, 1, 0});
  expect_values(a != b, {1, 0, 1});
  expect_values(a < b, {1, 0, 0});
  expect_values(a <= b, {1, 1, 0});
  expect_values(a > b, {0, 0, 1});
  expect_values(a >= b, {0, 1, 1});
  expect_values(a == 3.0, {0, 0, 1});
  expect_values(a != 3.0, {1, 1, 0});
  expect_values(a < 3.0, {1, 1, 0});
  expect_values(a <= 1.0, {1, 0, 0});
  expect_values(a > 1.0, {0, 1, 1});
  expect_values(a >= 3.0, {0, 0, 1});
}

TEST(Elementwise, ComparisonsBroadcast) {
  const Tensor column = f64({1, 2, 3}, Shape{3, 1}), row = f64({2, 3}, Shape{1, 2});
  const Tensor less = lt(column, row);
  EXPECT_EQ(shape_of(less), "[3, 2]");
  expect_values(less, {1, 1, 0, 1, 0, 0});
}

TEST(Elementwise, ComparisonsAndSignAreNotDifferentiable) {
  const Tensor x = leaf({-2, 0, 3}), y = leaf({1, 1, 1});
  expect_values(sign(x), {-1, 0, 1});
  for (const Tensor& result : {eq(x, y), ne(x, y), lt(x, y), le(x, y), gt(x, y), ge(x, y), eq(x, 0.0), ne(x, 0.0),
                               lt(x, 0.0), le(x, 0.0), gt(x, 0.0), ge(x, 0.0), sign(x)}) {
    EXPECT_FALSE(result.requires_grad());
    EXPECT_EQ(result.grad_fn(), nullptr);
  }
}

// ---- bad operands ----

TEST(Elementwise, ComparisonsRefuseBadOperandsNamingBoth) {
  const Tensor a = zeros({2, 3}, kFloat64), b = zeros({4}, kFloat64);
  expect_error([&] { eq(a, b); }, {"eq", "[2, 3]", "[4]"});
  expect_error([&] { (void)(a < b); }, {"lt", "[2, 3]", "[4]"});
  expect_error([&] { (void)(a + b); }, {"add", "[2, 3]", "[4]"});
}

TEST(Elementwise, IntegerArithmeticStaysExact) {
  // Ops that are closed over the integers accept int64.
  const Tensor a = from_vector<std::int64_t>({-3, 4}), b = from_vector<std::int64_t>({2, 5});
  EXPECT_EQ(add(a, b).to_vector<std::int64_t>(), (std::vector<std::int64_t>{-1, 9}));
  EXPECT_EQ(mul(a, b).to_vector<std::int64_t>(), (std::vector<std::int64_t>{-6, 20}));
  EXPECT_EQ(abs(a).to_vector<std::int64_t>(), (std::vector<std::int64_t>{3, 4}));
  EXPECT_EQ(relu(a).to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 4}));
  EXPECT_EQ(add(a, 1.0).dtype(), kInt64);
}

TEST(Elementwise, ComparisonsRefuseUndefinedTensors) {
  const Tensor undefined;
  expect_error([&] { gt(undefined, 0.0); }, {"gt", "undefined"});
  expect_error([&] { sign(undefined); }, {"sign", "undefined"});
}

}  // namespace
}  // namespace tapegrad
