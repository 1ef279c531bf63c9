// Type promotion and the bool dtype, as PyTorch: binary ops compute in torch.result_type of their
// operands (checked against a table PyTorch wrote), gradients come back in each input's own
// dtype, in-place updates refuse results they cannot store, comparisons and logical ops give
// bool tensors, and where/masked_fill take bool masks only.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>

#include "test_util.h"

namespace tapegrad {
namespace {

using tapegrad::testing::expect_error;
using tapegrad::testing::expect_values;
using tapegrad::testing::gradient;

enum Kind { Dims, ZeroDim };

struct TensorPair {
  DType a;
  Kind a_kind;
  DType b;
  Kind b_kind;
  DType expected;
};

struct TensorScalar {
  DType a;
  Kind a_kind;
  double scalar;
  DType expected;
};

// Rows written by tests/golden/pytorch_promotion.py.
const TensorPair kTorchTensorPairs[] = {
    // torch 1.13.0a0: {a dtype, a kind, b dtype, b kind, torch.result_type(a, b)}
    {kBool, Dims, kBool, Dims, kBool},
    {kBool, Dims, kBool, ZeroDim, kBool},
    {kBool, Dims, kUInt8, Dims, kUInt8},
    {kBool, Dims, kUInt8, ZeroDim, kUInt8},
    {kBool, Dims, kInt64, Dims, kInt64},
    {kBool, Dims, kInt64, ZeroDim, kInt64},
    {kBool, Dims, kFloat32, Dims, kFloat32},
    {kBool, Dims, kFloat32, ZeroDim, kFloat32},
    {kBool, Dims, kFloat64, Dims, kFloat64},
    {kBool, Dims, kFloat64, ZeroDim, kFloat64},
    {kBool, ZeroDim, kBool, Dims, kBool},
    {kBool, ZeroDim, kBool, ZeroDim, kBool},
    {kBool, ZeroDim, kUInt8, Dims, kUInt8},
    {kBool, ZeroDim, kUInt8, ZeroDim, kUInt8},
    {kBool, ZeroDim, kInt64, Dims, kInt64},
    {kBool, ZeroDim, kInt64, ZeroDim, kInt64},
    {kBool, ZeroDim, kFloat32, Dims, kFloat32},
    {kBool, ZeroDim, kFloat32, ZeroDim, kFloat32},
    {kBool, ZeroDim, kFloat64, Dims, kFloat64},
    {kBool, ZeroDim, kFloat64, ZeroDim, kFloat64},
    {kUInt8, Dims, kBool, Dims, kUInt8},
    {kUInt8, Dims, kBool, ZeroDim, kUInt8},
    {kUInt8, Dims, kUInt8, Dims, kUInt8},
    {kUInt8, Dims, kUInt8, ZeroDim, kUInt8},
    {kUInt8, Dims, kInt64, Dims, kInt64},
    {kUInt8, Dims, kInt64, ZeroDim, kUInt8},
    {kUInt8, Dims, kFloat32, Dims, kFloat32},
    {kUInt8, Dims, kFloat32, ZeroDim, kFloat32},
    {kUInt8, Dims, kFloat64, Dims, kFloat64},
    {kUInt8, Dims, kFloat64, ZeroDim, kFloat64},
    {kUInt8, ZeroDim, kBool, Dims, kUInt8},
    {kUInt8, ZeroDim, kBool, ZeroDim, kUInt8},
    {kUInt8, ZeroDim, kUInt8, Dims, kUInt8},
    {kUInt8, ZeroDim, kUInt8, ZeroDim, kUInt8},
    {kUInt8, ZeroDim, kInt64, Dims, kInt64},
    {kUInt8, ZeroDim, kInt64, ZeroDim, kInt64},
    {kUInt8, ZeroDim, kFloat32, Dims, kFloat32},
    {kUInt8, ZeroDim, kFloat32, ZeroDim, kFloat32},
    {kUInt8, ZeroDim, kFloat64, Dims, kFloat64},
    {kUInt8, ZeroDim, kFloat64, ZeroDim, kFloat64},
    {kInt64, Dims, kBool, Dims, kInt64},
    {kInt64, Dims, kBool, ZeroDim, kInt64},
    {kInt64, Dims, kUInt8, Dims, kInt64},
    {kInt64, Dims, kUInt8, ZeroDim, kInt64},
    {kInt64, Dims, kInt64, Dims, kInt64},
    {kInt64, Dims, kInt64, ZeroDim, kInt64},
    {kInt64, Dims, kFloat32, Dims, kFloat32},
    {kInt64, Dims, kFloat32, ZeroDim, kFloat32},
    {kInt64, Dims, kFloat64, Dims, kFloat64},
    {kInt64, Dims, kFloat64, ZeroDim, kFloat64},
    {kInt64, ZeroDim, kBool, Dims, kInt64},
    {kInt64, ZeroDim, kBool, ZeroDim, kInt64},
    {kInt64, ZeroDim, kUInt8, Dims, kUInt8},
    {kInt64, ZeroDim, kUInt8, ZeroDim, kInt64},
    {kInt64, ZeroDim, kInt64, Dims, kInt64},
    {kInt64, ZeroDim, kInt64, ZeroDim, kInt64},
    {kInt64, ZeroDim, kFloat32, Dims, kFloat32},
    {kInt64, ZeroDim, kFloat32, ZeroDim, kFloat32},
    {kInt64, ZeroDim, kFloat64, Dims, kFloat64},
    {kInt64, ZeroDim, kFloat64, ZeroDim, kFloat64},
    {kFloat32, Dims, kBool, Dims, kFloat32},
    {kFloat32, Dims, kBool, ZeroDim, kFloat32},
    {kFloat32, Dims, kUInt8, Dims, kFloat32},
    {kFloat32, Dims, kUInt8, ZeroDim, kFloat32},
    {kFloat32, Dims, kInt64, Dims, kFloat32},
    {kFloat32, Dims, kInt64, ZeroDim, kFloat32},
    {kFloat32, Dims, kFloat32, Dims, kFloat32},
    {kFloat32, Dims, kFloat32, ZeroDim, kFloat32},
    {kFloat32, Dims, kFloat64, Dims, kFloat64},
    {kFloat32, Dims, kFloat64, ZeroDim, kFloat32},
    {kFloat32, ZeroDim, kBool, Dims, kFloat32},
    {kFloat32, ZeroDim, kBool, ZeroDim, kFloat32},
    {kFloat32, ZeroDim, kUInt8, Dims, kFloat32},
    {kFloat32, ZeroDim, kUInt8, ZeroDim, kFloat32},
    {kFloat32, ZeroDim, kInt64, Dims, kFloat32},
    {kFloat32, ZeroDim, kInt64, ZeroDim, kFloat32},
    {kFloat32, ZeroDim, kFloat32, Dims, kFloat32},
    {kFloat32, ZeroDim, kFloat32, ZeroDim, kFloat32},
    {kFloat32, ZeroDim, kFloat64, Dims, kFloat64},
    {kFloat32, ZeroDim, kFloat64, ZeroDim, kFloat64},
    {kFloat64, Dims, kBool, Dims, kFloat64},
    {kFloat64, Dims, kBool, ZeroDim, kFloat64},
    {kFloat64, Dims, kUInt8, Dims, kFloat64},
    {kFloat64, Dims, kUInt8, ZeroDim, kFloat64},
    {kFloat64, Dims, kInt64, Dims, kFloat64},
    {kFloat64, Dims, kInt64, ZeroDim, kFloat64},
    {kFloat64, Dims, kFloat32, Dims, kFloat64},
    {kFloat64, Dims, kFloat32, ZeroDim, kFloat64},
    {kFloat64, Dims, kFloat64, Dims, kFloat64},
    {kFloat64, Dims, kFloat64, ZeroDim, kFloat64},
    {kFloat64, ZeroDim, kBool, Dims, kFloat64},
    {kFloat64, ZeroDim, kBool, ZeroDim, kFloat64},
    {kFloat64, ZeroDim, kUInt8, Dims, kFloat64},
    {kFloat64, ZeroDim, kUInt8, ZeroDim, kFloat64},
    {kFloat64, ZeroDim, kInt64, Dims, kFloat64},
    {kFloat64, ZeroDim, kInt64, ZeroDim, kFloat64},
    {kFloat64, ZeroDim, kFloat32, Dims, kFloat32},
    {kFloat64, ZeroDim, kFloat32, ZeroDim, kFloat64},
    {kFloat64, ZeroDim, kFloat64, Dims, kFloat64},
    {kFloat64, ZeroDim, kFloat64, ZeroDim, kFloat64},
};

const TensorScalar kTorchTensorScalars[] = {
    // {a dtype, a kind, scalar, torch.result_type(a, scalar)}
    {kBool, Dims, 2, kInt64},
    {kBool, Dims, 2.5, kFloat32},
    {kBool, ZeroDim, 2, kInt64},
    {kBool, ZeroDim, 2.5, kFloat32},
    {kUInt8, Dims, 2, kUInt8},
    {kUInt8, Dims, 2.5, kFloat32},
    {kUInt8, ZeroDim, 2, kUInt8},
    {kUInt8, ZeroDim, 2.5, kFloat32},
    {kInt64, Dims, 2, kInt64},
    {kInt64, Dims, 2.5, kFloat32},
    {kInt64, ZeroDim, 2, kInt64},
    {kInt64, ZeroDim, 2.5, kFloat32},
    {kFloat32, Dims, 2, kFloat32},
    {kFloat32, Dims, 2.5, kFloat32},
    {kFloat32, ZeroDim, 2, kFloat32},
    {kFloat32, ZeroDim, 2.5, kFloat32},
    {kFloat64, Dims, 2, kFloat64},
    {kFloat64, Dims, 2.5, kFloat64},
    {kFloat64, ZeroDim, 2, kFloat64},
    {kFloat64, ZeroDim, 2.5, kFloat64},
};

Tensor operand(DType dtype, Kind kind) { return zeros(kind == Dims ? Shape{2} : Shape{}, dtype); }
const char* kind_name(Kind kind) { return kind == Dims ? "with dims" : "0-dim"; }

TEST(ResultType, MatchesTorchForEveryPairOfDtypesAndKinds) {
  for (const TensorPair& row : kTorchTensorPairs)
    EXPECT_EQ(result_type(operand(row.a, row.a_kind), operand(row.b, row.b_kind)), row.expected)
        << fmt::format("{} {} and {} {}", row.a, kind_name(row.a_kind), row.b, kind_name(row.b_kind));
  for (const TensorScalar& row : kTorchTensorScalars)
    EXPECT_EQ(result_type(operand(row.a, row.a_kind), row.scalar), row.expected)
        << fmt::format("{} {} and the scalar {}", row.a, kind_name(row.a_kind), row.scalar);
}

TEST(ResultType, BinaryOpsComputeInIt) {
  for (const TensorPair& row : kTorchTensorPairs) {
    if (row.expected == kBool || row.expected == kUInt8) continue;  // arithmetic on bytes is refused
    Tensor a = operand(row.a, row.a_kind);
    if (row.a == kInt64 || is_floating(row.a)) a.add_(1.0);
    const Tensor b = operand(row.b, row.b_kind);
    for (const Tensor& out : {add(a, b), sub(a, b), mul(a, b), maximum(a, b), minimum(a, b)})
      EXPECT_EQ(out.dtype(), row.expected) << fmt::format("{} and {}", row.a, row.b);
    EXPECT_EQ(where(ones({}, kBool), a, b).dtype(), row.expected) << fmt::format("{} and {}", row.a, row.b);
    EXPECT_EQ(eq(a, b).dtype(), kBool);
  }
}

TEST(TypePromotion, MixedFloatsComputeInFloat64) {
  const Tensor a = tensor({0.1, 0.2, 0.3}, std::nullopt, kFloat32);
  const Tensor b = tensor({1e-9, 2.0, 3.0}, std::nullopt, kFloat64);
  const Tensor sum64 = add(a, b);
  EXPECT_EQ(sum64.dtype(), kFloat64);
  // The float32 operand is widened exactly, then added in float64: 1e-9 survives.
  const std::vector<double> widened = a.to(kFloat64).to_vector<double>();
  const std::vector<double> got = sum64.to_vector<double>();
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], widened[i] + b.to_vector<double>()[i]);
  EXPECT_EQ((a * b).dtype(), kFloat64);
  EXPECT_EQ((b / a).dtype(), kFloat64);
  EXPECT_EQ(pow(a, b).dtype(), kFloat64);
}

