// Specification of the pooling layers (MaxPool2d with dilation and ceil_mode, AvgPool2d,
// AdaptiveAvgPool2d) and the convolution layers beyond plain Conv2d (groups, Conv1d,
// ConvTranspose2d): hand-computed values, PyTorch's output sizes, initialization and printing,
// bad options refused, and gradient checks through whole layers.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.h"

namespace tapegrad {
namespace {

using namespace testing;  // the shared test vocabulary of test_util.h

// 0, 1, ..., 15 as one 4x4 image.
Tensor ramp4x4() { return arange(16, kFloat64).reshape({1, 1, 4, 4}); }

// ---- MaxPool2d ----

TEST(MaxPool2dLayer, CeilModeKeepsTheLastPartialWindows) {
  const Tensor x = arange(25, kFloat64).reshape({1, 1, 5, 5});
  // Floor: 2x2 windows leave row 4 and column 4 out; ceil: a last 1-wide window takes them.
  expect_values(nn::MaxPool2d(2)(x), {6, 8, 16, 18}, 0);
  expect_values(nn::MaxPool2d(2, 0, 0, 1, true)(x), {6, 8, 9, 16, 18, 19, 21, 23, 24}, 0);
  // With padding 1 the ceil formula gives 4 windows, but the 4th would start at 6 - 1 = 5, past
  // the input: PyTorch drops it, leaving 3.
  EXPECT_EQ(shape_of(nn::MaxPool2d(2, 2, 1, 1, true)(x)), "[1, 1, 3, 3]");
}

TEST(MaxPool2dLayer, DilationSpacesTheWindowsTaps) {
  // A 2x2 kernel with dilation 2 reads (0,0), (0,2), (2,0), (2,2) of each window.
  const Tensor x = ramp4x4();
  expect_values(max_pool2d(x, Pool2dParams{.kernel = {2, 2}, .stride = {1, 1}, .dilation = {2, 2}}), {10, 11, 14, 15},
                0);
  const ValuesIndices r =
      max_pool2d_with_indices(-x, Pool2dParams{.kernel = {2, 2}, .stride = {1, 1}, .dilation = {2, 2}});
  EXPECT_EQ(r.indices.to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 1, 4, 5}));
}

TEST(MaxPool2dLayer, AWindowOfOnlyPaddingGivesMinusInfinityAndRoutesInsideTheImage) {
  // Kernel 2, dilation 3, padding 1 over 2x2: the one window's taps sit at -1 and 2 on each axis,
  // all padding. PyTorch allows it (the padding is at most half the kernel) and gives -inf.
  const Tensor x = leaf({1, 2, 3, 4}, Shape{1, 1, 2, 2});
  const Pool2dParams p{.kernel = {2, 2}, .padding = {1, 1}, .dilation = {3, 3}};
  const ValuesIndices r = max_pool2d_with_indices(x, p);
  EXPECT_EQ(r.values.item(), -INFINITY);
  const std::vector<std::int64_t> index = r.indices.to_vector<std::int64_t>();
  ASSERT_EQ(index.size(), 1u);
  EXPECT_TRUE(index[0] >= 0 && index[0] < 4) << index[0];
  expect_values(gradient(max_pool2d(x, p), x), {0, 0, 0, 1}, 0);
}

TEST(MaxPool2dLayer, ShorthandTakesTheKernelAsStride) {
  const Tensor x = ramp4x4();
  expect_values(max_pool2d(x, 2), {5, 7, 13, 15}, 0);
  EXPECT_EQ(shape_of(max_pool2d(arange(36, kFloat64).reshape({1, 6, 6}), 3)), "[1, 2, 2]");
}

TEST(MaxPool2dLayer, PrintsDilationAndCeilModeWhenSet) {
  EXPECT_EQ(nn::MaxPool2d(2).str(), "MaxPool2d(kernel_size=2, stride=2, padding=0)");
  EXPECT_EQ(nn::MaxPool2d(3, 2, 1, 2, true).str(),
            "MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True)");
}

TEST(MaxPool2dLayer, GradientRoutesThroughDilatedCeilWindows) {
  const Tensor x = input({2, 2, 7, 6}, 3);
  nn::MaxPool2d pool(nn::MaxPool2dOptions{.kernel_size = {3, 2}, .stride = {2, 2}, .padding = {1, 1},
                                          .dilation = {2, 1}, .ceil_mode = true});
  expect_gradcheck([&](const std::vector<Tensor>& v) { return pool(v[0]); }, {x});
}

// ---- AvgPool2d ----

