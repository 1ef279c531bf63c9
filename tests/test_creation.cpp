// Tensor factories, random draws and printing: values, dtypes and shapes of every factory;
// reproducible random streams (same seed, same bits, whatever the thread count) with the right
// statistics; PyTorch's print layout; and the errors bad requests raise.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.h"

namespace tapegrad {
namespace {

using tapegrad::testing::expect_error;
using tapegrad::testing::expect_values;

std::string printed(const Tensor& t) { return fmt::format("{}", t); }

double mean_of(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / v.size(); }

double std_of(const std::vector<double>& v) {
  const double m = mean_of(v);
  double squares = 0;
  for (double x : v) squares += (x - m) * (x - m);
  return std::sqrt(squares / (v.size() - 1));
}

// ---- constant factories ----

TEST(Factories, ZerosOnesAndFullFillEveryElement) {
  const Tensor z = zeros({2, 3});
  EXPECT_EQ(z.shape(), Shape({2, 3}));
  EXPECT_EQ(z.dtype(), kFloat32) << "float32 is the default dtype, as in PyTorch";
  EXPECT_TRUE(z.device().is_cpu());
  EXPECT_TRUE(z.is_contiguous());
  expect_values(z, std::vector<double>(6, 0.0));
  const Tensor o = ones({4}, kFloat64);
  EXPECT_EQ(o.dtype(), kFloat64);
  expect_values(o, {1, 1, 1, 1});
  const Tensor f = full({2, 2}, 7, kInt64);
  EXPECT_EQ(f.dtype(), kInt64);
  EXPECT_EQ(f.to_vector<std::int64_t>(), (std::vector<std::int64_t>{7, 7, 7, 7}));
  expect_values(full({3}, -2.5), {-2.5, -2.5, -2.5});
  EXPECT_EQ(zeros({0, 3}).numel(), 0);
  EXPECT_EQ(zeros({}).dim(), 0);
  EXPECT_EQ(zeros({}).numel(), 1);
  expect_values(ones_like(o), {1, 1, 1, 1});
  EXPECT_EQ(zeros_like(f).dtype(), kInt64);
  expect_values(full_like(z, 3), std::vector<double>(6, 3.0));
}

TEST(Factories, ScalarTensorIsZeroDimensional) {
  const Tensor s = scalar_tensor(3.5);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.shape(), Shape({}));
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(s.item(), 3.5);
  EXPECT_EQ(scalar_tensor(-4, kInt64).item<std::int64_t>(), -4);
}

TEST(Factories, ArangeCountsFromStartBelowEnd) {
  const Tensor a = arange(5);
  EXPECT_EQ(a.dtype(), kFloat32);
  expect_values(a, {0, 1, 2, 3, 4});
  expect_values(arange(1, 2, 0.25), {1, 1.25, 1.5, 1.75});
  expect_values(arange(5, 0, -2), {5, 3, 1});
  EXPECT_EQ(arange(0, 1, 0.1).numel(), 10) << "torch.arange(0, 1, 0.1) has 10 elements";
  EXPECT_EQ(arange(3, 3).numel(), 0);
  const Tensor ints = arange(3, kInt64);
  EXPECT_EQ(ints.dtype(), kInt64);
  EXPECT_EQ(ints.to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 1, 2}));
  expect_error([] { arange(0, 5, 0); }, {"arange", "step must be non-zero"});
  expect_error([] { arange(0, 5, -1); }, {"arange", "step -1", "end 5"});
  expect_error([] { arange(0, INFINITY); }, {"arange", "finite"});
}

TEST(Factories, LinspaceIncludesBothEndsExactly) {
  expect_values(linspace(0, 1, 5), {0, 0.25, 0.5, 0.75, 1});
  const Tensor l = linspace(0.1, 0.7, 7, kFloat64);
  EXPECT_EQ(l.dtype(), kFloat64);
  EXPECT_EQ(l.to_vector<double>().front(), 0.1);
  EXPECT_EQ(l.to_vector<double>().back(), 0.7) << "the last point is `end` itself, not start + 6 * step";
  expect_values(linspace(-1, 1, 1), {-1});
  EXPECT_EQ(linspace(0, 1, 0).numel(), 0);
  expect_values(linspace(3, -3, 4), {3, 1, -1, -3});
  expect_error([] { linspace(0, 1, -1); }, {"linspace", "steps must be non-negative, got -1"});
}

