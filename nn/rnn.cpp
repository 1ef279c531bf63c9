// The recurrent cells and layers: each step is two products (the input's and the hidden
// state's) and the gate arithmetic; a layer projects its whole input sequence in one product
// first, so a step costs one product with the hidden state.
#include <tapegrad/nn/rnn.h>

#include <cmath>

#include <tapegrad/autodiff/ops.h>
#include <tapegrad/nn/init.h>

namespace tapegrad::nn {

namespace {

constexpr std::int64_t kLSTMGates = 4, kGRUGates = 3;

void check_sizes(const char* module, std::int64_t input_size, std::int64_t hidden_size) {
  TAPEGRAD_CHECK(input_size >= 0, "{}: input_size must be non-negative, got {}", module, input_size);
  TAPEGRAD_CHECK(hidden_size > 0, "{}: hidden_size must be greater than zero, got {}", module, hidden_size);
}

std::string cell_repr(const RNNCellOptions& o) {
  return fmt::format("{}, {}{}", o.input_size, o.hidden_size, o.bias ? "" : ", bias=False");
}

// The cell's input as [N, input_size] and its state as [N, hidden_size] (zeros if undefined).
struct CellInputs {
  Tensor input;
  bool batched;
};

CellInputs cell_input(const char* module, const Tensor& input, const RNNCellOptions& o) {
  TAPEGRAD_CHECK(input.defined(), "{}: got an undefined input", module);
  TAPEGRAD_CHECK(input.dim() == 1 || input.dim() == 2,
                 "{}: expected input [N, {}] or [{}], got shape {}", module, o.input_size, o.input_size, input.shape());
  TAPEGRAD_CHECK(input.size(-1) == o.input_size, "{}: input has {} features (shape {}), expected input_size {}", module,
                 input.size(-1), input.shape(), o.input_size);
  return {input.dim() == 1 ? unsqueeze(input, 0) : input, input.dim() == 2};
}

Tensor cell_state(const char* module, const char* what, const Tensor& state, const CellInputs& in,
                  const RNNCellOptions& o) {
  const std::int64_t batch = in.input.size(0);
  if (!state.defined()) return zeros({batch, o.hidden_size}, TensorOptions(in.input.dtype()).with_device(in.input.device()));
  const Shape expected = in.batched ? Shape{batch, o.hidden_size} : Shape{o.hidden_size};
  TAPEGRAD_CHECK(state.shape() == expected, "{}: {} must have shape {} for an input of shape {}, got {}", module, what,
                 expected, in.batched ? in.input.shape() : Shape{o.input_size}, state.shape());
  return in.batched ? state : unsqueeze(state, 0);
}

Tensor cell_output(const Tensor& state, bool batched) { return batched ? state : squeeze(state, 0); }

// The states after one LSTM step; input_projection is x W_ih^T + b_ih.
std::vector<Tensor> lstm_step(const Tensor& input_projection, const std::vector<Tensor>& states,
                              const RecurrentWeights& w) {
  const Tensor gates = add(input_projection, linear(states[0], w.weight_hh, w.bias_hh));
  const std::vector<Tensor> g = chunk(gates, kLSTMGates, -1);  // i, f, g, o
  const Tensor c = add(mul(sigmoid(g[1]), states[1]), mul(sigmoid(g[0]), tanh(g[2])));
  return {mul(sigmoid(g[3]), tanh(c)), c};
}

// The state after one GRU step: the reset gate scales the hidden projection of n, bias included.
std::vector<Tensor> gru_step(const Tensor& input_projection, const std::vector<Tensor>& states,
                             const RecurrentWeights& w) {
  const Tensor& h = states[0];
  const std::vector<Tensor> x = chunk(input_projection, kGRUGates, -1);  // r, z, n
  const std::vector<Tensor> hidden = chunk(linear(h, w.weight_hh, w.bias_hh), kGRUGates, -1);
  const Tensor r = sigmoid(add(x[0], hidden[0]));
  const Tensor z = sigmoid(add(x[1], hidden[1]));
  const Tensor n = tanh(add(x[2], mul(r, hidden[2])));
  return {add(n, mul(z, sub(h, n)))};  // (1 - z) n + z h
}

}  // namespace

RecurrentWeights RecurrentModule::register_weights(const std::string& suffix, std::int64_t gates,
                                                   std::int64_t input_size, std::int64_t hidden_size, bool bias,
                                                   DType dtype) {
  RecurrentWeights w;
  w.weight_ih = register_parameter("weight_ih" + suffix, empty({gates * hidden_size, input_size}, dtype));
  w.weight_hh = register_parameter("weight_hh" + suffix, empty({gates * hidden_size, hidden_size}, dtype));
  if (bias) {
    w.bias_ih = register_parameter("bias_ih" + suffix, empty({gates * hidden_size}, dtype));
    w.bias_hh = register_parameter("bias_hh" + suffix, empty({gates * hidden_size}, dtype));
  }
  const double bound = 1 / std::sqrt(static_cast<double>(hidden_size));
  for (const Tensor& t : {w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh})
    if (t.defined()) init::uniform_(t, -bound, bound);
  return w;
}

// ---- cells ----

LSTMCell::LSTMCell(const RNNCellOptions& options) : options_(options) {
  check_sizes("LSTMCell", options.input_size, options.hidden_size);
  weights = register_weights("", kLSTMGates, options.input_size, options.hidden_size, options.bias, options.dtype);
}

LSTMState LSTMCell::forward(const Tensor& input, const LSTMState& state) {
  const CellInputs in = cell_input("LSTMCell", input, options_);
  const std::vector<Tensor> next =
      lstm_step(linear(in.input, weights.weight_ih, weights.bias_ih),
                {cell_state("LSTMCell", "h", state.h, in, options_), cell_state("LSTMCell", "c", state.c, in, options_)},
                weights);
  return {cell_output(next[0], in.batched), cell_output(next[1], in.batched)};
}

std::string LSTMCell::extra_repr() const { return cell_repr(options_); }

GRUCell::GRUCell(const RNNCellOptions& options) : options_(options) {
  check_sizes("GRUCell", options.input_size, options.hidden_size);
  weights = register_weights("", kGRUGates, options.input_size, options.hidden_size, options.bias, options.dtype);
}

Tensor GRUCell::forward(const Tensor& input, const Tensor& hx) {
  const CellInputs in = cell_input("GRUCell", input, options_);
  const std::vector<Tensor> next =
      gru_step(linear(in.input, weights.weight_ih, weights.bias_ih), {cell_state("GRUCell", "hx", hx, in, options_)},
               weights);
  return cell_output(next[0], in.batched);
}

std::string GRUCell::extra_repr() const { return cell_repr(options_); }

// ---- layers ----

RecurrentLayers::RecurrentLayers(const RNNOptions& options, std::int64_t gates, const char* name)
    : options_(options), name_(name) {
  check_sizes(name, options.input_size, options.hidden_size);
  TAPEGRAD_CHECK(options.num_layers > 0, "{}: num_layers must be greater than zero, got {}", name, options.num_layers);
  TAPEGRAD_CHECK(options.dropout >= 0 && options.dropout <= 1,
                 "{}: dropout must be a probability between 0 and 1, got {}", name, options.dropout);
  const std::int64_t directions = options.bidirectional ? 2 : 1;
  for (std::int64_t layer = 0; layer < options.num_layers; ++layer)
    for (std::int64_t direction = 0; direction < directions; ++direction) {
      const std::int64_t input_size = layer == 0 ? options.input_size : directions * options.hidden_size;
      const std::string suffix = fmt::format("_l{}{}", layer, direction == 1 ? "_reverse" : "");
      weights.push_back(register_weights(suffix, gates, input_size, options.hidden_size, options.bias, options.dtype));
    }
}

RecurrentLayers::Run RecurrentLayers::run(const Tensor& input, const std::vector<Tensor>& initial, Step step) {
  const RNNOptions& o = options_;
  TAPEGRAD_CHECK(input.defined(), "{}: got an undefined input", name_);
  TAPEGRAD_CHECK(input.dim() == 2 || input.dim() == 3,
                 "{}: expected a 3-D (batched) or 2-D (unbatched) input, got shape {}", name_, input.shape());
  TAPEGRAD_CHECK(input.size(-1) == o.input_size, "{}: input.size(-1) must equal input_size; expected {}, got {} (shape {})",
                 name_, o.input_size, input.size(-1), input.shape());
  const bool batched = input.dim() == 3;
  // Sequence first inside: x [T, N, features].
  const Tensor x = !batched ? unsqueeze(input, 1) : o.batch_first ? transpose(input, 0, 1) : input;
  const std::int64_t steps = x.size(0), batch = x.size(1), directions = o.bidirectional ? 2 : 1;
  const Shape state_shape = batched ? Shape{directions * o.num_layers, batch, o.hidden_size}
                                    : Shape{directions * o.num_layers, o.hidden_size};
  std::vector<Tensor> states;  // per kind: [D * num_layers, N, hidden]
  for (const Tensor& state : initial) {
    if (!state.defined()) {
      states.push_back(zeros({directions * o.num_layers, batch, o.hidden_size},
                             TensorOptions(x.dtype()).with_device(x.device())));
      continue;
    }
    TAPEGRAD_CHECK(state.shape() == state_shape, "{}: expected hidden size {}, got {}", name_, state_shape, state.shape());
    states.push_back(batched ? state : unsqueeze(state, 1));
  }

  Tensor layer_input = x;
  std::vector<std::vector<Tensor>> finals(initial.size());
  for (std::int64_t layer = 0; layer < o.num_layers; ++layer) {
    std::vector<Tensor> direction_outputs;
    for (std::int64_t direction = 0; direction < directions; ++direction) {
      const std::int64_t index = layer * directions + direction;
      const RecurrentWeights& w = weights[static_cast<std::size_t>(index)];
      // Every step's input projection in one product: [T, N, gates * hidden].
      const Tensor projections = linear(layer_input, w.weight_ih, w.bias_ih);
      std::vector<Tensor> state;
      for (const Tensor& kind : states) state.push_back(select(kind, 0, index));
      std::vector<Tensor> outputs(static_cast<std::size_t>(steps));
      for (std::int64_t i = 0; i < steps; ++i) {
        const std::int64_t t = direction == 0 ? i : steps - 1 - i;
        state = step(select(projections, 0, t), state, w);
        outputs[static_cast<std::size_t>(t)] = state[0];
      }
      for (std::size_t kind = 0; kind < state.size(); ++kind) finals[kind].push_back(state[kind]);
      direction_outputs.push_back(steps == 0 ? zeros({0, batch, o.hidden_size}, TensorOptions(x.dtype()).with_device(x.device()))
                                             : stack(outputs, 0));
    }
    layer_input = directions == 1 ? direction_outputs[0] : cat(direction_outputs, -1);
    if (layer + 1 < o.num_layers) layer_input = dropout(layer_input, o.dropout, is_training());
  }

  Run result;
  result.output = !batched ? squeeze(layer_input, 1) : o.batch_first ? transpose(layer_input, 0, 1) : layer_input;
  for (const std::vector<Tensor>& kind : finals) {
    const Tensor stacked = stack(kind, 0);
    result.final_states.push_back(batched ? stacked : squeeze(stacked, 1));
  }
  return result;
}

std::string RecurrentLayers::extra_repr() const {
  const RNNOptions& o = options_;
  std::string text = fmt::format("{}, {}", o.input_size, o.hidden_size);
  if (o.num_layers != 1) text += fmt::format(", num_layers={}", o.num_layers);
  if (!o.bias) text += ", bias=False";
  if (o.batch_first) text += ", batch_first=True";
  if (o.dropout != 0) text += fmt::format(", dropout={}", o.dropout);
  if (o.bidirectional) text += ", bidirectional=True";
  return text;
}

LSTM::LSTM(const RNNOptions& options) : RecurrentLayers(options, kLSTMGates, "LSTM") {}

LSTMOutput LSTM::forward(const Tensor& input, const LSTMState& state) {
  TAPEGRAD_CHECK(state.h.defined() == state.c.defined(),
                 "LSTM: give both h_0 and c_0 or neither (got only {})", state.h.defined() ? "h_0" : "c_0");
  const Run r = run(input, {state.h, state.c}, lstm_step);
  return {r.output, {r.final_states[0], r.final_states[1]}};
}

GRU::GRU(const RNNOptions& options) : RecurrentLayers(options, kGRUGates, "GRU") {}

GRUOutput GRU::forward(const Tensor& input, const Tensor& h_0) {
  const Run r = run(input, {h_0}, gru_step);
  return {r.output, r.final_states[0]};
}

}  // namespace tapegrad::nn