TEST(AvgPool2dLayer, AveragesEachWindow) {
  expect_values(nn::AvgPool2d(2)(ramp4x4()), {2.5, 4.5, 10.5, 12.5});
  EXPECT_EQ(nn::AvgPool2d(2).str(), "AvgPool2d(kernel_size=2, stride=2, padding=0)");
}

TEST(AvgPool2dLayer, PaddingCountsUnlessExcluded) {
  const Tensor x = ones({1, 1, 2, 2}, kFloat64);
  // 3x3 windows with padding 1 over a 2x2 image of ones: 4 ones in 9 places, or in 4 real ones.
  expect_values(nn::AvgPool2d(3, 1, 1)(x), std::vector<double>(4, 4.0 / 9));
  expect_values(nn::AvgPool2d(3, 1, 1, false, false)(x), std::vector<double>(4, 1.0));
  // A divisor override divides every window's sum by itself.
  expect_values(nn::AvgPool2d(3, 1, 1, false, true, 2)(x), std::vector<double>(4, 2.0));
}

TEST(AvgPool2dLayer, CeilModeWindowsCountOnlyWhatLiesInThePaddedInput) {
  // 1x5 row of ones, kernel (1, 2), ceil_mode: windows [0,2), [2,4), [4,6): the last holds one
  // element inside the input and none in padding, so its divisor is 1 either way.
  const Tensor x = ones({1, 1, 1, 5}, kFloat64);
  nn::AvgPool2d pool(nn::AvgPool2dOptions{.kernel_size = {1, 2}, .ceil_mode = true});
  expect_values(pool(x), {1, 1, 1});
  // Padding 1, kernel 2, ceil: windows start at -1, 1, 3, 5 -> 5 is past the input, dropped;
  // with count_include_pad the first window counts its padded zero.
  nn::AvgPool2d padded(nn::AvgPool2dOptions{.kernel_size = {1, 2}, .padding = {0, 1}, .ceil_mode = true});
  expect_values(padded(x), {0.5, 1, 1});
}

TEST(AvgPool2dLayer, RefusesBadOptions) {
  const Tensor x = zeros({1, 1, 4, 4});
  expect_error([&] { avg_pool2d(x, AvgPool2dParams{.divisor_override = 0}); }, {"avg_pool2d", "divisor_override"});
  expect_error([&] { avg_pool2d(x, AvgPool2dParams{.kernel = {2, 2}, .padding = {2, 2}}); },
               {"avg_pool2d", "half the kernel size"});
  expect_error([&] { avg_pool2d(x, AvgPool2dParams{.kernel = {5, 5}}); }, {"avg_pool2d", "larger than the padded input"});
}

TEST(AvgPool2dLayer, GradientAndSecondDerivativeCheck) {
  const Tensor x = transposed_input({2, 2, 6, 5}, 4);
  const GradcheckFunction f = [](const std::vector<Tensor>& v) {
    return avg_pool2d(v[0] * v[0], AvgPool2dParams{.kernel = {3, 2}, .stride = {2, 1}, .padding = {1, 1},
                                                   .ceil_mode = true, .count_include_pad = false});
  };
  expect_gradcheck(f, {x});
  expect_gradgradcheck(f, {x});
}

// ---- AdaptiveAvgPool2d ----

TEST(AdaptiveAvgPool2dLayer, OneByOneIsTheGlobalMean) {
  const Tensor x = input({2, 3, 5, 7}, 5);
  nn::AdaptiveAvgPool2d global(1);
  expect_close(global(x), mean(x, {2, 3}, true), 1e-12, "global average");
  EXPECT_EQ(global.str(), "AdaptiveAvgPool2d(output_size=1)");
  EXPECT_EQ(nn::AdaptiveAvgPool2d({2, 3}).str(), "AdaptiveAvgPool2d(output_size=(2, 3))");
}

TEST(AdaptiveAvgPool2dLayer, WindowsFollowFloorAndCeilBounds) {
  // Rows of a 5-row input into 3: [0, 2), [1, 4), [3, 5) (floor(i*5/3), ceil((i+1)*5/3)).
  const Tensor x = arange(5, kFloat64).reshape({1, 1, 5, 1});
  expect_values(adaptive_avg_pool2d(x, {3, 1}), {0.5, 2, 3.5});
  // More outputs than inputs repeat them.
  expect_values(adaptive_avg_pool2d(arange(2, kFloat64).reshape({1, 1, 1, 2}), {1, 4}), {0, 0, 1, 1});
}

