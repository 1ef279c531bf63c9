// uint8 is a storage dtype: tensors of bytes can be created, converted both ways, compared,
// summed (into int64), indexed, viewed, cloned and printed, and every op that would compute
// uint8 results from their values refuses them with an error that says to convert first, so
// bytes are never silently treated as numbers. Mixed with a wider dtype they are promoted.
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.h"

namespace tapegrad {
namespace {

using tapegrad::testing::expect_error;
using tapegrad::testing::expect_values;

Tensor bytes(const std::vector<std::uint8_t>& values, Shape shape) { return from_vector(values, shape); }

TEST(UInt8Storage, FactoriesMakeOneByteElements) {
  EXPECT_EQ(dtype_size(kUInt8), 1u);
  EXPECT_FALSE(is_floating(kUInt8));
  EXPECT_EQ(fmt::format("{}", kUInt8), "uint8");

  const Tensor z = zeros({2, 3}, kUInt8);
  EXPECT_EQ(z.dtype(), kUInt8);
  expect_values(z, std::vector<double>(6, 0.0));
  expect_values(full({2}, 200, kUInt8), {200, 200});
  EXPECT_EQ(empty({4, 5}, kUInt8).dtype(), kUInt8);

  const Tensor b = bytes({0, 1, 127, 128, 255, 7}, {2, 3});
  EXPECT_EQ(b.dtype(), kUInt8);
  EXPECT_EQ(b.to_vector<std::uint8_t>(), (std::vector<std::uint8_t>{0, 1, 127, 128, 255, 7}));
  EXPECT_EQ(b.data_ptr<std::uint8_t>()[4], 255);
  EXPECT_EQ(b.select(0, 1).select(0, 1).item(), 255.0);
}

TEST(UInt8Storage, ConvertsToAndFromEveryDtype) {
  const Tensor b = bytes({0, 3, 128, 255}, {4});
  expect_values(b.to(kFloat32), {0, 3, 128, 255});
  expect_values(b.to(kFloat64), {0, 3, 128, 255});
  EXPECT_EQ(b.to(kInt64).to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 3, 128, 255}));

  // In range, floats truncate toward zero as torch's .to(torch.uint8) does.
  EXPECT_EQ(tensor({0.0, 2.9, 254.99, 255.0}).to(kUInt8).to_vector<std::uint8_t>(),
            (std::vector<std::uint8_t>{0, 2, 254, 255}));
  EXPECT_EQ(from_vector(std::vector<std::int64_t>{0, 17, 255}).to(kUInt8).to_vector<std::uint8_t>(),
            (std::vector<std::uint8_t>{0, 17, 255}));
}

TEST(UInt8Storage, OutOfRangeFloatsSaturateInsteadOfUndefinedCasts) {
  const Tensor f = tensor({-5.0, 300.0, 1e30, -1e30, std::nan("")}, std::nullopt, kFloat64);
  EXPECT_EQ(f.to(kUInt8).to_vector<std::uint8_t>(), (std::vector<std::uint8_t>{0, 255, 255, 0, 0}));
  expect_values(full({1}, 1000, kUInt8), {255});
}