TEST(Factories, LinspaceIsSymmetricAndHitsZeroExactly) {
  // torch.linspace counts the second half down from `end`, so a symmetric grid is symmetric to
  // the bit and its middle point is exactly 0 (start + 100 * 0.1 alone would give 5.55e-16).
  const std::vector<double> grid = linspace(-10, 10, 201, kFloat64).to_vector<double>();
  EXPECT_EQ(grid[100], 0.0);
  for (std::size_t i = 0; i < grid.size(); ++i) EXPECT_EQ(grid[i], -grid[grid.size() - 1 - i]) << "point " << i;
}

TEST(Factories, EyeHasOnesOnTheMainDiagonal) {
  expect_values(eye(3), {1, 0, 0, 0, 1, 0, 0, 0, 1});
  const Tensor wide = eye(2, 3);
  EXPECT_EQ(wide.shape(), Shape({2, 3}));
  expect_values(wide, {1, 0, 0, 0, 1, 0});
  expect_values(eye(3, 2), {1, 0, 0, 1, 0, 0});
  EXPECT_EQ(eye(2, -1, kInt64).to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 0, 0, 1}));
  EXPECT_EQ(eye(0).shape(), Shape({0, 0}));
  expect_error([] { eye(-1); }, {"eye", "n must be non-negative, got -1"});
}

TEST(Factories, TensorTakesListedValuesInRowMajorOrder) {
  const Tensor t = tensor({1, 2, 3, 4, 5, 6}, Shape{2, 3});
  EXPECT_EQ(t.shape(), Shape({2, 3}));
  EXPECT_EQ(t.dtype(), kFloat32);
  expect_values(t.select(1, 0), {1, 4});
  const Tensor d = tensor({0.1, 0.2}, std::nullopt, kFloat64);
  EXPECT_EQ(d.to_vector<double>(), (std::vector<double>{0.1, 0.2})) << "float64 keeps the exact double values";
  EXPECT_EQ(tensor({1.9, -1.9}, std::nullopt, kInt64).to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, -1}));
  EXPECT_EQ(tensor({4}, Shape{}).dim(), 0);
  expect_error([] { tensor({1, 2, 3}, Shape{2, 2}); }, {"tensor", "3 values do not fill shape [2, 2]", "4 elements"});
}

TEST(Factories, FromVectorKeepsTheElementType) {
  const Tensor d = from_vector(std::vector<double>{0.1, 0.2, 0.3});
  EXPECT_EQ(d.dtype(), kFloat64);
  EXPECT_EQ(d.to_vector<double>(), (std::vector<double>{0.1, 0.2, 0.3}));
  const Tensor f = from_vector(std::vector<float>{1.5f, 2.5f}, Shape{2, 1});
  EXPECT_EQ(f.dtype(), kFloat32);
  EXPECT_EQ(f.shape(), Shape({2, 1}));
  const std::int64_t big = (std::int64_t{1} << 60) + 1;  // not representable in float64
  const Tensor i = from_vector(std::vector<std::int64_t>{big, -3});
  EXPECT_EQ(i.dtype(), kInt64);
  EXPECT_EQ(i.to_vector<std::int64_t>(), (std::vector<std::int64_t>{big, -3}));
  const Tensor converted = from_vector(std::vector<std::int64_t>{1, 2}, std::nullopt, kFloat64);
  EXPECT_EQ(converted.dtype(), kFloat64);
  expect_values(converted, {1, 2});
  expect_error([] { from_vector(std::vector<double>{1, 2}, Shape{3}); }, {"from_vector", "2 values do not fill shape [3]"});
}

