// Tensor: a cheap handle to a strided view of a Storage, plus the autodiff metadata that makes
// it part of the tape (requires_grad, the accumulated .grad of a leaf, and grad_fn — the node
// of the op that produced it). Copying a Tensor copies the handle, never the data.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <type_traits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <tapegrad/kernels/backend.h>
#include <tapegrad/kernels/storage.h>

namespace tapegrad {

class Node;
class Tensor;
class Generator;
struct GradHooks;
struct AutogradMeta;

// A gradient hook: sees the gradient computed for a tensor and may return a replacement (an
// undefined Tensor keeps the gradient as it is).
using GradHook = std::function<Tensor(const Tensor&)>;
// Runs on a leaf once its .grad has taken this backward's gradient.
using PostAccumulateGradHook = std::function<void(const Tensor&)>;

// Returned by the register_*hook methods; remove() unregisters the hook (the handle may outlive
// the tensor and its graph, removing then does nothing).
class HookHandle {
 public:
  HookHandle() = default;
  HookHandle(std::weak_ptr<GradHooks> hooks, std::uint64_t id) : hooks_(std::move(hooks)), id_(id) {}
  void remove();

 private:
  std::weak_ptr<GradHooks> hooks_;
  std::uint64_t id_ = 0;
};

struct TensorOptions {
  DType dtype = DType::Float32;
  bool requires_grad = false;
  // A word of its own: TensorOptions travels in two registers, and a Device spilled across both
  // halves had to be reloaded from two stores at once (a store-forwarding stall in every empty()).
  alignas(8) Device device = Device::cpu();

  TensorOptions() = default;
  TensorOptions(DType dtype) : dtype(dtype) {}     // NOLINT: `zeros({2}, kFloat64)` reads well
  TensorOptions(Device device) : device(device) {}  // NOLINT
  TensorOptions with_dtype(DType d) const { auto o = *this; o.dtype = d; return o; }
  TensorOptions with_device(Device d) const { auto o = *this; o.device = d; return o; }
  TensorOptions with_requires_grad(bool r = true) const { auto o = *this; o.requires_grad = r; return o; }
};

struct TensorImpl {
  kernels::StoragePtr storage;
  Shape shape;
  Strides strides;
  std::int64_t offset = 0;  // in elements
  DType dtype = DType::Float32;
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;  // the op that produced this tensor; null for leaves
  // The gradient state of leaves (and of non-leaves that retain their gradient), made on first use:
  // most tensors are outputs of ops, whose headers stay smaller for holding one null pointer.
  std::unique_ptr<AutogradMeta> autograd;
  // The tensor whose memory a differentiable view op (select, narrow, view, ...) looked into, so an
  // in-place update of the view can rewrite the base's history. Weak: a view keeps no graph alive.
  std::weak_ptr<TensorImpl> view_base;
  std::uint32_t view_version = 0;  // the memory's version when the view's history was last set

  // Provided, not defaulted: a defaulted one would let allocate_shared value-initialize, zeroing
  // all of the shape's and strides' unused slots on every op before the members are set.
  TensorImpl() noexcept {}  // NOLINT(modernize-use-equals-default)
  TensorImpl(const TensorImpl&) = delete;
  // Element [0, ..., 0] of this view.
  void* data() const {
    return static_cast<char*>(storage->data()) + offset * static_cast<std::int64_t>(dtype_size(dtype));
  }
  ~TensorImpl();  // releases grad_fn without recursing down long chains