TEST(UInt8Storage, ViewsShareTheBytes) {
  const Tensor b = bytes({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(b.reshape({3, 2}).to_vector<std::uint8_t>(), (std::vector<std::uint8_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(b.view({6}).dtype(), kUInt8);
  EXPECT_EQ(b.select(1, 2).to_vector<std::uint8_t>(), (std::vector<std::uint8_t>{3, 6}));
  EXPECT_EQ(b.narrow(1, 1, 2).to_vector<std::uint8_t>(), (std::vector<std::uint8_t>{2, 3, 5, 6}));
  EXPECT_EQ(b.slice(1, 0, 3, 2).to_vector<std::uint8_t>(), (std::vector<std::uint8_t>{1, 3, 4, 6}));
  EXPECT_EQ(b.t().contiguous().to_vector<std::uint8_t>(), (std::vector<std::uint8_t>{1, 4, 2, 5, 3, 6}));
  EXPECT_EQ(b.unsqueeze(0).shape(), Shape({1, 2, 3}));

  const Tensor copy = b.clone();
  copy.data_ptr<std::uint8_t>()[0] = 99;
  EXPECT_EQ(b.data_ptr<std::uint8_t>()[0], 1) << "clone copies the bytes";
  b.view({6}).data_ptr<std::uint8_t>()[5] = 42;
  EXPECT_EQ(b.to_vector<std::uint8_t>()[5], 42) << "a view shares them";
}

TEST(UInt8Storage, IndexSelectBatchesRows) {
  const Tensor images = bytes({10, 11, 20, 21, 30, 31}, {3, 2});
  const Tensor picked = images.index_select(0, from_vector(std::vector<std::int64_t>{2, 0, 2}));
  EXPECT_EQ(picked.dtype(), kUInt8);
  EXPECT_EQ(picked.to_vector<std::uint8_t>(), (std::vector<std::uint8_t>{30, 31, 10, 11, 30, 31}));
  EXPECT_EQ(images.gather(1, from_vector(std::vector<std::int64_t>{1, 0, 1}, Shape{3, 1})).to_vector<std::uint8_t>(),
            (std::vector<std::uint8_t>{11, 20, 31}));
}

TEST(UInt8Storage, ComparesAndSumsLikeTorch) {
  const Tensor a = bytes({1, 200}, {2}), b = bytes({3, 200}, {2});
  EXPECT_EQ((a == b).dtype(), kBool);
  expect_values(a == b, {0, 1});
  expect_values(a < 100.0, {1, 0});
  EXPECT_EQ(sum(a).dtype(), kInt64);
  EXPECT_EQ(sum(a).item(), 201);
}

TEST(UInt8Storage, PrintsAsIntegers) {
  EXPECT_EQ(fmt::format("{}", bytes({0, 7, 255}, {3})), "tensor([  0,   7, 255], shape=[3], dtype=uint8)");
}

TEST(UInt8Storage, ArithmeticIsRefusedWithAConversionHint) {
  const Tensor a = bytes({1, 2}, {2}), b = bytes({3, 4}, {2});
  const std::vector<std::string> hint = {"uint8", ".to(kFloat32)"};
  expect_error([&] { (void)(a + b); }, hint);
  expect_error([&] { (void)(a * 2.0); }, hint);
  expect_error([&] { (void)(a - b); }, hint);
  expect_error([&] { (void)mean(a); }, {"uint8"});
  expect_error([&] { (void)max(a); }, hint);
  expect_error([&] { (void)argmax(a); }, hint);
  expect_error([&] { (void)relu(a); }, {"uint8"});
  expect_error([&] { (void)matmul(a, b); }, {"uint8"});
  expect_error([&] { (void)softmax(a, 0); }, {"uint8"});
  expect_error([&] { (void)cumsum(a, 0); }, hint);
  expect_error([&] { (void)arange(4, kUInt8); }, hint);
  expect_error([&] { (void)rand({2}, kUInt8); }, {"uint8"});
  expect_error([&] { (void)where(a, a.to(kFloat32), b.to(kFloat32)); }, {"where", "bool", "uint8"});
  Tensor c = a.clone();
  expect_error([&] { c.add_(b); }, hint);
  expect_error([&] { c.mul_(2.0); }, hint);
  expect_error([&] { (void)index_add_into_zeros(a, {4}, 0, from_vector(std::vector<std::int64_t>{0, 1})); }, hint);
}

TEST(UInt8Storage, CannotTakePartInAutodiff) {
  Tensor a = bytes({1, 2}, {2});
  expect_error([&] { a.requires_grad_(); }, {"floating-point", "uint8"});
  // Mixed with float32 the bytes are promoted, and only the float operand gets a gradient.
  Tensor w = ones({2}).requires_grad_();
  const Tensor scaled = w * a;
  EXPECT_EQ(scaled.dtype(), kFloat32);
  sum(scaled).backward();
  expect_values(w.grad(), {1, 2});
  // Converting a float leaf to bytes cuts the graph: nothing flows back through uint8.
  const Tensor converted = w.to(kUInt8);
  EXPECT_FALSE(converted.requires_grad());
}

}  // namespace
}  // namespace tapegrad
