// Shape and indexing ops, what the op table (tests/test_op_table.cpp) cannot say: views share
// their base's storage (no copy) while copies do not, chained views differentiate correctly,
// conversions round as documented, and bad dims, sizes and indices are errors that name the op.
#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.h"

namespace tapegrad {
namespace {

using namespace testing;  // the shared test vocabulary of test_util.h

// 0, 1, ..., n-1 as float32 in `shape`.
Tensor iota(const Shape& shape) { return arange(static_cast<double>(numel_of(shape))).reshape(shape); }

Tensor indices(const std::vector<std::int64_t>& values, std::optional<Shape> shape = std::nullopt) {
  return from_vector(values, shape);
}

bool shares_storage(const Tensor& a, const Tensor& b) { return a.impl().storage.get() == b.impl().storage.get(); }

// Element distance from `base`'s first element to `view`'s.
std::ptrdiff_t offset_in(const Tensor& view, const Tensor& base) {
  return view.data_ptr<float>() - base.data_ptr<float>();
}

std::vector<double> values_of(const Tensor& t) { return t.to_vector<double>(); }

// ---- views share storage ----

TEST(ViewSemantics, ViewSharesStorageAndWritesThroughItReachTheBase) {
  Tensor base = iota({3, 4});
  base.requires_grad_();
  const Tensor v = base.view({4, 3});
  EXPECT_TRUE(shares_storage(v, base));
  EXPECT_EQ(offset_in(v, base), 0);
  EXPECT_EQ(v.shape(), Shape({4, 3}));
  EXPECT_EQ(v.strides(), Strides({3, 1}));
  {
    NoGradGuard no_grad;
    v.select(0, 1).fill_(-1);  // flat elements 3, 4, 5: base[0, 3], base[1, 0], base[1, 1]
  }
  expect_values(base, {0, 1, 2, -1, -1, -1, 6, 7, 8, 9, 10, 11});
}

TEST(ViewSemantics, ReshapeAndViewInferOneMinusOneDim) {
  const Tensor x = iota({3, 4});
  EXPECT_EQ(x.reshape({-1, 6}).shape(), Shape({2, 6}));
  EXPECT_EQ(x.view({2, -1, 3}).shape(), Shape({2, 2, 3}));
  EXPECT_EQ(x.reshape({-1}).shape(), Shape({12}));
  EXPECT_EQ(iota({0, 4}).reshape({-1, 2}).shape(), Shape({0, 2}));
  EXPECT_TRUE(shares_storage(x.reshape({-1, 6}), x));
  expect_values(x.view({2, -1, 3}), values_of(x));
}

TEST(ViewSemantics, ReshapeRejectsTwoInferredDimsAndWrongElementCounts) {
  const Tensor x = iota({3, 4});
  expect_error([&] { x.reshape({-1, -1}); }, {"reshape", "only one dimension can be -1"});
  expect_error([&] { x.reshape({5, 2}); }, {"reshape", "[5, 2]", "[3, 4]", "12 elements"});
  expect_error([&] { x.view({5, -1}); }, {"view", "[5, -1]", "[3, 4]"});
  expect_error([&] { x.reshape({-2, 6}); }, {"reshape", "invalid dimension -2"});
}

TEST(ViewSemantics, ViewOfTransposedTensorIsAnErrorThatPointsToReshape) {
  const Tensor t = iota({3, 4}).t();
  expect_error([&] { t.view({12}); }, {"view", "[12]", "incompatible with the strides", "[4, 3]", "reshape()"});
}

TEST(ViewSemantics, ReshapeOfTransposedTensorCopiesInLogicalOrder) {
  Tensor base = iota({3, 4});
  const Tensor flat = base.t().reshape({12});
  EXPECT_FALSE(shares_storage(flat, base));
  EXPECT_TRUE(flat.is_contiguous());
  expect_values(flat, {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
  {
    NoGradGuard no_grad;
    base.fill_(0);
  }
  EXPECT_EQ(flat.to_vector<double>()[1], 4.0) << "a copy does not follow its source";
}

TEST(ViewSemantics, ReshapeOfTransposedTensorStaysAViewWhenStridesAllow) {
  const Tensor base = iota({3, 4});
  // t() is [4, 3] with strides [1, 4]: splitting its first dim needs no copy.
  const Tensor split = base.t().reshape({2, 2, 3});
  EXPECT_TRUE(shares_storage(split, base));
  EXPECT_EQ(split.strides(), Strides({2, 1, 4}));
  expect_values(split, {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
}

TEST(ViewSemantics, FlattenMergesTheRequestedDims) {
  const Tensor x = iota({2, 3, 4});
  EXPECT_EQ(x.flatten().shape(), Shape({24}));
  EXPECT_EQ(x.flatten(1).shape(), Shape({2, 12}));
  EXPECT_EQ(x.flatten(0, 1).shape(), Shape({6, 4}));
  EXPECT_EQ(x.flatten(-2, -1).shape(), Shape({2, 12}));
  EXPECT_EQ(scalar_tensor(5).flatten().shape(), Shape({1}));
  EXPECT_TRUE(shares_storage(x.flatten(), x));
  expect_error([&] { x.flatten(2, 1); }, {"flatten", "start_dim 2", "end_dim 1"});
  expect_error([&] { x.flatten(3); }, {"flatten", "dim 3 is out of range"});
}

TEST(ViewSemantics, SqueezeAndUnsqueezeOnlyTouchSizeOneDims) {
  const Tensor x = iota({2, 1, 3, 1});
  EXPECT_EQ(x.squeeze().shape(), Shape({2, 3}));
  EXPECT_EQ(x.squeeze(1).shape(), Shape({2, 3, 1}));
  EXPECT_EQ(x.squeeze(-1).shape(), Shape({2, 1, 3}));
  EXPECT_EQ(x.squeeze(0).shape(), x.shape()) << "squeezing a dim that is not 1 is a no-op, as in PyTorch";
  EXPECT_EQ(x.unsqueeze(0).shape(), Shape({1, 2, 1, 3, 1}));
  EXPECT_EQ(x.unsqueeze(-1).shape(), Shape({2, 1, 3, 1, 1}));
  EXPECT_EQ(x.unsqueeze(2).shape(), Shape({2, 1, 1, 3, 1}));
  EXPECT_EQ(scalar_tensor(1).unsqueeze(0).shape(), Shape({1}));
  EXPECT_TRUE(shares_storage(x.squeeze(), x));
  EXPECT_TRUE(shares_storage(x.unsqueeze(1), x));
  expect_values(x.squeeze().unsqueeze(0), values_of(x));
  expect_error([&] { x.squeeze(4); }, {"squeeze", "dim 4 is out of range"});
  expect_error([&] { x.unsqueeze(5); }, {"unsqueeze", "dim 5 is out of range"});
  expect_error([&] { x.unsqueeze(-6); }, {"unsqueeze", "dim -6 is out of range"});
}

TEST(ViewSemantics, PermuteReordersDimsWithoutMovingData) {
  const Tensor x = iota({2, 3, 4});
  const Tensor p = x.permute({2, 0, 1});
  EXPECT_TRUE(shares_storage(p, x));
  EXPECT_EQ(p.shape(), Shape({4, 2, 3}));
  EXPECT_EQ(p.strides(), Strides({1, 12, 4}));
  EXPECT_FALSE(p.is_contiguous());
  // p[i, j, k] = x[j, k, i] = 12 j + 4 k + i
  std::vector<double> expected;
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 2; ++j)
      for (int k = 0; k < 3; ++k) expected.push_back(12 * j + 4 * k + i);
  expect_values(p, expected);
  EXPECT_EQ(x.permute({-1, 0, 1}).shape(), p.shape());
  expect_error([&] { x.permute({0, 1}); }, {"permute", "got 2 dims", "[2, 3, 4]"});
  expect_error([&] { x.permute({0, 1, 1}); }, {"permute", "appears twice"});
  expect_error([&] { x.permute({0, 1, 3}); }, {"permute", "dim 3 is out of range"});
}

TEST(ViewSemantics, TransposeAndTSwapStrides) {
  const Tensor x = iota({2, 3, 4});
  const Tensor t = x.transpose(0, 2);
  EXPECT_TRUE(shares_storage(t, x));
  EXPECT_EQ(t.shape(), Shape({4, 3, 2}));
  EXPECT_EQ(t.strides(), Strides({1, 4, 12}));
  EXPECT_EQ(x.transpose(-1, -2).shape(), Shape({2, 4, 3}));

  const Tensor m = iota({2, 3});
  EXPECT_EQ(m.t().shape(), Shape({3, 2}));
  EXPECT_EQ(m.t().strides(), Strides({1, 3}));
  expect_values(m.t(), {0, 3, 1, 4, 2, 5});
  const Tensor v = iota({3});
  EXPECT_TRUE(v.t().is_same(v)) << "t() of a vector is the vector itself";
  expect_error([&] { x.t(); }, {"t:", "at most 2 dims", "[2, 3, 4]", "transpose()"});
  expect_error([&] { m.transpose(0, 2); }, {"transpose", "dim 2 is out of range"});
}

TEST(ViewSemantics, NarrowIsAWindowIntoTheSameStorage) {
  const Tensor x = iota({4, 5});
  Tensor columns = x.narrow(1, 1, 3);
  EXPECT_TRUE(shares_storage(columns, x));
  EXPECT_EQ(columns.shape(), Shape({4, 3}));
  EXPECT_EQ(offset_in(columns, x), 1);
  expect_values(columns.select(0, 0), {1, 2, 3});
  const Tensor last_rows = x.narrow(0, -2, 2);
  EXPECT_EQ(offset_in(last_rows, x), 10);
  expect_values(last_rows.select(1, 0), {10, 15});
  {
    NoGradGuard no_grad;
    columns.fill_(0);
  }
  expect_values(x.select(0, 3), {15, 0, 0, 0, 19});
  expect_error([&] { x.narrow(1, 3, 3); }, {"narrow", "[3, 6)", "dim 1 of size 5"});
  expect_error([&] { x.narrow(0, 0, -1); }, {"narrow", "out of bounds"});
  expect_error([&] { x.narrow(2, 0, 1); }, {"narrow", "dim 2 is out of range"});
}

TEST(ViewSemantics, SliceWithStepMultipliesTheStride) {
  const Tensor x = iota({10});
  const Tensor every_third = x.slice(0, 1, 8, 3);
  EXPECT_TRUE(shares_storage(every_third, x));
  EXPECT_EQ(every_third.strides(), Strides({3}));
  EXPECT_EQ(offset_in(every_third, x), 1);
  expect_values(every_third, {1, 4, 7});
  expect_values(x.slice(0, -4, -1), {6, 7, 8});
  expect_values(x.slice(0, 7, 100), {7, 8, 9});  // the end is clamped, as in Python slicing
  EXPECT_EQ(x.slice(0, 8, 3).numel(), 0);
  const Tensor m = iota({3, 4});
  Tensor even_columns = m.slice(1, 0, 4, 2);
  EXPECT_EQ(even_columns.strides(), Strides({4, 2}));
  expect_values(even_columns, {0, 2, 4, 6, 8, 10});
  {
    NoGradGuard no_grad;
    even_columns.fill_(-1);
  }
  expect_values(m.select(0, 0), {-1, 1, -1, 3});
  expect_error([&] { x.slice(0, 0, 5, 0); }, {"slice", "step must be positive, got 0"});
  expect_error([&] { x.slice(0, 0, 5, -1); }, {"slice", "step must be positive"});
  expect_error([&] { x.slice(1, 0, 5); }, {"slice", "dim 1 is out of range"});
}

TEST(ViewSemantics, SelectAndSubscriptDropTheIndexedDim) {
  const Tensor x = iota({3, 4});
  const Tensor row = x[1];
  EXPECT_TRUE(shares_storage(row, x));
  EXPECT_EQ(row.shape(), Shape({4}));
  EXPECT_EQ(offset_in(row, x), 4);
  expect_values(row, {4, 5, 6, 7});
  const Tensor last_column = x.select(1, -1);
  EXPECT_EQ(last_column.strides(), Strides({4}));
  expect_values(last_column, {3, 7, 11});
  EXPECT_EQ(x[2][3].dim(), 0);
  EXPECT_EQ(x[2][3].item(), 11.0);
  {
    NoGradGuard no_grad;
    x[0][0].fill_(42);
  }
  EXPECT_EQ(x.to_vector<double>()[0], 42.0);
  expect_error([&] { x[3]; }, {"select", "index 3 is out of bounds for dim 0 of size 3"});
  expect_error([&] { x.select(1, -5); }, {"select", "index -5 is out of bounds"});
  expect_error([&] { x.select(2, 0); }, {"select", "dim 2 is out of range"});
}

TEST(ViewSemantics, ExpandUsesStrideZeroForBroadcastDims) {
  Tensor x = iota({3, 1});
  const Tensor e = x.expand({2, 3, 4});
  EXPECT_TRUE(shares_storage(e, x));
  EXPECT_EQ(e.shape(), Shape({2, 3, 4}));
  EXPECT_EQ(e.strides(), Strides({0, 1, 0}));
  expect_values(e.select(0, 1).select(1, 2), {0, 1, 2});
  expect_values(e.select(0, 0).select(0, 2), {2, 2, 2, 2});
  EXPECT_EQ(x.expand({-1, 5}).shape(), Shape({3, 5}));
  EXPECT_TRUE(x.expand({3, 1}).is_same(x));
  {
    NoGradGuard no_grad;
    x.fill_(7);
  }
  expect_values(e.sum(), {7.0 * 24});
  expect_error([&] { iota({3, 2}).expand({3, 4}); }, {"expand", "[3, 2]", "[3, 4]", "not 1"});
  expect_error([&] { x.expand({3}); }, {"expand", "fewer dims"});
  expect_error([&] { x.expand({-1, 3, 1}); }, {"expand", "non-negative"});
}

TEST(ViewSemantics, ContiguousCopiesOnlyWhenNeeded) {
  const Tensor x = iota({3, 4});
  EXPECT_TRUE(x.contiguous().is_same(x));
  const Tensor t = x.t();
  const Tensor c = t.contiguous();
  EXPECT_FALSE(shares_storage(c, x));
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_EQ(c.strides(), Strides({3, 1}));
  expect_values(c, values_of(t));
}

TEST(ViewSemantics, CloneOwnsItsMemory) {
  const Tensor x = iota({2, 3});
  Tensor c = x.clone();
  EXPECT_FALSE(shares_storage(c, x));
  expect_values(c, values_of(x));
  {
    NoGradGuard no_grad;
    c.fill_(0);
  }
  expect_values(x, {0, 1, 2, 3, 4, 5});
  EXPECT_TRUE(x.t().clone().is_contiguous()) << "clone of a strided view is contiguous";
}

TEST(ViewSemantics, DetachedViewsKeepTheBaseVersionCounter) {
  const Tensor x = iota({4});
  Tensor v = x.narrow(0, 1, 2);
  const std::uint32_t before = x.version();
  {
    NoGradGuard no_grad;
    v.add_(1);
  }
  EXPECT_EQ(x.version(), before + 1) << "views share one version counter, so saved tensors see writes via views";
  expect_values(x, {0, 2, 3, 3});
}

TEST(ViewSemantics, ChainedViewsPassGradientChecks) {
  // Views of views of views: each backward must undo its own geometry, not the base's.
  const GradcheckFunction chain = [](const std::vector<Tensor>& in) {
    const Tensor y = in[0].permute({1, 2, 0}).reshape({3, 8}).slice(1, 1, 8, 3).t();
    return y * y;
  };
  expect_gradcheck(chain, {input({2, 3, 4}, 21)});
  expect_gradcheck(chain, {transposed_input({2, 3, 4}, 22)});
  expect_gradgradcheck(chain, {input({2, 3, 4}, 23)});
}

// ---- indexing with int64 indices ----

TEST(IndexSelect, PicksSlicesAlongADimInIndexOrder) {
  const Tensor x = iota({3, 4});
  expect_values(x.index_select(0, indices({2, 0, 2})), {8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11});
  const Tensor columns = x.index_select(1, indices({3, 1}));
  EXPECT_EQ(columns.shape(), Shape({3, 2}));
  expect_values(columns, {3, 1, 7, 5, 11, 9});
  EXPECT_FALSE(shares_storage(columns, x)) << "index_select copies";
  EXPECT_EQ(x.index_select(0, indices({})).shape(), Shape({0, 4}));
  expect_values(x.t().index_select(0, indices({1})), {1, 5, 9});
  // Whole rows of a contiguous array, copied as blocks.
  expect_values(iota({4, 2, 3}).index_select(0, indices({3, 1})), {18, 19, 20, 21, 22, 23, 6, 7, 8, 9, 10, 11});
}

TEST(IndexSelect, RepeatedIndicesAccumulateGradient) {
  Tensor x = input({3, 2}, 11);
  x.index_select(0, indices({1, 1, 2})).sum().backward();
  expect_values(x.grad(), {0, 0, 2, 2, 1, 1});
}

TEST(IndexSelect, BadIndicesAreErrors) {
  const Tensor x = iota({3, 4});
  expect_error([&] { x.index_select(0, indices({0, 3})); }, {"index_select", "index 3 is out of bounds for dim 0 of size 3"});
  expect_error([&] { x.index_select(1, indices({-1})); }, {"index_select", "index -1 is out of bounds"});
  expect_error([&] { x.index_select(0, tensor({0, 1})); }, {"index_select", "indices must be int64", "float32"});
  expect_error([&] { x.index_select(0, indices({0, 1, 2, 0}, Shape{2, 2})); }, {"index_select", "1-D", "[2, 2]"});
  expect_error([&] { x.index_select(2, indices({0})); }, {"index_select", "dim 2 is out of range"});
}

TEST(Gather, PicksOneElementPerIndexAlongADim) {
  const Tensor x = iota({3, 4});
  // out[i][j] = x[i][index[i][j]]
  const Tensor picked = x.gather(1, indices({0, 3, 2, 2, 1, 0}, Shape{3, 2}));
  EXPECT_EQ(picked.shape(), Shape({3, 2}));
  expect_values(picked, {0, 3, 6, 6, 9, 8});
  // out[i][j] = x[index[i][j]][j]
  expect_values(x.gather(0, indices({2, 0, 1, 2}, Shape{1, 4})), {8, 1, 6, 11});
  expect_values(x.t().gather(1, indices({2, 0, 1}, Shape{3, 1})), {8, 1, 6});
}

TEST(Gather, RepeatedIndicesAccumulateGradient) {
  Tensor x = input({2, 3}, 12);
  x.gather(1, indices({2, 2, 0, 1}, Shape{2, 2})).sum().backward();
  expect_values(x.grad(), {0, 0, 2, 1, 1, 0});
}

TEST(Gather, BadIndicesAreErrors) {
  const Tensor x = iota({3, 4});
  expect_error([&] { x.gather(1, indices({0, 4, 0, 0, 0, 0}, Shape{3, 2})); },
               {"gather", "index 4 is out of bounds for dim 1 of size 4"});
  expect_error([&] { x.gather(1, indices({-1, 0}, Shape{1, 2})); }, {"gather", "index -1 is out of bounds"});
  expect_error([&] { x.gather(1, tensor({0, 1}, Shape{1, 2})); }, {"gather", "indices must be int64", "float32"});
  expect_error([&] { x.gather(1, indices({0, 1})); }, {"gather", "[2]", "[3, 4]", "same number of dims"});
  expect_error([&] { x.gather(1, indices({0, 0, 0, 0, 0}, Shape{5, 1})); }, {"gather", "[5, 1]", "[3, 4]", "dim 0"});
}

// ---- dtype conversion ----

TEST(ToDtype, FloatConversionsRoundAndIntConversionsTruncateTowardZero) {
  const Tensor x = tensor({-2.7, -0.5, 0.5, 2.7, 3.0});
  const Tensor as_int = x.to(kInt64);
  EXPECT_EQ(as_int.dtype(), kInt64);
  EXPECT_EQ(as_int.to_vector<std::int64_t>(), (std::vector<std::int64_t>{-2, 0, 0, 2, 3}));
  const Tensor back = as_int.to(kFloat64);
  EXPECT_EQ(back.dtype(), kFloat64);
  EXPECT_EQ(back.to_vector<double>(), (std::vector<double>{-2, 0, 0, 2, 3}));

  const Tensor precise = f64({0.1, 1.0 / 3.0});
  const Tensor single = precise.to(kFloat32);
  EXPECT_EQ(single.dtype(), kFloat32);
  EXPECT_EQ(single.to_vector<float>(), (std::vector<float>{0.1f, 1.0f / 3.0f}));
  EXPECT_EQ(single.to(kFloat64).to_vector<double>()[0], static_cast<double>(0.1f));
  EXPECT_TRUE(x.to(kFloat32).is_same(x)) << "converting to the same dtype returns the tensor itself";
  expect_values(iota({2, 3}).t().to(kInt64), {0, 3, 1, 4, 2, 5});
}

TEST(ToDtype, FloatConversionIsDifferentiableAndGradientKeepsTheLeafDtype) {
  Tensor x = tensor({1, 2, 3}).requires_grad_();
  const Tensor y = x.to(kFloat64);
  EXPECT_TRUE(y.requires_grad());
  (y * y).sum().backward();
  EXPECT_EQ(x.grad().dtype(), kFloat32);
  expect_values(x.grad(), {2, 4, 6});
}

TEST(ToDtype, IntegerConversionLeavesTheGraph) {
  const Tensor x = input({3}, 3);
  const Tensor as_int = x.to(kInt64);
  EXPECT_FALSE(as_int.requires_grad()) << "as in PyTorch, integer tensors never require grad";
  EXPECT_EQ(as_int.grad_fn(), nullptr);
}

}  // namespace
}  // namespace tapegrad
