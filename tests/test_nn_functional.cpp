// Specification of the layer functions beyond the op table (tests/test_op_table.cpp): conv2d on
// larger geometries; max pooling values, indices and gradient routing at ties; batch
// normalization in training and evaluation, with its running statistics; dropout's statistics,
// scaling and determinism; and the error for each bad argument.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.h"

namespace tapegrad {
namespace {

using namespace testing;  // the shared test vocabulary of test_util.h

// ---- conv2d ----

// conv2d_relu against relu(conv2d(...)): the same bits forward and backward, on the im2col path
// (one input channel) and on oneDNN's (16 input channels, float32), and NaN stays NaN.
TEST(Conv2dRelu, EqualsReluOfConv2dBitForBit) {
  const Conv2dParams p{.padding = {2, 2}};
  for (const DType dtype : {kFloat32, kFloat64})
    for (const std::int64_t channels : {1, 16}) {
      Generator generator(3);
      const Tensor x = randn({4, channels, 14, 14}, generator).to(dtype).requires_grad_();
      const Tensor w = randn({8, channels, 5, 5}, generator).to(dtype).requires_grad_();
      const Tensor b = randn({8}, generator).to(dtype).requires_grad_();
      const Tensor g = randn({4, 8, 14, 14}, generator).to(dtype);
      const Tensor fused = conv2d_relu(x, w, b, p), separate = relu(conv2d(x, w, b, p));
      EXPECT_TRUE(equal(fused, separate)) << fmt::format("{}, {} channels", dtype, channels);
      EXPECT_EQ(std::string_view(fused.grad_fn()->name()), "conv2d_relu");
      const std::vector<Tensor> fused_grads = grad({fused}, {x, w, b}, {g});
      const std::vector<Tensor> separate_grads = grad({separate}, {x, w, b}, {g});
      for (std::size_t i = 0; i < 3; ++i)
        EXPECT_TRUE(equal(fused_grads[i], separate_grads[i])) << fmt::format("{}, {} channels, input {}", dtype, channels, i);
    }
  const Tensor x = zeros({1, 16, 6, 6});
  x[0][3][2][2] = std::numeric_limits<double>::quiet_NaN();
  const Tensor y = conv2d_relu(x, ones({2, 16, 3, 3}), {}, {.padding = {1, 1}});
  EXPECT_TRUE(std::isnan(y[0][0][2][2].item())) << "relu(NaN) is NaN, also when fused";
  EXPECT_EQ(y[0][0][5][5].item(), 0.0);
}

// out[n, o, y, x] = bias[o] + sum_{c, i, j} in[n, c, y s - p + i d, x s - p + j d] w[o, c, i, j],
// reading 0 outside the image: the definition, one multiply-add at a time.
std::vector<double> direct_conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias,
                                  const Conv2dParams& p) {
  const std::vector<double> x = input.to_vector<double>(), w = weight.to_vector<double>();
  const std::vector<double> b = bias.defined() ? bias.to_vector<double>() : std::vector<double>{};
  const std::int64_t N = input.size(0), C = input.size(1), H = input.size(2), W = input.size(3);
  const std::int64_t O = weight.size(0), KH = weight.size(2), KW = weight.size(3);
  const std::int64_t OH = (H + 2 * p.padding[0] - p.dilation[0] * (KH - 1) - 1) / p.stride[0] + 1;
  const std::int64_t OW = (W + 2 * p.padding[1] - p.dilation[1] * (KW - 1) - 1) / p.stride[1] + 1;
  std::vector<double> out;
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t o = 0; o < O; ++o)
      for (std::int64_t y = 0; y < OH; ++y)
        for (std::int64_t xo = 0; xo < OW; ++xo) {
          double acc = b.empty() ? 0 : b[o];
          for (std::int64_t c = 0; c < C; ++c)
            for (std::int64_t i = 0; i < KH; ++i)
              for (std::int64_t j = 0; j < KW; ++j) {
                const std::int64_t h = y * p.stride[0] - p.padding[0] + i * p.dilation[0];
                const std::int64_t v = xo * p.stride[1] - p.padding[1] + j * p.dilation[1];
                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                acc += x[((n * C + c) * H + h) * W + v] * w[((o * C + c) * KH + i) * KW + j];
              }
          out.push_back(acc);
        }
  return out;
}

