// Custom functions' tape side: the context's saved tensors (version-checked as every op's), the
// node that calls the user's backward, and the per-output nodes of functions with several outputs.
#include <tapegrad/autodiff/function.h>

#include <cxxabi.h>

#include <cstdlib>
#include <mutex>

#include <tapegrad/autodiff/ops.h>

namespace tapegrad::autograd {

double SavedValue::to_double() const {
  if (const auto* integer = std::get_if<std::int64_t>(&value_)) return static_cast<double>(*integer);
  return get<double>("a double");
}

void SavedValue::throw_wrong_kind(const char* wanted) const {
  static constexpr const char* kinds[] = {"nothing", "a bool", "an int", "a double", "a string", "a tensor",
                                          "a list of ints", "a list of doubles"};
  throw Error(fmt::format("saved_data: the value is {}, but {} was asked for", kinds[value_.index()], wanted));
}

void AutogradContext::save_for_backward(std::vector<Tensor> tensors) { to_save_ = std::move(tensors); }

std::vector<Tensor> AutogradContext::get_saved_variables() const {
  if (saved_released_) throw_graph_released(node_->name());
  TAPEGRAD_CHECK(backward_ != nullptr, "get_saved_variables: the saved tensors are available in backward only");
  std::vector<Tensor> tensors;
  tensors.reserve(saved_.size());
  for (const SavedTensor& saved : saved_) tensors.push_back(backward_->unpack(saved));
  return tensors;
}

void AutogradContext::mark_non_differentiable(const std::vector<Tensor>& outputs) {
  non_differentiable_.insert(non_differentiable_.end(), outputs.begin(), outputs.end());
}

bool AutogradContext::needs_input_grad(std::size_t i) const {
  TAPEGRAD_CHECK(i < node_->num_inputs(), "needs_input_grad: index {} is out of range for a function with {} tensor "
                 "arguments", i, node_->num_inputs());
  return node_->next(i) != nullptr;
}

namespace detail {

namespace {

// Passes the gradient of output `index` of a several-output function to the function's node,
// and wakes that node with a token gradient: the engine carries one gradient per node.
class CustomFunctionOutput final : public Node {
 public:
  CustomFunctionOutput(const char* name, std::shared_ptr<Node> function, std::size_t index)
      : Node(name, edges_to(std::move(function))), index_(index) {}

  void apply(BackwardContext& context) override {
    static_cast<CustomFunctionNode&>(*next(0)).set_output_grad(index_, context.grad());
    context.set_input_grad(0, zeros(Shape{}));
  }

