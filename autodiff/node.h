// The tape's nodes. Each differentiable op that runs while recording leaves one Node: edges to
// the nodes of its inputs (an input's grad_fn, or a leaf's gradient accumulator), the tensors
// its backward needs (only those), and the backward itself. Every node has exactly one
// differentiable output, so the gradient flowing into it is a single tensor.
#pragma once

#include <array>
#include <cstdint>
#include <forward_list>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include <tapegrad/autodiff/anomaly_mode.h>
#include <tapegrad/autodiff/grad_mode.h>
#include <tapegrad/autodiff/tensor.h>
#include <tapegrad/kernels/small_alloc.h>

namespace tapegrad {

class Node;
class BackwardContext;

// The hooks on one gradient: a non-leaf's live on its grad_fn, a leaf's on the leaf (shared with
// its accumulator). Nodes without hooks hold a null pointer, so recording pays nothing for them.
struct GradHooks {
  std::vector<std::pair<std::uint64_t, GradHook>> on_grad;  // in registration order
  std::vector<std::pair<std::uint64_t, PostAccumulateGradHook>> post_accumulate;
  std::weak_ptr<TensorImpl> retained;  // the non-leaf whose .grad keeps this gradient (retain_grad)

  // The gradient after the hooks (each sees its predecessor's replacement); retains it last.
  Tensor run(Tensor grad, const char* node_name) const;
  static std::uint64_t next_id();
};

// Adds `grad` into `tensor`'s .grad: the first gradient is kept (a private copy unless recording,
// since optimizers update .grad in place), later ones are summed.
void accumulate_grad(TensorImpl& tensor, const Tensor& grad);

// A tensor kept for backward. It remembers the storage version it saw, so an in-place write
// after saving is reported instead of silently corrupting the gradient. An op's own output is
// kept without its grad_fn (that would be a reference cycle node -> output -> node) and
// reconnected to the node when a backward that records (create_graph) unpacks it; a leaf input
// is kept as an alias that reaches the leaf only through its (weak) gradient accumulator.
class SavedTensor {
 public:
  SavedTensor() = default;
  static SavedTensor input(const Tensor& tensor);
  static SavedTensor output(const Tensor& tensor) { return SavedTensor(tensor.detach(), tensor.version(), true); }

 private:
  friend class BackwardContext;
  SavedTensor(Tensor tensor, std::uint32_t version, bool is_output)
      : tensor_(std::move(tensor)), version_(version), is_output_(is_output) {}
  Tensor tensor_;
  std::uint32_t version_ = 0;
  bool is_output_ = false;
};

// Edges from a node to the nodes of its op's inputs. Nearly every op has one or two inputs, so
// those live inline and recording a node costs a single allocation.
class NodeEdges {
 public:
  NodeEdges() = default;
  explicit NodeEdges(std::size_t count) : count_(count) {
    if (count > kInline) overflow_.resize(count);
  }
  std::size_t size() const { return count_; }
  std::shared_ptr<Node>& operator[](std::size_t i) { return count_ > kInline ? overflow_[i] : inline_[i]; }
  const std::shared_ptr<Node>& operator[](std::size_t i) const { return count_ > kInline ? overflow_[i] : inline_[i]; }

 private:
  static constexpr std::size_t kInline = 2;
  std::array<std::shared_ptr<Node>, kInline> inline_;
  std::vector<std::shared_ptr<Node>> overflow_;
  std::size_t count_ = 0;
};

// Not enable_shared_from_this: its weak reference would cost every recorded op three more atomic
// reference-count updates (and the control block's fast release). The engine passes a running
// node's owner to its BackwardContext instead.
class Node {
 public:
  Node(const char* name, NodeEdges&& next) : name_(name), next_(std::move(next)) {}
  virtual ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  const char* name() const { return name_; }
  std::size_t num_inputs() const { return next_.size(); }
  // The node receiving the gradient of input i; null when that input needs no gradient.
  const std::shared_ptr<Node>& next(std::size_t i) const { return next_[i]; }

  // Computes the gradients of the op's inputs from the gradient of its output.
  virtual void apply(BackwardContext& context) = 0;
  // Drops the tensors saved for backward (after a backward without retain_graph).
  virtual void release_saved() {}
  virtual bool is_accumulator() const { return false; }

  // Hooks on the gradient flowing into this node; null (the common case) when there are none.
  const std::shared_ptr<GradHooks>& hooks() const { return hooks_; }
  GradHooks& hooks_or_create();
  void set_hooks(std::shared_ptr<GradHooks> hooks) { hooks_ = std::move(hooks); }

 private:
  friend class Engine;
  const char* name_;
  NodeEdges next_;
  std::shared_ptr<GradHooks> hooks_;
  // Engine bookkeeping, valid during one backward pass.
  Tensor pending_grad_;
  std::int64_t dependencies_ = 0;
  std::uint64_t visit_mark_ = 0;
};

// What a node's backward sees: the incoming gradient, which inputs need gradients, and where to
// put them.
class BackwardContext {
 public:
  // `node` is the owner of the node that runs.
  BackwardContext(const std::shared_ptr<Node>& node, const Tensor& grad_output, std::span<Tensor> grad_inputs)
      : node_(node), grad_output_(grad_output), grad_inputs_(grad_inputs) {}

