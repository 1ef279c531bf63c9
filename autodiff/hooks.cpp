// Gradient hooks on tensors (register_hook, retain_grad, register_post_accumulate_grad_hook): a
// non-leaf's hooks live on its grad_fn and a leaf's on the leaf, and the engine runs them on the
// gradient arriving at that node before the node uses it.
#include <atomic>

#include <tapegrad/autodiff/node.h>
#include <tapegrad/autodiff/ops.h>

namespace tapegrad {

std::uint64_t GradHooks::next_id() {
  static std::atomic<std::uint64_t> counter{0};
  return ++counter;
}

Tensor GradHooks::run(Tensor grad, const char* node_name) const {
  if (!on_grad.empty()) {
    const auto hooks = on_grad;  // a hook may remove itself or register others
    for (const auto& [id, hook] : hooks) {
      Tensor replacement = hook(grad);
      if (!replacement.defined()) continue;
      TAPEGRAD_CHECK(replacement.shape() == grad.shape() && replacement.dtype() == grad.dtype() &&
                         replacement.device() == grad.device(),
                     "hook on the gradient of {}: returned a tensor of shape {}, dtype {} on {} for a gradient of shape "
                     "{}, dtype {} on {}; a hook must return a gradient like the one it got (or nothing)",
                     node_name, replacement.shape(), replacement.dtype(), replacement.device(), grad.shape(),
                     grad.dtype(), grad.device());
      grad = std::move(replacement);
    }
  }
  if (std::shared_ptr<TensorImpl> tensor = retained.lock()) accumulate_grad(*tensor, grad);
  return grad;
}

GradHooks& Node::hooks_or_create() {
  if (!hooks_) hooks_ = std::make_shared<GradHooks>();
  return *hooks_;
}

void HookHandle::remove() {
  std::shared_ptr<GradHooks> hooks = hooks_.lock();
  if (!hooks) return;
  std::erase_if(hooks->on_grad, [&](const auto& entry) { return entry.first == id_; });
  std::erase_if(hooks->post_accumulate, [&](const auto& entry) { return entry.first == id_; });
}

namespace {

// The hooks of `tensor`: its grad_fn's, or a leaf's own (then shared with its live accumulator).
std::shared_ptr<GradHooks> hooks_of(const Tensor& tensor) {
  TensorImpl& impl = tensor.impl();
  if (impl.grad_fn) {
    impl.grad_fn->hooks_or_create();
    return impl.grad_fn->hooks();
  }
  AutogradMeta& meta = impl.autograd_meta();
  if (!meta.hooks) {
    meta.hooks = std::make_shared<GradHooks>();
    if (meta.grad_accumulator) meta.grad_accumulator->set_hooks(meta.hooks);
  }
  return meta.hooks;
}

}  // namespace

HookHandle Tensor::add_grad_hook(GradHook hook) const {
  TAPEGRAD_CHECK(requires_grad(),
                 "register_hook: cannot register a hook on a tensor (shape {}) that does not require grad; call "
                 "requires_grad_() on it (or on the leaves it is computed from) first",
                 shape());
  std::shared_ptr<GradHooks> hooks = hooks_of(*this);
  const std::uint64_t id = GradHooks::next_id();
  hooks->on_grad.emplace_back(id, std::move(hook));
  return HookHandle(hooks, id);
}

void Tensor::retain_grad() const {
  TAPEGRAD_CHECK(requires_grad(), "retain_grad: the tensor (shape {}) does not require grad, so it gets no gradient",
                 shape());
  if (is_leaf()) return;  // leaves keep their gradient anyway
  grad_fn()->hooks_or_create().retained = impl_ptr();
}

bool Tensor::retains_grad() const {
  if (is_leaf()) return false;
  const std::shared_ptr<GradHooks>& hooks = grad_fn()->hooks();
  return hooks != nullptr && hooks->retained.lock() == impl_ptr();
}

HookHandle Tensor::register_post_accumulate_grad_hook(PostAccumulateGradHook hook) const {
  TAPEGRAD_CHECK(requires_grad() && is_leaf(),
                 "register_post_accumulate_grad_hook: only leaf tensors that require grad accumulate a .grad; this one "
                 "(shape {}) is {}",
                 shape(), requires_grad() ? "not a leaf" : "not requiring grad");
  std::shared_ptr<GradHooks> hooks = hooks_of(*this);
  const std::uint64_t id = GradHooks::next_id();
  hooks->post_accumulate.emplace_back(id, std::move(hook));
  return HookHandle(hooks, id);
}

}  // namespace tapegrad