TEST(TypePromotion, ZeroDimTensorsAndScalarsDoNotWidenTheirOwnCategory) {
  const Tensor x = tensor({1.5, 2.5}, std::nullopt, kFloat32);
  EXPECT_EQ((x + full({}, 2.0, kFloat64)).dtype(), kFloat32);
  EXPECT_EQ((x * 0.1).dtype(), kFloat32);
  EXPECT_EQ((x + 3.0).dtype(), kFloat32);
  const Tensor n = tensor({1, 2}, std::nullopt, kInt64);
  EXPECT_EQ((n + full({}, 0.5, kFloat64)).dtype(), kFloat64) << "a 0-dim float decides against integers";
  EXPECT_EQ((n * 2.0).dtype(), kInt64) << "an integral scalar acts as a Python int";
  const Tensor halves = n * 0.5;
  EXPECT_EQ(halves.dtype(), kFloat32) << "a fractional scalar promotes integers to the default float32";
  expect_values(halves, {0.5, 1.0});
  expect_values(n + 2.5, {3.5, 4.5});
  expect_values(rsub(n, 0.5), {-0.5, -1.5});
  EXPECT_EQ((ones({2}, kBool) + 1.0).dtype(), kInt64);
}

TEST(TypePromotion, IntegersAndFloatsMix) {
  const Tensor n = tensor({1, 2, 3}, std::nullopt, kInt64);
  const Tensor f = tensor({0.5, 0.25, 2}, std::nullopt, kFloat32);
  const Tensor product = n * f;
  EXPECT_EQ(product.dtype(), kFloat32);
  expect_values(product, {0.5, 0.5, 6});
  expect_values(maximum(n, f.to(kFloat64)), {1, 2, 3});
  EXPECT_EQ(maximum(n, f.to(kFloat64)).dtype(), kFloat64);
  const Tensor mask = tensor({1, 0, 1}, std::nullopt, kBool);
  EXPECT_EQ((n + mask).dtype(), kInt64);
  expect_values(n + mask, {2, 2, 4});
  EXPECT_EQ((mask * f).dtype(), kFloat32);
  expect_values(mask * f, {0.5, 0, 2});
}

