// Tensor handle basics: metadata, raw access, leaves and gradients, fresh buffers and views.
#include <tapegrad/autodiff/tensor.h>

#include <cstring>

#include <tapegrad/autodiff/grad_mode.h>
#include <tapegrad/autodiff/node.h>
#include <tapegrad/kernels/small_alloc.h>

namespace tapegrad {

namespace {
thread_local bool grad_mode_enabled = true;
}  // namespace

bool GradMode::is_enabled() { return grad_mode_enabled; }
void GradMode::set_enabled(bool enabled) { grad_mode_enabled = enabled; }

TensorImpl::~TensorImpl() { release_node(std::move(grad_fn)); }

AutogradMeta& TensorImpl::autograd_meta() {
  if (autograd == nullptr) autograd = std::make_unique<AutogradMeta>();
  return *autograd;
}

void Tensor::throw_undefined() {
  fail("operation on an undefined Tensor (default-constructed, or a gradient that was never computed); check "
       "defined() first");
}

std::int64_t Tensor::size(std::int64_t dim) const {
  TAPEGRAD_CHECK(this->dim() > 0, "size: dimension {} was asked of a 0-dim tensor, which has none", dim);
  return shape()[wrap_dim(dim, this->dim(), "size")];
}

bool Tensor::is_contiguous() const {
  const TensorImpl& t = impl();
  std::int64_t expected = 1;
  for (int d = t.shape.size() - 1; d >= 0; --d) {
    if (t.shape[d] == 1) continue;
    if (t.strides[d] != expected) return false;
    expected *= t.shape[d];
  }
  return true;
}

template <class T>
T* Tensor::data_ptr() const {
  TAPEGRAD_CHECK(dtype() == dtype_of<T>, "data_ptr: the tensor holds {}, but {} was requested", dtype(),
                 dtype_of<T>);
  TAPEGRAD_CHECK(device().is_cpu(), "data_ptr: the tensor lives on {}; call .cpu() first", device());
  return static_cast<T*>(desc().data);
}
template float* Tensor::data_ptr<float>() const;
template double* Tensor::data_ptr<double>() const;
template std::int64_t* Tensor::data_ptr<std::int64_t>() const;
template std::uint8_t* Tensor::data_ptr<std::uint8_t>() const;
template bool* Tensor::data_ptr<bool>() const;

double Tensor::item() const {
  TAPEGRAD_CHECK(numel() == 1, "item: expected a tensor with one element, got shape {}", shape());
  const Tensor host = cpu();
  return dispatch_storage_dtype(dtype(), [&](auto zero) {
    return static_cast<double>(*static_cast<const decltype(zero)*>(host.desc().data));
  });
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  const Tensor host = cpu().to(dtype_of<T>).contiguous();
  const T* data = host.data_ptr<T>();
  return std::vector<T>(data, data + host.numel());
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<std::int64_t> Tensor::to_vector<std::int64_t>() const;
template std::vector<std::uint8_t> Tensor::to_vector<std::uint8_t>() const;

Tensor& Tensor::requires_grad_(bool requires_grad) {
  TAPEGRAD_CHECK(!requires_grad || is_floating_point(),
                 "requires_grad_: only floating-point tensors can require gradients, this one is {}", dtype());
  TAPEGRAD_CHECK(is_leaf() || requires_grad,
                 "requires_grad_(false) on a non-leaf tensor; use detach() to cut it from the graph");
  impl().requires_grad = requires_grad;
  return *this;
}

Tensor Tensor::grad() const {
  const TensorImpl& t = impl();
  return t.autograd ? t.autograd->grad : Tensor();
}

void Tensor::set_grad(const Tensor& grad) const {
  TensorImpl& t = impl();
  if (!grad.defined()) {
    if (t.autograd) t.autograd->grad = Tensor();
    return;
  }
  TAPEGRAD_CHECK(grad.shape() == t.shape && grad.dtype() == t.dtype && grad.device() == device(),
                 "set_grad: gradient of shape {}, dtype {} on {} does not match the tensor's shape {}, dtype {} on {}",
                 grad.shape(), grad.dtype(), grad.device(), t.shape, t.dtype, device());
  t.autograd_meta().grad = grad;
}

void Tensor::set_data(const Tensor& data) const {
  TAPEGRAD_CHECK(data.defined(), "set_data: got an undefined tensor");
  TAPEGRAD_CHECK(is_leaf(), "set_data: only leaves can take new data (this tensor of shape {} was produced by {})", shape(),
                 grad_fn()->name());
  TensorImpl& t = impl();
  const TensorImpl& source = data.impl();
  t.storage = source.storage;
  t.shape = source.shape;
  t.strides = source.strides;
  t.offset = source.offset;
  t.dtype = source.dtype;
  if (t.autograd == nullptr) return;
  AutogradMeta& meta = *t.autograd;
  meta.saved_alias.reset();  // it keeps the old memory alive; the next op that saves this leaf makes one anew
  const Tensor& grad = meta.grad;
  if (grad.defined() && (grad.shape() != t.shape || grad.dtype() != t.dtype || grad.device() != device()))
    meta.grad = Tensor();  // a gradient for the old data no longer fits
}

Tensor Tensor::detach() const { return make_view(*this, shape(), strides(), storage_offset()); }

Tensor empty(const Shape& shape, TensorOptions options) {
  auto impl = std::allocate_shared<TensorImpl>(kernels::PoolAllocator<TensorImpl>());
  impl->shape = shape;
  impl->strides.resize(shape.size());
  std::int64_t numel = 1, stride = 1;
  for (int d = shape.size() - 1; d >= 0; --d) {  // contiguous strides and the element count in one pass
    TAPEGRAD_CHECK(shape[d] >= 0, "empty: negative dimension {} in shape {}", shape[d], shape);
    impl->strides[d] = stride;
    const bool overflow = __builtin_mul_overflow(stride, std::max<std::int64_t>(shape[d], 1), &stride) ||
                          __builtin_mul_overflow(numel, shape[d], &numel);
    TAPEGRAD_CHECK(!overflow, "empty: shape {} has more elements than a tensor can index", shape);
  }
  std::size_t nbytes = 0;
  TAPEGRAD_CHECK(!__builtin_mul_overflow(static_cast<std::size_t>(numel), dtype_size(options.dtype), &nbytes),
                 "out of memory: a tensor of shape {} and dtype {} needs {} x {} bytes, more than memory can "
                 "address; reduce the batch size or the tensor's dimensions", shape, options.dtype, numel,
                 dtype_size(options.dtype));
  impl->storage = kernels::Storage::create(nbytes, options.device);
  impl->dtype = options.dtype;
  Tensor result(std::move(impl));
  if (options.requires_grad) result.requires_grad_(true);
  return result;
}

Tensor make_view(const Tensor& base, const Shape& shape, const Strides& strides, std::int64_t offset) {
  auto impl = std::allocate_shared<TensorImpl>(kernels::PoolAllocator<TensorImpl>());
  impl->storage = base.impl().storage;
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(std::move(impl));
}

}  // namespace tapegrad