Conv2dParams conv_params(std::int64_t stride, std::int64_t padding, std::int64_t dilation) {
  Conv2dParams p;
  p.stride = {stride, stride};
  p.padding = {padding, padding};
  p.dilation = {dilation, dilation};
  return p;
}

struct ConvCase {
  Shape input, weight;
  Conv2dParams params;
  bool with_bias;
};

TEST(Conv2d, OutputShapeFollowsThePyTorchFormula) {
  // floor((H + 2 p - d (k - 1) - 1) / s) + 1 = floor((11 + 2 - 4 - 1) / 2) + 1 = 5 along H.
  const Tensor y = conv2d(zeros({1, 1, 11, 6}), zeros({1, 1, 3, 3}), {}, conv_params(2, 1, 2));
  EXPECT_EQ(shape_of(y), "[1, 1, 5, 2]");
}

TEST(Conv2d, UnbatchedInputIsABatchOfOne) {
  const Tensor x = input({2, 5, 5}, 3).detach(), w = input({3, 2, 3, 3}, 4).detach();
  const Tensor y = conv2d(x, w, {}, conv_params(1, 1, 1));
  EXPECT_EQ(shape_of(y), "[3, 5, 5]");
  expect_values(y, direct_conv2d(x.unsqueeze(0), w, {}, conv_params(1, 1, 1)), 1e-12);
}

TEST(Conv2d, StridedInputGivesTheSameResult) {
  const Tensor x = input({2, 3, 6, 7}, 5).detach(), w = input({2, 3, 3, 3}, 6).detach();
  const Tensor strided = x.transpose(2, 3).contiguous().transpose(2, 3);
  ASSERT_FALSE(strided.is_contiguous());
  expect_values(conv2d(strided, w, {}, conv_params(2, 1, 1)), direct_conv2d(x, w, {}, conv_params(2, 1, 1)), 1e-12);
}

TEST(Conv2d, InputAndWeightGradientOpsHaveGradients) {
  const Conv2dParams p = conv_params(2, 1, 1);
  const Shape x_shape{2, 2, 5, 6}, w_shape{3, 2, 3, 3};
  const Tensor gy = input({2, 3, 3, 3}, 50), w = input(w_shape, 51), x = input(x_shape, 52);
  const auto input_grad = [&](const std::vector<Tensor>& v) { return conv2d_input_grad(v[0], v[1], x_shape, p); };
  const auto weight_grad = [&](const std::vector<Tensor>& v) { return conv2d_weight_grad(v[0], v[1], w_shape, p); };
  expect_gradcheck(input_grad, {gy, w});
  expect_gradgradcheck(input_grad, {gy, w});
  expect_gradcheck(weight_grad, {x, gy});
  expect_gradgradcheck(weight_grad, {x, gy});
}

TEST(Conv2d, BadArgumentsAreRefusedWithClearMessages) {
  const Tensor x = zeros({1, 3, 8, 8}), w = zeros({4, 3, 3, 3});
  expect_error([&] { conv2d(zeros({3, 8}), w); }, {"conv2d", "4-D [N, C, H, W] input", "[3, 8]"});
  expect_error([&] { conv2d(x, zeros({4, 2, 3, 3})); }, {"conv2d", "3 channels", "expects 2"});
  expect_error([&] { conv2d(x, zeros({4, 3, 9, 3})); }, {"conv2d", "does not fit in the padded input", "9x3"});
  expect_error([&] { conv2d(x, w, {}, conv_params(0, 0, 1)); }, {"conv2d", "stride must be positive"});
  expect_error([&] { conv2d(x, w, {}, conv_params(1, 0, 0)); }, {"conv2d", "dilation must be positive"});
  expect_error([&] { conv2d(x, w, {}, conv_params(1, -1, 1)); }, {"conv2d", "padding must be non-negative"});
  expect_error([&] { conv2d(x, w, zeros({3})); }, {"conv2d", "bias must be [C_out] = [4]", "[3]"});
  expect_error([&] { conv2d(x, zeros({4, 3, 3, 3}, kFloat64)); }, {"conv2d", "different dtypes"});
  expect_error([&] { conv2d(zeros({1, 3, 8, 8}, kInt64), zeros({4, 3, 3, 3}, kInt64)); }, {"conv2d", "floating"});
  expect_error([&] { conv2d_input_grad(zeros({1, 4, 5, 5}), w, {1, 3, 8, 8}, {}); },
               {"conv2d_input_grad", "[1, 4, 5, 5]", "[1, 4, 6, 6]"});
}