TEST(TypePromotion, DivisionOfIntegersIsTrueDivision) {
  const Tensor n = tensor({1, 2, 7}, std::nullopt, kInt64);
  const Tensor d = tensor({2, 2, 2}, std::nullopt, kInt64);
  EXPECT_EQ((n / d).dtype(), kFloat32);
  expect_values(n / d, {0.5, 1, 3.5});
  EXPECT_EQ((n / 2.0).dtype(), kFloat32);
  expect_values(n / 4.0, {0.25, 0.5, 1.75});
  EXPECT_EQ((2.0 / n).dtype(), kFloat32);
  expect_values(2.0 / n, {2, 1, 2.0 / 7}, 1e-6);
  EXPECT_EQ((n / full({}, 2.0, kFloat64)).dtype(), kFloat64);
}

TEST(TypePromotion, PowOfIntegersIsRefusedButFloatExponentsPromote) {
  const Tensor n = tensor({1, 2, 3}, std::nullopt, kInt64);
  EXPECT_EQ(pow(n, 0.5).dtype(), kFloat32);
  expect_values(pow(n, 2.5), {1, std::pow(2.0, 2.5), std::pow(3.0, 2.5)}, 1e-4);
  EXPECT_EQ(pow(2.5, n).dtype(), kFloat32);
  EXPECT_EQ(pow(n, n.to(kFloat64)).dtype(), kFloat64);
  expect_error([&] { (void)pow(n, 2.0); }, {"pow", "int64"});
}

