// The sequence building blocks compute what PyTorch computes (tests/golden/pytorch_sequence.py
// writes tests/golden/sequence.safetensors): batched matmul, scaled dot-product attention (torch
// 2.x's formula), MultiheadAttention, LSTMCell, GRUCell, LSTM and GRU, each run on PyTorch's
// inputs and parameters, its outputs and the gradients of sum(output * upstream) compared in
// float64.
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.h"

namespace tapegrad {
namespace {

using namespace testing;  // the shared test vocabulary of test_util.h

const TensorFile& sequence_golden() {
  static const TensorFile file = load_tensors(std::string(TAPEGRAD_GOLDEN_DIR) + "/sequence.safetensors");
  return file;
}

void expect_same(const Tensor& actual, const Tensor& expected, const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_TRUE(actual.defined());
  ASSERT_EQ(actual.shape(), expected.shape());
  expect_close(actual, expected, 1e-10, what.c_str());
}

// One recorded case: its inputs (floating ones as leaves that collect gradients), the module's
// parameters loaded, then outputs and gradients compared.
class GoldenCase {
 public:
  explicit GoldenCase(std::string name) : name_(std::move(name)) {}

  const Tensor& stored(const std::string& key) const { return sequence_golden().at(name_ + "." + key); }

  Tensor input(const std::string& key) {
    Tensor t = stored(key);
    if (!t.is_floating_point()) return t.to(kBool);  // a boolean mask, stored as int64
    t = t.clone().requires_grad_();
    inputs_.emplace_back(key, t);
    return t;
  }

  void load(nn::Module& module) {
    module.to(kFloat64);
    NamedTensors state;
    for (const auto& [parameter, tensor] : module.named_parameters()) state.emplace_back(parameter, stored("param." + parameter));
    module.load_state_dict(state, "sequence.safetensors");
    module_ = &module;
  }

  void check(const std::vector<std::pair<std::string, Tensor>>& outputs) {
    SCOPED_TRACE(name_);
    Tensor total;
    for (const auto& [key, output] : outputs) {
      expect_same(output, stored(key), "output " + key);
      const Tensor term = sum(mul(output, stored("upstream." + key)));
      total = total.defined() ? add(total, term) : term;
    }
    total.backward();
    for (const auto& [key, leaf] : inputs_) expect_same(leaf.grad(), stored("grad." + key), "gradient of " + key);
    if (module_)
      for (const auto& [parameter, tensor] : module_->named_parameters())
        expect_same(tensor.grad(), stored("grad." + parameter), "gradient of " + parameter);
  }