TEST(Factories, RequiresGradOptionMakesALeaf) {
  const Tensor w = zeros({2}, TensorOptions(kFloat64).with_requires_grad());
  EXPECT_TRUE(w.requires_grad());
  EXPECT_TRUE(w.is_leaf());
  EXPECT_TRUE(randn({2}, TensorOptions().with_requires_grad()).requires_grad());
  expect_error([] { zeros({2}, TensorOptions(kInt64).with_requires_grad()); }, {"requires_grad_", "int64"});
}

TEST(Factories, NegativeDimensionsAreErrors) {
  expect_error([] { zeros({2, -1}); }, {"negative dimension -1", "[2, -1]"});
  expect_error([] { ones({-3}); }, {"negative dimension -3"});
  expect_error([] { randn({-1}); }, {"negative dimension"});
}

// ---- host access ----

TEST(HostAccess, ItemReadsTheOnlyElement) {
  EXPECT_EQ(tensor({2.5}).item(), 2.5);
  EXPECT_EQ(ones({1, 1, 1}, kFloat64).item(), 1.0);
  EXPECT_EQ(full({}, 9, kInt64).item<std::int64_t>(), 9);
  EXPECT_EQ(arange(6).reshape({2, 3})[1][2].item(), 5.0) << "item() reads through a view's offset";
  expect_error([] { ones({2, 2}).item(); }, {"item", "one element", "[2, 2]"});
  expect_error([] { zeros({0}).item(); }, {"item", "[0]"});
}