  AutogradMeta& autograd_meta();  // this tensor's gradient state, made if it has none yet
};

// Result of max/min along a dim.
struct ValuesIndices;

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}
  Tensor(const Tensor&) = default;
  Tensor(Tensor&&) noexcept = default;
  ~Tensor() = default;
  // Assigning to a named Tensor rebinds the handle; assigning to a temporary (`x[0] = y`,
  // `x.narrow(0, 1, 2) = 0.5`) writes into the memory it views, as in LibTorch.
  Tensor& operator=(const Tensor&) & = default;
  Tensor& operator=(Tensor&&) & noexcept = default;
  Tensor& operator=(const Tensor& source) && { return copy_(source); }
  Tensor& operator=(double value) && { return fill_(value); }

  // Metadata.
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Strides& strides() const { return impl().strides; }
  std::int64_t size(std::int64_t dim) const;
  int dim() const { return impl().shape.size(); }
  std::int64_t numel() const { return numel_of(impl().shape); }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device(); }
  std::int64_t storage_offset() const { return impl().offset; }
  bool is_contiguous() const;
  bool is_floating_point() const { return is_floating(dtype()); }
  TensorImpl& impl() const {
    if (impl_ == nullptr) [[unlikely]]
      throw_undefined();
    return *impl_;
  }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }
  // The kernel view of this tensor: every op builds two or three per call, so it stays inline.
  kernels::TensorDesc desc() const {
    const TensorImpl& t = impl();
    return {t.data(), t.shape, t.strides, t.dtype};
  }

  // Raw access (CPU tensors). data_ptr points at element [0, ..., 0] of this view.
  template <class T> T* data_ptr() const;
  double item() const;
  template <class T> T item() const { return static_cast<T>(item()); }
  template <class T> std::vector<T> to_vector() const;

  // Autodiff.
  bool requires_grad() const { return impl().requires_grad; }
  Tensor& requires_grad_(bool requires_grad = true);
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  const std::shared_ptr<Node>& grad_fn() const { return impl().grad_fn; }
  Tensor grad() const;  // undefined until a backward pass reaches this leaf
  void set_grad(const Tensor& grad) const;
  void backward(const Tensor& gradient = {}, bool retain_graph = false, bool create_graph = false) const;
  Tensor detach() const;
  // Points this leaf at `data`'s storage and geometry, keeping its identity and autodiff flags:
  // how a module moves its parameters to another device or dtype without invalidating handles.
  void set_data(const Tensor& data) const;
  std::uint32_t version() const { return impl().storage->version(); }

  // Hooks, as PyTorch's. register_hook's hook runs when the gradient w.r.t. this tensor has been
  // computed, before it is used (accumulated into a leaf's .grad, or passed on to the inputs), and
  // may return a replacement: Tensor(const Tensor&), or void(const Tensor&) to only observe.
  template <class Hook>
  HookHandle register_hook(Hook&& hook) const;
  // Keeps the gradient of this non-leaf in its grad() after backward (leaves always keep theirs).
  void retain_grad() const;
  bool retains_grad() const;
  // Runs `hook(leaf)` during backward right after this leaf's .grad has taken the pass's gradient.
  HookHandle register_post_accumulate_grad_hook(PostAccumulateGradHook hook) const;

  // Views and copies (see ops.h for the free-function forms and their gradients).
  Tensor reshape(Shape shape) const;
  Tensor view(Shape shape) const;
  Tensor flatten(std::int64_t start_dim = 0, std::int64_t end_dim = -1) const;
  Tensor squeeze() const;
  Tensor squeeze(std::int64_t dim) const;
  Tensor unsqueeze(std::int64_t dim) const;
  Tensor transpose(std::int64_t dim0, std::int64_t dim1) const;
  Tensor permute(Dims dims) const;
  Tensor t() const;
  Tensor narrow(std::int64_t dim, std::int64_t start, std::int64_t length) const;
  Tensor slice(std::int64_t dim, std::int64_t start, std::int64_t end, std::int64_t step = 1) const;
  Tensor select(std::int64_t dim, std::int64_t index) const;
  Tensor operator[](std::int64_t index) const { return select(0, index); }
  Tensor expand(Shape shape) const;
  Tensor contiguous() const;
  Tensor clone() const;
  Tensor to(DType dtype) const;
  Tensor to(Device device) const;
  Tensor cpu() const { return to(Device::cpu()); }
  Tensor index_select(std::int64_t dim, const Tensor& index) const;
  Tensor gather(std::int64_t dim, const Tensor& index) const;

  // Reductions.
  Tensor sum() const;
  Tensor sum(Dims dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(Dims dims, bool keepdim = false) const;
  Tensor max() const;
  ValuesIndices max(std::int64_t dim, bool keepdim = false) const;
  Tensor min() const;
  ValuesIndices min(std::int64_t dim, bool keepdim = false) const;
  Tensor argmax() const;
  Tensor argmax(std::int64_t dim, bool keepdim = false) const;

  // Elementwise.
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor abs() const;
  Tensor pow(double exponent) const;
  Tensor pow(const Tensor& exponent) const;
  Tensor relu() const;
  Tensor sigmoid() const;
  Tensor tanh() const;
  Tensor matmul(const Tensor& other) const;

  // In-place updates, as PyTorch's: recorded when grad mode is on and this tensor or an operand
  // requires grad (refused then on a leaf requiring grad, and on a view), plain kernels otherwise.
  Tensor& zero_();
  Tensor& fill_(double value);
  Tensor& copy_(const Tensor& source);
  Tensor& add_(const Tensor& other, double alpha = 1);
  Tensor& add_(double value);
  Tensor& sub_(const Tensor& other, double alpha = 1);
  Tensor& mul_(const Tensor& other);
  Tensor& mul_(double value);
  Tensor& div_(const Tensor& other);
  Tensor& div_(double value);
  Tensor& addcmul_(const Tensor& a, const Tensor& b, double value = 1);
  Tensor& addcdiv_(const Tensor& a, const Tensor& b, double value = 1);
  Tensor& clamp_(double low, double high);
  Tensor& relu_();
  Tensor& masked_fill_(const Tensor& mask, double value);
  Tensor& operator+=(const Tensor& other) { return add_(other); }
  Tensor& operator+=(double value) { return add_(value); }
  Tensor& operator-=(const Tensor& other) { return sub_(other); }
  Tensor& operator-=(double value) { return add_(-value); }
  Tensor& operator*=(const Tensor& other) { return mul_(other); }
  Tensor& operator*=(double value) { return mul_(value); }
  Tensor& operator/=(const Tensor& other) { return div_(other); }
  Tensor& operator/=(double value) { return div_(value); }

  std::string str() const;

 private:
  [[noreturn]] static void throw_undefined();
  HookHandle add_grad_hook(GradHook hook) const;
  std::shared_ptr<TensorImpl> impl_;
};

