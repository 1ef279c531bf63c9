// Recurrent layers as PyTorch's: the cells LSTMCell and GRUCell (one time step) and the layers
// LSTM and GRU (stacked, optionally bidirectional, over whole sequences), with PyTorch's
// parameter names (weight_ih_l0, bias_hh_l1_reverse, ...), gate order and initialization, so a
// PyTorch state dict loads as it is.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <tapegrad/nn/module.h>

namespace tapegrad::nn {

struct RNNCellOptions {
  std::int64_t input_size = 0;
  std::int64_t hidden_size = 0;
  bool bias = true;
  DType dtype = kFloat32;
};

struct RNNOptions {
  std::int64_t input_size = 0;
  std::int64_t hidden_size = 0;
  std::int64_t num_layers = 1;
  bool bias = true;
  bool batch_first = false;    // input and output [N, T, features] instead of [T, N, features]
  double dropout = 0;          // on every layer's output but the last, in training mode
  bool bidirectional = false;
  DType dtype = kFloat32;
};

// An LSTM's hidden and cell states.
struct LSTMState {
  Tensor h = {};
  Tensor c = {};
};

struct LSTMOutput {
  Tensor output = {};  // [T, N, D * hidden] (batch_first: [N, T, D * hidden]; unbatched: [T, D * hidden])
  LSTMState state = {};  // h_n and c_n, each [D * num_layers, N, hidden] ([D * num_layers, hidden] unbatched)
};

struct GRUOutput {
  Tensor output = {};
  Tensor h_n = {};
};

// The parameters of one cell, or of one layer and direction: gate rows stacked in PyTorch's order.
struct RecurrentWeights {
  Tensor weight_ih = {};  // [gates * hidden, input]
  Tensor weight_hh = {};  // [gates * hidden, hidden]
  Tensor bias_ih = {};    // [gates * hidden]; undefined without bias
  Tensor bias_hh = {};
};

// What the recurrent modules share: registering (and initializing) their weights.
class RecurrentModule : public Module {
 protected:
  // Registers weight_ih<suffix>, weight_hh<suffix> and, with bias, bias_ih<suffix> and
  // bias_hh<suffix>, all uniform in +-1/sqrt(hidden_size) as PyTorch's.
  RecurrentWeights register_weights(const std::string& suffix, std::int64_t gates, std::int64_t input_size,
                                    std::int64_t hidden_size, bool bias, DType dtype);
};

// One LSTM step: gates i, f, g, o from x W_ih^T + b_ih + h W_hh^T + b_hh, then
// c' = sigmoid(f) c + sigmoid(i) tanh(g) and h' = sigmoid(o) tanh(c').
class LSTMCell : public RecurrentModule {
 public:
  explicit LSTMCell(const RNNCellOptions& options);
  LSTMCell(std::int64_t input_size, std::int64_t hidden_size, bool bias = true)
      : LSTMCell(RNNCellOptions{input_size, hidden_size, bias}) {}

  using Module::forward;
  // input [N, input_size] or [input_size]; state h and c [N, hidden_size] or [hidden_size], zeros
  // where undefined (pass {} for both). Returns h' and c'.
  LSTMState forward(const Tensor& input, const LSTMState& state);
  std::string name() const override { return "LSTMCell"; }
  std::string extra_repr() const override;

  const RNNCellOptions& options() const { return options_; }
  RecurrentWeights weights;  // weight_ih [4 * hidden, input], weight_hh [4 * hidden, hidden], biases [4 * hidden]

 private:
  RNNCellOptions options_;
};

// One GRU step: r and z from the summed projections, n = tanh(W_in x + b_in + r (W_hn h + b_hn)),
// h' = (1 - z) n + z h.
class GRUCell : public RecurrentModule {
 public:
  explicit GRUCell(const RNNCellOptions& options);
  GRUCell(std::int64_t input_size, std::int64_t hidden_size, bool bias = true)
      : GRUCell(RNNCellOptions{input_size, hidden_size, bias}) {}

  // input [N, input_size] or [input_size]; hx [N, hidden_size] or [hidden_size] (zeros if undefined).
  Tensor forward(const Tensor& input) override { return forward(input, Tensor()); }
  Tensor forward(const Tensor& input, const Tensor& hx);
  std::string name() const override { return "GRUCell"; }
  std::string extra_repr() const override;

  const RNNCellOptions& options() const { return options_; }
  RecurrentWeights weights;  // gates r, z, n: [3 * hidden, ...]

 private:
  RNNCellOptions options_;
};

// The stacked layers over a sequence: weights per layer and direction, the walk over time.
class RecurrentLayers : public RecurrentModule {
 public:
  const RNNOptions& options() const { return options_; }
  std::string extra_repr() const override;
  // weights[layer * directions + direction], as PyTorch's _flat_weights are grouped.
  std::vector<RecurrentWeights> weights;

 protected:
  RecurrentLayers(const RNNOptions& options, std::int64_t gates, const char* name);

  // One time step of one layer and direction: the states after it, from the input's projection
  // x W_ih^T + b_ih [N, gates * hidden] and the states before it.
  using Step = std::vector<Tensor> (*)(const Tensor& input_projection, const std::vector<Tensor>& states,
                                       const RecurrentWeights& weights);
  struct Run {
    Tensor output;
    std::vector<Tensor> final_states;
  };
  // Runs every layer over `input` in the user's layout, from `initial` states (undefined: zeros).
  Run run(const Tensor& input, const std::vector<Tensor>& initial, Step step);

 private:
  RNNOptions options_;
  const char* name_;
};

// LSTM over a sequence, as torch.nn.LSTM (no proj_size).
class LSTM : public RecurrentLayers {
 public:
  explicit LSTM(const RNNOptions& options);
  LSTM(std::int64_t input_size, std::int64_t hidden_size, std::int64_t num_layers = 1)
      : LSTM(RNNOptions{input_size, hidden_size, num_layers}) {}

  // The output sequence alone, from zero states.
  Tensor forward(const Tensor& input) override { return forward(input, LSTMState{}).output; }
  // input [T, N, input_size] ([N, T, ...] batch_first, [T, input_size] unbatched); state h_0 and
  // c_0 [D * num_layers, N, hidden_size] (zeros where undefined).
  LSTMOutput forward(const Tensor& input, const LSTMState& state);
  std::string name() const override { return "LSTM"; }
};

// GRU over a sequence, as torch.nn.GRU.
class GRU : public RecurrentLayers {
 public:
  explicit GRU(const RNNOptions& options);
  GRU(std::int64_t input_size, std::int64_t hidden_size, std::int64_t num_layers = 1)
      : GRU(RNNOptions{input_size, hidden_size, num_layers}) {}

  Tensor forward(const Tensor& input) override { return forward(input, Tensor()).output; }
  // Shapes as LSTM's; h_0 zeros if undefined.
  GRUOutput forward(const Tensor& input, const Tensor& h_0);
  std::string name() const override { return "GRU"; }
};

}  // namespace tapegrad::nn
