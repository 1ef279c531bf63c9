// The in-place updates (add_, mul_, clamp_, copy_, ...), as PyTorch's. Without anything to record
// (grad mode off, as in optimizer steps, or no tensor requiring grad) they run one kernel on the
// tensor's memory. Otherwise they are recorded: the new value is computed by the out-of-place op
// from the current one (an operand its backward reads is cloned first, so the write below does
// not invalidate it), written into the tensor's memory, and that op's node becomes the tensor's
// history. Nodes that saved the tensor before the write then report the change at backward. An
// update through a view also rewrites its base's history, as PyTorch's CopySlices does.
#include <tapegrad/autodiff/ops/common.h>

namespace tapegrad {

using kernels::BinaryOp;
using kernels::UnaryOp;
using kernels::UnaryScalars;
using namespace detail;

namespace {

// Where a view's elements lie in its base's memory, the base being contiguous.
struct ViewGeometry {
  Shape base_shape;
  Shape shape;
  Strides strides;
  std::int64_t offset = 0;  // from the base's first element
};

Tensor strided_embed(const Tensor& part, const ViewGeometry& geometry);

// The elements of `whole` (shaped like the base) that the view sees. Linear, so its gradient is
// strided_embed and the other way round, to any order.
Tensor strided_extract(const Tensor& whole, const ViewGeometry& geometry) {
  const Tensor dense = whole.contiguous();
  Tensor out = make_view(dense, geometry.shape, geometry.strides, dense.storage_offset() + geometry.offset);
  if (should_record(dense))
    record("as_strided", out, {dense}, [geometry](BackwardContext& ctx) {
      ctx.set_input_grad(0, strided_embed(ctx.grad(), geometry));
    });
  return out;
}

// Zeros shaped like the base, with `part` where the view sees.
Tensor strided_embed(const Tensor& part, const ViewGeometry& geometry) {
  Tensor out = zeros(geometry.base_shape, options_of(part));
  backend_of(part).copy(part.desc(), make_view(out, geometry.shape, geometry.strides, geometry.offset).desc());
  if (should_record(part))
    record("as_strided_scatter", out, {part}, [geometry](BackwardContext& ctx) {
      ctx.set_input_grad(0, strided_extract(ctx.grad(), geometry));
    });
  return out;
}

// How an update is done: `recorded` false runs the kernel alone; `base` is defined when a
// recorded update writes through a view, whose base's history it must rewrite.
struct InPlaceUpdate {
  bool recorded = false;
  Tensor base;
};

bool overlaps_itself(const Tensor& t) {
  for (int d = 0; d < t.dim(); ++d)
    if (t.strides()[d] == 0 && t.shape()[d] > 1) return true;
  return false;
}

// Whether an in-place update of `self` must be recorded; refuses the ones PyTorch refuses.
InPlaceUpdate plan_inplace(const char* op, const Tensor& self, std::initializer_list<const Tensor*> operands) {
  check_defined(op, self);
  if (!GradMode::is_enabled()) return {};
  bool operand_requires_grad = false;
  for (const Tensor* operand : operands) operand_requires_grad |= operand->defined() && operand->requires_grad();
  if (!self.requires_grad() && !operand_requires_grad) return {};
  if (self.requires_grad() && self.is_leaf())
    throw AutogradError(fmt::format(
        "{}: a leaf Variable that requires grad is being used in an in-place operation (shape {}). Update it under "
        "NoGradGuard (as optimizers do), or update a clone() of it",
        op, self.shape()));
  std::shared_ptr<TensorImpl> base_impl = self.impl().view_base.lock();
  if (!base_impl) return {true, Tensor()};
  Tensor base(std::move(base_impl));
  if (base.requires_grad() && base.is_leaf())
    throw AutogradError(fmt::format(
        "{}: a view of a leaf Variable that requires grad is being used in an in-place operation (view of shape {} "
        "into a leaf of shape {}). Update the leaf under NoGradGuard, or compute the new value out of place",
        op, self.shape(), base.shape()));
  TAPEGRAD_CHECK(!overlaps_itself(self),
                 "{}: unsupported operation: more than one element of the written-to tensor (shape {}, strides {}) refers "
                 "to a single memory location; clone() it before the in-place operation",
                 op, self.shape(), self.strides());
  TAPEGRAD_CHECK(base.is_contiguous(),
                 "{}: an in-place update through a view is recorded only for a contiguous base, and this view's base "
                 "(shape {}, strides {}) is not; compute the new value out of place, or clone() the base first",
                 op, base.shape(), base.strides());
  return {true, std::move(base)};
}

// Makes `node` self's history after a recorded write; a retained gradient follows the tensor to
// its new value, as in PyTorch.
void set_inplace_history(Tensor& self, std::shared_ptr<Node> node) {
  TensorImpl& impl = self.impl();
  if (impl.grad_fn && impl.grad_fn->hooks()) {
    std::weak_ptr<TensorImpl>& retained = impl.grad_fn->hooks()->retained;
    if (retained.lock() == self.impl_ptr()) {
      retained.reset();
      node->hooks_or_create().retained = self.impl_ptr();
    }
  }
  impl.requires_grad = true;
  std::shared_ptr<Node> previous = std::exchange(impl.grad_fn, std::move(node));
  release_node(std::move(previous));
}

// The history of a view: its elements of the base's current value.
void set_view_history(Tensor& view, const Tensor& base, const ViewGeometry& geometry) {
  Tensor new_view = view.detach();
  record("as_strided", new_view, {base}, [geometry](BackwardContext& ctx) {
    ctx.set_input_grad(0, strided_embed(ctx.grad(), geometry));
  });
  set_inplace_history(view, new_view.grad_fn());
  view.impl().view_version = view.version();
}

ViewGeometry geometry_of(const Tensor& view, const Tensor& base) {
  return {base.shape(), view.shape(), view.strides(), view.storage_offset() - base.storage_offset()};
}

// After a recorded write through `view` whose new value is `updated`: the base's value is now its
// old one with the view's elements replaced by `updated` (PyTorch's CopySlices), and the view's
// is those elements of the new base.
void rebase_view(Tensor& view, Tensor& base, const Tensor& updated) {
  const ViewGeometry geometry = geometry_of(view, base);
  Tensor new_base = base.detach();
  record("copy_slices", new_base, {base, updated}, [geometry](BackwardContext& ctx) {
    const Tensor inside = strided_extract(ctx.grad(), geometry);
    if (ctx.needs_input_grad(0)) ctx.set_input_grad(0, sub(ctx.grad(), strided_embed(inside, geometry)));
    if (ctx.needs_input_grad(1)) ctx.set_input_grad(1, inside);
  });
  set_inplace_history(base, new_base.grad_fn());
  set_view_history(view, base, geometry);
}

// Gives self the history of `updated`, its new value (already in self's memory).
void set_updated_history(const InPlaceUpdate& update, Tensor& self, const Tensor& updated) {
  if (update.base.defined()) {
    Tensor base = update.base;
    rebase_view(self, base, updated);
  } else {
    set_inplace_history(self, updated.grad_fn());
  }
}

// The recorded form of an update: `updated` is self's new value computed out of place.
void write_recorded(const char* op, const InPlaceUpdate& update, Tensor& self, const Tensor& updated) {
  TAPEGRAD_CHECK(updated.shape() == self.shape(), "{}: the result of shape {} does not fit the updated tensor's shape {}",
                 op, updated.shape(), self.shape());
  backend_of(self).copy(updated.desc(), self.desc());
  self.impl().storage->bump_version();
  set_updated_history(update, self, updated);
}

// As torch: an update computes in the promoted type and must be able to store it in self.
void check_castable(const char* name, DType result, const Tensor& self) {
  TAPEGRAD_CHECK(can_cast(result, self.dtype()), "{}: result type {} can't be cast to the desired output type {}; use "
                 "the out-of-place op, or convert the operand with .to({})", name, result, self.dtype(), self.dtype());
}

// Checks the operand of a binary update and returns the type the update computes in.
DType check_operand(const char* name, const Tensor& self, const Tensor& other, bool true_division) {
  check_defined(name, other);
  check_same_device(name, self, other);
  const DType result = true_division ? as_floating(result_type(self, other)) : result_type(self, other);
  check_castable(name, result, self);
  TAPEGRAD_CHECK(other.shape() == self.shape() || broadcast_shapes(self.shape(), other.shape(), name) == self.shape(),
                 "{}: the operand of shape {} cannot be broadcast to the updated tensor's shape {}", name, other.shape(),
                 self.shape());
  return result;
}

// `out_of_place(self)` computes the recorded form's new value.
template <class OutOfPlace>
void inplace_binary(BinaryOp op, const char* name, Tensor& self, const Tensor& other, double alpha,
                    OutOfPlace&& out_of_place, bool true_division = false) {
  const InPlaceUpdate update = plan_inplace(name, self, {&other});
  const DType result = check_operand(name, self, other, true_division);
  if (update.recorded) return write_recorded(name, update, self, out_of_place(self));
  const Tensor operand = other.to(result);
  if (result == self.dtype()) {
    backend_of(self).binary(op, self.desc(), broadcast_desc(operand, self.shape()), self.desc(), alpha);
  } else {  // computed in the wider type, then rounded into self once
    const Tensor wide = self.to(result);
    backend_of(self).binary(op, wide.desc(), broadcast_desc(operand, self.shape()), wide.desc(), alpha);
    backend_of(self).copy(wide.desc(), self.desc());
  }
  self.impl().storage->bump_version();
}

template <class OutOfPlace>
void inplace_unary(UnaryOp op, const char* name, Tensor& self, const UnaryScalars& scalars,
                   OutOfPlace&& out_of_place) {
  const InPlaceUpdate update = plan_inplace(name, self, {});
  if (update.recorded) return write_recorded(name, update, self, out_of_place(self));
  backend_of(self).unary(op, self.desc(), self.desc(), scalars);
  self.impl().storage->bump_version();
}

// A scalar update (a double acts as a Python number): whenever the promoted type can be stored in
// self it is self's own dtype, so the kernel runs on self as it is.
template <class OutOfPlace>
void inplace_scalar(UnaryOp op, const char* name, Tensor& self, double scalar, OutOfPlace&& out_of_place,
                    bool true_division = false) {
  check_defined(name, self);
  const DType result = true_division ? as_floating(result_type(self, scalar)) : result_type(self, scalar);
  check_castable(name, result, self);
  inplace_unary(op, name, self, UnaryScalars::operand(true_division ? 1.0 / scalar : scalar),
                std::forward<OutOfPlace>(out_of_place));
}

// An update whose new value does not depend on the old one (fill_, copy_): the kernel writes
// self's memory, and when recorded, self's history becomes a node giving the old value no
// gradient and `operand` (if any) the incoming gradient reduced to its shape, dtype and device.
template <class Write>
void overwrite(const char* name, Tensor& self, const Tensor* operand, Write&& write) {
  const InPlaceUpdate update = operand != nullptr ? plan_inplace(name, self, {operand}) : plan_inplace(name, self, {});
  write();
  self.impl().storage->bump_version();
  if (!update.recorded) return;
  Tensor updated = self.detach();
  if (operand == nullptr) {
    record(name, updated, {self}, [](BackwardContext&) {});
  } else {
    record(name, updated, {self, *operand},
           [shape = operand->shape(), dtype = operand->dtype(), device = operand->device()](BackwardContext& ctx) {
             if (ctx.needs_input_grad(1)) ctx.set_input_grad(1, sum_to(ctx.grad(), shape).to(dtype).to(device));
           });
  }
  set_updated_history(update, self, updated);
}

}  // namespace

namespace detail {

void refresh_view_history(const Tensor& view) {
  TensorImpl& impl = view.impl();
  const std::shared_ptr<TensorImpl> base_impl = impl.view_base.lock();
  // Without a live base whose history can be read through the view, the history stays as it is.
  if (!base_impl || !base_impl->requires_grad || overlaps_itself(view)) return;
  const Tensor base(base_impl);
  if (!base.is_contiguous()) return;
  Tensor handle = view;
  set_view_history(handle, base, geometry_of(view, base));
}

}  // namespace detail

Tensor& Tensor::zero_() { return fill_(0.0); }

Tensor& Tensor::fill_(double value) {
  overwrite("fill_", *this, nullptr, [&] { backend_of(*this).fill(desc(), value); });
  return *this;
}

Tensor& Tensor::copy_(const Tensor& source) {
  check_defined("copy_", *this);
  check_defined("copy_", source);
  TAPEGRAD_CHECK(broadcast_shapes(shape(), source.shape(), "copy_") == shape(),
                 "copy_: source of shape {} cannot be broadcast to the destination's shape {}", source.shape(), shape());
  overwrite("copy_", *this, &source, [&] {
    NoGradGuard no_grad;  // moving the source to this device is part of the write, recorded as copy_
    const Tensor local = source.device() == device() ? source : source.to(device());
    backend_of(*this).copy(broadcast_desc(local, shape()), desc());
  });
  return *this;
}

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  inplace_binary(BinaryOp::Add, "add_", *this, other, alpha, [&](const Tensor& self) { return tapegrad::add(self, other, alpha); });
  return *this;
}
Tensor& Tensor::add_(double value) {
  inplace_scalar(UnaryOp::AddScalar, "add_", *this, value, [&](const Tensor& self) { return tapegrad::add(self, value); });
  return *this;
}
Tensor& Tensor::sub_(const Tensor& other, double alpha) {
  inplace_binary(BinaryOp::Sub, "sub_", *this, other, alpha, [&](const Tensor& self) { return tapegrad::sub(self, other, alpha); });
  return *this;
}
// mul, div, relu and clamp save their input for backward: the recorded forms give them a clone
// of the old value, which the write leaves intact.
Tensor& Tensor::mul_(const Tensor& other) {
  inplace_binary(BinaryOp::Mul, "mul_", *this, other, 1, [&](const Tensor& self) { return tapegrad::mul(self.clone(), other); });
  return *this;
}
Tensor& Tensor::mul_(double value) {
  inplace_scalar(UnaryOp::MulScalar, "mul_", *this, value, [&](const Tensor& self) { return tapegrad::mul(self, value); });
  return *this;
}
Tensor& Tensor::div_(const Tensor& other) {
  inplace_binary(
      BinaryOp::Div, "div_", *this, other, 1, [&](const Tensor& self) { return tapegrad::div(self.clone(), other); },
      /*true_division=*/true);
  return *this;
}
Tensor& Tensor::div_(double value) {
  inplace_scalar(
      UnaryOp::MulScalar, "div_", *this, value, [&](const Tensor& self) { return tapegrad::mul(self, 1.0 / value); },
      /*true_division=*/true);
  return *this;
}
Tensor& Tensor::clamp_(double low, double high) {
  inplace_unary(UnaryOp::Clamp, "clamp_", *this, UnaryScalars::bounds(low, high),
                [&](const Tensor& self) { return tapegrad::clamp(self.clone(), low, high); });
  return *this;
}
Tensor& Tensor::relu_() {
  inplace_unary(UnaryOp::Relu, "relu_", *this, {}, [](const Tensor& self) { return tapegrad::relu(self.clone()); });
  return *this;
}

