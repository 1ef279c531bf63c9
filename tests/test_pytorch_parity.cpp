// tapegrad's layers compute what PyTorch's compute: models whose state PyTorch initialized and
// saved (tests/golden/pytorch_layers.py) load into the same tapegrad Sequential, and the
// training-mode output, loss, every gradient, the updated running statistics and the
// evaluation-mode output all equal PyTorch's (float64). The building blocks (activations, layer
// and group normalization, embedding; tests/golden/pytorch_blocks.py) give PyTorch's output and
// gradients from PyTorch's parameters.
#include <functional>
#include <memory>
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

// One layer against tests/golden/blocks.safetensors: its parameters loaded, then the output and
// the gradients of sum(output * upstream) compared.
void expect_block_matches_pytorch(const std::string& name, nn::Module& layer) {
  SCOPED_TRACE(name);
  static const TensorFile blocks = load_tensors(golden("blocks.safetensors"));
  layer.to(kFloat64);
  NamedTensors state;
  for (const auto& [parameter, tensor] : layer.named_parameters()) state.emplace_back(parameter, blocks.at(name + ".param." + parameter));
  layer.load_state_dict(state, "blocks.safetensors");
  Tensor input = blocks.at(name + ".input");
  const bool floating = input.is_floating_point();
  if (floating) input = input.clone().requires_grad_();
  const Tensor output = layer(input);
  expect_close(output, blocks.at(name + ".output"), "output");
  sum(output * blocks.at(name + ".upstream")).backward();
  if (floating) expect_close(input.grad(), blocks.at(name + ".grad_input"), "input gradient");
  for (const auto& [parameter, tensor] : layer.named_parameters())
    expect_close(tensor.grad(), blocks.at(name + ".grad." + parameter), "gradient of " + parameter);
}

TEST(PyTorchParity, ActivationsMatch) {
  nn::GELU exact;
  expect_block_matches_pytorch("gelu", exact);
  nn::GELU tanh_approximation(GeluApproximation::Tanh);
  expect_block_matches_pytorch("gelu_tanh", tanh_approximation);
  nn::SiLU silu_layer;
  expect_block_matches_pytorch("silu", silu_layer);
  nn::LeakyReLU leaky(0.2);
  expect_block_matches_pytorch("leaky_relu", leaky);
  nn::Softplus soft(2, 1);
  expect_block_matches_pytorch("softplus", soft);
}

TEST(PyTorchParity, LayerAndGroupNormMatch) {
  nn::LayerNorm layer(Shape{3, 4});
  expect_block_matches_pytorch("layer_norm", layer);
  nn::GroupNorm groups(3, 6);
  expect_block_matches_pytorch("group_norm", groups);
}

TEST(PyTorchParity, EmbeddingWithPaddingMatches) {
  nn::Embedding table(nn::EmbeddingOptions{.num_embeddings = 5, .embedding_dim = 4, .padding_idx = 1});
  expect_block_matches_pytorch("embedding", table);
  // The padding row is read (its zeros appear in the output) but never trained.
  const std::vector<double> padding_gradient = table.weight.grad().select(0, 1).to_vector<double>();
  EXPECT_EQ(padding_gradient, std::vector<double>(4, 0.0));
}

// One cross-entropy case of blocks.safetensors: the loss and the logits' gradient of sum(loss * upstream).
// `weighted`: the case has class weights, stored with it.
void expect_cross_entropy_matches_pytorch(const std::string& name, CrossEntropyOptions options, bool weighted) {
  SCOPED_TRACE(name);
  const TensorFile blocks = load_tensors(golden("blocks.safetensors"));
  if (weighted) options.weight = blocks.at(name + ".weight");
  const Tensor logits = blocks.at(name + ".input").clone().requires_grad_();
  const Tensor loss = cross_entropy(logits, blocks.at(name + ".target"), options);
  expect_close(loss, blocks.at(name + ".output"), "loss");
  sum(loss * blocks.at(name + ".upstream")).backward();
  expect_close(logits.grad(), blocks.at(name + ".grad_input"), "logits gradient");
}

TEST(PyTorchParity, CrossEntropyOptionsMatch) {
  expect_cross_entropy_matches_pytorch("ce_weighted", {}, true);
  expect_cross_entropy_matches_pytorch("ce_smoothed", {.label_smoothing = 0.2}, false);
  expect_cross_entropy_matches_pytorch("ce_weighted_smoothed_sum",
                                       {.label_smoothing = 0.1, .reduction = Reduction::Sum}, true);
  expect_cross_entropy_matches_pytorch("ce_none_ignore_2", {.ignore_index = 2, .reduction = Reduction::None}, false);
  expect_cross_entropy_matches_pytorch("ce_probabilities", {.label_smoothing = 0.3}, true);
}

}  // namespace
}  // namespace tapegrad
