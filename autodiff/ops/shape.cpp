// Shape ops. Views share storage and only change shape/strides/offset; each records a backward
// that maps the gradient back to the input's geometry.
#include <algorithm>
#include <numeric>

#include <tapegrad/autodiff/ops/common.h>

namespace tapegrad {

using namespace detail;

namespace {

// Resolves one -1 in `shape` against `numel`.
Shape infer_shape(Shape shape, std::int64_t numel, const char* op, const Shape& from) {
  int infer_at = -1;
  std::int64_t known = 1;
  for (int d = 0; d < shape.size(); ++d) {
    if (shape[d] == -1) {
      TAPEGRAD_CHECK(infer_at < 0, "{}: only one dimension can be -1, got {}", op, shape);
      infer_at = d;
    } else {
      TAPEGRAD_CHECK(shape[d] >= 0, "{}: invalid dimension {} in {}", op, shape[d], shape);
      known *= shape[d];
    }
  }
  if (infer_at >= 0) {
    TAPEGRAD_CHECK(known != 0 && numel % known == 0, "{}: shape {} is invalid for a tensor of shape {} ({} elements)", op,
                   shape, from, numel);
    shape[infer_at] = numel / known;
  }
  TAPEGRAD_CHECK(numel_of(shape) == numel, "{}: shape {} is invalid for a tensor of shape {} ({} elements)", op, shape,
                 from, numel);
  return shape;
}

// Strides that let `new_shape` view memory laid out as (old_shape, old_strides), if any exist
// (the algorithm of PyTorch's computeStride: match chunks of dims that are contiguous together).
std::optional<Strides> view_strides(const Shape& old_shape, const Strides& old_strides, const Shape& new_shape) {
  Strides strides = Dims::filled(new_shape.size(), 1);
  if (numel_of(old_shape) == 0 || old_shape.empty()) return contiguous_strides(new_shape);
  int view_d = new_shape.size() - 1;
  std::int64_t chunk_base_stride = old_strides.empty() ? 1 : old_strides.back();
  std::int64_t tensor_numel = 1, view_numel = 1;
  for (int tensor_d = old_shape.size() - 1; tensor_d >= 0; --tensor_d) {
    tensor_numel *= old_shape[tensor_d];
    if (tensor_d == 0 || (old_shape[tensor_d - 1] != 1 &&
                          old_strides[tensor_d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
        strides[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (tensor_d > 0) {
        chunk_base_stride = old_strides[tensor_d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return strides;
}

// The result of a differentiable view op, which remembers the tensor that owns the memory (the
// base of `a` if `a` is a view itself) for recorded in-place updates (see ops/inplace.cpp).
Tensor view_of(const Tensor& a, const Shape& shape, const Strides& strides, std::int64_t offset) {
  Tensor out = make_view(a, shape, strides, offset);
  const std::weak_ptr<TensorImpl>& base_of_a = a.impl().view_base;
  out.impl().view_base = base_of_a.expired() ? std::weak_ptr<TensorImpl>(a.impl_ptr()) : base_of_a;
  out.impl().view_version = a.version();
  return out;
}

// A view of `a` with new geometry whose gradient is the incoming gradient reshaped back.
Tensor reshaping_view(const char* name, const Tensor& a, const Shape& shape, const Strides& strides) {
  Tensor out = view_of(a, shape, strides, a.storage_offset());
  if (should_record(a))
    record(name, out, {a}, [input_shape = a.shape()](BackwardContext& ctx) {
      ctx.set_input_grad(0, reshape(ctx.grad(), input_shape));
    });
  return out;
}

// Zeros of `shape` with `grad` written into the slice [start:end:step] along dim.
Tensor slice_backward(const Tensor& grad, const Shape& shape, int dim, std::int64_t start, std::int64_t end,
                      std::int64_t step) {
  Tensor out = zeros(shape, options_of(grad));
  {
    NoGradGuard no_grad;
    Tensor window = slice(out, dim, start, end, step);
    backend_of(out).copy(grad.desc(), window.desc());
  }
  if (should_record(grad))
    record("slice_backward", out, {grad}, [dim, start, end, step](BackwardContext& ctx) {
      ctx.set_input_grad(0, slice(ctx.grad(), dim, start, end, step));
    });
  return out;
}

}  // namespace

Tensor view(const Tensor& a, Shape shape) {
  check_defined("view", a);
  shape = infer_shape(shape, a.numel(), "view", a.shape());
  const std::optional<Strides> strides = view_strides(a.shape(), a.strides(), shape);
  TAPEGRAD_CHECK(strides.has_value(), "view: shape {} is incompatible with the strides {} of a tensor of shape {}; use "
                 "reshape(), which copies when it must", shape, a.strides(), a.shape());
  return reshaping_view("view", a, shape, *strides);
}

Tensor reshape(const Tensor& a, Shape shape) {
  check_defined("reshape", a);
  shape = infer_shape(shape, a.numel(), "reshape", a.shape());
  if (shape == a.shape()) return a;
  if (const std::optional<Strides> strides = view_strides(a.shape(), a.strides(), shape))
    return reshaping_view("reshape", a, shape, *strides);
  return view(clone(a), shape);
}

Tensor flatten(const Tensor& a, std::int64_t start_dim, std::int64_t end_dim) {
  check_defined("flatten", a);
  const int start = wrap_dim(start_dim, a.dim(), "flatten"), end = wrap_dim(end_dim, a.dim(), "flatten");
  TAPEGRAD_CHECK(start <= end, "flatten: start_dim {} comes after end_dim {}", start_dim, end_dim);
  if (a.dim() == 0) return reshape(a, {1});
  Shape shape;
  for (int d = 0; d < start; ++d) shape.push_back(a.shape()[d]);
  std::int64_t merged = 1;
  for (int d = start; d <= end; ++d) merged *= a.shape()[d];
  shape.push_back(merged);
  for (int d = end + 1; d < a.dim(); ++d) shape.push_back(a.shape()[d]);
  return reshape(a, shape);
}

Tensor squeeze(const Tensor& a) {
  check_defined("squeeze", a);
  Shape shape;
  Strides strides;
  for (int d = 0; d < a.dim(); ++d)
    if (a.shape()[d] != 1) {
      shape.push_back(a.shape()[d]);
      strides.push_back(a.strides()[d]);
    }
  return reshaping_view("squeeze", a, shape, strides);
}

Tensor squeeze(const Tensor& a, std::int64_t dim_arg) {
  check_defined("squeeze", a);
  const int dim = wrap_dim(dim_arg, a.dim(), "squeeze");  // a 0-dim tensor takes dim 0 or -1
  if (a.dim() == 0) return a;
  if (a.shape()[dim] != 1) return a;
  Shape shape = a.shape();
  Strides strides = a.strides();
  shape.erase(dim);
  strides.erase(dim);
  return reshaping_view("squeeze", a, shape, strides);
}

Tensor unsqueeze(const Tensor& a, std::int64_t dim_arg) {
  check_defined("unsqueeze", a);
  // The new dim may go before any existing one or after the last: a.dim() + 1 places.
  const std::int64_t places = a.dim() + 1;
  TAPEGRAD_CHECK(dim_arg >= -places && dim_arg < places,
                 "unsqueeze: dim {} is out of range for a tensor of {} dimensions (expected in [{}, {}])", dim_arg,
                 a.dim(), -places, places - 1);
  const int dim = static_cast<int>(dim_arg < 0 ? dim_arg + places : dim_arg);
  Shape shape = a.shape();
  Strides strides = a.strides();
  const std::int64_t stride = dim < a.dim() ? a.strides()[dim] * a.shape()[dim] : 1;
  shape.insert(dim, 1);
  strides.insert(dim, stride);
  return reshaping_view("unsqueeze", a, shape, strides);
}

Tensor permute(const Tensor& a, const Dims& dims) {
  check_defined("permute", a);
  TAPEGRAD_CHECK(dims.size() == a.dim(), "permute: got {} dims {} for a tensor of shape {}", dims.size(), dims, a.shape());
  Dims order, inverse = Dims::filled(a.dim(), -1);
  Shape shape;
  Strides strides;
  for (int i = 0; i < dims.size(); ++i) {
    const int d = wrap_dim(dims[i], a.dim(), "permute");
    TAPEGRAD_CHECK(inverse[d] == -1, "permute: dim {} appears twice in {}", d, dims);
    inverse[d] = i;
    shape.push_back(a.shape()[d]);
    strides.push_back(a.strides()[d]);
  }
  Tensor out = view_of(a, shape, strides, a.storage_offset());
  if (should_record(a))
    record("permute", out, {a}, [inverse](BackwardContext& ctx) { ctx.set_input_grad(0, permute(ctx.grad(), inverse)); });
  return out;
}

Tensor transpose(const Tensor& a, std::int64_t dim0, std::int64_t dim1) {
  check_defined("transpose", a);
  const int first = wrap_dim(dim0, a.dim(), "transpose"), second = wrap_dim(dim1, a.dim(), "transpose");
  if (a.dim() == 0) return a;  // dims 0 and -1 name its one position, as in PyTorch
  Dims order;
  for (int d = 0; d < a.dim(); ++d) order.push_back(d);
  std::swap(order[first], order[second]);
  return permute(a, order);
}

Tensor slice(const Tensor& a, std::int64_t dim_arg, std::int64_t start, std::int64_t end, std::int64_t step) {
  check_defined("slice", a);
  TAPEGRAD_CHECK(a.dim() > 0, "slice: cannot be applied to a 0-dim tensor; reshape it to [1] first");
  const int dim = wrap_dim(dim_arg, a.dim(), "slice");
  TAPEGRAD_CHECK(step > 0, "slice: step must be positive, got {}", step);
  const std::int64_t extent = a.shape()[dim];
  if (start < 0) start += extent;
  if (end < 0) end += extent;
  start = std::clamp<std::int64_t>(start, 0, extent);
  end = std::clamp<std::int64_t>(end, start, extent);
  Shape shape = a.shape();
  Strides strides = a.strides();
  shape[dim] = (end - start + step - 1) / step;
  strides[dim] *= step;
  Tensor out = view_of(a, shape, strides, a.storage_offset() + start * a.strides()[dim]);
  if (should_record(a))
    record("slice", out, {a}, [input_shape = a.shape(), dim, start, end, step](BackwardContext& ctx) {
      ctx.set_input_grad(0, slice_backward(ctx.grad(), input_shape, dim, start, end, step));
    });
  return out;
}

Tensor narrow(const Tensor& a, std::int64_t dim_arg, std::int64_t start, std::int64_t length) {
  check_defined("narrow", a);
  TAPEGRAD_CHECK(a.dim() > 0, "narrow: cannot be applied to a 0-dim tensor; reshape it to [1] first");
  const int dim = wrap_dim(dim_arg, a.dim(), "narrow");
  const std::int64_t extent = a.shape()[dim];
  const std::int64_t first = start < 0 ? start + extent : start;
  TAPEGRAD_CHECK(first >= 0 && length >= 0 && first + length <= extent,
                 "narrow: start {} with length {} (range [{}, {})) is out of bounds for dim {} of size {} (shape {}); "
                 "start must be in [{}, {}]", start, length, first, first + length, dim, extent, a.shape(), -extent,
                 extent);
  return slice(a, dim, first, first + length, 1);
}

std::vector<Tensor> split(const Tensor& a, const std::vector<std::int64_t>& sizes, std::int64_t dim_arg) {
  check_defined("split", a);
  TAPEGRAD_CHECK(a.dim() > 0, "split: cannot split a 0-dim tensor; reshape it to [1] first");
  const int dim = wrap_dim(dim_arg, a.dim(), "split");
  std::int64_t total = 0;
  for (std::int64_t size : sizes) {
    TAPEGRAD_CHECK(size >= 0, "split: sizes must be non-negative, got {}", fmt::join(sizes, ", "));
    total += size;
  }
  TAPEGRAD_CHECK(total == a.shape()[dim], "split: sizes [{}] add up to {}, but dim {} has size {} (shape {})",
                 fmt::join(sizes, ", "), total, dim, a.shape()[dim], a.shape());
  std::vector<Tensor> pieces;
  std::int64_t start = 0;
  for (std::int64_t size : sizes) {
    pieces.push_back(narrow(a, dim, start, size));
    start += size;
  }
  return pieces;
}

std::vector<Tensor> split(const Tensor& a, std::int64_t split_size, std::int64_t dim_arg) {
  check_defined("split", a);
  TAPEGRAD_CHECK(a.dim() > 0, "split: cannot split a 0-dim tensor; reshape it to [1] first");
  const int dim = wrap_dim(dim_arg, a.dim(), "split");
  const std::int64_t extent = a.shape()[dim];
  TAPEGRAD_CHECK(split_size > 0 || (split_size == 0 && extent == 0),
                 "split: split_size must be positive, got {} (dim {} has size {})", split_size, dim, extent);
  std::vector<std::int64_t> sizes;
  for (std::int64_t start = 0; start < extent; start += split_size) sizes.push_back(std::min(split_size, extent - start));
  if (sizes.empty()) sizes.push_back(0);  // torch returns the one empty piece
  return split(a, sizes, dim);
}

std::vector<Tensor> chunk(const Tensor& a, std::int64_t chunks, std::int64_t dim_arg) {
  check_defined("chunk", a);
  TAPEGRAD_CHECK(chunks > 0, "chunk: chunks must be positive, got {}", chunks);
  TAPEGRAD_CHECK(a.dim() > 0, "chunk: cannot chunk a 0-dim tensor; reshape it to [1] first");
  const int dim = wrap_dim(dim_arg, a.dim(), "chunk");
  const std::int64_t extent = a.shape()[dim];
  const std::int64_t piece = extent == 0 ? 0 : (extent + chunks - 1) / chunks;
  return split(a, piece, dim);
}

Tensor select(const Tensor& a, std::int64_t dim_arg, std::int64_t index) {
  check_defined("select", a);
  TAPEGRAD_CHECK(a.dim() > 0, "select: cannot be applied to a 0-dim tensor; reshape it to [1] first");
  const int dim = wrap_dim(dim_arg, a.dim(), "select");
  const std::int64_t extent = a.shape()[dim];
  TAPEGRAD_CHECK(index >= -extent && index < extent, "select: index {} is out of bounds for dim {} of size {}", index, dim,
                 extent);
  if (index < 0) index += extent;
  return squeeze(narrow(a, dim, index, 1), dim);
}

Tensor expand(const Tensor& a, const Shape& shape) {
  check_defined("expand", a);
  TAPEGRAD_CHECK(shape.size() >= a.dim(), "expand: cannot expand shape {} to fewer dims {}", a.shape(), shape);
  const int leading = shape.size() - a.dim();
  Shape out_shape = shape;
  Strides strides = Dims::filled(shape.size(), 0);
  for (int d = 0; d < shape.size(); ++d) {
    if (d < leading) {
      TAPEGRAD_CHECK(shape[d] >= 0, "expand: new leading dim {} must be non-negative, got {}", d, shape[d]);
      continue;
    }
    const std::int64_t size = a.shape()[d - leading];
    if (shape[d] == -1 || shape[d] == size) {
      out_shape[d] = size;
      strides[d] = a.strides()[d - leading];
    } else {
      TAPEGRAD_CHECK(size == 1, "expand: shape {} cannot be expanded to {} (dim {} is {}, not 1)", a.shape(), shape, d,
                     size);
    }
  }
  if (out_shape == a.shape()) return a;
  Tensor out = view_of(a, out_shape, strides, a.storage_offset());
  if (should_record(a))
    record("expand", out, {a}, [input_shape = a.shape()](BackwardContext& ctx) {
      ctx.set_input_grad(0, sum_to(ctx.grad(), input_shape));
    });
  return out;
}

Tensor clone(const Tensor& a) {
  check_defined("clone", a);
  Tensor out = empty(a.shape(), options_of(a));
  backend_of(a).copy(a.desc(), out.desc());
  if (should_record(a)) record("clone", out, {a}, [](BackwardContext& ctx) { ctx.set_input_grad(0, ctx.grad()); });
  return out;
}

Tensor contiguous(const Tensor& a) {
  check_defined("contiguous", a);
  return a.is_contiguous() ? a : clone(a);
}

Tensor to_dtype(const Tensor& a, DType dtype) {
  check_defined("to_dtype", a);
  if (a.dtype() == dtype) return a;
  Tensor out = empty(a.shape(), options_of(a).with_dtype(dtype));
  backend_of(a).copy(a.desc(), out.desc());
  if (is_floating(dtype) && should_record(a))
    record("to", out, {a}, [from = a.dtype()](BackwardContext& ctx) { ctx.set_input_grad(0, to_dtype(ctx.grad(), from)); });
  return out;
}

namespace {

Tensor copy_to_device(const Tensor& a, Device device) {
  const Tensor source = contiguous(a);
  Tensor out = empty(a.shape(), options_of(a).with_device(device));
  const std::size_t nbytes = static_cast<std::size_t>(a.numel()) * dtype_size(a.dtype());
  if (device.is_cpu()) {
    backend_of(source).copy_to_host(out.desc().data, source.desc().data, nbytes);
  } else if (source.device().is_cpu()) {
    backend_of(out).copy_from_host(out.desc().data, source.desc().data, nbytes);
  } else {  // between accelerators: through the host
    out = copy_to_device(copy_to_device(source.detach(), Device::cpu()), device);
  }
  if (should_record(a))
    record("to", out, {a}, [from = a.device()](BackwardContext& ctx) { ctx.set_input_grad(0, ctx.grad().to(from)); });
  return out;
}

}  // namespace

Tensor Tensor::to(Device device) const {
  check_defined("to", *this);
  if (device == this->device()) return *this;
  return copy_to_device(*this, device);
}

Tensor Tensor::reshape(Shape shape) const { return tapegrad::reshape(*this, shape); }
Tensor Tensor::view(Shape shape) const { return tapegrad::view(*this, shape); }
Tensor Tensor::flatten(std::int64_t start_dim, std::int64_t end_dim) const { return tapegrad::flatten(*this, start_dim, end_dim); }
Tensor Tensor::squeeze() const { return tapegrad::squeeze(*this); }
Tensor Tensor::squeeze(std::int64_t dim) const { return tapegrad::squeeze(*this, dim); }
Tensor Tensor::unsqueeze(std::int64_t dim) const { return tapegrad::unsqueeze(*this, dim); }
Tensor Tensor::transpose(std::int64_t dim0, std::int64_t dim1) const { return tapegrad::transpose(*this, dim0, dim1); }
Tensor Tensor::permute(Dims dims) const { return tapegrad::permute(*this, dims); }
Tensor Tensor::t() const {
  TAPEGRAD_CHECK(dim() <= 2, "t: expects a tensor of at most 2 dims, got shape {}; use transpose()", shape());
  return dim() < 2 ? *this : tapegrad::transpose(*this, 0, 1);
}
Tensor Tensor::narrow(std::int64_t dim, std::int64_t start, std::int64_t length) const {
  return tapegrad::narrow(*this, dim, start, length);
}
Tensor Tensor::slice(std::int64_t dim, std::int64_t start, std::int64_t end, std::int64_t step) const {
  return tapegrad::slice(*this, dim, start, end, step);
}
Tensor Tensor::select(std::int64_t dim, std::int64_t index) const { return tapegrad::select(*this, dim, index); }
Tensor Tensor::expand(Shape shape) const { return tapegrad::expand(*this, shape); }
Tensor Tensor::contiguous() const { return tapegrad::contiguous(*this); }
Tensor Tensor::clone() const { return tapegrad::clone(*this); }
Tensor Tensor::to(DType dtype) const { return tapegrad::to_dtype(*this, dtype); }

}  // namespace tapegrad