TEST(HostAccess, ToVectorFollowsLogicalOrderAndConverts) {
  const Tensor m = arange(6).reshape({2, 3});
  EXPECT_EQ(m.t().to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(m.slice(1, 0, 3, 2).to_vector<double>(), (std::vector<double>{0, 2, 3, 5}));
  EXPECT_EQ(tensor({-1.5, 2.5}).to_vector<std::int64_t>(), (std::vector<std::int64_t>{-1, 2}));
  EXPECT_TRUE(zeros({0}).to_vector<double>().empty());
}

// ---- CUDA requests without a usable GPU (a build without CUDA, or a machine without one) ----

TEST(DeviceRequests, CudaWithoutAGpuIsADeviceError) {
  if (cuda::is_available()) GTEST_SKIP() << "this machine has a usable CUDA device";
  const auto cuda_factory = [] { zeros({2}, Device::cuda()); };
  EXPECT_THROW(cuda_factory(), DeviceError);
  expect_error(cuda_factory, {"cuda:0", "Device::cpu()"});

  const Tensor host = ones({2});
  const auto move_to_cuda = [&] { host.to(Device::cuda()); };
  EXPECT_THROW(move_to_cuda(), DeviceError);
  expect_error(move_to_cuda, {"cuda:0", "Device::cpu()"});

  expect_error([] { randn({3}, TensorOptions(Device::cuda(1))); }, {"cuda:1", "Device::cpu()"});
  EXPECT_TRUE(host.cpu().is_same(host)) << "moving to the device a tensor is already on is a no-op";
}

// ---- random draws ----

TEST(Random, SameSeedGivesBitIdenticalDraws) {
  Generator a(42), b(42);
  EXPECT_EQ(rand({1000}, a).to_vector<float>(), rand({1000}, b).to_vector<float>());
  EXPECT_EQ(randn({1000}, a, kFloat64).to_vector<double>(), randn({1000}, b, kFloat64).to_vector<double>());
  EXPECT_EQ(uniform({7, 9}, -2, 3, a).to_vector<float>(), uniform({7, 9}, -2, 3, b).to_vector<float>());
  EXPECT_EQ(normal({50}, 4, 0.5, a).to_vector<float>(), normal({50}, 4, 0.5, b).to_vector<float>());
  EXPECT_EQ(randint(-5, 5, {100}, a).to_vector<std::int64_t>(), randint(-5, 5, {100}, b).to_vector<std::int64_t>());
  EXPECT_EQ(randperm(100, a).to_vector<std::int64_t>(), randperm(100, b).to_vector<std::int64_t>());
  EXPECT_EQ(a.offset(), b.offset());
}

TEST(Random, ManualSeedRestartsTheDefaultGenerator) {
  manual_seed(7);
  const std::vector<float> first = randn({256}).to_vector<float>();
  const std::vector<std::int64_t> first_ints = randint(0, 1000, {64}).to_vector<std::int64_t>();
  manual_seed(7);
  EXPECT_EQ(randn({256}).to_vector<float>(), first);
  EXPECT_EQ(randint(0, 1000, {64}).to_vector<std::int64_t>(), first_ints);

  // The default generator seeded with s draws what an explicit Generator(s) draws.
  manual_seed(123);
  Generator explicit_generator(123);
  EXPECT_EQ(rand({100}).to_vector<float>(), rand({100}, explicit_generator).to_vector<float>());
}

TEST(Random, DifferentSeedsAndSuccessiveDrawsDiffer) {
  Generator a(1), b(2);
  EXPECT_NE(rand({64}, a).to_vector<float>(), rand({64}, b).to_vector<float>());
  Generator c(1);
  const std::vector<float> first = randn({64}, c).to_vector<float>();
  EXPECT_NE(randn({64}, c).to_vector<float>(), first) << "a draw advances the generator";
  EXPECT_NE(randperm(50, a).to_vector<std::int64_t>(), randperm(50, b).to_vector<std::int64_t>());
}

TEST(Random, DrawsDoNotDependOnTheThreadCount) {
  const int previous = num_threads();
  // Large enough to be split across threads when more than one is allowed.
  const Shape shape{1 << 18};
  set_num_threads(1);
  Generator g1(99);
  const std::vector<double> serial_normal = randn(shape, g1, kFloat64).to_vector<double>();
  const std::vector<float> serial_uniform = rand(shape, g1).to_vector<float>();
  const std::vector<std::int64_t> serial_ints = randint(0, 1 << 20, shape, g1).to_vector<std::int64_t>();
  set_num_threads(2);
  Generator g2(99);
  const std::vector<double> parallel_normal = randn(shape, g2, kFloat64).to_vector<double>();
  const std::vector<float> parallel_uniform = rand(shape, g2).to_vector<float>();
  const std::vector<std::int64_t> parallel_ints = randint(0, 1 << 20, shape, g2).to_vector<std::int64_t>();
  set_num_threads(previous);
  EXPECT_EQ(serial_normal, parallel_normal);
  EXPECT_EQ(serial_uniform, parallel_uniform);
  EXPECT_EQ(serial_ints, parallel_ints);
}

TEST(Random, UniformSamplesHaveTheRightRangeMeanAndSpread) {
  Generator g(2024);
  const std::vector<double> u = rand({100000}, g, kFloat64).to_vector<double>();
  EXPECT_GE(*std::min_element(u.begin(), u.end()), 0.0);
  EXPECT_LT(*std::max_element(u.begin(), u.end()), 1.0);
  EXPECT_NEAR(mean_of(u), 0.5, 0.01);               // standard error 0.0009
  EXPECT_NEAR(std_of(u), std::sqrt(1.0 / 12), 0.01);

  const std::vector<double> w = uniform({100000}, -3, 5, g).to_vector<double>();
  EXPECT_GE(*std::min_element(w.begin(), w.end()), -3.0);
  EXPECT_LT(*std::max_element(w.begin(), w.end()), 5.0);
  EXPECT_NEAR(mean_of(w), 1.0, 0.05);
  EXPECT_NEAR(std_of(w), 8 / std::sqrt(12.0), 0.05);
}

TEST(Random, NormalSamplesHaveTheRightMeanAndSpread) {
  Generator g(77);
  const std::vector<double> n = randn({100000}, g).to_vector<double>();
  EXPECT_NEAR(mean_of(n), 0.0, 0.02);  // standard error 0.003
  EXPECT_NEAR(std_of(n), 1.0, 0.02);
  const std::size_t beyond_two_sigma =
      std::count_if(n.begin(), n.end(), [](double x) { return std::abs(x) > 2; });
  EXPECT_NEAR(beyond_two_sigma / 1e5, 0.0455, 0.005);

  const std::vector<double> shifted = normal({100000}, 2, 0.5, g, kFloat64).to_vector<double>();
  EXPECT_NEAR(mean_of(shifted), 2.0, 0.01);
  EXPECT_NEAR(std_of(shifted), 0.5, 0.01);
}

TEST(Random, RandintStaysInRangeAndHitsEveryValue) {
  Generator g(5);
  const Tensor r = randint(-3, 7, {100000}, g);
  EXPECT_EQ(r.dtype(), kInt64);
  std::vector<int> counts(10, 0);
  for (std::int64_t v : r.to_vector<std::int64_t>()) {
    ASSERT_GE(v, -3);
    ASSERT_LT(v, 7);
    ++counts[static_cast<std::size_t>(v + 3)];
  }
  for (int value = 0; value < 10; ++value) EXPECT_NEAR(counts[value], 10000, 600) << "value " << value - 3;
  EXPECT_EQ(randint(0, 1, {5}, g).to_vector<std::int64_t>(), std::vector<std::int64_t>(5, 0));
  EXPECT_EQ(randint(0, 10, {3}, g, kFloat32).dtype(), kFloat32);
  expect_error([&] { randint(3, 3, {2}, g); }, {"randint", "low 3 must be below high 3"});
}

TEST(Random, RandpermIsAPermutation) {
  Generator g(8);
  std::vector<std::int64_t> p = randperm(1000, g).to_vector<std::int64_t>();
  ASSERT_EQ(p.size(), 1000u);
  const std::vector<std::int64_t> original = p;
  std::sort(p.begin(), p.end());
  std::vector<std::int64_t> expected(1000);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(p, expected);
  EXPECT_NE(original, expected) << "1000 elements left in order is (practically) impossible";
  EXPECT_EQ(randperm(0, g).numel(), 0);
  EXPECT_EQ(randperm(1, g).to_vector<std::int64_t>(), std::vector<std::int64_t>{0});
  expect_error([&] { randperm(-1, g); }, {"randperm", "non-negative, got -1"});
}

TEST(Random, DtypesAndShapesFollowTheOptions) {
  Generator g(3);
  EXPECT_EQ(rand({2, 3}, g).dtype(), kFloat32);
  EXPECT_EQ(rand({2, 3}, g).shape(), Shape({2, 3}));
  EXPECT_EQ(randn({4}, g, kFloat64).dtype(), kFloat64);
  EXPECT_EQ(randn({}, g).dim(), 0);
  EXPECT_EQ(randperm(4, g).dtype(), kInt64);
  expect_error([&] { rand({2}, g, kInt64); }, {"uniform", "floating dtype", "int64"});
  expect_error([&] { normal({2}, 0, -1, g); }, {"normal", "std must be non-negative"});
  expect_error([&] { uniform({2}, 1, 0, g); }, {"uniform", "low 1 must not exceed high 0"});
}

// ---- printing, in PyTorch's layout followed by shape, dtype and autodiff state ----

TEST(Printing, SmallFloatTensorAlignsColumnsWithFourDecimals) {
  EXPECT_EQ(printed(tensor({1.5, -2.25, 3, 4}, Shape{2, 2})),
            "tensor([[ 1.5000, -2.2500],\n"
            "        [ 3.0000,  4.0000]], shape=[2, 2], dtype=float32)");
}

TEST(Printing, IntegerValuedFloatsPrintWithATrailingDot) {
  EXPECT_EQ(printed(arange(8).reshape({2, 2, 2})),
            "tensor([[[0., 1.],\n"
            "         [2., 3.]],\n"
            "\n"
            "        [[4., 5.],\n"
            "         [6., 7.]]], shape=[2, 2, 2], dtype=float32)");
  EXPECT_EQ(printed(tensor({-1, 10}, std::nullopt, kFloat64)), "tensor([-1., 10.], shape=[2], dtype=float64)");
}

TEST(Printing, Int64TensorPrintsIntegersRightAligned) {
  EXPECT_EQ(printed(from_vector(std::vector<std::int64_t>{1, -20, 300})),
            "tensor([  1, -20, 300], shape=[3], dtype=int64)");
}

TEST(Printing, ZeroDimTensorPrintsTheBareValue) {
  EXPECT_EQ(printed(scalar_tensor(3.5)), "tensor(3.5000, shape=[], dtype=float32)");
  EXPECT_EQ(printed(scalar_tensor(-2, kFloat64)), "tensor(-2., shape=[], dtype=float64)");
  EXPECT_EQ(printed(scalar_tensor(7, kInt64)), "tensor(7, shape=[], dtype=int64)");
}

TEST(Printing, AutodiffStateIsShown) {
  const Tensor x = tensor({1, 2}).requires_grad_();
  EXPECT_EQ(printed(x), "tensor([1., 2.], shape=[2], dtype=float32, requires_grad=true)");
  EXPECT_EQ(printed(x * 2.0), "tensor([2., 4.], shape=[2], dtype=float32, grad_fn=<MulBackward0>)");
  EXPECT_EQ(printed(x.detach()), "tensor([1., 2.], shape=[2], dtype=float32)");
  EXPECT_EQ(printed(Tensor()), "tensor(undefined)");
  EXPECT_EQ(x.str(), printed(x));
}

TEST(Printing, WideMagnitudeRangesSwitchToScientificAsPyTorchDoes) {
  // torch prints in scientific notation when the largest |value| exceeds 1e8, the ratio of the
  // largest to the smallest nonzero |value| exceeds 1000, or (non-integers) the smallest is below 1e-4.
  EXPECT_EQ(printed(tensor({1e-5, 1})), "tensor([1.0000e-05, 1.0000e+00], shape=[2], dtype=float32)");
  EXPECT_EQ(printed(tensor({1.5, 2000}, std::nullopt, kFloat64)),
            "tensor([1.5000e+00, 2.0000e+03], shape=[2], dtype=float64)");
  EXPECT_EQ(printed(tensor({1, 10000})), "tensor([1.0000e+00, 1.0000e+04], shape=[2], dtype=float32)");
  EXPECT_EQ(printed(tensor({1, 1000})), "tensor([   1., 1000.], shape=[2], dtype=float32)");
  EXPECT_EQ(printed(tensor({0, 2e8})), "tensor([0.0000e+00, 2.0000e+08], shape=[2], dtype=float32)");
  EXPECT_EQ(printed(tensor({0.5, 100.25})), "tensor([  0.5000, 100.2500], shape=[2], dtype=float32)");
}

TEST(Printing, LargeTensorsAreSummarizedWithEllipses) {
  const std::string vector_text = printed(arange(10000));
  EXPECT_NE(vector_text.find(",  ..., "), std::string::npos) << vector_text;
  EXPECT_NE(vector_text.find("9.9990e+03]"), std::string::npos) << vector_text;
  EXPECT_EQ(vector_text.find("5.0000e+03"), std::string::npos) << "middle elements are left out: " << vector_text;
  EXPECT_NE(vector_text.find("shape=[10000]"), std::string::npos);
  EXPECT_LT(vector_text.size(), 200u);

  EXPECT_EQ(printed(zeros({100, 100})),
            "tensor([[0., 0., 0.,  ..., 0., 0., 0.],\n"
            "        [0., 0., 0.,  ..., 0., 0., 0.],\n"
            "        [0., 0., 0.,  ..., 0., 0., 0.],\n"
            "        ...,\n"
            "        [0., 0., 0.,  ..., 0., 0., 0.],\n"
            "        [0., 0., 0.,  ..., 0., 0., 0.],\n"
            "        [0., 0., 0.,  ..., 0., 0., 0.]], shape=[100, 100], dtype=float32)");
  EXPECT_EQ(printed(arange(1000)).find("..."), std::string::npos) << "1000 elements are printed in full";
}

}  // namespace
}  // namespace tapegrad