struct ValuesIndices {
  Tensor values;
  Tensor indices;
};

template <class Hook>
HookHandle Tensor::register_hook(Hook&& hook) const {
  if constexpr (std::is_void_v<std::invoke_result_t<Hook&, const Tensor&>>) {
    return add_grad_hook([observe = std::forward<Hook>(hook)](const Tensor& grad) mutable {
      observe(grad);
      return Tensor();
    });
  } else {
    return add_grad_hook(GradHook(std::forward<Hook>(hook)));
  }
}

struct AutogradMeta {
  Tensor grad;  // a leaf's accumulated gradient (or a retained non-leaf's); undefined until a backward
  // A leaf's gradient sink, made when an op first records the leaf and kept with it: it holds the
  // leaf weakly, so no cycle forms, and every step of a training loop finds it instead of making one.
  std::shared_ptr<Node> grad_accumulator;
  // The alias of a leaf that nodes save in its place (see SavedTensor::input), kept while it still
  // describes the leaf's memory, so the ops of a step share one instead of making their own.
  std::shared_ptr<TensorImpl> saved_alias;
  std::shared_ptr<GradHooks> hooks;  // a leaf's hooks, shared with its accumulator; null when none
};

// A fresh contiguous tensor with uninitialized contents: the output buffer of every op.
Tensor empty(const Shape& shape, TensorOptions options = {});
// A view sharing `base`'s storage with new geometry (no autodiff metadata).
Tensor make_view(const Tensor& base, const Shape& shape, const Strides& strides, std::int64_t offset);

}  // namespace tapegrad
