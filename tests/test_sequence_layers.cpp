// Specification of the sequence layers: scaled_dot_product_attention's masks, causal rule,
// scale and dropout against the formula written out; LSTMCell and GRUCell against one step
// computed by hand; LSTM and GRU as their cells run step by step (the reverse direction over the
// reversed sequence); MultiheadAttention's parameters, initialization and masks; the errors for
// bad arguments. Values against PyTorch are tests/test_pytorch_parity_sequence.cpp's.
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.h"

namespace tapegrad {
namespace {

using namespace testing;  // the shared test vocabulary of test_util.h

double sigmoid_of(double x) { return 1 / (1 + std::exp(-x)); }

std::vector<std::string> names_of(const nn::Module& module) {
  std::vector<std::string> names;
  for (const auto& [name, tensor] : module.named_parameters()) names.push_back(name);
  return names;
}

// ---- scaled_dot_product_attention ----

// softmax(q k^T * scale + bias) v with the ops that compose it.
Tensor attention_by_formula(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias, double scale) {
  return matmul(softmax(add(mul(matmul(q, transpose(k, -2, -1)), scale), bias), -1), v);
}

TEST(ScaledDotProductAttention, BooleanMaskKeepsTrueAndAdditiveMaskAdds) {
  const Tensor q = input({2, 3, 4}, 1), k = input({2, 5, 4}, 2), v = input({2, 5, 2}, 3);
  const Tensor additive = input({3, 5}, 4);
  expect_close(scaled_dot_product_attention(q, k, v, additive), attention_by_formula(q, k, v, additive, 0.5), 1e-12,
               "additive mask");
  // A bool mask equals the additive mask that is 0 where it is set and -inf elsewhere.
  const Tensor allowed =
      from_vector<std::int64_t>({1, 0, 1, 1, 0, 1, 1, 0, 0, 1, 0, 0, 0, 1, 1}, Shape{3, 5}).to(kBool);
  const Tensor as_bias = where(allowed, zeros({}, kFloat64), full({}, -INFINITY, kFloat64));
  expect_close(scaled_dot_product_attention(q, k, v, allowed), attention_by_formula(q, k, v, as_bias, 0.5), 1e-12,
               "boolean mask");
}

TEST(ScaledDotProductAttention, CausalEqualsTheLowerTriangleMaskAndScaleReplacesOneOverSqrtE) {
  const Tensor q = input({2, 3, 4}, 5), k = input({2, 3, 4}, 6), v = input({2, 3, 2}, 7);
  const Tensor lower = tril(ones({3, 3}, kInt64)).to(kBool);
  expect_close(scaled_dot_product_attention(q, k, v, {}, 0, true), scaled_dot_product_attention(q, k, v, lower), 1e-12,
               "causal");
  // The first query sees only the first key: its output is that key's value.
  expect_close(scaled_dot_product_attention(q, k, v, {}, 0, true).select(1, 0), v.select(1, 0), 1e-12, "first query");
  expect_close(scaled_dot_product_attention(q, k, v, {}, 0, false, 2.0),
               attention_by_formula(q, k, v, zeros({}, kFloat64), 2.0), 1e-12, "explicit scale");
}

TEST(ScaledDotProductAttention, DropoutDropsAttentionWeightsFromTheDefaultGenerator) {
  const Tensor q = input({4, 3}, 8), k = input({6, 3}, 9), v = input({6, 2}, 10);
  manual_seed(3);
  const Tensor dropped = scaled_dot_product_attention(q, k, v, {}, 0.5);
  manual_seed(3);
  const Tensor weights = softmax(mul(matmul(q, k.t()), 1 / std::sqrt(3.0)), -1);
  expect_close(dropped, matmul(dropout(weights, 0.5, true), v), 1e-12, "dropout");
}

TEST(ScaledDotProductAttention, AQueryWithNoAllowedKeyGivesNaNAsTorch) {
  const Tensor none = zeros({2, 3}, kBool);
  const Tensor out = scaled_dot_product_attention(input({2, 4}, 11), input({3, 4}, 12), input({3, 2}, 13), none);
  EXPECT_TRUE(std::isnan(out.to_vector<double>()[0]));
}

TEST(ScaledDotProductAttention, RefusesMismatchedShapesMasksAndOptions) {
  const Tensor q = input({2, 3}, 14), k = input({4, 3}, 15), v = input({4, 2}, 16);
  expect_error([&] { scaled_dot_product_attention(q, input({4, 2}, 17), v); }, {"scaled_dot_product_attention", "last dim"});
  expect_error([&] { scaled_dot_product_attention(q, k, input({3, 2}, 18)); }, {"sequence length", "[3, 2]"});
  expect_error([&] { scaled_dot_product_attention(q, k, v, input({3, 4}, 19)); }, {"attn_mask", "[3, 4]"});
  expect_error([&] { scaled_dot_product_attention(q, k, v, input({2, 4}, 20), 0, true); }, {"not both"});
  expect_error([&] { scaled_dot_product_attention(q, k, v, {}, 1.5); }, {"dropout_p", "1.5"});
  expect_error([&] { scaled_dot_product_attention(q, k, v, input({2, 4}, 21).to(kFloat32)); }, {"dtype"});
}

// ---- cells ----

TEST(LSTMCellLayer, OneStepEqualsTheGateFormulasByHand) {
  // input_size 1, hidden 1: the gates are scalars i, f, g, o = w_ih x + b_ih + w_hh h + b_hh.
  nn::LSTMCell cell(nn::RNNCellOptions{.input_size = 1, .hidden_size = 1, .dtype = kFloat64});
  const double w_ih[] = {0.5, -0.3, 0.8, 0.1}, w_hh[] = {0.2, 0.4, -0.6, 0.7}, b_ih[] = {0.1, 0.2, 0.3, 0.4},
               b_hh[] = {-0.1, 0.05, 0.0, 0.2};
  cell.weights.weight_ih.detach().copy_(f64({w_ih[0], w_ih[1], w_ih[2], w_ih[3]}, Shape{4, 1}));
  cell.weights.weight_hh.detach().copy_(f64({w_hh[0], w_hh[1], w_hh[2], w_hh[3]}, Shape{4, 1}));
  cell.weights.bias_ih.detach().copy_(f64({b_ih[0], b_ih[1], b_ih[2], b_ih[3]}));
  cell.weights.bias_hh.detach().copy_(f64({b_hh[0], b_hh[1], b_hh[2], b_hh[3]}));
  const double x = 0.7, h = -0.4, c = 0.9;
  double gate[4];
  for (int j = 0; j < 4; ++j) gate[j] = w_ih[j] * x + b_ih[j] + w_hh[j] * h + b_hh[j];
  const double c_next = sigmoid_of(gate[1]) * c + sigmoid_of(gate[0]) * std::tanh(gate[2]);
  const double h_next = sigmoid_of(gate[3]) * std::tanh(c_next);
  const nn::LSTMState next = cell.forward(f64({x}, Shape{1, 1}), {f64({h}, Shape{1, 1}), f64({c}, Shape{1, 1})});
  expect_values(next.h, {h_next}, 1e-14);
  expect_values(next.c, {c_next}, 1e-14);
  // No state given: zeros.
  const nn::LSTMState from_zero = cell.forward(f64({x}), {});
  EXPECT_EQ(shape_of(from_zero.h), "[1]");
  const double c0 = sigmoid_of(w_ih[0] * x + b_ih[0] + b_hh[0]) * std::tanh(w_ih[2] * x + b_ih[2] + b_hh[2]);
  expect_values(from_zero.c, {c0}, 1e-14);
}

TEST(GRUCellLayer, OneStepEqualsTheGateFormulasByHandWithTheResetGateInsideN) {
  nn::GRUCell cell(nn::RNNCellOptions{.input_size = 1, .hidden_size = 1, .dtype = kFloat64});
  cell.weights.weight_ih.detach().copy_(f64({0.5, -0.3, 0.8}, Shape{3, 1}));
  cell.weights.weight_hh.detach().copy_(f64({0.2, 0.4, -0.6}, Shape{3, 1}));
  cell.weights.bias_ih.detach().copy_(f64({0.1, 0.2, 0.3}));
  cell.weights.bias_hh.detach().copy_(f64({-0.1, 0.05, 0.25}));
  const double x = 0.7, h = -0.4;
  const double r = sigmoid_of(0.5 * x + 0.1 + 0.2 * h - 0.1), z = sigmoid_of(-0.3 * x + 0.2 + 0.4 * h + 0.05);
  const double n = std::tanh(0.8 * x + 0.3 + r * (-0.6 * h + 0.25));  // b_hn inside the reset gate's product
  expect_values(cell.forward(f64({x}, Shape{1, 1}), f64({h}, Shape{1, 1})), {(1 - z) * n + z * h}, 1e-14);
}

TEST(RecurrentCells, ParametersAreNamedAndInitializedAsPyTorch) {
  manual_seed(0);
  nn::LSTMCell lstm(3, 16);
  EXPECT_EQ(names_of(lstm), (std::vector<std::string>{"weight_ih", "weight_hh", "bias_ih", "bias_hh"}));
  EXPECT_EQ(shape_of(lstm.weights.weight_ih), "[64, 3]");
  EXPECT_EQ(shape_of(lstm.weights.weight_hh), "[64, 16]");
  for (const Tensor& p : lstm.parameters()) {
    EXPECT_LE(p.abs().max().item(), 0.25);  // 1 / sqrt(16)
    EXPECT_GT(p.abs().max().item(), 0.2);
  }
  nn::GRUCell gru(3, 4, false);
  EXPECT_EQ(names_of(gru), (std::vector<std::string>{"weight_ih", "weight_hh"}));
  EXPECT_EQ(shape_of(gru.weights.weight_ih), "[12, 3]");
}

TEST(RecurrentCells, RefuseWrongInputAndStateShapes) {
  nn::LSTMCell lstm(3, 4);
  expect_error([&] { lstm.forward(zeros({2, 5}), {}); }, {"LSTMCell", "input_size 3"});
  expect_error([&] { lstm.forward(zeros({2, 2, 3}), {}); }, {"LSTMCell", "[2, 2, 3]"});
  expect_error([&] { lstm.forward(zeros({2, 3}), {zeros({3, 4}), zeros({2, 4})}); }, {"LSTMCell", "h", "[2, 4]", "[3, 4]"});
  nn::GRUCell gru(3, 4);
  expect_error([&] { gru.forward(zeros({2, 3}), zeros({2, 5})); }, {"GRUCell", "hx", "[2, 5]"});
  expect_error([] { nn::GRUCell(3, 0); }, {"GRUCell", "hidden_size"});
}

// ---- layers ----

TEST(LSTMLayer, EqualsItsCellsRunStepByStepInBothDirections) {
  nn::LSTM lstm(nn::RNNOptions{.input_size = 3, .hidden_size = 2, .bidirectional = true, .dtype = kFloat64});
  EXPECT_EQ(names_of(lstm), (std::vector<std::string>{"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                                                      "weight_ih_l0_reverse", "weight_hh_l0_reverse",
                                                      "bias_ih_l0_reverse", "bias_hh_l0_reverse"}));
  const Tensor x = input({4, 2, 3}, 22);  // [T, N, features]
  const nn::LSTMOutput out = lstm.forward(x, {});
  EXPECT_EQ(shape_of(out.output), "[4, 2, 4]");
  EXPECT_EQ(shape_of(out.state.h), "[2, 2, 2]");
  for (int direction = 0; direction < 2; ++direction) {
    nn::LSTMCell cell(nn::RNNCellOptions{.input_size = 3, .hidden_size = 2, .dtype = kFloat64});
    const nn::RecurrentWeights& w = lstm.weights[static_cast<std::size_t>(direction)];
    NoGradGuard no_grad;
    cell.weights.weight_ih.copy_(w.weight_ih);
    cell.weights.weight_hh.copy_(w.weight_hh);
    cell.weights.bias_ih.copy_(w.bias_ih);
    cell.weights.bias_hh.copy_(w.bias_hh);
    nn::LSTMState state;
    for (int i = 0; i < 4; ++i) {
      const int t = direction == 0 ? i : 3 - i;
      state = cell.forward(x.select(0, t), state);
      expect_close(out.output.select(0, t).narrow(1, 2 * direction, 2), state.h, 1e-14, "output at step t");
    }
    expect_close(out.state.h.select(0, direction), state.h, 1e-14, "h_n");
    expect_close(out.state.c.select(0, direction), state.c, 1e-14, "c_n");
  }
}

TEST(GRULayer, SecondLayerReadsTheFirstLayersOutputsAndBatchFirstTransposes) {
  manual_seed(1);
  nn::GRU gru(nn::RNNOptions{.input_size = 3, .hidden_size = 2, .num_layers = 2, .dtype = kFloat64});
  const Tensor x = input({5, 2, 3}, 23);
  const nn::GRUOutput out = gru.forward(x, Tensor());
  nn::GRU first(nn::RNNOptions{.input_size = 3, .hidden_size = 2, .dtype = kFloat64});
  nn::GRU second(nn::RNNOptions{.input_size = 2, .hidden_size = 2, .dtype = kFloat64});
  NamedTensors first_state, second_state;
  for (const auto& [name, tensor] : gru.named_parameters()) {
    const bool layer1 = name.ends_with("_l1");
    (layer1 ? second_state : first_state).emplace_back(name.substr(0, name.size() - 1) + "0", tensor);
  }
  first.load_state_dict(first_state);
  second.load_state_dict(second_state);
  const nn::GRUOutput lower = first.forward(x, Tensor());
  const nn::GRUOutput upper = second.forward(lower.output, Tensor());
  expect_close(out.output, upper.output, 1e-14, "output");
  expect_close(out.h_n, cat({lower.h_n, upper.h_n}, 0), 1e-14, "h_n");
  // batch_first: the same numbers with the first two dims swapped.
  nn::GRU batch_first(nn::RNNOptions{.input_size = 3, .hidden_size = 2, .num_layers = 2, .batch_first = true,
                                     .dtype = kFloat64});
  batch_first.load_state_dict(gru.state_dict());
  const nn::GRUOutput transposed = batch_first.forward(x.transpose(0, 1), Tensor());
  expect_close(transposed.output.transpose(0, 1), out.output, 1e-14, "batch_first output");
  expect_close(transposed.h_n, out.h_n, 1e-14, "batch_first h_n");
}

TEST(LSTMLayer, DropoutActsBetweenLayersOnlyInTraining) {
  manual_seed(2);
  nn::LSTM lstm(nn::RNNOptions{.input_size = 3, .hidden_size = 4, .num_layers = 2, .dropout = 0.5, .dtype = kFloat64});
  nn::LSTM plain(nn::RNNOptions{.input_size = 3, .hidden_size = 4, .num_layers = 2, .dtype = kFloat64});
  plain.load_state_dict(lstm.state_dict());
  const Tensor x = input({3, 2, 3}, 24);
  lstm.eval();
  expect_close(lstm(x), plain(x), 1e-14, "evaluation mode");
  lstm.train();
  const Tensor trained = lstm(x);
  EXPECT_GT(max(abs(sub(trained, plain(x)))).item(), 1e-6);
}

TEST(RecurrentLayers, GradientsMatchFiniteDifferences) {
  manual_seed(3);
  nn::LSTM lstm(nn::RNNOptions{.input_size = 2, .hidden_size = 2, .num_layers = 2, .bidirectional = true,
                               .dtype = kFloat64});
  expect_gradcheck(
      [&](const std::vector<Tensor>& v) {
        const nn::LSTMOutput out = lstm.forward(v[0], {v[1], v[2]});
        return cat({reshape(out.output, {-1}), reshape(out.state.c, {-1})}, 0);
      },
      {input({3, 2, 2}, 25), input({4, 2, 2}, 26), input({4, 2, 2}, 27)});
  nn::GRU gru(nn::RNNOptions{.input_size = 2, .hidden_size = 3, .batch_first = true, .dtype = kFloat64});
  expect_gradcheck([&](const std::vector<Tensor>& v) { return gru.forward(v[0], v[1]).output; },
                   {input({2, 3, 2}, 28), input({1, 2, 3}, 29)});
}

TEST(RecurrentLayers, RefuseWrongShapesAndOptions) {
  nn::LSTM lstm(3, 4, 2);
  expect_error([&] { lstm.forward(zeros({5, 2, 6}), {}); }, {"LSTM", "input_size", "expected 3, got 6"});
  expect_error([&] { lstm.forward(zeros({5, 2, 2, 3}), {}); }, {"LSTM", "3-D", "2-D"});
  expect_error([&] { lstm.forward(zeros({5, 2, 3}), {zeros({1, 2, 4}), zeros({1, 2, 4})}); },
               {"LSTM", "expected hidden size [2, 2, 4]", "[1, 2, 4]"});
  expect_error([&] { lstm.forward(zeros({5, 2, 3}), {zeros({2, 2, 4}), Tensor()}); }, {"LSTM", "h_0 and c_0"});
  expect_error([] { nn::GRU(nn::RNNOptions{.input_size = 3, .hidden_size = 4, .num_layers = 0}); }, {"num_layers"});
  expect_error([] { nn::GRU(nn::RNNOptions{.input_size = 3, .hidden_size = 4, .dropout = 2}); }, {"dropout"});
}

// ---- MultiheadAttention ----

TEST(MultiheadAttentionLayer, ParametersAreNamedAndInitializedAsPyTorch) {
  manual_seed(4);
  nn::MultiheadAttention mha(16, 4);
  EXPECT_EQ(names_of(mha),
            (std::vector<std::string>{"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"}));
  EXPECT_EQ(shape_of(mha.in_proj_weight), "[48, 16]");
  const double xavier = std::sqrt(6.0 / (16 + 48));
  EXPECT_LE(mha.in_proj_weight.abs().max().item(), xavier);
  EXPECT_GT(mha.in_proj_weight.abs().max().item(), 0.9 * xavier);
  EXPECT_EQ(mha.in_proj_bias.abs().max().item(), 0);
  EXPECT_EQ(mha.out_proj->bias.abs().max().item(), 0);
  expect_error([] { nn::MultiheadAttention(10, 3); }, {"MultiheadAttention", "divisible"});
}

TEST(MultiheadAttentionLayer, TrueInABooleanMaskExcludesAPosition) {
  manual_seed(5);
  nn::MultiheadAttention mha(nn::MultiheadAttentionOptions{.embed_dim = 4, .num_heads = 2, .dtype = kFloat64});
  const Tensor q = input({3, 2, 4}, 27), kv = input({5, 2, 4}, 28);
  // Key 1 padded in batch entry 0, key 4 in entry 1: their columns get no weight.
  const Tensor padding = from_vector<std::int64_t>({0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, Shape{2, 5}).to(kBool);
  const nn::MultiheadAttentionOutput out = mha.forward(q, kv, kv, padding);
  EXPECT_EQ(shape_of(out.weights), "[2, 3, 5]");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(out.weights.select(0, 0).select(0, i).select(0, 1).item(), 0);
    EXPECT_EQ(out.weights.select(0, 1).select(0, i).select(0, 4).item(), 0);
  }
  expect_close(sum(out.weights, {2}), ones({2, 3}, kFloat64), 1e-14, "rows sum to 1");
  // The same as the additive mask -inf there, and no weights when not asked for.
  const Tensor additive = where(padding, full({}, -INFINITY, kFloat64), zeros({}, kFloat64));
  const nn::MultiheadAttentionOutput float_masked = mha.forward(q, kv, kv, additive, false);
  expect_close(float_masked.output, out.output, 1e-14, "additive padding mask");
  EXPECT_FALSE(float_masked.weights.defined());
}

TEST(MultiheadAttentionLayer, RefusesWrongShapesAndMasks) {
  nn::MultiheadAttention mha(4, 2);
  const Tensor q = zeros({3, 2, 4}), kv = zeros({5, 2, 4});
  expect_error([&] { mha.forward(q, kv, zeros({5, 2, 3})); }, {"MultiheadAttention", "embedding dim 4"});
  expect_error([&] { mha.forward(q, kv, zeros({4, 2, 4})); }, {"key shape", "value shape"});
  expect_error([&] { mha.forward(q, kv, kv, zeros({2, 4})); }, {"key_padding_mask", "[2, 5]"});
  expect_error([&] { mha.forward(q, kv, kv, {}, true, zeros({3, 4})); }, {"attn_mask", "[4, 3, 5]", "[3, 4]"});
  expect_error([&] { mha.forward(q, zeros({5, 4}), zeros({5, 4})); }, {"all 3-D", "2-D"});
}

}  // namespace
}  // namespace tapegrad
