// Custom differentiable functions, as LibTorch's torch::autograd::Function: a struct with static
// forward and backward, called through Function<T>::apply. forward runs with grad mode off and
// keeps what backward needs in an AutogradContext; backward returns one gradient per forward
// argument. Written with differentiable ops, backward has second derivatives too.
//
//   struct Cube : tapegrad::autograd::Function<Cube> {
//     static Tensor forward(AutogradContext* ctx, const Tensor& x) {
//       ctx->save_for_backward({x});
//       return x * x * x;
//     }
//     static std::vector<Tensor> backward(AutogradContext* ctx, std::vector<Tensor> grad_outputs) {
//       const Tensor x = ctx->get_saved_variables()[0];
//       return {grad_outputs[0] * 3.0 * x * x};
//     }
//   };
//   Tensor y = Cube::apply(x);
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <tapegrad/autodiff/grad_mode.h>
#include <tapegrad/autodiff/node.h>
#include <tapegrad/autodiff/tensor.h>

namespace tapegrad::autograd {

// A value kept in AutogradContext::saved_data: the kinds of non-tensor arguments a backward
// usually needs (LibTorch keeps IValues there). Reading it as another kind is an error.
class SavedValue {
 public:
  SavedValue() = default;
  SavedValue(bool value) : value_(value) {}                                  // NOLINT: saved_data["flag"] = true
  SavedValue(int value) : value_(static_cast<std::int64_t>(value)) {}        // NOLINT
  SavedValue(std::int64_t value) : value_(value) {}                          // NOLINT
  SavedValue(double value) : value_(value) {}                                // NOLINT
  SavedValue(std::string value) : value_(std::move(value)) {}                // NOLINT
  SavedValue(const char* value) : value_(std::string(value)) {}              // NOLINT
  SavedValue(Tensor value) : value_(std::move(value)) {}                     // NOLINT
  SavedValue(std::vector<std::int64_t> value) : value_(std::move(value)) {}  // NOLINT
  SavedValue(std::vector<double> value) : value_(std::move(value)) {}        // NOLINT

  bool to_bool() const { return get<bool>("a bool"); }
  std::int64_t to_int() const { return get<std::int64_t>("an int"); }
  double to_double() const;  // an int reads as a double too
  const std::string& to_string() const { return get<std::string>("a string"); }
  const Tensor& to_tensor() const { return get<Tensor>("a tensor"); }
  const std::vector<std::int64_t>& to_int_list() const { return get<std::vector<std::int64_t>>("a list of ints"); }
  const std::vector<double>& to_double_list() const { return get<std::vector<double>>("a list of doubles"); }
  bool is_none() const { return std::holds_alternative<std::monostate>(value_); }

 private:
  using Value = std::variant<std::monostate, bool, std::int64_t, double, std::string, Tensor,
                             std::vector<std::int64_t>, std::vector<double>>;
  template <class T>
  const T& get(const char* wanted) const {
    if (const T* value = std::get_if<T>(&value_)) return *value;
    throw_wrong_kind(wanted);
  }
  [[noreturn]] void throw_wrong_kind(const char* wanted) const;
  Value value_;
};

namespace detail {
class CustomFunctionNode;
}

// What forward leaves for backward, as LibTorch's AutogradContext.
class AutogradContext {
 public:
  // Named values for backward (non-tensor arguments, shapes, flags); not version-checked.
  std::unordered_map<std::string, SavedValue> saved_data;

  // Tensors for backward (inputs, outputs or intermediates of forward). Modifying one in place
  // before backward makes get_saved_variables() fail, as in PyTorch.
  void save_for_backward(std::vector<Tensor> tensors);
  std::vector<Tensor> get_saved_variables() const;
  // These outputs get no gradient: they do not require grad, and backward sees zeros for them.
  void mark_non_differentiable(const std::vector<Tensor>& outputs);
  // With false, backward sees an undefined Tensor (instead of zeros) for an output that got no
  // gradient.
  void set_materialize_grads(bool materialize) { materialize_grads_ = materialize; }
  // Whether the i-th tensor argument of forward needs a gradient (tensor arguments counted alone).
  bool needs_input_grad(std::size_t i) const;