// ---- max pooling ----

Pool2dParams pool(std::int64_t kernel, std::int64_t stride = 0, std::int64_t padding = 0) {
  Pool2dParams p;
  p.kernel = {kernel, kernel};
  p.stride = {stride, stride};
  p.padding = {padding, padding};
  return p;
}

TEST(MaxPool2d, TakesWindowMaximaAndTheirPlaneIndices) {
  // [[1, 5, 2, 0], [3, 4, 8, 6], [7, 0, 1, 2], [9, 2, 3, 4]] in 2x2 windows.
  const Tensor x = f64({1, 5, 2, 0, 3, 4, 8, 6, 7, 0, 1, 2, 9, 2, 3, 4}, Shape{1, 1, 4, 4});
  const ValuesIndices r = max_pool2d_with_indices(x, pool(2));
  EXPECT_EQ(shape_of(r.values), "[1, 1, 2, 2]");
  expect_values(r.values, {5, 8, 9, 4});
  EXPECT_EQ(r.indices.to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 6, 12, 15}));
  expect_values(max_pool2d(x, pool(3, 1)), {8, 8, 9, 8});
}

TEST(MaxPool2d, PaddingIsMinusInfinityAndIndicesStayInThePlane) {
  // All values negative: a zero padding would win, -inf never does.
  const Tensor x = f64({-1, -2, -3, -4, -5, -6, -7, -8, -9}, Shape{1, 1, 3, 3});
  const ValuesIndices r = max_pool2d_with_indices(x, pool(2, 2, 1));
  expect_values(r.values, {-1, -2, -4, -5});
  EXPECT_EQ(r.indices.to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 1, 3, 4}));
}

TEST(MaxPool2d, TiesRouteGradientToFirstMax) {
  const Tensor x = leaf({2, 2, 2, 2, 1, 3, 3, 0}, Shape{1, 2, 2, 2});
  const ValuesIndices r = max_pool2d_with_indices(x, pool(2));
  EXPECT_EQ(r.indices.to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 1}));
  expect_values(gradient(r.values, x), {1, 0, 0, 0, 0, 1, 0, 0});
}

TEST(MaxPool2d, OverlappingWindowsAccumulateGradient) {
  // Stride 1, kernel 2 on [[0, 1, 0], [0, 9, 0], [0, 0, 0]]: the 9 is every window's maximum.
  const Tensor x = leaf({0, 1, 0, 0, 9, 0, 0, 0, 0}, Shape{1, 1, 3, 3});
  expect_values(gradient(max_pool2d(x, pool(2, 1)), x), {0, 0, 0, 0, 4, 0, 0, 0, 0});
}

TEST(MaxPool2d, NaNPropagates) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor x = f64({1, nan, 3, 4}, Shape{1, 1, 2, 2});
  EXPECT_TRUE(std::isnan(max_pool2d(x, pool(2)).item()));
  EXPECT_EQ(max_pool2d_with_indices(x, pool(2)).indices.item<std::int64_t>(), 1);
}