TEST(TypePromotion, MathFunctionsOfIntegersComputeInFloat32) {
  const Tensor n = tensor({0, 1, 4}, std::nullopt, kInt64);
  for (const Tensor& r : {exp(n), log(n), sqrt(n), rsqrt(n), sin(n), cos(n), tanh(n), sigmoid(n), log1p(n), erf(n)})
    EXPECT_EQ(r.dtype(), kFloat32);
  expect_values(sqrt(n), {0, 1, 2});
  expect_values(exp(tensor({1, 0}, std::nullopt, kBool)), {std::exp(1.0), 1}, 1e-6);
  expect_values(sqrt(from_vector(std::vector<std::uint8_t>{9})), {3});
  EXPECT_EQ(exp(tensor({1.0}, std::nullopt, kFloat64)).dtype(), kFloat64);
  expect_error([&] { (void)softplus(n); }, {"softplus", "int64"});
}

TEST(TypePromotion, GradientsComeBackInEachInputsDtype) {
  const Tensor a = tensor({0.5, 1.5}, std::nullopt, kFloat32).requires_grad_();
  const Tensor b = tensor({2.0, -3.0}, std::nullopt, kFloat64).requires_grad_();
  const Tensor y = mul(a, b);
  ASSERT_EQ(y.dtype(), kFloat64);
  sum(y).backward();
  ASSERT_EQ(a.grad().dtype(), kFloat32);
  ASSERT_EQ(b.grad().dtype(), kFloat64);
  expect_values(a.grad(), {2, -3});
  expect_values(b.grad(), {0.5, 1.5});

  const Tensor c = tensor({1.0, 4.0}, std::nullopt, kFloat32).requires_grad_();
  const Tensor d = tensor({2.0, 2.0}, std::nullopt, kFloat64).requires_grad_();
  const auto grads = grad({sum(add(div(c, d), where(tensor({1, 0}, std::nullopt, kBool), c, d)))}, {c, d});
  EXPECT_EQ(grads[0].dtype(), kFloat32);
  EXPECT_EQ(grads[1].dtype(), kFloat64);
  expect_values(grads[0], {0.5 + 1, 0.5});
  expect_values(grads[1], {-0.25, -1 + 1});

  // Integers take no gradient; the float operand still gets its own.
  const Tensor w = tensor({1.0, 2.0}, std::nullopt, kFloat32).requires_grad_();
  const Tensor n = tensor({3, 4}, std::nullopt, kInt64);
  EXPECT_EQ(gradient(mul(w, n), w).dtype(), kFloat32);
  expect_values(gradient(mul(w, n), w), {3, 4});
}