Tensor& Tensor::masked_fill_(const Tensor& mask, double value) {
  const InPlaceUpdate update = plan_inplace("masked_fill_", *this, {});
  const Tensor filled = tapegrad::masked_fill(*this, mask, value);  // refuses a mask that does not broadcast
  if (update.recorded) {
    write_recorded("masked_fill_", update, *this, filled);
  } else {
    backend_of(*this).copy(filled.desc(), desc());
    impl().storage->bump_version();
  }
  return *this;
}

namespace {

void inplace_addcmul(const char* name, Tensor& self, const Tensor& a, const Tensor& b, double value,
                     kernels::AddedTerm term) {
  const InPlaceUpdate update = plan_inplace(name, self, {&a, &b});
  check_compatible(name, self, a);
  check_compatible(name, self, b);
  if (term == kernels::AddedTerm::Quotient) check_floating(name, self);
  const bool same_shapes = a.shape() == self.shape() && b.shape() == self.shape();
  TAPEGRAD_CHECK(same_shapes ||
                     broadcast_shapes(self.shape(), broadcast_shapes(a.shape(), b.shape(), name), name) == self.shape(),
                 "{}: operands of shapes {} and {} cannot be broadcast to the updated tensor's shape {}", name, a.shape(),
                 b.shape(), self.shape());
  if (update.recorded) {
    const Tensor term_value = term == kernels::AddedTerm::Product ? mul(a, b) : div(a, b);
    return write_recorded(name, update, self, add(self, term_value, value));
  }
  backend_of(self).addcmul(broadcast_desc(a, self.shape()), broadcast_desc(b, self.shape()), value, term,
                           self.desc());
  self.impl().storage->bump_version();
}

}  // namespace

Tensor& Tensor::addcmul_(const Tensor& a, const Tensor& b, double value) {
  inplace_addcmul("addcmul_", *this, a, b, value, kernels::AddedTerm::Product);
  return *this;
}
Tensor& Tensor::addcdiv_(const Tensor& a, const Tensor& b, double value) {
  inplace_addcmul("addcdiv_", *this, a, b, value, kernels::AddedTerm::Quotient);
  return *this;
}

}  // namespace tapegrad