 private:
  friend class detail::CustomFunctionNode;
  std::vector<Tensor> to_save_;  // until forward returns and the outputs are known
  std::vector<SavedTensor> saved_;
  bool saved_released_ = false;
  std::vector<Tensor> non_differentiable_;
  bool materialize_grads_ = true;
  detail::CustomFunctionNode* node_ = nullptr;
  const BackwardContext* backward_ = nullptr;  // while backward runs
};

namespace detail {

using CustomBackward = std::vector<Tensor> (*)(AutogradContext*, std::vector<Tensor>);

// The tape node of one call of a custom function. A function with several outputs gives each
// differentiable output a small node that passes its gradient here, so backward sees them all.
class CustomFunctionNode final : public Node, public std::enable_shared_from_this<CustomFunctionNode> {
 public:
  CustomFunctionNode(const char* name, NodeEdges next, std::vector<bool> argument_is_tensor, CustomBackward backward);
  AutogradContext& context() { return context_; }
  void apply(BackwardContext& context) override;
  void release_saved() override;
  // Gives the outputs their history and keeps what forward saved. `recording` false: forward
  // ran without anything to record, and only the saved tensors are dropped.
  void finish_forward(std::vector<Tensor>& outputs, const std::vector<Tensor>& tensor_inputs, bool recording);
  void set_output_grad(std::size_t output, Tensor grad) { output_grads_[output] = std::move(grad); }

 private:
  struct OutputInfo {
    bool defined = false;
    Shape shape;
    TensorOptions options;
  };
  std::vector<Tensor> grads_for_backward(const Tensor& incoming);
  AutogradContext context_;
  std::vector<bool> argument_is_tensor_;
  CustomBackward backward_;
  std::vector<OutputInfo> outputs_;
  std::vector<Shape> input_shapes_;
  std::vector<Tensor> output_grads_;  // from the output nodes, for the next backward
};

const char* function_name(const std::type_info& type);

template <class Arg>
void collect_tensor(const Arg& arg, std::vector<Tensor>& tensors, std::vector<bool>& is_tensor) {
  if constexpr (std::is_same_v<std::decay_t<Arg>, Tensor>) {
    tensors.push_back(arg);
    is_tensor.push_back(true);
  } else {
    is_tensor.push_back(false);
  }
}

template <class T>
struct Outputs;
template <>
struct Outputs<Tensor> {
  static std::vector<Tensor> flatten(Tensor output) { return {std::move(output)}; }
  static Tensor rebuild(std::vector<Tensor>& outputs) { return std::move(outputs[0]); }
};
template <>
struct Outputs<std::vector<Tensor>> {
  static std::vector<Tensor> flatten(std::vector<Tensor> outputs) { return outputs; }
  static std::vector<Tensor> rebuild(std::vector<Tensor>& outputs) { return std::move(outputs); }
};
template <class... Ts>
struct Outputs<std::tuple<Ts...>> {
  static_assert((std::is_same_v<Ts, Tensor> && ...), "a custom function's forward may return a tuple of Tensors only");
  static std::vector<Tensor> flatten(std::tuple<Ts...> outputs) {
    return std::apply([](auto&&... each) { return std::vector<Tensor>{std::move(each)...}; }, std::move(outputs));
  }
  static std::tuple<Ts...> rebuild(std::vector<Tensor>& outputs) {
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return std::tuple<Ts...>(std::move(outputs[I])...);
    }(std::index_sequence_for<Ts...>());
  }
};

}  // namespace detail

// Derive as `struct MyOp : Function<MyOp>` and call MyOp::apply(args...). forward takes the
// context and the arguments (tensors and anything else) and returns a Tensor, a
// std::vector<Tensor> or a std::tuple of Tensors; backward takes one gradient per output and
// returns one per forward argument (an undefined Tensor for non-tensor arguments and for inputs
// that need none).
template <class T>
struct Function {
  template <class... Args>
  static auto apply(Args&&... args) {
    std::vector<Tensor> tensor_inputs;
    std::vector<bool> argument_is_tensor;
    (detail::collect_tensor(args, tensor_inputs, argument_is_tensor), ...);
    bool recording = false;
    for (const Tensor& input : tensor_inputs) recording |= input.defined() && input.requires_grad();
    recording &= GradMode::is_enabled();
    NodeEdges edges(tensor_inputs.size());
    if (recording)
      for (std::size_t i = 0; i < tensor_inputs.size(); ++i) edges[i] = edge_to(tensor_inputs[i]);
    static const char* const name = detail::function_name(typeid(T));
    auto node = std::make_shared<detail::CustomFunctionNode>(name, std::move(edges), std::move(argument_is_tensor),
                                                              &T::backward);
    using Result = decltype(T::forward(&node->context(), std::forward<Args>(args)...));
    std::vector<Tensor> outputs = [&] {
      NoGradGuard no_grad;
      return detail::Outputs<Result>::flatten(T::forward(&node->context(), std::forward<Args>(args)...));
    }();
    node->finish_forward(outputs, tensor_inputs, recording);
    return detail::Outputs<Result>::rebuild(outputs);
  }
};

}  // namespace tapegrad::autograd
