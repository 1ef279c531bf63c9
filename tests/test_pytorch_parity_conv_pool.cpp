// tapegrad's pooling and convolution layers compute what PyTorch's compute: for each layer of
// tests/golden/pytorch_conv_pool.py, PyTorch's parameters are loaded, and the output and the
// gradients of sum(output * upstream) for the input and every parameter equal PyTorch's (float64).
#include <string>

#include <gtest/gtest.h>

#include "test_util.h"

namespace tapegrad {
namespace {

using namespace testing;  // the shared test vocabulary of test_util.h

void expect_matches(const Tensor& actual, const Tensor& expected, const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_EQ(actual.shape(), expected.shape());
  expect_values(actual, expected.to_vector<double>(), 1e-10);
}

// One layer against tests/golden/conv_pool.safetensors.
void expect_layer_matches_pytorch(const std::string& name, nn::Module& layer) {
  SCOPED_TRACE(name);
  static const TensorFile golden = load_tensors(std::string(TAPEGRAD_GOLDEN_DIR) + "/conv_pool.safetensors");
  layer.to(kFloat64);
  NamedTensors state;
  for (const auto& [parameter, tensor] : layer.named_parameters())
    state.emplace_back(parameter, golden.at(name + ".param." + parameter));
  layer.load_state_dict(state, "conv_pool.safetensors");
  const Tensor input = golden.at(name + ".input").clone().requires_grad_();
  const Tensor output = layer(input);
  expect_matches(output, golden.at(name + ".output"), "output");
  sum(output * golden.at(name + ".upstream")).backward();
  expect_matches(input.grad(), golden.at(name + ".grad_input"), "input gradient");
  for (const auto& [parameter, tensor] : layer.named_parameters())
    expect_matches(tensor.grad(), golden.at(name + ".grad." + parameter), "gradient of " + parameter);
}

TEST(PyTorchParityConvPool, MaxPoolWithDilationAndCeilModeMatches) {
  nn::MaxPool2d dilated_ceil(3, 2, 1, 2, true);
  expect_layer_matches_pytorch("max_pool_dilated_ceil", dilated_ceil);
  nn::MaxPool2d ceil(2, 0, 0, 1, true);
  expect_layer_matches_pytorch("max_pool_ceil", ceil);
  nn::MaxPool2d rectangular(
      nn::MaxPool2dOptions{.kernel_size = {3, 2}, .stride = {2, 1}, .padding = {1, 0}, .dilation = {1, 2}});
  expect_layer_matches_pytorch("max_pool_rectangular", rectangular);
}

TEST(PyTorchParityConvPool, AvgPoolMatches) {
  nn::AvgPool2d plain(2);
  expect_layer_matches_pytorch("avg_pool", plain);
  nn::AvgPool2d padded(3, 2, 1);
  expect_layer_matches_pytorch("avg_pool_padded", padded);
  nn::AvgPool2d exclude_pad(3, 2, 1, true, false);
  expect_layer_matches_pytorch("avg_pool_ceil_exclude_pad", exclude_pad);
  nn::AvgPool2d include_pad(3, 2, 1, true);
  expect_layer_matches_pytorch("avg_pool_ceil_include_pad", include_pad);
  nn::AvgPool2d divisor(nn::AvgPool2dOptions{
      .kernel_size = {2, 3}, .stride = {2, 1}, .padding = {1, 1}, .ceil_mode = true, .divisor_override = 5});
  expect_layer_matches_pytorch("avg_pool_divisor", divisor);
}

TEST(PyTorchParityConvPool, AdaptiveAvgPoolMatches) {
  nn::AdaptiveAvgPool2d overlapping({3, 4});
  expect_layer_matches_pytorch("adaptive_avg_pool", overlapping);
  nn::AdaptiveAvgPool2d global(1);
  expect_layer_matches_pytorch("adaptive_avg_pool_global", global);
  nn::AdaptiveAvgPool2d larger({5, 2});
  expect_layer_matches_pytorch("adaptive_avg_pool_larger", larger);
}

TEST(PyTorchParityConvPool, GroupedAndDepthwiseConv2dMatch) {
  nn::Conv2d groups(nn::Conv2dOptions{.in_channels = 4, .out_channels = 6, .kernel_size = {3, 3}, .padding = {1, 1},
                                      .groups = 2});
  expect_layer_matches_pytorch("conv_groups", groups);
  nn::Conv2d depthwise(nn::Conv2dOptions{.in_channels = 3, .out_channels = 6, .kernel_size = {3, 3}, .stride = {2, 2},
                                         .bias = false, .groups = 3});
  expect_layer_matches_pytorch("conv_depthwise", depthwise);
  nn::Conv2d dilated(nn::Conv2dOptions{.in_channels = 6, .out_channels = 3, .kernel_size = {3, 2}, .stride = {1, 2},
                                       .padding = {2, 1}, .dilation = {2, 1}, .groups = 3});
  expect_layer_matches_pytorch("conv_groups_dilated", dilated);
}

TEST(PyTorchParityConvPool, ConvTranspose2dMatches) {
  nn::ConvTranspose2d grouped(4, 6, 3, 2, 1, 1, 2);
  expect_layer_matches_pytorch("conv_transpose", grouped);
  nn::ConvTranspose2d dilated(nn::ConvTranspose2dOptions{.in_channels = 3, .out_channels = 2, .kernel_size = {3, 2},
                                                         .stride = {2, 1}, .padding = {1, 0}, .bias = false,
                                                         .dilation = {1, 2}});
  expect_layer_matches_pytorch("conv_transpose_dilated", dilated);
  nn::ConvTranspose2d plain(2, 3, 2);
  expect_layer_matches_pytorch("conv_transpose_plain", plain);
  nn::ConvTranspose2d past_stride(nn::ConvTranspose2dOptions{
      .in_channels = 2, .out_channels = 2, .kernel_size = {3, 3}, .output_padding = {1, 2}, .dilation = {2, 3}});
  expect_layer_matches_pytorch("conv_transpose_output_padding_below_dilation", past_stride);
}

TEST(PyTorchParityConvPool, Conv1dMatches) {
  nn::Conv1d strided(3, 4, 3, 2, 1, 2);
  expect_layer_matches_pytorch("conv1d", strided);
  nn::Conv1d depthwise(4, 4, 3, 1, 1, 1, 4, false);
  expect_layer_matches_pytorch("conv1d_depthwise", depthwise);
  nn::Conv1d unbatched(2, 3, 2);
  expect_layer_matches_pytorch("conv1d_unbatched", unbatched);
}

}  // namespace
}  // namespace tapegrad