 private:
  static NodeEdges edges_to(std::shared_ptr<Node> function) {
    NodeEdges edges(1);
    edges[0] = std::move(function);
    return edges;
  }
  std::size_t index_;
};

bool contains(const std::vector<Tensor>& tensors, const Tensor& tensor) {
  for (const Tensor& each : tensors)
    if (each.is_same(tensor)) return true;
  return false;
}

}  // namespace

const char* function_name(const std::type_info& type) {
  int status = 0;
  char* demangled = abi::__cxa_demangle(type.name(), nullptr, nullptr, &status);
  // Called once per function type; the names live as long as the program.
  static std::mutex mutex;
  static std::vector<std::unique_ptr<std::string>> names;
  std::lock_guard lock(mutex);
  names.push_back(std::make_unique<std::string>(status == 0 ? demangled : type.name()));
  std::free(demangled);
  return names.back()->c_str();
}

CustomFunctionNode::CustomFunctionNode(const char* name, NodeEdges next, std::vector<bool> argument_is_tensor,
                                       CustomBackward backward)
    : Node(name, std::move(next)), argument_is_tensor_(std::move(argument_is_tensor)), backward_(backward) {
  context_.node_ = this;
}

void CustomFunctionNode::finish_forward(std::vector<Tensor>& outputs, const std::vector<Tensor>& tensor_inputs,
                                        bool recording) {
  AutogradContext& ctx = context_;
  if (!recording) {
    ctx.to_save_.clear();
    return;
  }
  if (autograd::is_anomaly_enabled()) tapegrad::detail::record_forward_call(shared_from_this(), outputs);
  for (const Tensor& input : tensor_inputs) input_shapes_.push_back(input.defined() ? input.shape() : Shape{});
  output_grads_.resize(outputs.size());
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    Tensor& output = outputs[i];
    outputs_.push_back(output.defined() ? OutputInfo{true, output.shape(), TensorOptions(output.dtype()).with_device(output.device())}
                                        : OutputInfo{});
    if (!output.defined() || !output.is_floating_point() || contains(ctx.non_differentiable_, output)) continue;
    // An input returned as it is gets a new handle on its memory: the input keeps its own history.
    if (contains(tensor_inputs, output)) output = output.detach();
    output.impl().requires_grad = true;
    if (outputs.size() == 1) {
      output.impl().grad_fn = shared_from_this();
    } else {
      output.impl().grad_fn = std::allocate_shared<CustomFunctionOutput>(
          kernels::PoolAllocator<CustomFunctionOutput>(), name(), shared_from_this(), i);
    }
  }
  for (const Tensor& tensor : ctx.to_save_) {
    if (!tensor.defined()) {
      ctx.saved_.emplace_back();
      continue;
    }
    const bool is_output = tensor.grad_fn() != nullptr && contains(outputs, tensor);
    ctx.saved_.push_back(is_output ? SavedTensor::output(tensor) : SavedTensor::input(tensor));
  }
  ctx.to_save_.clear();
  ctx.non_differentiable_.clear();
}

std::vector<Tensor> CustomFunctionNode::grads_for_backward(const Tensor& incoming) {
  std::vector<Tensor> grads;
  if (outputs_.size() == 1) {
    grads.push_back(incoming);
  } else {
    grads = std::exchange(output_grads_, std::vector<Tensor>(outputs_.size()));
  }
  if (context_.materialize_grads_)
    for (std::size_t i = 0; i < grads.size(); ++i)
      if (!grads[i].defined() && outputs_[i].defined)
        grads[i] = zeros(outputs_[i].shape, outputs_[i].options);
  return grads;
}

void CustomFunctionNode::apply(BackwardContext& context) {
  std::vector<Tensor> grads = grads_for_backward(context.grad());
  struct BackwardScope {
    AutogradContext& ctx;
    ~BackwardScope() { ctx.backward_ = nullptr; }
  } scope{context_};
  context_.backward_ = &context;
  std::vector<Tensor> result = backward_(&context_, std::move(grads));

  const std::size_t arguments = argument_is_tensor_.size();
  for (std::size_t i = arguments; i < result.size(); ++i)
    TAPEGRAD_CHECK(!result[i].defined(), "{}: backward returned {} gradients for {} forward arguments; the extra ones "
                   "must be undefined", name(), result.size(), arguments);
  TAPEGRAD_CHECK(result.size() >= arguments, "{}: backward returned {} gradients, expected one per forward argument "
                 "({}; an undefined Tensor for each non-tensor argument)", name(), result.size(), arguments);
  std::size_t input = 0;
  for (std::size_t i = 0; i < arguments; ++i) {
    Tensor& grad = result[i];
    if (!argument_is_tensor_[i]) {
      TAPEGRAD_CHECK(!grad.defined(), "{}: backward returned a gradient for argument {}, which is not a tensor; return "
                     "an undefined Tensor there", name(), i);
      continue;
    }
    if (grad.defined() && context.needs_input_grad(input)) {
      const Shape& shape = input_shapes_[input];
      if (grad.shape() != shape) {
        TAPEGRAD_CHECK(broadcast_shapes(shape, grad.shape(), name()) == grad.shape(),
                       "{}: backward returned a gradient of shape {} for argument {} of shape {}", name(), grad.shape(),
                       i, shape);
        grad = sum_to(grad, shape);
      }
      context.set_input_grad(input, std::move(grad));
    }
    ++input;
  }
}

void CustomFunctionNode::release_saved() {
  context_.saved_.clear();
  context_.saved_released_ = true;
}

}  // namespace detail

}  // namespace tapegrad::autograd