TEST(TypePromotion, MixedOpsHaveSecondDerivatives) {
  const Tensor a = tensor({0.5, 1.5}, std::nullopt, kFloat32).requires_grad_();
  const Tensor b = tensor({2.0, 3.0}, std::nullopt, kFloat64);
  const Tensor first = grad({sum(mul(mul(a, a), b))}, {a}, {}, std::nullopt, true)[0];
  EXPECT_EQ(first.dtype(), kFloat32);
  const Tensor second = grad({sum(first)}, {a})[0];
  EXPECT_EQ(second.dtype(), kFloat32);
  expect_values(second, {4, 6});
}

TEST(TypePromotion, InPlaceUpdatesRefuseResultsTheyCannotStore) {
  Tensor n = tensor({1, 2}, std::nullopt, kInt64);
  const std::vector<std::string> float_into_long = {"result type float32 can't be cast to the desired output type int64"};
  expect_error([&] { n.add_(tensor({0.5, 0.5}, std::nullopt, kFloat32)); }, float_into_long);
  expect_error([&] { n.add_(1.5); }, float_into_long);
  expect_error([&] { n.mul_(0.5); }, float_into_long);
  expect_error([&] { n.div_(2.0); }, float_into_long);
  expect_error([&] { n.div_(tensor({2, 2}, std::nullopt, kInt64)); }, float_into_long);
  expect_values(n, {1, 2});
  n.add_(tensor({1, 0}, std::nullopt, kBool));
  n.mul_(3.0);
  expect_values(n, {6, 6});
  Tensor mask = tensor({1, 0}, std::nullopt, kBool);
  expect_error([&] { mask.add_(1.0); }, {"add_", "int64", "bool"});

  // float32 += float64: computed in float64, rounded into float32 once.
  Tensor x = tensor({1.0, 2.0}, std::nullopt, kFloat32);
  x.add_(tensor({1e-8, 0.5}, std::nullopt, kFloat64));
  EXPECT_EQ(x.dtype(), kFloat32);
  expect_values(x, {1.0, 2.5});
  x.mul_(tensor({2, 4}, std::nullopt, kInt64));
  expect_values(x, {2.0, 10.0});
  x.div_(tensor({4, 4}, std::nullopt, kInt64));
  expect_values(x, {0.5, 2.5});
}

