// Node lifetime (iterative release), saved-tensor unpacking, and leaves' gradient accumulators.
#include <tapegrad/autodiff/node.h>

#include <tapegrad/autodiff/ops.h>

namespace tapegrad {

void detail::release_last_reference(std::shared_ptr<Node>&& node) {
  thread_local std::vector<std::shared_ptr<Node>> pending;
  thread_local bool draining = false;
  if (draining) {  // an outer call is already unwinding the chain: queue it there
    pending.push_back(std::move(node));
    return;
  }
  draining = true;
  node.reset();  // may queue this node's inputs onto `pending`
  while (!pending.empty()) {
    std::shared_ptr<Node> next = std::move(pending.back());
    pending.pop_back();
    next.reset();  // may push this node's inputs onto `pending`
  }
  draining = false;
}

Node::~Node() {
  for (std::size_t i = 0; i < next_.size(); ++i) release_node(std::move(next_[i]));
}

void throw_graph_released(const char* op) {
  throw AutogradError(fmt::format(
      "{}: trying to backward through the graph a second time, or to use tensors saved for backward after they "
      "were freed. Pass retain_graph=true to the first backward()/grad() if you need to backward twice",
      op));
}

namespace {

bool describe_same_memory(const TensorImpl& a, const TensorImpl& b) {
  return a.storage.get() == b.storage.get() && a.offset == b.offset && a.dtype == b.dtype && a.shape == b.shape &&
         a.strides == b.strides;
}

}  // namespace

SavedTensor SavedTensor::input(const Tensor& tensor) {
  if (!tensor.is_leaf() || !tensor.requires_grad()) return SavedTensor(tensor, tensor.version(), false);
  // A leaf is kept as an alias that reaches the leaf only through its accumulator, which holds it
  // weakly. A strong reference would close the cycle leaf -> .grad -> grad_fn -> this node -> leaf
  // as soon as a create_graph backward stores a gradient that depends on this node. The leaf
  // holding its alias closes none: the alias leads back to the leaf only through that weak link.
  // set_data drops the alias; the comparison keeps any other change of the leaf's memory from
  // reaching a backward through a stale one.
  TensorImpl& leaf = tensor.impl();
  std::shared_ptr<TensorImpl>& saved_alias = leaf.autograd_meta().saved_alias;
  if (!saved_alias || !describe_same_memory(*saved_alias, leaf)) {
    Tensor alias = tensor.detach();
    alias.impl().requires_grad = true;
    alias.impl().grad_fn = gradient_edge(tensor);
    saved_alias = alias.impl_ptr();
  }
  return SavedTensor(Tensor(saved_alias), tensor.version(), false);
}

const Tensor& BackwardContext::unpack(const SavedTensor& saved) const {
  const Tensor& tensor = saved.tensor_;
  if (tensor.version() != saved.version_)
    throw AutogradError(fmt::format(
        "{}: one of the variables needed for gradient computation has been modified by an inplace operation: "
        "[{} {}] is at version {}; expected version {} instead. Clone it before modifying it, or modify it before "
        "the op uses it",
        node_->name(), tensor.dtype(), tensor.shape(), tensor.version(), saved.version_));
  if (!saved.is_output_ || !GradMode::is_enabled()) return tensor;
  // Recording backward (create_graph): the op's output must lead back to this node.
  Tensor& reconnected = reconnected_.emplace_front(tensor.detach());
  reconnected.impl().requires_grad = true;
  reconnected.impl().grad_fn = node_;
  return reconnected;
}

namespace {

// The sink of a leaf's gradient. Holds the leaf weakly: a leaf the user has dropped needs no
// gradient, and a strong reference would close the cycle leaf -> grad -> grad_fn -> here -> leaf.
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(std::weak_ptr<TensorImpl> leaf) : Node("AccumulateGrad", NodeEdges()), leaf_(std::move(leaf)) {}
  bool is_accumulator() const override { return true; }

  void apply(BackwardContext& context) override {
    std::shared_ptr<TensorImpl> leaf = leaf_.lock();
    if (!leaf) return;
    const Tensor& grad = context.grad();
    TAPEGRAD_CHECK(grad.shape() == leaf->shape && grad.dtype() == leaf->dtype,
                   "backward: gradient of shape {} and dtype {} does not match its leaf of shape {} and dtype {}",
                   grad.shape(), grad.dtype(), leaf->shape, leaf->dtype);
    accumulate_grad(*leaf, grad);
    if (hooks() == nullptr || hooks()->post_accumulate.empty()) return;
    const Tensor handle(std::move(leaf));
    // A copy of the list: a hook may remove itself or register others.
    const auto post_accumulate = hooks()->post_accumulate;
    for (const auto& [id, hook] : post_accumulate) hook(handle);
  }

 private:
  std::weak_ptr<TensorImpl> leaf_;
};

// A gradient may be a broadcast view or shared with the graph; .grad must own its memory
// because optimizers update it in place.
Tensor owned_copy(const Tensor& grad) {
  const bool unshared = grad.impl_ptr().use_count() == 1 && grad.impl().storage->use_count() == 1;
  if (unshared && grad.is_contiguous() && grad.storage_offset() == 0 && !grad.requires_grad()) return grad;
  return grad.detach().clone();
}

}  // namespace

void accumulate_grad(TensorImpl& tensor, const Tensor& grad) {
  Tensor& sum = tensor.autograd_meta().grad;
  if (!sum.defined()) {
    sum = GradMode::is_enabled() ? grad : owned_copy(grad);
  } else if (GradMode::is_enabled()) {
    sum = add(sum, grad);
  } else {
    sum.add_(grad);
  }
}

std::shared_ptr<Node> detail::leaf_or_view_edge(const Tensor& tensor) {
  TensorImpl& impl = tensor.impl();
  if (impl.grad_fn) {
    if (!impl.view_base.expired() && impl.view_version != impl.storage->version()) [[unlikely]]
      detail::refresh_view_history(tensor);
    return impl.grad_fn;
  }
  AutogradMeta& meta = impl.autograd_meta();
  if (!meta.grad_accumulator) {
    meta.grad_accumulator =
        std::allocate_shared<AccumulateGrad>(kernels::PoolAllocator<AccumulateGrad>(), tensor.impl_ptr());
    meta.grad_accumulator->set_hooks(meta.hooks);
  }
  return meta.grad_accumulator;
}

}  // namespace tapegrad