// The single-pass backward (each plane zeroed and filled in cache) against the scatter-add it
// replaces, bit for bit: tiled 2x2 windows (the CNN's layer) and overlapping ones, float32 and
// float64, a non-contiguous incoming gradient included.
TEST(MaxPool2d, BackwardEqualsAScatterAddIntoZeros) {
  for (const DType dtype : {kFloat32, kFloat64})
    for (const Pool2dParams& p : {pool(2), pool(3, 1, 1)}) {
      Generator generator(7);
      const Tensor x = randn({3, 4, 12, 10}, generator).to(dtype).requires_grad_();
      const ValuesIndices r = max_pool2d_with_indices(x, p);
      const Tensor g = randn({r.values.size(0), r.values.size(1), r.values.size(3), r.values.size(2)}, generator)
                           .to(dtype)
                           .transpose(2, 3);
      const Tensor routed = grad({r.values}, {x}, {g})[0];
      const Shape planes{3, 4, 12 * 10}, flat{3, 4, r.values.size(2) * r.values.size(3)};
      const Tensor expected =
          scatter_add_into_zeros(g.contiguous().reshape(flat), planes, 2, r.indices.reshape(flat)).reshape(x.shape());
      EXPECT_TRUE(equal(routed, expected)) << fmt::format("{}, kernel {}", dtype, p.kernel[0]);
    }
}

// Distinct values (a shuffled ramp) keep finite differences away from ties.
Tensor distinct_input(const Shape& shape, std::uint64_t seed) {
  Generator generator(seed);
  const Tensor order = randperm(numel_of(shape), generator).to(kFloat64);
  return (order / static_cast<double>(numel_of(shape)) - 0.5).reshape(shape).detach().requires_grad_();
}

TEST(MaxPool2d, BadArgumentsAreRefusedWithClearMessages) {
  const Tensor x = zeros({1, 1, 4, 4});
  expect_error([&] { max_pool2d(zeros({4, 4}), pool(2)); }, {"max_pool2d", "[4, 4]"});
  expect_error([&] { max_pool2d(x, pool(0)); }, {"max_pool2d", "kernel size must be positive"});
  expect_error([&] { max_pool2d(x, pool(2, -1)); }, {"max_pool2d", "stride must be positive"});
  expect_error([&] { max_pool2d(x, pool(2, 2, 2)); }, {"max_pool2d", "half the kernel size"});
  expect_error([&] { max_pool2d(x, pool(5)); }, {"max_pool2d", "larger than the padded input"});
}

// ---- batch normalization ----

TEST(BatchNorm, TrainingNormalizesWithBatchStatistics) {
  // One channel holding 1, 2, 3, 6: mean 3, biased variance (4 + 1 + 0 + 9) / 4 = 3.5.
  const Tensor x = f64({1, 2, 3, 6}, Shape{4, 1});
  const Tensor y = batch_norm(x, {}, {}, f64({2}), f64({1}), true, 0.1, 0);
  const double s = std::sqrt(3.5);
  expect_values(y, {1 - 4 / s, 1 - 2 / s, 1, 1 + 6 / s}, 1e-12);
}

TEST(BatchNorm, RunningStatisticsAfterSeveralStepsMatchHandComputation) {
  Tensor running_mean = zeros({2}, kFloat64), running_var = ones({2}, kFloat64);
  // Channel 0 sees {1, 3} then {2, 6}; channel 1 sees {0, 0} then {4, 8} (input [2, 2] per step).
  const std::vector<Tensor> steps = {f64({1, 0, 3, 0}, Shape{2, 2}), f64({2, 4, 6, 8}, Shape{2, 2})};
  double m0 = 0, v0 = 1, m1 = 0, v1 = 1;
  const double momentum = 0.3;
  const auto update = [&](double& m, double& v, double a, double b) {
    const double mean = (a + b) / 2, unbiased = ((a - mean) * (a - mean) + (b - mean) * (b - mean)) / 1;
    m = (1 - momentum) * m + momentum * mean;
    v = (1 - momentum) * v + momentum * unbiased;
  };
  update(m0, v0, 1, 3);
  update(m1, v1, 0, 0);
  update(m0, v0, 2, 6);
  update(m1, v1, 4, 8);
  for (const Tensor& x : steps) batch_norm(x, running_mean, running_var, {}, {}, true, momentum);
  expect_values(running_mean, {m0, m1}, 1e-12);
  expect_values(running_var, {v0, v1}, 1e-12);
}