// ---- comparisons and logical ops ----

TEST(BoolResults, ComparisonsGiveBool) {
  const Tensor x = tensor({1, 2, 3}, std::nullopt, kFloat32);
  const Tensor y = tensor({3, 2, 1}, std::nullopt, kFloat64);
  for (const Tensor& r : {eq(x, y), ne(x, y), lt(x, y), le(x, y), gt(x, y), ge(x, y), x == 2.0, x < 2.5, x >= 2.0})
    EXPECT_EQ(r.dtype(), kBool);
  expect_values(lt(x, y), {1, 0, 0});
  expect_values(ge(x, y), {0, 1, 1});
  expect_values(x != 2.0, {1, 0, 1});
}

TEST(BoolResults, ScalarComparisonsFollowPromotion) {
  const Tensor n = tensor({1, 2, 3}, std::nullopt, kInt64);
  expect_values(lt(n, 2.5), {1, 1, 0});  // compared in float32, as torch; not 2 < 2
  expect_values(gt(n, 1.5), {0, 1, 1});
  expect_values(eq(tensor({1, 0}, std::nullopt, kBool), 2.0), {0, 0});  // true is 1, not 2
  expect_values(eq(from_vector(std::vector<std::uint8_t>{44, 255}), 300.0), {0, 0});  // no wrap to 44
  expect_values(lt(from_vector(std::vector<std::uint8_t>{0, 255}), 256.0), {1, 1});
  const Tensor f = tensor({0.1}, std::nullopt, kFloat32);
  expect_values(eq(f, 0.1), {1});  // the scalar is rounded to the tensor's float32, as torch
  expect_values(eq(tensor({1, 0, 1}, std::nullopt, kBool), tensor({1, 1, 1}, std::nullopt, kBool)), {1, 0, 1});
}