TEST(AdaptiveAvgPool2dLayer, GradientCheckAndErrors) {
  const Tensor x = input({2, 2, 7, 5}, 6);
  expect_gradcheck([](const std::vector<Tensor>& v) { return adaptive_avg_pool2d(v[0], {3, 4}); }, {x});
  expect_error([] { nn::AdaptiveAvgPool2d(-1); }, {"AdaptiveAvgPool2d", "non-negative"});
  expect_error([] { adaptive_avg_pool2d(zeros({1, 0, 3, 3}), {1, 1}); }, {"adaptive_avg_pool2d", "non-zero"});
}

// ---- Conv2d with groups ----

TEST(Conv2dGroups, WeightHasInChannelsPerGroupAndInitializesFromThatFanIn) {
  manual_seed(0);
  nn::Conv2d conv(nn::Conv2dOptions{.in_channels = 8, .out_channels = 12, .kernel_size = {3, 3}, .groups = 4});
  EXPECT_EQ(shape_of(conv.weight), "[12, 2, 3, 3]");
  const double bound = 1 / std::sqrt(2.0 * 3 * 3);  // fan_in = in_channels / groups * kh * kw
  EXPECT_LE(conv.weight.abs().max().item(), bound);
  EXPECT_GT(conv.weight.abs().max().item(), 0.9 * bound);
  EXPECT_LE(conv.bias.abs().max().item(), bound);
  EXPECT_EQ(conv.str(), "Conv2d(8, 12, kernel_size=(3, 3), stride=(1, 1), groups=4)");
  expect_error([] { nn::Conv2d(nn::Conv2dOptions{.in_channels = 6, .out_channels = 4, .groups = 4}); },
               {"Conv2d", "in_channels must be divisible by groups"});
  expect_error([] { nn::Conv2d(nn::Conv2dOptions{.in_channels = 4, .out_channels = 6, .groups = 4}); },
               {"Conv2d", "out_channels must be divisible by groups"});
}

TEST(Conv2dGroups, EachGroupIsAnOrdinaryConvolutionOfItsChannels) {
  const Tensor x = input({2, 4, 6, 5}, 7), w = input({6, 2, 3, 3}, 8), b = input({6}, 9);
  const Conv2dParams p{.stride = {2, 1}, .padding = {1, 1}, .groups = 2};
  const Tensor grouped = conv2d(x, w, b, p);
  const Conv2dParams single{.stride = {2, 1}, .padding = {1, 1}};
  const Tensor separate = cat({conv2d(narrow(x, 1, 0, 2), narrow(w, 0, 0, 3), narrow(b, 0, 0, 3), single),
                               conv2d(narrow(x, 1, 2, 2), narrow(w, 0, 3, 3), narrow(b, 0, 3, 3), single)},
                              1);
  expect_close(grouped, separate, 1e-12, "grouped forward");
}

TEST(Conv2dGroups, DepthwiseAndGroupedGradientsCheck) {
  const Tensor x = input({2, 3, 5, 5}, 10), w = input({6, 1, 3, 3}, 11), b = input({6}, 12);
  const GradcheckFunction depthwise = [](const std::vector<Tensor>& v) {
    return conv2d(v[0], v[1], v[2], {.padding = {1, 1}, .groups = 3});
  };
  expect_gradcheck(depthwise, {x, w, b});
  expect_gradgradcheck(depthwise, {x, w, b});
  const GradcheckFunction grouped = [](const std::vector<Tensor>& v) {
    return conv2d(v[0], v[1], {}, {.stride = {2, 2}, .dilation = {1, 2}, .groups = 2});
  };
  expect_gradcheck(grouped, {transposed_input({1, 4, 6, 7}, 13), input({4, 2, 2, 2}, 14)});
}

TEST(Conv2dGroups, Float32OnOneDnnMatchesFloat64) {
  // 32 channels x 9 taps: enough column rows for oneDNN to take the float32 run.
  const Tensor x = input({2, 32, 7, 7}, 15), w = input({16, 8, 3, 3}, 16), b = input({16}, 17);
  expect_float32_matches_float64(
      [](const std::vector<Tensor>& v) { return conv2d(v[0], v[1], v[2], {.padding = {1, 1}, .groups = 4}); },
      {x, w, b}, 1e-4);
  const Tensor depthwise_x = input({2, 64, 6, 6}, 18), depthwise_w = input({64, 1, 3, 3}, 19);
  expect_float32_matches_float64(
      [](const std::vector<Tensor>& v) { return conv2d(v[0], v[1], {}, {.stride = {2, 2}, .groups = 64}); },
      {depthwise_x, depthwise_w}, 1e-4);
}

// ---- Conv1d ----

