// Specification of matmul (every rank combination torch.matmul allows, batch broadcasting, shared and
// strided operands, operands BLAS cannot read directly) against a textbook triple loop, and of
// dot, outer, cat and stack: hand values, where gradients go, and the errors for bad operands.
// Gradients against finite differences are the op table's (tests/test_op_table.cpp).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.h"

namespace tapegrad {
namespace {

using namespace testing;  // the shared test vocabulary of test_util.h

std::string shapes_of(const std::vector<Tensor>& tensors) {
  std::string text;
  for (const Tensor& t : tensors) text += shape_of(t) + (t.is_contiguous() ? " " : " (strided) ");
  return text;
}

// torch.matmul by the textbook triple loop, reading row-major copies of the operands: a 1-D left
// operand is one row and a 1-D right operand one column (both dropped from the result's shape,
// which leaves the flat order unchanged); a batch of 1 or a 2-D operand is shared by the batch.
std::vector<double> naive_matmul(const Tensor& a, const Tensor& b) {
  const std::vector<double> av = a.to_vector<double>(), bv = b.to_vector<double>();
  const std::int64_t m = a.dim() == 1 ? 1 : a.size(-2), k = a.size(-1), n = b.dim() == 1 ? 1 : b.size(-1);
  const std::int64_t batch_a = a.dim() == 3 ? a.size(0) : 1, batch_b = b.dim() == 3 ? b.size(0) : 1;
  std::vector<double> out;
  for (std::int64_t t = 0; t < std::max(batch_a, batch_b); ++t) {
    const double* at = av.data() + (batch_a == 1 ? 0 : t) * m * k;
    const double* bt = bv.data() + (batch_b == 1 ? 0 : t) * k * n;
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) {
        double total = 0;
        for (std::int64_t p = 0; p < k; ++p) total += at[i * k + p] * bt[p * n + j];
        out.push_back(total);
      }
  }
  return out;
}

// Gradcheck, gradgradcheck and the float32 comparison of one op on one list of inputs.
void expect_op_checks(const GradcheckFunction& fn, const std::vector<Tensor>& inputs) {
  SCOPED_TRACE(shapes_of(inputs));
  expect_gradcheck(fn, inputs);
  expect_gradgradcheck(fn, inputs);
  expect_float32_matches_float64(fn, inputs);
}

Tensor matmul_of(const std::vector<Tensor>& x) { return matmul(x[0], x[1]); }

// Operand pairs for every rank combination, with the result shape torch.matmul gives.
struct MatmulCase {
  Tensor a, b;
  std::string result_shape;
};

std::vector<MatmulCase> matmul_cases() {
  return {
      {input({3}, 1), input({3}, 2), "[]"},                       // dot
      {input({3}, 3), input({3, 2}, 4), "[2]"},                   // row vector times matrix
      {input({2, 3}, 5), input({3}, 6), "[2]"},                   // matrix times column vector
      {input({2, 3}, 7), input({3, 4}, 8), "[2, 4]"},
      {input({2, 2, 3}, 9), input({2, 3, 4}, 10), "[2, 2, 4]"},  // batched
      {input({2, 2, 3}, 11), input({3, 4}, 12), "[2, 2, 4]"},    // right operand shared by the batch
      {input({2, 3}, 13), input({2, 3, 4}, 14), "[2, 2, 4]"},    // left operand shared by the batch
      {input({1, 2, 3}, 15), input({2, 3, 4}, 16), "[2, 2, 4]"}, // a batch of 1 is shared too
      {input({3}, 17), input({2, 3, 4}, 18), "[2, 4]"},
      {input({2, 2, 3}, 19), input({3}, 20), "[2, 2]"},
      {input({1, 3}, 21), input({3, 1}, 22), "[1, 1]"},           // size-1 dims
      {input({2, 1}, 23), input({1, 3}, 24), "[2, 3]"},           // k = 1: an outer product
      {transposed_input({2, 3}, 25), transposed_input({3, 4}, 26), "[2, 4]"},
      {transposed_input({2, 2, 3}, 27), input({2, 3, 4}, 28), "[2, 2, 4]"},
      {input({2, 2, 3}, 29), transposed_input({3, 4}, 30), "[2, 2, 4]"},
      {transposed_input({2, 3}, 31), transposed_input({2, 3, 4}, 32), "[2, 2, 4]"},
  };
}

// ---- matmul ----

TEST(Linalg, MatmulOfTwoMatricesMatchesHandValues) {
  // [[1, 2], [3, 4]] x [[5, 6], [7, 8]] = [[1*5 + 2*7, 1*6 + 2*8], [3*5 + 4*7, 3*6 + 4*8]].
  expect_values(matmul(f64({1, 2, 3, 4}, Shape{2, 2}), f64({5, 6, 7, 8}, Shape{2, 2})), {19, 22, 43, 50});
  expect_values(matmul(f64({1, 2, 3, 4}, Shape{2, 2}), f64({1, 1})), {3, 7});  // row sums
  expect_values(matmul(f64({1, 1}), f64({1, 2, 3, 4}, Shape{2, 2})), {4, 6});  // column sums
  const Tensor inner = matmul(f64({1, 2, 3}), f64({4, 5, 6}));
  EXPECT_EQ(inner.dim(), 0);
  EXPECT_DOUBLE_EQ(inner.item(), 32);
  expect_values(f64({1, 2, 3, 4}, Shape{2, 2}).matmul(f64({0, 1, 1, 0}, Shape{2, 2})), {2, 1, 4, 3});
}

TEST(Linalg, MatmulMatchesTripleLoopForEveryRankCombination) {
  for (const MatmulCase& c : matmul_cases()) {
    SCOPED_TRACE(shapes_of({c.a, c.b}));
    const Tensor product = matmul(c.a.detach(), c.b.detach());
    EXPECT_EQ(shape_of(product), c.result_shape);
    expect_values(product, naive_matmul(c.a, c.b), 1e-12);
  }
}

TEST(Linalg, MatmulOfOperandsBlasCannotReadDirectlyMatchesTripleLoop) {
  // Every other column, and a permuted batch: strides no gemm layout describes, so they are
  // copied first; the result must not notice.
  const Tensor every_other = input({3, 8}, 41).detach().slice(1, 0, 8, 2);  // [3, 4], column stride 2
  const Tensor right = input({4, 2}, 42).detach();
  expect_values(matmul(every_other, right), naive_matmul(every_other, right), 1e-12);
  const Tensor permuted = input({3, 2, 4}, 43).detach().permute({1, 2, 0});  // [2, 4, 3]
  const Tensor batch = input({2, 3, 2}, 44).detach();
  expect_values(matmul(permuted, batch), naive_matmul(permuted, batch), 1e-12);
  expect_values(matmul(batch.transpose(0, 2), every_other.slice(0, 0, 2)),
                naive_matmul(batch.transpose(0, 2), every_other.slice(0, 0, 2)), 1e-12);
}

TEST(Linalg, MatmulWithEmptyInnerDimIsZeros) {
  // Summing over nothing gives 0, as in torch.matmul.
  const Tensor product = matmul(zeros({2, 0}, kFloat64), zeros({0, 3}, kFloat64));
  EXPECT_EQ(shape_of(product), "[2, 3]");
  expect_values(product, {0, 0, 0, 0, 0, 0});
  EXPECT_EQ(shape_of(matmul(zeros({0, 3}, kFloat64), ones({3, 2}, kFloat64))), "[0, 2]");
}

TEST(Linalg, MatmulGradientsAreProductsWithTheOtherOperandTransposed) {
  // d sum(A B)/dA = 1 B^T: every row is B's row sums [11, 15]; d sum(A B)/dB = A^T 1: column sums of A.
  const Tensor a = leaf({1, 2, 3, 4}, Shape{2, 2}), b = leaf({5, 6, 7, 8}, Shape{2, 2});
  const auto grads = grad({sum(matmul(a, b))}, {a, b});
  expect_values(grads[0], {11, 15, 11, 15});
  expect_values(grads[1], {4, 4, 6, 6});
  // A right operand shared by a batch of 3 gets the gradients of all three products.
  const Tensor batch = leaf({1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4}, Shape{3, 2, 2});
  expect_values(gradient(matmul(batch, b), b), {12, 12, 18, 18});
}

TEST(Linalg, MatmulRefusesIncompatibleShapesNamingBoth) {
  const auto m = [](Shape shape) { return zeros(shape, kFloat64); };
  expect_error([&] { matmul(m({2, 3}), m({4, 5})); }, {"matmul", "[2, 3]", "[4, 5]"});
  expect_error([&] { matmul(m({3}), m({4})); }, {"matmul", "[3]", "[4]"});
  expect_error([&] { matmul(m({2, 3}), m({2})); }, {"matmul", "[2, 3]", "[2]"});
  expect_error([&] { matmul(m({2, 2, 3}), m({4, 5})); }, {"matmul", "[2, 2, 3]", "[4, 5]"});
  expect_error([&] { matmul(m({2, 3, 4}), m({3, 4, 5})); }, {"matmul", "batch", "[2, 3, 4]", "[3, 4, 5]"});
  expect_error([&] { matmul(m({2, 2, 3, 4}), m({3, 1, 4, 2})); }, {"matmul", "batch", "2 vs 3"});
  expect_error([&] { matmul(m({}), m({2})); }, {"matmul", "at least 1 dim"});
}

TEST(Linalg, MatmulBroadcastsBatchDimsAsTorch) {
  // [2, 1, 2, 3] x [3, 3, 4]: batch [2, 1] against [3] gives [2, 3]; entry (i, j) is a[i, 0] b[j].
  const Tensor a = input({2, 1, 2, 3}, 51).detach(), b = input({3, 3, 4}, 52).detach();
  const Tensor product = matmul(a, b);
  EXPECT_EQ(shape_of(product), "[2, 3, 2, 4]");
  for (std::int64_t i = 0; i < 2; ++i)
    for (std::int64_t j = 0; j < 3; ++j)
      expect_values(product.select(0, i).select(0, j), naive_matmul(a.select(0, i).select(0, 0), b.select(0, j)), 1e-12);
  // 4-D by 2-D folds the batch into rows; 1-D operands still drop their dim.
  const Tensor w = input({3, 5}, 53).detach();
  EXPECT_EQ(shape_of(matmul(input({2, 3, 2, 3}, 54), w)), "[2, 3, 2, 5]");
  EXPECT_EQ(shape_of(matmul(input({3}, 55), input({2, 1, 3, 4}, 56))), "[2, 1, 4]");
  EXPECT_EQ(shape_of(matmul(input({2, 2, 2, 3}, 57), input({3}, 58))), "[2, 2, 2]");
}

TEST(Linalg, MatmulGradientSumsOverTheBatchDimsAnOperandWasBroadcastAlong) {
  // Each b[j] meets both a[0, 0] and a[1, 0]: its gradient under sum is the sum over both.
  const Tensor a = leaf({1, 2, 3, 4}, Shape{2, 1, 1, 2}), b = input({3, 2, 1}, 59);
  const auto grads = grad({sum(matmul(a, b))}, {a, b});
  EXPECT_EQ(shape_of(grads[1]), "[3, 2, 1]");
  expect_values(grads[1], {4, 6, 4, 6, 4, 6});  // column sums of a over its batch: 1 + 3, 2 + 4
  EXPECT_EQ(shape_of(grads[0]), "[2, 1, 1, 2]");
}

TEST(Linalg, BmmMultipliesEqualBatchesAndRefusesOthers) {
  const Tensor a = input({2, 2, 3}, 60).detach(), b = input({2, 3, 4}, 61).detach();
  expect_values(bmm(a, b), naive_matmul(a, b), 1e-12);
  const auto m = [](Shape shape) { return zeros(shape, kFloat64); };
  expect_error([&] { bmm(m({1, 2, 3}), m({2, 3, 4})); }, {"bmm", "batch sizes", "1 vs 2"});
  expect_error([&] { bmm(m({2, 3}), m({3, 4})); }, {"bmm", "3-D", "[2, 3]"});
  expect_error([&] { bmm(m({2, 2, 3}), m({2, 4, 4})); }, {"bmm", "cannot be multiplied"});
}

TEST(Linalg, MatmulRefusesInt64MixedDtypesAndUndefinedOperands) {
  const Tensor ints = from_vector<std::int64_t>({1, 2, 3, 4}, Shape{2, 2});
  expect_error([&] { matmul(ints, ints); }, {"matmul", "int64"});
  expect_error([] { matmul(ones({2, 2}, kFloat32), ones({2, 2}, kFloat64)); }, {"matmul", "float32", "float64"});
  expect_error([] { matmul(Tensor(), ones({2, 2}, kFloat64)); }, {"matmul", "undefined"});
  expect_error([] { matmul(ones({2, 2}, kFloat64), Tensor()); }, {"matmul", "undefined"});
}

// ---- dot and outer ----

TEST(Linalg, DotAndOuterMatchHandValues) {
  const Tensor inner = dot(f64({1, 2, 3}), f64({4, 5, 6}));  // 4 + 10 + 18
  EXPECT_EQ(inner.dim(), 0);
  EXPECT_DOUBLE_EQ(inner.item(), 32);
  const Tensor table = outer(f64({1, 2}), f64({3, 4, 5}));
  EXPECT_EQ(shape_of(table), "[2, 3]");
  expect_values(table, {3, 4, 5, 6, 8, 10});
}

TEST(Linalg, DotGradientIsTheOtherVector) {
  const Tensor a = leaf({1, 2, 3}), b = leaf({4, 5, 6});
  const auto grads = grad({dot(a, b)}, {a, b});
  expect_values(grads[0], {4, 5, 6});
  expect_values(grads[1], {1, 2, 3});
}

TEST(Linalg, DotAndOuterRefuseBadOperands) {
  expect_error([] { dot(ones({2, 2}, kFloat64), ones({4}, kFloat64)); }, {"dot", "[2, 2]", "[4]"});
  expect_error([] { dot(ones({3}, kFloat64), ones({4}, kFloat64)); }, {"dot", "[3]", "[4]"});
  expect_error([] { dot(ones({3}, kFloat32), ones({3}, kFloat64)); }, {"dot", "float32", "float64"});
  expect_error([] { outer(ones({2, 2}, kFloat64), ones({3}, kFloat64)); }, {"outer", "[2, 2]", "[3]"});
  expect_error([] { outer(Tensor(), ones({3}, kFloat64)); }, {"outer", "undefined"});
  expect_error([] { dot(ones({3}, kFloat64), Tensor()); }, {"dot", "undefined"});
}

// ---- cat and stack ----

TEST(Linalg, CatJoinsAlongTheGivenDim) {
  const Tensor rows = cat({f64({1, 2}, Shape{1, 2}), f64({3, 4, 5, 6}, Shape{2, 2})}, 0);
  EXPECT_EQ(shape_of(rows), "[3, 2]");
  expect_values(rows, {1, 2, 3, 4, 5, 6});
  const std::vector<Tensor> sideways = {f64({1, 2}, Shape{2, 1}), f64({3, 4, 5, 6, 7, 8}, Shape{2, 3})};
  const Tensor columns = cat(sideways, 1);
  EXPECT_EQ(shape_of(columns), "[2, 4]");
  expect_values(columns, {1, 3, 4, 5, 2, 6, 7, 8});
  expect_values(cat(sideways, -1), {1, 3, 4, 5, 2, 6, 7, 8});
  // The middle dim of [2, 1, 2] and [2, 2, 2]: each outer slice is 1 row of the first then 2 of the second.
  const Tensor one_row = arange(4, kFloat64).reshape({2, 1, 2});
  const Tensor two_rows = arange(10, 18, 1, kFloat64).reshape({2, 2, 2});
  const Tensor middle = cat({one_row, two_rows}, 1);
  EXPECT_EQ(shape_of(middle), "[2, 3, 2]");
  expect_values(middle, {0, 1, 10, 11, 12, 13, 2, 3, 14, 15, 16, 17});
}

TEST(Linalg, CatAcceptsOneTensorEmptyPiecesAndStridedPieces) {
  const Tensor x = f64({1, 2, 3, 4}, Shape{2, 2});
  const Tensor alone = cat({x}, 0);
  expect_values(alone, {1, 2, 3, 4});
  EXPECT_FALSE(alone.is_same(x));
  const Tensor with_empty = cat({zeros({2, 0}, kFloat64), x}, 1);
  EXPECT_EQ(shape_of(with_empty), "[2, 2]");
  expect_values(with_empty, {1, 2, 3, 4});
  expect_values(cat({x.transpose(0, 1), x}, 0), {1, 3, 2, 4, 1, 2, 3, 4});
}

TEST(Linalg, CatGradientIsTheMatchingSliceOfTheOutputGradient) {
  const Tensor a = leaf({1, 2}, Shape{1, 2}), b = leaf({3, 4, 5, 6}, Shape{2, 2});
  const Tensor joined = cat({a, b}, 0);
  const auto grads = grad({joined}, {a, b}, {f64({10, 20, 30, 40, 50, 60}, Shape{3, 2})});
  expect_values(grads[0], {10, 20});
  expect_values(grads[1], {30, 40, 50, 60});
  // Only some pieces require grad: the output still does, and they get their slices.
  const Tensor constant = f64({7, 8}, Shape{1, 2});
  const Tensor mixed = cat({constant, b}, 0);
  EXPECT_TRUE(mixed.requires_grad());
  expect_values(gradient(mixed, b), {1, 1, 1, 1});
}

TEST(Linalg, CatRefusesMismatchedPiecesNamingTheirShapes) {
  const auto m = [](Shape shape) { return zeros(shape, kFloat64); };
  expect_error([&] { cat({m({2, 3}), m({3, 4})}, 0); }, {"cat", "tensor 1", "[3, 4]", "[2, 3]"});
  expect_error([&] { cat({m({2, 3}), m({2, 4})}, 0); }, {"cat", "tensor 1", "[2, 4]", "[2, 3]"});
  expect_error([&] { cat({m({2, 3}), m({3})}, 0); }, {"cat", "[3]", "[2, 3]"});
  expect_error([&] { cat({m({2, 3}), m({2, 3})}, 2); }, {"cat", "dim 2", "out of range"});
  expect_error([&] { cat({m({2, 3}), m({2, 3})}, -3); }, {"cat", "dim -3", "out of range"});
  expect_error([&] { cat({m({}), m({})}, 0); }, {"cat", "zero-dimensional"});
  expect_error([] { cat({}, 0); }, {"cat", "non-empty"});
  expect_error([] { cat({ones({2}, kFloat32), ones({2}, kFloat64)}, 0); }, {"cat", "float32", "float64"});
  expect_error([] { cat({ones({2}, kFloat64), Tensor()}, 0); }, {"cat", "undefined"});
  expect_error([] { cat({Tensor(), ones({2}, kFloat64)}, 0); }, {"cat", "undefined"});
}

TEST(Linalg, StackAddsANewDim) {
  const std::vector<Tensor> pair = {f64({1, 2}), f64({3, 4})};
  const Tensor rows = stack(pair, 0);
  EXPECT_EQ(shape_of(rows), "[2, 2]");
  expect_values(rows, {1, 2, 3, 4});
  expect_values(stack(pair, 1), {1, 3, 2, 4});  // the pair side by side, as columns
  expect_values(stack(pair, -1), {1, 3, 2, 4});
  const Tensor a = arange(6, kFloat64).reshape({2, 3}), b = arange(10, 16, 1, kFloat64).reshape({2, 3});
  const Tensor middle = stack({a, b}, 1);
  EXPECT_EQ(shape_of(middle), "[2, 2, 3]");
  expect_values(middle, {0, 1, 2, 10, 11, 12, 3, 4, 5, 13, 14, 15});
  const Tensor scalars = stack({scalar_tensor(1, kFloat64), scalar_tensor(2, kFloat64)}, 0);
  EXPECT_EQ(shape_of(scalars), "[2]");
  expect_values(scalars, {1, 2});
}

TEST(Linalg, StackGradientIsTheMatchingSliceOfTheOutputGradient) {
  const Tensor a = leaf({1, 2}), b = leaf({3, 4});
  const auto grads = grad({stack({a, b}, 1)}, {a, b}, {f64({10, 20, 30, 40}, Shape{2, 2})});
  expect_values(grads[0], {10, 30});
  expect_values(grads[1], {20, 40});
}

TEST(Linalg, StackRefusesMismatchedShapesAndBadDims) {
  expect_error([] { stack({ones({2}, kFloat64), ones({3}, kFloat64)}, 0); }, {"stack", "tensor 1", "[3]", "[2]"});
  expect_error([] { stack({ones({2}, kFloat64), ones({2}, kFloat64)}, 2); }, {"stack", "dim 2", "out of range"});
  expect_error([] { stack({ones({2}, kFloat64), ones({2}, kFloat64)}, -3); }, {"stack", "dim -3", "out of range"});
  expect_error([] { stack({}, 0); }, {"stack", "non-empty"});
  expect_error([] { stack({ones({2}, kFloat32), ones({2}, kFloat64)}, 0); }, {"float32", "float64"});
  expect_error([] { stack({ones({2}, kFloat64), Tensor()}, 0); }, {"stack", "undefined"});
}

// ---- linear ----

TEST(Linear, EqualsMatmulWithTheTransposedWeightPlusBias) {
  const Tensor x = input({5, 3}, 61), w = input({4, 3}, 62), b = input({4}, 63);
  expect_values(linear(x, w, b), add(matmul(x, w.t()), b).to_vector<double>(), 1e-12);
  expect_values(linear(x, w), matmul(x, w.t()).to_vector<double>(), 1e-12);
  const Tensor batched = input({2, 3, 5, 3}, 64);  // leading dims fold into rows
  EXPECT_EQ(shape_of(linear(batched, w, b)), "[2, 3, 5, 4]");
  expect_values(linear(batched, w, b), add(matmul(batched.reshape({-1, 3}), w.t()), b).to_vector<double>(), 1e-12);
  EXPECT_EQ(shape_of(linear(input({3}, 65), w, b)), "[4]");
  expect_values(linear(zeros({2, 0}, kFloat64), zeros({3, 0}, kFloat64), f64({1, 2, 3})), {1, 2, 3, 1, 2, 3}, 0);
}

TEST(Linear, WeightGradientIsContiguous) {
  const Tensor w = input({4, 3}, 73);
  linear(input({5, 3}, 74), w).sum().backward();
  EXPECT_TRUE(w.grad().is_contiguous());
}

TEST(Linear, RejectsMismatchedShapes) {
  expect_error([] { linear(zeros({5, 3}), zeros({4, 2})); }, {"linear", "[..., 2]", "[5, 3]"});
  expect_error([] { linear(zeros({5, 3}), zeros({4, 3}), zeros({3})); }, {"bias must be [4]"});
  expect_error([] { linear(zeros({5, 3}), zeros({3})); }, {"[out_features, in_features]"});
  expect_error([] { linear(zeros({5, 3}), zeros({4, 3}, kFloat64)); }, {"different dtypes"});
}

}  // namespace
}  // namespace tapegrad