TEST(BoolResults, LogicalOpsTakeTheTruthOfAnyDtype) {
  const Tensor a = tensor({0, 1, 0, 1}, std::nullopt, kBool);
  const Tensor b = tensor({0, 0, 2.5, -1}, std::nullopt, kFloat32);
  for (const Tensor& r : {logical_not(a), logical_and(a, b), logical_or(a, b), logical_xor(a, b), !b, ~a})
    EXPECT_EQ(r.dtype(), kBool);
  expect_values(logical_not(a), {1, 0, 1, 0});
  expect_values(!b, {1, 1, 0, 0});
  expect_values(~a, {1, 0, 1, 0});
  expect_values(logical_and(a, b), {0, 0, 0, 1});
  expect_values(logical_or(a, b), {0, 1, 1, 1});
  expect_values(logical_xor(a, b), {0, 1, 1, 0});
  expect_values(logical_not(tensor({std::nan("")})), {0});  // NaN is true, as torch
  expect_values(logical_and(reshape(a, {4, 1}), tensor({1, 0}, std::nullopt, kBool)).reshape({-1}),
                {0, 0, 1, 0, 0, 0, 1, 0});
  expect_error([&] { (void)~b; }, {"operator~", "bool", "float32", "logical_not"});
}

TEST(BoolResults, ReductionsCountAndTest) {
  const Tensor a = tensor({1, 0, 1, 1}, Shape{2, 2}, kBool);
  EXPECT_EQ(sum(a).dtype(), kInt64);
  EXPECT_EQ(sum(a).item(), 3);
  expect_values(sum(a, {0}), {2, 1});
  EXPECT_EQ(sum(from_vector(std::vector<std::uint8_t>{200, 100})).item(), 300) << "uint8 sums do not wrap";
  EXPECT_EQ(any(a).dtype(), kBool);
  EXPECT_TRUE(any(a).item());
  EXPECT_FALSE(all(a).item());
  EXPECT_TRUE(all(ones({3})).item());
  EXPECT_FALSE(any(zeros({3})).item());
  EXPECT_TRUE(all(zeros({0})).item()) << "all of nothing holds";
  expect_error([&] { (void)mean(a); }, {"mean", "bool"});
}

TEST(BoolMasks, WhereAndMaskedFillTakeBoolMasksOnly) {
  const Tensor x = tensor({1, 2, 3});
  const Tensor mask = x > 1.5;
  expect_values(where(mask, x, zeros({})), {0, 2, 3});
  expect_values(masked_fill(x, mask, -1), {1, -1, -1});
  for (const Tensor& numbers : {tensor({1, 0, 1}), tensor({1, 0, 1}, std::nullopt, kInt64)}) {
    expect_error([&] { (void)where(numbers, x, x); }, {"where", "bool", "x > 0", ".to(kBool)"});
    expect_error([&] { (void)masked_fill(x, numbers, 0); }, {"masked_fill", "bool", ".to(kBool)"});
  }
  // Values of any dtype are moved, bool included.
  expect_values(where(mask, mask, logical_not(mask)), {1, 1, 1});
  expect_values(where(mask, from_vector(std::vector<std::uint8_t>{1, 2, 3}), zeros({}, kUInt8)), {0, 2, 3});
}

// ---- the bool dtype as storage ----

TEST(BoolStorage, FactoriesAndConversions) {
  EXPECT_EQ(dtype_size(kBool), 1u);
  EXPECT_FALSE(is_floating(kBool));
  EXPECT_EQ(fmt::format("{}", kBool), "bool");
  EXPECT_EQ(zeros({2}, kBool).dtype(), kBool);
  expect_values(ones({2}, kBool), {1, 1});
  expect_values(full({2}, 5, kBool), {1, 1});
  expect_values(tensor({0, 3, -0.5}, std::nullopt, kBool), {0, 1, 1});
  expect_values(tensor({0.0, std::nan(""), -INFINITY}).to(kBool), {0, 1, 1});
  expect_values(tensor({0, 7, -1}, std::nullopt, kInt64).to(kBool), {0, 1, 1});
  expect_values(from_vector(std::vector<std::uint8_t>{0, 2}).to(kBool), {0, 1});
  const Tensor b = tensor({1, 0, 1}, std::nullopt, kBool);
  for (DType dtype : {kFloat32, kFloat64, kInt64, kUInt8}) {
    EXPECT_EQ(b.to(dtype).dtype(), dtype);
    expect_values(b.to(dtype), {1, 0, 1});
    expect_values(b.to(dtype).to(kBool), {1, 0, 1});
  }
  EXPECT_EQ(b.data_ptr<bool>()[2], true);
  EXPECT_EQ(b.select(0, 1).item(), 0.0);
  expect_error([&] { b.clone().requires_grad_(); }, {"bool"});
  EXPECT_FALSE(gt(tensor({1.0}).requires_grad_(), 0.0).requires_grad());
}