  const Tensor& grad() const { return grad_output_; }
  bool needs_input_grad(std::size_t i) const { return node_->next(i) != nullptr; }
  void set_input_grad(std::size_t i, Tensor grad) { grad_inputs_[i] = std::move(grad); }
  // The saved tensor, refused when an in-place op has changed it since. Valid while the node runs:
  // ops read their saved tensors without taking a reference of their own.
  const Tensor& unpack(const SavedTensor& saved) const;

 private:
  const std::shared_ptr<Node>& node_;
  const Tensor& grad_output_;
  std::span<Tensor> grad_inputs_;
  // Saved outputs given this node as their history, for a recorded backward (create_graph);
  // a list, so that the references unpack returned stay valid as it grows.
  mutable std::forward_list<Tensor> reconnected_;
};

// A node whose backward is a closure; the closure owns the saved tensors, so releasing them is
// destroying it.
template <class Backward>
class FunctionNode final : public Node {
 public:
  template <class F>
  FunctionNode(const char* name, NodeEdges&& next, F&& backward)
      : Node(name, std::move(next)), backward_(std::in_place, std::forward<F>(backward)) {}
  void apply(BackwardContext& context) override {
    if (!backward_) throw_released();
    (*backward_)(context);
  }
  void release_saved() override { backward_.reset(); }

 private:
  [[noreturn]] void throw_released() const;
  std::optional<Backward> backward_;
};

[[noreturn]] void throw_graph_released(const char* op);

template <class Backward>
void FunctionNode<Backward>::throw_released() const {
  throw_graph_released(name());
}

// True when an op with these inputs must be recorded.
inline bool needs_recording(std::initializer_list<const Tensor*> inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}
template <class... Ts>
bool should_record(const Ts&... inputs) {
  return needs_recording({&inputs...});
}

namespace detail {
// gradient_edge() for a leaf, or for a view whose history may be stale.
std::shared_ptr<Node> leaf_or_view_edge(const Tensor& tensor);
}  // namespace detail

// The node that receives gradients for `tensor`: its grad_fn, or (for a leaf) its accumulator.
// Inline for the common case, an op's output that is no view: every recorded op asks per input.
inline std::shared_ptr<Node> gradient_edge(const Tensor& tensor) {
  const TensorImpl& impl = tensor.impl();
  if (impl.grad_fn && impl.view_base.expired()) return impl.grad_fn;
  return detail::leaf_or_view_edge(tensor);
}

namespace detail {
// A view whose memory was written since its history was set (its base updated in place) gets a
// history from its base's current one, as PyTorch regenerates a view's grad_fn.
void refresh_view_history(const Tensor& view);
// Anomaly mode: remembers the call stack of the forward op that recorded `node` and whether its
// outputs held NaN or Inf, for autograd::first_non_finite_op and the message of a backward whose
// gradient there is not finite. Kept beside the node, so that nodes cost nothing more without it.
void record_forward_call(const std::shared_ptr<Node>& node, std::span<const Tensor> outputs);
}  // namespace detail

// Connects `output` to a new node with edges to the inputs and the given backward closure. Both
// arrive by reference and move once, into the node: every recorded op passes through here, and
// each by-value hop cost a move and the destruction of what it left behind.
template <class Backward>
void record_node(const char* name, Tensor& output, NodeEdges&& next, Backward&& backward) {
  using Recorded = FunctionNode<std::remove_cvref_t<Backward>>;
  output.impl().requires_grad = true;
  output.impl().grad_fn = std::allocate_shared<Recorded>(kernels::PoolAllocator<Recorded>(), name, std::move(next),
                                                         std::forward<Backward>(backward));
  if (autograd::is_anomaly_enabled()) [[unlikely]]
    detail::record_forward_call(output.impl().grad_fn, std::span<const Tensor>(&output, 1));
}

inline std::shared_ptr<Node> edge_to(const Tensor& input) {
  return input.defined() && input.requires_grad() ? gradient_edge(input) : nullptr;
}

template <class Backward>
void record(const char* name, Tensor& output, std::span<const Tensor> inputs, Backward backward) {
  NodeEdges next(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) next[i] = edge_to(inputs[i]);
  record_node(name, output, std::move(next), std::move(backward));
}
// The common form, `record("mul", out, {a, b}, ...)`: inputs by reference, no handle copies.
template <class Backward>
void record(const char* name, Tensor& output, std::initializer_list<std::reference_wrapper<const Tensor>> inputs,
            Backward backward) {
  NodeEdges next(inputs.size());
  std::size_t i = 0;
  for (const Tensor& input : inputs) next[i++] = edge_to(input);
  record_node(name, output, std::move(next), std::move(backward));
}

namespace detail {
void release_last_reference(std::shared_ptr<Node>&& node);
}  // namespace detail

// Releases a node reference without recursing: destroying the last reference to a chain of a
// million nodes must not overflow the stack. Inline up to that case: most references dropped
// (a tensor's grad_fn while the graph lives, an undefined one) destroy nothing.
inline void release_node(std::shared_ptr<Node>&& node) {
  if (!node) return;
  if (node.use_count() > 1) {
    node.reset();
    return;
  }
  detail::release_last_reference(std::move(node));
}

}  // namespace tapegrad
