// Specification of the in-place elementwise updates (add_, sub_, mul_, div_, addcmul_, addcdiv_,
// clamp_, fill_, zero_, copy_) and assignment to views: the values they write, broadcasting and
// views, version bumps, and the refusal of leaves requiring grad outside NoGradGuard. How they are
// recorded on the tape is specified in test_inplace_autograd.cpp.
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.h"

namespace tapegrad {
namespace {

using namespace testing;  // the shared test vocabulary of test_util.h

TEST(ElementwiseInPlace, ArithmeticUpdatesWriteTheFormula) {
  Tensor x = f64({1, 2, 3});
  const Tensor other = f64({10, 20, 30});
  x.add_(other, 2);  // x + 2 other
  expect_values(x, {21, 42, 63});
  x.sub_(other);
  expect_values(x, {11, 22, 33});
  x.sub_(other, 0.5);
  expect_values(x, {6, 12, 18});
  x.add_(1.0);
  expect_values(x, {7, 13, 19});
  x.mul_(f64({2, 1, 0}));
  expect_values(x, {14, 13, 0});
  x.mul_(0.5);
  expect_values(x, {7, 6.5, 0});
  x.div_(f64({7, 13, 1}));
  expect_values(x, {1, 0.5, 0});
  x.div_(0.25);
  expect_values(x, {4, 2, 0});
}

TEST(ElementwiseInPlace, AddcmulAndAddcdivAddTheScaledProductOrQuotient) {
  Tensor x = f64({1, 1, 1});
  x.addcmul_(f64({1, 2, 3}), f64({4, 5, 6}), 0.5);  // x + 0.5 a b
  expect_values(x, {3, 6, 10});
  x.addcdiv_(f64({1, 2, 3}), f64({2, 4, 3}), -2);  // x - 2 a / b
  expect_values(x, {2, 5, 8});
}

TEST(ElementwiseInPlace, ClampFillZeroAndCopyOverwrite) {
  Tensor x = f64({-2, 0.25, 3});
  x.clamp_(-1, 1);
  expect_values(x, {-1, 0.25, 1});
  x.fill_(7.5);
  expect_values(x, {7.5, 7.5, 7.5});
  x.zero_();
  expect_values(x, {0, 0, 0});
  x.copy_(f64({4, 5, 6}));
  expect_values(x, {4, 5, 6});
  // copy_ broadcasts the source and converts its dtype, as in PyTorch.
  Tensor matrix = zeros({2, 2}, kFloat64);
  matrix.copy_(tensor({1.5, -2.5}, std::nullopt, kFloat32));
  expect_values(matrix, {1.5, -2.5, 1.5, -2.5});
}

TEST(ElementwiseInPlace, UpdatesBroadcastTheOperandAndWriteThroughViews) {
  Tensor base = f64({1, 2, 3, 4, 5, 6}, Shape{2, 3});
  Tensor columns = base.transpose(0, 1);  // [3, 2] view of the same memory
  columns.add_(f64({100, 200}));           // adds 100 to base's row 0, 200 to row 1
  expect_values(base, {101, 102, 103, 204, 205, 206});
  base.mul_(f64({1, 0, 1}, Shape{1, 3}));
  expect_values(base, {101, 0, 103, 204, 0, 206});
}

TEST(IndexAssignment, AssigningToAViewCopiesIntoTheMemoryItViews) {
  // As in LibTorch, `x[i] = other` writes: the temporary view copies `other`'s values (broadcast
  // and converted as copy_ does) into x's memory.
  Tensor x = f64({1, 2, 3, 4, 5, 6}, Shape{2, 3});
  const Tensor y = f64({10, 20, 30, 40, 50, 60}, Shape{2, 3});
  x[0] = y[1];
  expect_values(x, {40, 50, 60, 4, 5, 6});
  x[1][2] = y[0][0];
  expect_values(x, {40, 50, 60, 4, 5, 10});
  x.narrow(1, 0, 2) = tensor({-1.0, -2.0}, std::nullopt, kFloat32);  // broadcast over rows, converted
  expect_values(x, {-1, -2, 60, -1, -2, 10});
  expect_values(y, {10, 20, 30, 40, 50, 60});
}

TEST(IndexAssignment, AssigningANumberToAViewFillsIt) {
  Tensor x = zeros({2, 3}, kFloat64);
  x[1] = 2.5;
  x.select(1, 0) = 7;
  expect_values(x, {7, 0, 0, 7, 2.5, 2.5});
}

TEST(IndexAssignment, AssigningToANamedTensorRebindsTheHandle) {
  Tensor x = f64({1, 2});
  const Tensor original = x;
  Tensor y = f64({3, 4});
  x = y;  // x now names y's tensor; the old one keeps its values
  EXPECT_TRUE(x.is_same(y));
  expect_values(original, {1, 2});
  Tensor row = x[0];
  row = f64({9});  // a named view is rebound too, nothing is written
  expect_values(y, {3, 4});
  x = Tensor();
  EXPECT_FALSE(x.defined());
}

TEST(IndexAssignment, AssignmentBumpsTheVersionAndChecksShapes) {
  Tensor x = zeros({2, 3}, kFloat64);
  const std::uint32_t before = x.version();
  x[0] = ones({3}, kFloat64);
  EXPECT_EQ(x.version(), before + 1);
  expect_error([&] { x[0] = ones({4}, kFloat64); }, {"copy_", "[4]", "[3]"});
}

TEST(ElementwiseInPlace, UpdatesBumpTheVersion) {
  Tensor x = f64({1, 2});
  const std::uint32_t before = x.version();
  x.add_(1.0);
  x.mul_(f64({2, 2}));
  EXPECT_EQ(x.version(), before + 2);
}

TEST(ElementwiseInPlace, OperandCannotBroadcastToALargerShape) {
  // The updated tensor keeps its shape, so [3] += [2, 3] is refused.
  Tensor x = zeros({3}, kFloat64);
  expect_error([&] { x.add_(ones({2, 3}, kFloat64)); }, {"add_", "[2, 3]", "[3]"});
  expect_error([&] { x.copy_(ones({2, 3}, kFloat64)); }, {"copy_", "[2, 3]", "[3]"});
  expect_error([&] { x.mul_(ones({4}, kFloat64)); }, {"mul_", "[4]", "[3]"});
  expect_error([&] { zeros({3}, kInt64).add_(ones({3}, kFloat32)); }, {"add_", "float32", "can't be cast", "int64"});
}

TEST(ElementwiseInPlace, RefusedOnALeafThatRequiresGradWhileGradModeIsOn) {
  // As in PyTorch: a leaf's value is what its gradient is taken with respect to.
  Tensor w = ones({3}, kFloat64).requires_grad_();
  const Tensor plain = ones({3}, kFloat64);
  const std::vector<std::pair<const char*, std::function<void()>>> updates = {
      {"add_", [&] { w.add_(plain); }},        {"add_", [&] { w.add_(1.0); }},
      {"sub_", [&] { w.sub_(plain); }},        {"mul_", [&] { w.mul_(plain); }},
      {"mul_", [&] { w.mul_(2.0); }},          {"div_", [&] { w.div_(plain); }},
      {"div_", [&] { w.div_(2.0); }},          {"addcmul_", [&] { w.addcmul_(plain, plain); }},
      {"addcdiv_", [&] { w.addcdiv_(plain, plain); }}, {"clamp_", [&] { w.clamp_(0, 1); }},
      {"fill_", [&] { w.fill_(0); }},          {"zero_", [&] { w.zero_(); }},
      {"copy_", [&] { w.copy_(plain); }},
  };
  for (const auto& [name, update] : updates) {
    SCOPED_TRACE(name);
    // zero_ is fill_(0), so its message names fill_.
    expect_error(update, {std::string(name) == "zero_" ? "fill_" : name,
                          "a leaf Variable that requires grad is being used in an in-place operation", "NoGradGuard"});
  }
  expect_values(w, {1, 1, 1});
}

TEST(ElementwiseInPlace, UndefinedTensorsAreRefused) {
  Tensor undefined, x = zeros({2}, kFloat64);
  expect_error([&] { undefined.add_(1.0); }, {"add_", "undefined"});
  expect_error([&] { undefined.fill_(1.0); }, {"fill_", "undefined"});
  expect_error([&] { x.add_(Tensor()); }, {"undefined"});
  expect_error([&] { x.copy_(Tensor()); }, {"undefined"});
  expect_error([&] { x.addcmul_(x, Tensor()); }, {"undefined"});
  NoGradGuard no_grad;  // the same without the grad-mode checks in the way
  expect_error([&] { x.mul_(Tensor()); }, {"undefined"});
  expect_error([&] { x.copy_(Tensor()); }, {"copy_", "undefined"});
}

TEST(ElementwiseInPlace, AllowedUnderNoGradGuardAsOptimizersDo) {
  Tensor w = f64({1, 2, 3}).requires_grad_();
  const Tensor g = f64({0.5, 0.5, 0.5}).requires_grad_();
  {
    NoGradGuard no_grad;
    w.sub_(g, 2);  // an SGD step: w -= 2 g
    w.addcmul_(g, g, 4);
    w.addcdiv_(g, f64({1, 2, 4}));
    w.mul_(2.0);
    w.div_(2.0);
    w.add_(0.5);
    w.clamp_(-10, 10);
  }
  expect_values(w, {2, 2.75, 3.625});
  EXPECT_TRUE(w.requires_grad());
  EXPECT_TRUE(w.is_leaf());
  {
    NoGradGuard no_grad;
    w.copy_(f64({7, 8, 9}));
    w.fill_(1);
    w.zero_();
  }
  expect_values(w, {0, 0, 0});
}

TEST(ElementwiseInPlace, ModifyingATensorSavedForBackwardIsReportedAtBackward) {
  const Tensor x = leaf({1, 2});
  const Tensor y = exp(x);  // exp saves its output
  {
    NoGradGuard no_grad;
    Tensor(y).mul_(2.0);
  }
  try {
    sum(y).backward();
    ADD_FAILURE() << "expected an AutogradError";
  } catch (const AutogradError& error) {
    EXPECT_NE(std::string(error.what()).find("modified by an inplace operation"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace tapegrad