TEST(BoolStorage, PrintsTrueAndFalse) {
  EXPECT_EQ(fmt::format("{}", tensor({1, 0}, std::nullopt, kBool)), "tensor([ True, False], shape=[2], dtype=bool)");
  EXPECT_EQ(fmt::format("{}", tensor({1}, Shape{}, kBool)), "tensor(True, shape=[], dtype=bool)");
}

TEST(BoolStorage, IndexingAndJoiningMoveBools) {
  const Tensor b = tensor({1, 0, 0, 1, 1, 0}, Shape{2, 3}, kBool);
  const Tensor index = from_vector(std::vector<std::int64_t>{2, 0});
  EXPECT_EQ(index_select(b, 1, index).dtype(), kBool);
  expect_values(index_select(b, 1, index), {0, 1, 0, 1});
  expect_values(gather(b, 1, from_vector(std::vector<std::int64_t>{1, 2}, Shape{2, 1})), {0, 0});
  expect_values(cat({b, logical_not(b)}, 0).select(0, 3), {0, 0, 1});
  expect_values(b.t().contiguous(), {1, 1, 0, 1, 0, 0});
  expect_values(b.reshape({3, 2}).narrow(0, 1, 1), {0, 1});
  Tensor target = zeros({2, 3}, kBool);
  target.copy_(b);
  expect_values(target, {1, 0, 0, 1, 1, 0});
}

TEST(BoolStorage, ArithmeticIsRefusedWithAConversionHint) {
  const Tensor b = tensor({1, 0}, std::nullopt, kBool);
  const std::vector<std::string> hint = {"bool", ".to(kFloat32)"};
  expect_error([&] { (void)(b + b); }, hint);
  expect_error([&] { (void)(b * b); }, hint);
  expect_error([&] { (void)neg(b); }, hint);
  expect_error([&] { (void)relu(b); }, {"bool"});
}

TEST(BoolStorage, SafetensorsRoundTrip) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / fmt::format("tapegrad_bool_round_trip_{}.safetensors", ::getpid());
  const Tensor b = tensor({1, 0, 0, 1, 1, 0}, Shape{3, 2}, kBool);
  save_tensors(path, {{"mask", b.t()}});
  const TensorFile file = load_tensors(path);
  EXPECT_EQ(file.at("mask").dtype(), kBool);
  EXPECT_EQ(file.at("mask").shape(), Shape({2, 3}));
  expect_values(file.at("mask"), {1, 0, 1, 0, 1, 0});
  std::filesystem::remove(path);
}

TEST(BoolStorage, SafetensorsRefusesBytesABoolCannotHold) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / fmt::format("tapegrad_bool_corrupt_{}.safetensors", ::getpid());
  const std::string header = R"({"mask":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})";
  const std::uint64_t length = header.size();
  {
    std::ofstream out(path, std::ios::binary);
    char prefix[8];
    std::memcpy(prefix, &length, 8);
    out.write(prefix, 8);
    out << header;
    out.write("\x01\x02", 2);
  }
  expect_error([&] { (void)load_tensors(path); }, {"mask", "bool", "0 and 1"});
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace tapegrad
