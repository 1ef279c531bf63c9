// tapegrad's layers compute what PyTorch's compute: models whose state PyTorch initialized and
// saved (tests/golden/pytorch_layers.py) load into the same tapegrad Sequential, and the
// training-mode output, loss, every gradient, the updated running statistics and the
// evaluation-mode output all equal PyTorch's (float64).
#include <string>

#include <gtest/gtest.h>

#include "test_util.h"

namespace tapegrad {
namespace {

using namespace testing;  // the shared test vocabulary of test_util.h

std::string golden(const std::string& file) { return std::string(TAPEGRAD_GOLDEN_DIR) + "/" + file; }

void expect_close(const Tensor& actual, const Tensor& expected, const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_EQ(actual.shape(), expected.shape());
  expect_values(actual, expected.to_vector<double>(), 1e-10);
}

void expect_matches_pytorch(nn::Sequential& model, const std::string& name) {
  nn::load(model, golden(name + "_state.safetensors"));
  const TensorFile io = load_tensors(golden(name + "_io.safetensors"));

  model.train();
  const Tensor output = model(io.at("input"));
  const Tensor loss = cross_entropy(output, io.at("target"));
  loss.backward();
  expect_close(output, io.at("train_output"), "training-mode output");
  expect_close(loss, io.at("loss"), "loss");
  for (const auto& [parameter, tensor] : model.named_parameters())
    expect_close(tensor.grad(), io.at("grad." + parameter), "gradient of " + parameter);
  for (const auto& [buffer, tensor] : model.named_buffers())
    expect_close(tensor, io.at("after." + buffer), "buffer " + buffer + " after one training step");

  model.eval();
  expect_close(model(io.at("input")), io.at("eval_output"), "evaluation-mode output");
}

TEST(PyTorchParity, ConvBatchNormPoolNetworkMatches) {
  nn::Sequential cnn(nn::Conv2d(2, 3, 3, 1, 1), nn::BatchNorm2d(3), nn::ReLU(), nn::MaxPool2d(2),
                     nn::Conv2d(nn::Conv2dOptions{.in_channels = 3, .out_channels = 4, .kernel_size = {2, 2},
                                                  .stride = {2, 2}, .padding = {1, 1}, .dilation = {2, 2}}),
                     nn::Flatten(), nn::Linear(4 * 2 * 2, 5));
  cnn.to(kFloat64);
  expect_matches_pytorch(cnn, "cnn");
}

TEST(PyTorchParity, BatchNormMlpMatches) {
  nn::Sequential mlp(nn::Linear(10, 8), nn::BatchNorm1d(8), nn::ReLU(), nn::Linear(8, 6), nn::Tanh(), nn::Linear(6, 3),
                     nn::LogSoftmax(1));
  mlp.to(kFloat64);
  expect_matches_pytorch(mlp, "mlp");
}

}  // namespace
}  // namespace tapegrad