TEST(BatchNorm, EvaluationUsesRunningStatistics) {
  const Tensor running_mean = f64({1, -2}), running_var = f64({4, 0.25});
  const Tensor x = f64({3, 0, 5, -2, 1, 2, -1, -3}, Shape{1, 2, 2, 2});
  const Tensor y = batch_norm(x, running_mean, running_var, f64({1, 2}), f64({0, 1}), false, 0.1, 0);
  // Channel 0: (x - 1) / 2; channel 1: (x + 2) / 0.5 * 2 + 1.
  expect_values(y, {1, -0.5, 2, -1.5, 13, 17, 5, -3}, 1e-12);
  expect_values(running_mean, {1, -2});  // untouched
}

TEST(BatchNorm, BadArgumentsAreRefusedWithClearMessages) {
  const Tensor rm = zeros({3}), rv = ones({3});
  expect_error([&] { batch_norm(zeros({1, 3}), rm, rv, {}, {}, true); },
               {"batch_norm", "expected more than 1 value per channel when training", "[1, 3]"});
  expect_error([&] { batch_norm(zeros({4}), {}, {}, {}, {}, true); }, {"batch_norm", "at least 2 dims"});
  expect_error([&] { batch_norm(zeros({4, 3}), zeros({2}), ones({2}), {}, {}, true); },
               {"batch_norm", "running_mean must have shape [3]", "[2]"});
  expect_error([&] { batch_norm(zeros({4, 3}), {}, {}, {}, {}, false); }, {"batch_norm", "evaluation mode"});
  expect_error([&] { batch_norm(zeros({4, 3}), rm, {}, {}, {}, true); }, {"batch_norm", "both"});
}

// ---- dropout ----

TEST(Dropout, KeepsAboutOneMinusPAndScalesTheRest) {
  Generator generator(7);
  const Tensor x = ones({100000});
  const std::vector<double> y = dropout(x, 0.3, true, generator).to_vector<double>();
  std::int64_t kept = 0;
  for (double v : y) {
    if (v != 0) {
      ++kept;
      EXPECT_NEAR(v, 1 / 0.7, 1e-6);
    }
  }
  // Binomial(1e5, 0.7): standard deviation 145, so 5 sigma is about 725.
  EXPECT_NEAR(static_cast<double>(kept), 70000, 725);
}

TEST(Dropout, SameGeneratorStateGivesTheSameMask) {
  Generator a(11), b(11);
  const Tensor x = input({50, 40}, 90).detach();
  EXPECT_EQ(dropout(x, 0.5, true, a).to_vector<double>(), dropout(x, 0.5, true, b).to_vector<double>());
  EXPECT_NE(dropout(x, 0.5, true, a).to_vector<double>(), dropout(x, 0.5, true, a).to_vector<double>());
}

TEST(Dropout, GradientIsTheSameMaskAndScale) {
  Generator generator(12);
  const Tensor x = input({1000}, 91);
  const Tensor y = dropout(x, 0.25, true, generator);
  const std::vector<double> values = y.to_vector<double>(), xs = x.to_vector<double>();
  const std::vector<double> g = gradient(y, x).to_vector<double>();
  for (std::size_t i = 0; i < g.size(); ++i) {
    EXPECT_DOUBLE_EQ(g[i], values[i] == 0 ? 0 : 1 / 0.75) << i;
    if (values[i] != 0) EXPECT_NEAR(values[i], xs[i] / 0.75, 1e-12) << i;
  }
}

TEST(Dropout, IdentityUnlessTrainingAndZerosWhenPIsOne) {
  const Tensor x = input({3, 4}, 92);
  EXPECT_TRUE(dropout(x, 0.5, false).is_same(x));
  const Tensor dropped = dropout(x, 1.0, true);
  expect_values(dropped, std::vector<double>(12, 0.0));
  expect_values(gradient(dropped, x), std::vector<double>(12, 0.0));
}

TEST(Dropout, ProbabilityOutsideZeroOneIsRefused) {
  expect_error([] { dropout(ones({2}), 1.5, true); }, {"dropout", "between 0 and 1", "1.5"});
  expect_error([] { dropout(ones({2}), -0.1, true); }, {"dropout", "between 0 and 1"});
}

}  // namespace
}  // namespace tapegrad