 private:
  std::string name_;
  std::vector<std::pair<std::string, Tensor>> inputs_;
  nn::Module* module_ = nullptr;
};

TEST(PyTorchSequenceParity, MatmulWithBroadcastBatchesMatches) {
  for (const char* name : {"matmul_broadcast", "matmul_vector_batch"}) {
    GoldenCase c(name);
    const Tensor a = c.input("a"), b = c.input("b");
    c.check({{"out", matmul(a, b)}});
  }
}

TEST(PyTorchSequenceParity, ScaledDotProductAttentionMatchesTorchFormula) {
  const auto run = [](const std::string& name, auto attend) {
    GoldenCase c(name);
    const Tensor q = c.input("query"), k = c.input("key"), v = c.input("value");
    c.check({{"out", attend(c, q, k, v)}});
  };
  run("sdpa_plain", [](GoldenCase&, auto q, auto k, auto v) { return scaled_dot_product_attention(q, k, v); });
  run("sdpa_scale", [](GoldenCase&, auto q, auto k, auto v) {
    return scaled_dot_product_attention(q, k, v, {}, 0, false, 0.3);
  });
  run("sdpa_causal", [](GoldenCase&, auto q, auto k, auto v) {
    return scaled_dot_product_attention(q, k, v, {}, 0, true);
  });
  for (const char* masked : {"sdpa_float_mask", "sdpa_bool_mask"})
    run(masked, [](GoldenCase& c, auto q, auto k, auto v) {
      return scaled_dot_product_attention(q, k, v, c.input("mask"));
    });
}

TEST(PyTorchSequenceParity, MultiheadAttentionWithPaddingAndFloatMaskMatches) {
  GoldenCase c("mha");
  nn::MultiheadAttention mha(8, 2);
  c.load(mha);
  const Tensor q = c.input("query"), k = c.input("key"), v = c.input("value");
  const auto [output, weights] = mha.forward(q, k, v, c.input("key_padding_mask"), true, c.input("attn_mask"));
  c.check({{"out", output}, {"weights", weights}});
}

TEST(PyTorchSequenceParity, BatchFirstCausalSelfAttentionWithPerHeadWeightsMatches) {
  GoldenCase c("mha_self_causal");
  nn::MultiheadAttention mha(nn::MultiheadAttentionOptions{.embed_dim = 8, .num_heads = 2, .batch_first = true});
  c.load(mha);
  const Tensor x = c.input("x");
  const auto [output, weights] = mha.forward(x, x, x, {}, true, c.input("attn_mask"), false);
  c.check({{"out", output}, {"weights", weights}});
}

TEST(PyTorchSequenceParity, UnbatchedMultiheadAttentionWithoutBiasMatches) {
  GoldenCase c("mha_unbatched_nobias");
  nn::MultiheadAttention mha(nn::MultiheadAttentionOptions{.embed_dim = 6, .num_heads = 3, .bias = false});
  c.load(mha);
  const Tensor q = c.input("query"), k = c.input("key"), v = c.input("value");
  const auto [output, weights] = mha.forward(q, k, v);
  c.check({{"out", output}, {"weights", weights}});
}

TEST(PyTorchSequenceParity, LSTMCellMatches) {
  GoldenCase c("lstm_cell");
  nn::LSTMCell cell(4, 3);
  c.load(cell);
  const Tensor x = c.input("input"), h0 = c.input("h0"), c0 = c.input("c0");
  const nn::LSTMState next = cell.forward(x, {h0, c0});
  c.check({{"h", next.h}, {"c", next.c}});
}

TEST(PyTorchSequenceParity, GRUCellMatches) {
  GoldenCase c("gru_cell");
  nn::GRUCell cell(4, 3);
  c.load(cell);
  const Tensor x = c.input("input"), h0 = c.input("h0");
  c.check({{"h", cell.forward(x, h0)}});
}

TEST(PyTorchSequenceParity, UnbatchedGRUCellWithoutBiasMatches) {
  GoldenCase c("gru_cell_unbatched_nobias");
  nn::GRUCell cell(4, 3, false);
  c.load(cell);
  const Tensor x = c.input("input"), h0 = c.input("h0");
  c.check({{"h", cell.forward(x, h0)}});
}

TEST(PyTorchSequenceParity, TwoLayerLSTMMatches) {
  GoldenCase c("lstm");
  nn::LSTM lstm(4, 3, 2);
  c.load(lstm);
  const Tensor x = c.input("input"), h0 = c.input("h0"), c0 = c.input("c0");
  const nn::LSTMOutput out = lstm.forward(x, {h0, c0});
  c.check({{"out", out.output}, {"h_n", out.state.h}, {"c_n", out.state.c}});
}

TEST(PyTorchSequenceParity, BidirectionalBatchFirstLSTMMatches) {
  GoldenCase c("lstm_bidirectional");
  nn::LSTM lstm(nn::RNNOptions{.input_size = 4, .hidden_size = 3, .num_layers = 2, .batch_first = true,
                               .bidirectional = true});
  c.load(lstm);
  const nn::LSTMOutput out = lstm.forward(c.input("input"), {});
  c.check({{"out", out.output}, {"h_n", out.state.h}, {"c_n", out.state.c}});
}

TEST(PyTorchSequenceParity, TwoLayerGRUMatches) {
  GoldenCase c("gru");
  nn::GRU gru(4, 3, 2);
  c.load(gru);
  const Tensor x = c.input("input"), h0 = c.input("h0");
  const nn::GRUOutput out = gru.forward(x, h0);
  c.check({{"out", out.output}, {"h_n", out.h_n}});
}

TEST(PyTorchSequenceParity, UnbatchedBidirectionalGRUWithoutBiasMatches) {
  GoldenCase c("gru_bidirectional_unbatched");
  nn::GRU gru(nn::RNNOptions{.input_size = 4, .hidden_size = 3, .bias = false, .bidirectional = true});
  c.load(gru);
  const nn::GRUOutput out = gru.forward(c.input("input"), Tensor());
  c.check({{"out", out.output}, {"h_n", out.h_n}});
}

}  // namespace
}  // namespace tapegrad
