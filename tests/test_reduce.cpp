// What the op table (tests/test_op_table.cpp) cannot say about the reductions (sum, mean, max/min
// with indices, argmax/argmin, logsumexp, softmax, log_softmax, cumsum, sort, topk, sum_to):
// hand-computed values, where gradients go at ties, int64 indices, NaN and tie order in sorting,
// stability at +-1000, float32 running sums carried in double, and their errors.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.h"

namespace tapegrad {
namespace {

using namespace testing;  // the shared test vocabulary of test_util.h

std::vector<std::int64_t> int_values(const Tensor& t) { return t.to_vector<std::int64_t>(); }

Tensor matrix() { return f64({1, 2, 3, 4, 5, 6}, Shape{2, 3}); }  // [[1, 2, 3], [4, 5, 6]]

// ---- sum and mean ----

TEST(Reduce, SumOverAllDimsGivesAZeroDimTensor) {
  const Tensor total = sum(matrix());
  EXPECT_EQ(total.dim(), 0);
  EXPECT_DOUBLE_EQ(total.item(), 21);
  EXPECT_DOUBLE_EQ(matrix().sum().item(), 21);
}

TEST(Reduce, SumOverGivenDimsDropsOrKeepsThem) {
  expect_values(sum(matrix(), {0}), {5, 7, 9});   // column sums
  expect_values(sum(matrix(), {1}), {6, 15});     // row sums
  expect_values(sum(matrix(), {-1}), {6, 15});    // -1 is the last dim
  EXPECT_EQ(shape_of(sum(matrix(), {1})), "[2]");
  EXPECT_EQ(shape_of(sum(matrix(), {1}, true)), "[2, 1]");
  EXPECT_EQ(shape_of(sum(matrix(), {-2}, true)), "[1, 3]");
  const Tensor both = sum(matrix(), {0, 1});
  EXPECT_EQ(both.dim(), 0);
  EXPECT_DOUBLE_EQ(both.item(), 21);
  EXPECT_EQ(shape_of(sum(matrix(), {-1, 0}, true)), "[1, 1]");
  // [2, 3, 4] holding 0..23: element (i, j, k) = 12 i + 4 j + k; summing i and k leaves 32 j + 60.
  const Tensor cube = arange(24, kFloat64).reshape({2, 3, 4});
  const Tensor middle = sum(cube, {0, 2}, true);
  EXPECT_EQ(shape_of(middle), "[1, 3, 1]");
  expect_values(middle, {60, 92, 124});
}

TEST(Reduce, SumOfZeroDimTensorOverDimZeroIsItself) {
  // As in PyTorch, a 0-dim tensor has one reducible dim (0 or -1).
  const Tensor scalar = scalar_tensor(2.5, kFloat64);
  EXPECT_DOUBLE_EQ(sum(scalar, {0}).item(), 2.5);
  EXPECT_DOUBLE_EQ(mean(scalar, {-1}).item(), 2.5);
  EXPECT_DOUBLE_EQ(mean(scalar).item(), 2.5);
}

TEST(Reduce, SumsOverAnEmptyDimAreZeroAndMeansNan) {
  // The output memory comes from the allocator's cache; fill it with something else first.
  { const Tensor stale = full({1, 3}, 7.0); }
  const Tensor empty = zeros({0, 3});
  expect_values(sum(empty, {0}), {0, 0, 0});
  expect_values(sum(empty, {0}, true), {0, 0, 0});
  EXPECT_EQ(sum(empty).item(), 0.0);
  EXPECT_EQ(shape_of(sum(empty, {1})), "[0]");
  for (const double m : mean(empty, {0}).to_vector<double>()) EXPECT_TRUE(std::isnan(m));
}

TEST(Reduce, SumOfInt64StaysInt64) {
  const Tensor total = sum(from_vector<std::int64_t>({1, 2, 3}));
  EXPECT_EQ(total.dtype(), kInt64);
  EXPECT_EQ(total.item<std::int64_t>(), 6);
}

TEST(Reduce, MeanDividesBySizeOfReducedDims) {
  EXPECT_DOUBLE_EQ(mean(matrix()).item(), 3.5);
  expect_values(mean(matrix(), {0}), {2.5, 3.5, 4.5});
  expect_values(mean(matrix(), {-1}), {2, 5});
  EXPECT_EQ(shape_of(mean(matrix(), {1}, true)), "[2, 1]");
  EXPECT_DOUBLE_EQ(mean(matrix(), {-1, 0}).item(), 3.5);
  // (32 j + 60) / 8 over the [2, 3, 4] cube.
  expect_values(mean(arange(24, kFloat64).reshape({2, 3, 4}), {0, 2}), {7.5, 11.5, 15.5});
}

TEST(Reduce, SumAndMeanSpreadTheGradientEvenly) {
  const Tensor x = leaf({1, 2, 3, 4, 5, 6}, Shape{2, 3});
  expect_values(gradient(sum(x, {1}), x), {1, 1, 1, 1, 1, 1});
  // Each element contributes 1/3 to its row's mean.
  expect_values(gradient(mean(x, {1}, true), x), {1.0 / 3, 1.0 / 3, 1.0 / 3, 1.0 / 3, 1.0 / 3, 1.0 / 3});
  expect_values(gradient(mean(x), x), {1.0 / 6, 1.0 / 6, 1.0 / 6, 1.0 / 6, 1.0 / 6, 1.0 / 6});
}

TEST(Reduce, SumAndMeanRefuseBadDims) {
  const Tensor x = zeros({2, 3}, kFloat64);
  expect_error([&] { sum(x, {2}); }, {"sum", "dim 2", "out of range"});
  expect_error([&] { sum(x, {-3}); }, {"sum", "dim -3", "out of range"});
  expect_error([&] { sum(x, {1, -1}); }, {"sum", "twice"});
  expect_error([&] { mean(x, {5}); }, {"mean", "dim 5", "out of range"});
  expect_error([&] { mean(from_vector<std::int64_t>({1, 2})); }, {"mean", "int64"});
  expect_error([] { sum(Tensor()); }, {"sum", "undefined"});
  expect_error([] { mean(Tensor(), {0}); }, {"mean", "undefined"});
}

// ---- max, min, argmax, argmin ----

TEST(Reduce, MaxAndMinOverAllElementsGiveZeroDimTensors) {
  const Tensor x = f64({1, 5, 2, 7, 0, 7}, Shape{2, 3});
  EXPECT_EQ(max(x).dim(), 0);
  EXPECT_DOUBLE_EQ(max(x).item(), 7);
  EXPECT_DOUBLE_EQ(min(x).item(), 0);
  EXPECT_DOUBLE_EQ(x.max().item(), 7);
  EXPECT_DOUBLE_EQ(x.min().item(), 0);
}

TEST(Reduce, MaxRoutesGradientToFirstMaximum) {
  // 3 appears twice; the first (flat index 1) takes the whole gradient, as argmax reports.
  const Tensor x = leaf({1, 3, 3, 2}, Shape{2, 2});
  expect_values(gradient(max(x), x), {0, 1, 0, 0});
  EXPECT_EQ(argmax(x).item<std::int64_t>(), 1);
}

TEST(Reduce, MinRoutesGradientToFirstMinimum) {
  const Tensor x = leaf({2, 1, 1});
  expect_values(gradient(min(x), x), {0, 1, 0});
  EXPECT_EQ(argmin(x).item<std::int64_t>(), 1);
}

TEST(Reduce, MaxAlongDimGivesValuesAndFirstIndices) {
  // [[1, 5, 2], [7, 0, 7]]: row 1 ties between columns 0 and 2; the first wins.
  const Tensor x = f64({1, 5, 2, 7, 0, 7}, Shape{2, 3});
  const auto [values, indices] = max(x, 1);
  expect_values(values, {5, 7});
  EXPECT_EQ(indices.dtype(), kInt64);
  EXPECT_EQ(int_values(indices), (std::vector<std::int64_t>{1, 0}));
  const auto columns = max(x, 0);
  expect_values(columns.values, {7, 5, 7});
  EXPECT_EQ(int_values(columns.indices), (std::vector<std::int64_t>{1, 0, 1}));
  const auto kept = x.max(-1, true);
  EXPECT_EQ(shape_of(kept.values), "[2, 1]");
  EXPECT_EQ(shape_of(kept.indices), "[2, 1]");
  expect_values(kept.values, {5, 7});
}

TEST(Reduce, MinAlongDimGivesValuesAndFirstIndices) {
  const Tensor x = f64({1, 5, 1, 7, 0, 7}, Shape{2, 3});
  const auto rows = min(x, 1);
  expect_values(rows.values, {1, 0});
  EXPECT_EQ(int_values(rows.indices), (std::vector<std::int64_t>{0, 1}));  // row 0 ties at 0 and 2
  const auto columns = x.min(-2, true);
  EXPECT_EQ(shape_of(columns.values), "[1, 3]");
  expect_values(columns.values, {1, 0, 1});
  EXPECT_EQ(int_values(columns.indices), (std::vector<std::int64_t>{0, 1, 0}));
}

TEST(Reduce, MaxAlongDimRoutesGradientToTheSelectedElements) {
  const Tensor x = leaf({1, 5, 2, 7, 0, 7}, Shape{2, 3});
  const auto [values, indices] = max(x, 1);
  EXPECT_TRUE(values.requires_grad());
  EXPECT_FALSE(indices.requires_grad());
  // Weighted so each row's gradient is visible: row 0 gets 10, row 1 gets 20 (at its first 7).
  const Tensor g = grad({values}, {x}, {f64({10, 20})})[0];
  expect_values(g, {0, 10, 0, 20, 0, 0});
  expect_values(gradient(min(x, 0, true).values, x), {1, 0, 1, 0, 1, 0});
}

TEST(Reduce, MaxOfZeroDimTensorAlongDimZeroIsItself) {
  const auto [values, indices] = max(scalar_tensor(4, kFloat64), 0);
  EXPECT_EQ(values.dim(), 0);
  EXPECT_DOUBLE_EQ(values.item(), 4);
  EXPECT_EQ(indices.item<std::int64_t>(), 0);
}

TEST(Reduce, ArgmaxAndArgminGiveFirstIndices) {
  const Tensor x = f64({1, 5, 2, 7, 0, 7}, Shape{2, 3});
  EXPECT_EQ(argmax(x).dim(), 0);
  EXPECT_EQ(argmax(x).item<std::int64_t>(), 3);  // flat index of the first 7
  EXPECT_EQ(argmin(x).item<std::int64_t>(), 4);
  EXPECT_EQ(x.argmax().item<std::int64_t>(), 3);
  EXPECT_EQ(int_values(argmax(x, 1)), (std::vector<std::int64_t>{1, 0}));
  EXPECT_EQ(int_values(argmin(x, -1)), (std::vector<std::int64_t>{0, 1}));
  const Tensor kept = x.argmax(0, true);
  EXPECT_EQ(shape_of(kept), "[1, 3]");
  EXPECT_EQ(kept.dtype(), kInt64);
  EXPECT_EQ(int_values(kept), (std::vector<std::int64_t>{1, 0, 1}));
  EXPECT_FALSE(argmax(leaf({1, 2})).requires_grad());
}

TEST(Reduce, MaxAndMinRefuseBadInput) {
  const Tensor x = zeros({2, 3}, kFloat64);
  expect_error([&] { max(x, 2); }, {"max", "dim 2", "out of range"});
  expect_error([&] { min(x, -3); }, {"min", "dim -3", "out of range"});
  expect_error([&] { argmax(x, 5); }, {"dim 5", "out of range"});
  expect_error([] { max(zeros({0}, kFloat64)); }, {"max", "empty"});
  expect_error([] { min(zeros({2, 0}, kFloat64), 1); }, {"min", "size 0"});
  expect_error([] { max(Tensor()); }, {"max", "undefined"});
  expect_error([] { argmin(Tensor()); }, {"argmin", "undefined"});
}

// ---- logsumexp ----

TEST(Reduce, LogsumexpMatchesHandValues) {
  const double log2 = std::log(2.0);
  expect_values(logsumexp(f64({0, 0, 1, 1}, Shape{2, 2}), {1}), {log2, 1 + log2});
  const Tensor all = logsumexp(f64({1, 2, 3}), {});
  EXPECT_EQ(all.dim(), 0);
  EXPECT_NEAR(all.item(), 3 + std::log(1 + std::exp(-1.0) + std::exp(-2.0)), 1e-12);
  EXPECT_EQ(shape_of(logsumexp(f64({0, 0, 1, 1}, Shape{2, 2}), {-1}, true)), "[2, 1]");
  // Several dims at once agree with the naive formula on moderate values.
  const Tensor cube = input({2, 3, 4}, 21).detach();
  expect_values(logsumexp(cube, {0, 2}), log(sum(exp(cube), {0, 2})).to_vector<double>(), 1e-12);
}

TEST(Reduce, LogsumexpStaysFiniteAtThousand) {
  // exp(1000) overflows; shifting by the max gives 1000 + log 2 exactly. The gradient is softmax.
  const Tensor x = leaf({1000, 1000});
  const Tensor y = logsumexp(x, {0});
  EXPECT_NEAR(y.item(), 1000 + std::log(2.0), 1e-9);
  expect_values(gradient(y, x), {0.5, 0.5});
  EXPECT_NEAR(logsumexp(f64({-1000, -1000}), {0}).item(), -1000 + std::log(2.0), 1e-9);
  EXPECT_NEAR(logsumexp(f64({1000, 1000}).to(kFloat32), {0}).item(), 1000 + std::log(2.0), 1e-3);
}

TEST(Reduce, LogsumexpOfAllNegativeInfinityIsNegativeInfinity) {
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(logsumexp(f64({-inf, -inf}), {0}).item(), -inf);
  EXPECT_EQ(logsumexp(f64({inf, 0}), {0}).item(), inf);
}

TEST(Reduce, LogsumexpRefusesBadInput) {
  expect_error([] { logsumexp(from_vector<std::int64_t>({1, 2}), {0}); }, {"logsumexp", "int64"});
  expect_error([] { logsumexp(zeros({2, 3}, kFloat64), {2}); }, {"logsumexp", "dim 2", "out of range"});
  expect_error([] { logsumexp(Tensor(), {0}); }, {"logsumexp", "undefined"});
}

// ---- softmax and log_softmax ----

TEST(Reduce, SoftmaxMatchesHandValues) {
  // exp([1, 2, 3]) / sum: 0.0900, 0.2447, 0.6652.
  expect_values(softmax(f64({1, 2, 3}), 0), {0.09003057317038046, 0.24472847105479764, 0.6652409557748219}, 1e-12);
  // Along dim 0 of [[1, 2], [3, 4]] each column is softmax([a, a + 2]).
  const double low = 1 / (1 + std::exp(2.0));
  expect_values(softmax(f64({1, 2, 3, 4}, Shape{2, 2}), 0), {low, low, 1 - low, 1 - low}, 1e-12);
  // Along the last dim each row is softmax([a, a + 1]).
  const double first = 1 / (1 + std::exp(1.0));
  expect_values(softmax(f64({1, 2, 3, 4}, Shape{2, 2}), -1), {first, 1 - first, first, 1 - first}, 1e-12);
  expect_values(sum(softmax(input({3, 4}, 31).detach(), 1), {1}), {1, 1, 1}, 1e-12);
}

TEST(Reduce, LogSoftmaxMatchesHandValues) {
  const double log_total = 3 + std::log(1 + std::exp(-1.0) + std::exp(-2.0));
  expect_values(log_softmax(f64({1, 2, 3}), 0), {1 - log_total, 2 - log_total, 3 - log_total}, 1e-12);
  const Tensor x = input({2, 3}, 32).detach();
  expect_values(log_softmax(x, 1), log(softmax(x, 1)).to_vector<double>(), 1e-12);
}

TEST(Reduce, SoftmaxOverSizeOneDimIsOneWithZeroGradient) {
  const Tensor x = leaf({3, -7}, Shape{2, 1});
  const Tensor y = softmax(x, 1);
  expect_values(y, {1, 1});
  expect_values(grad({y}, {x}, {f64({2, 5}, Shape{2, 1})})[0], {0, 0});
  expect_values(log_softmax(x, 1), {0, 0});
  expect_values(softmax(scalar_tensor(5, kFloat64), 0), {1});
}

TEST(Reduce, SoftmaxStaysFiniteAtThousand) {
  // Unshifted, exp(1000) is inf and the result NaN; shifting by the max gives exact values.
  expect_values(softmax(f64({1000, 0, -1000}), 0), {1, 0, 0});
  const Tensor x = leaf({1000, 1000});
  const Tensor y = softmax(x, 0);
  expect_values(y, {0.5, 0.5});
  // d<y, w>/dx = y (w - <w, y>) with w = [1, 0]: [0.25, -0.25].
  expect_values(grad({y}, {x}, {f64({1, 0})})[0], {0.25, -0.25});
  expect_values(softmax(f64({1000, 0, -1000}).to(kFloat32), 0), {1, 0, 0});
  expect_values(softmax(f64({-1000, -1000}).to(kFloat32), 0), {0.5, 0.5});
}

TEST(Reduce, LogSoftmaxStaysFiniteAtThousand) {
  const double log2 = std::log(2.0);
  expect_values(log_softmax(f64({1000, 0}), 0), {0, -1000});
  const Tensor x = leaf({1000, 1000, -1000});
  const Tensor y = log_softmax(x, 0);
  expect_values(y, {-log2, -log2, -2000 - log2}, 1e-9);
  // d sum(y) / dx = 1 - 3 softmax(x) = [1 - 1.5, 1 - 1.5, 1 - 0].
  expect_values(gradient(y, x), {-0.5, -0.5, 1});
  expect_values(log_softmax(f64({1000, 1000, -1000}).to(kFloat32), 0), {-log2, -log2, -2000 - log2}, 1e-3);
}

TEST(Reduce, SoftmaxRefusesBadInput) {
  expect_error([] { softmax(from_vector<std::int64_t>({1, 2}), 0); }, {"softmax", "int64"});
  expect_error([] { log_softmax(from_vector<std::int64_t>({1, 2}), 0); }, {"log_softmax", "int64"});
  expect_error([] { softmax(zeros({2, 3}, kFloat64), 2); }, {"softmax", "dim 2", "out of range"});
  expect_error([] { log_softmax(zeros({2, 3}, kFloat64), -3); }, {"log_softmax", "dim -3", "out of range"});
  expect_error([] { softmax(Tensor(), 0); }, {"softmax", "undefined"});
}

// ---- cumsum ----

TEST(Reduce, CumsumMatchesHandValues) {
  expect_values(cumsum(matrix(), 0), {1, 2, 3, 5, 7, 9});
  expect_values(cumsum(matrix(), 1), {1, 3, 6, 4, 9, 15});
  expect_values(cumsum(matrix(), -1), {1, 3, 6, 4, 9, 15});
  expect_values(cumsum(matrix().transpose(0, 1), 0), {1, 4, 3, 9, 6, 15});
  const Tensor single = cumsum(scalar_tensor(5, kFloat64), -1);
  EXPECT_EQ(single.dim(), 0);
  EXPECT_DOUBLE_EQ(single.item(), 5);
  EXPECT_EQ(shape_of(cumsum(zeros({0, 3}), 1)), "[0, 3]");
}

TEST(Reduce, CumsumOfInt64StaysInt64AndExact) {
  const std::int64_t big = std::int64_t{1} << 60;  // beyond double's 53 bits
  const Tensor running = cumsum(from_vector<std::int64_t>({big, 1, 1, -big}), 0);
  EXPECT_EQ(running.dtype(), kInt64);
  EXPECT_EQ(int_values(running), (std::vector<std::int64_t>{big, big + 1, big + 2, 2}));
}

// torch's CPU cumsum carries float32 sums in double: the ones added to 1e8 (whose float32 spacing
// is 8) are kept, and come back once 1e8 is subtracted.
TEST(Reduce, CumsumCarriesFloat32SumsInDouble) {
  const Tensor running = cumsum(f64({1e8, 1, 1, 1, -1e8}).to(kFloat32), 0);
  EXPECT_EQ(running.to_vector<float>().back(), 3.0f);
}

TEST(Reduce, CumsumGradientIsTheReversedRunningSum) {
  const Tensor x = leaf({1, 2, 3, 4, 5, 6}, Shape{2, 3});
  // Element j of a row reaches outputs j..2, so its gradient sums the weights from j to the end.
  const Tensor weights = f64({1, 10, 100, 2, 20, 200}, Shape{2, 3});
  expect_values(grad({cumsum(x, 1)}, {x}, {weights})[0], {111, 110, 100, 222, 220, 200});
  expect_values(grad({cumsum(x, 0)}, {x}, {weights})[0], {3, 30, 300, 2, 20, 200});
  const Tensor s = leaf({4}, Shape{});
  expect_values(grad({cumsum(s, 0)}, {s}, {f64({7}, Shape{})})[0], {7});
}

TEST(Reduce, CumsumRefusesBadInput) {
  expect_error([] { cumsum(zeros({2, 3}), 2); }, {"cumsum", "dim 2", "out of range"});
  expect_error([] { cumsum(zeros({2, 3}), -3); }, {"cumsum", "dim -3", "out of range"});
  expect_error([] { cumsum(scalar_tensor(1), 1); }, {"cumsum", "dim 1", "out of range"});
  expect_error([] { cumsum(Tensor(), 0); }, {"cumsum", "undefined"});
}

// ---- sum_to ----

TEST(Reduce, SumToUndoesBroadcasting) {
  expect_values(sum_to(matrix(), {3}), {5, 7, 9});
  const Tensor row = sum_to(matrix(), {1, 3});
  EXPECT_EQ(shape_of(row), "[1, 3]");
  expect_values(row, {5, 7, 9});
  const Tensor column = sum_to(matrix(), {2, 1});
  EXPECT_EQ(shape_of(column), "[2, 1]");
  expect_values(column, {6, 15});
  const Tensor scalar = sum_to(matrix(), {});
  EXPECT_EQ(scalar.dim(), 0);
  EXPECT_DOUBLE_EQ(scalar.item(), 21);
  const Tensor x = matrix();
  EXPECT_TRUE(sum_to(x, {2, 3}).is_same(x));  // already the target shape: no work
  expect_values(sum_to(arange(24, kFloat64).reshape({2, 3, 4}), {3, 1}), {60, 92, 124});
}

TEST(Reduce, SumToRefusesShapesThatAreNotABroadcastSource) {
  expect_error([] { sum_to(zeros({2, 3}, kFloat64), {4}); }, {"sum_to", "[2, 3]", "[4]"});
  expect_error([] { sum_to(zeros({3}, kFloat64), {2, 3}); }, {"sum_to", "[3]", "[2, 3]"});
  expect_error([] { sum_to(Tensor(), {2}); }, {"undefined"});
}

// ---- sort and topk ----

TEST(Sort, OrdersEachSliceAndGivesWhereEachValueCameFrom) {
  const Tensor x = f64({3, 1, 2, 9, 7, 8}, Shape{2, 3});
  const ValuesIndices up = sort(x);
  expect_values(up.values, {1, 2, 3, 7, 8, 9});
  EXPECT_EQ(up.indices.dtype(), kInt64);
  EXPECT_EQ(int_values(up.indices), (std::vector<std::int64_t>{1, 2, 0, 1, 2, 0}));
  const ValuesIndices down = sort(x, 0, true);
  expect_values(down.values, {9, 7, 8, 3, 1, 2});
  EXPECT_EQ(int_values(down.indices), (std::vector<std::int64_t>{1, 1, 1, 0, 0, 0}));
}

TEST(Sort, TiesKeepTheirIndexOrderAndNaNIsTheGreatest) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor x = f64({2, nan, 1, 2, -INFINITY, nan});
  const ValuesIndices up = sort(x, 0, false, true);
  EXPECT_EQ(int_values(up.indices), (std::vector<std::int64_t>{4, 2, 0, 3, 1, 5}));
  const ValuesIndices down = sort(x, 0, true);
  EXPECT_EQ(int_values(down.indices), (std::vector<std::int64_t>{1, 5, 0, 3, 2, 4}));
  EXPECT_EQ(int_values(topk(x, 2).indices), (std::vector<std::int64_t>{1, 5}));
  // int64 sorts too.
  EXPECT_EQ(int_values(sort(from_vector<std::int64_t>({5, -1, 3})).values), (std::vector<std::int64_t>{-1, 3, 5}));
}

TEST(Sort, GradientGoesBackToWhereEachValueCameFrom) {
  const Tensor x = leaf({3, 1, 2});
  // sort gives [1, 2, 3]; weights 10, 20, 30 land on positions 1, 2, 0.
  expect_values(gradient(mul(sort(x).values, f64({10, 20, 30})), x), {30, 10, 20});
  // topk(2) gives [3, 2]: the smallest element gets nothing.
  expect_values(gradient(mul(topk(x, 2).values, f64({10, 20})), x), {10, 0, 20});
}

TEST(Topk, TakesTheLargestOrSmallestInSortedOrderAndRefusesBadK) {
  const Tensor x = f64({4, 9, 1, 7, 3, 8}, Shape{2, 3});
  const ValuesIndices largest = topk(x, 2);
  expect_values(largest.values, {9, 4, 8, 7});
  EXPECT_EQ(int_values(largest.indices), (std::vector<std::int64_t>{1, 0, 2, 0}));
  const ValuesIndices smallest = topk(x, 1, 0, false);
  expect_values(smallest.values, {4, 3, 1});
  EXPECT_EQ(shape_of(topk(x, 0).values), "[2, 0]");
  expect_error([&] { topk(x, 4); }, {"topk", "out of range", "0 <= k <= 3"});
  expect_error([&] { sort(x, 2); }, {"sort", "out of range"});
}

}  // namespace
}  // namespace tapegrad