TEST(Conv1dLayer, IsConv2dOverAUnitHeight) {
  manual_seed(1);
  nn::Conv1d conv(nn::Conv1dOptions{.in_channels = 4, .out_channels = 6, .kernel_size = 3, .stride = 2, .padding = 1,
                                    .dilation = 2, .groups = 2, .dtype = kFloat64});
  EXPECT_EQ(shape_of(conv.weight), "[6, 2, 3]");
  const double bound = 1 / std::sqrt(2.0 * 3);
  EXPECT_LE(conv.weight.abs().max().item(), bound);
  EXPECT_LE(conv.bias.abs().max().item(), bound);
  const Tensor x = input({2, 4, 11}, 20);
  const Tensor y = conv(x);
  EXPECT_EQ(shape_of(y), "[2, 6, 5]");  // (11 + 2 - 2 * 2 - 1) / 2 + 1
  const Tensor planar = conv2d(x.unsqueeze(2), conv.weight.unsqueeze(2), conv.bias,
                               {.stride = {1, 2}, .padding = {0, 1}, .dilation = {1, 2}, .groups = 2});
  expect_close(y, planar.squeeze(2), 1e-12, "conv1d as conv2d");
  EXPECT_EQ(shape_of(conv(input({4, 11}, 21))), "[6, 5]");
  EXPECT_EQ(conv.str(), "Conv1d(4, 6, kernel_size=(3,), stride=(2,), padding=(1,), dilation=(2,), groups=2)");
  expect_gradcheck([&](const std::vector<Tensor>& v) { return conv(v[0]); }, {x});
  expect_error([] { nn::Conv1d(3, 4, 0); }, {"Conv1d", "kernel_size must be positive"});
}

// ---- ConvTranspose2d ----

TEST(ConvTranspose2dLayer, OutputSizeAndInitializationFollowPyTorch) {
  manual_seed(2);
  nn::ConvTranspose2d up(nn::ConvTranspose2dOptions{.in_channels = 4, .out_channels = 6, .kernel_size = {3, 3},
                                                    .stride = {2, 2}, .padding = {1, 1}, .output_padding = {1, 1},
                                                    .groups = 2});
  EXPECT_EQ(shape_of(up.weight), "[4, 3, 3, 3]");
  const double bound = 1 / std::sqrt(3.0 * 3 * 3);  // fan_in from the weight's dim 1: out_channels / groups
  EXPECT_LE(up.weight.abs().max().item(), bound);
  EXPECT_GT(up.weight.abs().max().item(), 0.9 * bound);
  EXPECT_LE(up.bias.abs().max().item(), bound);
  // (5 - 1) * 2 - 2 + 2 + 1 + 1 = 10
  EXPECT_EQ(shape_of(up(zeros({2, 4, 5, 5}))), "[2, 6, 10, 10]");
  EXPECT_EQ(up.str(),
            "ConvTranspose2d(4, 6, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), output_padding=(1, 1), groups=2)");
  expect_error([] { nn::ConvTranspose2d(2, 2, 3, 2, 0, 2); }, {"ConvTranspose2d", "output_padding"});
}

TEST(ConvTranspose2dLayer, IsTheAdjointOfConv2d) {
  // <conv_transpose2d(y, w), x> = <y, conv2d(x, w)> for every x and y.
  const Tensor w = input({4, 3, 3, 2}, 22);
  const ConvTranspose2dParams tp{.stride = {2, 1}, .padding = {1, 0}, .groups = 2, .dilation = {1, 2}};
  const Tensor y = input({2, 4, 4, 5}, 23);
  const Tensor up = conv_transpose2d(y, w, {}, tp);
  const Tensor x = input(up.shape(), 24);
  const Tensor down = conv2d(x, w, {}, {.stride = {2, 1}, .padding = {1, 0}, .dilation = {1, 2}, .groups = 2});
  EXPECT_NEAR(sum(up * x).item(), sum(y * down).item(), 1e-10);
}

TEST(ConvTranspose2dLayer, GradientsAndSecondDerivativesCheck) {
  const Tensor x = input({2, 2, 3, 3}, 25), w = input({2, 2, 3, 2}, 26), b = input({4}, 27);
  const GradcheckFunction f = [](const std::vector<Tensor>& v) {
    return conv_transpose2d(v[0], v[1], v[2], {.stride = {2, 2}, .padding = {1, 0}, .output_padding = {1, 1},
                                               .groups = 2});
  };
  expect_gradcheck(f, {x, w, b});
  expect_gradgradcheck(f, {x, w, b});
}

}  // namespace
}  // namespace tapegrad
