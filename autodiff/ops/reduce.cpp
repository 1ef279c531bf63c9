// Reductions: sum/mean over dims, max/min with indices, logsumexp, softmax, log_softmax, cumsum.
#include <algorithm>
#include <cmath>
#include <limits>

#include <tapegrad/autodiff/ops/common.h>

namespace tapegrad {

using namespace detail;

namespace {

// Sorted, deduplicated, wrapped dims; an empty list means every dim.
Dims normalize_dims(const Dims& dims, int ndim, const char* op) {
  Dims result;
  if (ndim == 0) {  // a 0-dim tensor accepts dim 0 or -1 and has nothing to reduce
    for (auto d : dims) wrap_dim(d, ndim, op);
    return result;
  }
  if (dims.empty()) {
    for (int d = 0; d < ndim; ++d) result.push_back(d);
    return result;
  }
  for (auto d : dims) result.push_back(wrap_dim(d, ndim, op));
  std::sort(result.begin(), result.end());
  TAPEGRAD_CHECK(std::adjacent_find(result.begin(), result.end()) == result.end(), "{}: dim listed twice in {}", op,
                 dims);
  return result;
}

Shape kept_shape(const Shape& shape, const Dims& dims) {
  Shape kept = shape;
  for (auto d : dims) kept[static_cast<int>(d)] = 1;
  return kept;
}

Shape dropped_shape(const Shape& shape, const Dims& dims) {
  Shape dropped;
  for (int d = 0; d < shape.size(); ++d)
    if (std::find(dims.begin(), dims.end(), d) == dims.end()) dropped.push_back(shape[d]);
  return dropped;
}

}  // namespace

Tensor sum(const Tensor& a, const Dims& dims, bool keepdim) {
  check_defined("sum", a);
  // bool and uint8 count into int64, as torch's sum: their own dtype would overflow.
  if (a.dtype() == kBool || a.dtype() == kUInt8) return sum(a.to(kInt64), dims, keepdim);
  const Dims reduced = normalize_dims(dims, a.dim(), "sum");
  const Shape keep = kept_shape(a.shape(), reduced);
  Tensor out = empty(keep, options_of(a));
  kernels::TensorDesc accumulate_into = out.desc();
  accumulate_into.shape = a.shape();
  for (auto d : reduced) accumulate_into.strides[static_cast<int>(d)] = 0;
  backend_of(a).reduce_sum(a.desc(), accumulate_into);
  if (!keepdim) out = make_view(out, dropped_shape(a.shape(), reduced), contiguous_strides(dropped_shape(a.shape(), reduced)), 0);
  if (should_record(a))
    record("sum", out, {a}, [input_shape = a.shape(), keep](BackwardContext& ctx) {
      ctx.set_input_grad(0, expand(reshape(ctx.grad(), keep), input_shape));
    });
  return out;
}

Tensor sum(const Tensor& a) { return sum(a, {}, false); }

Tensor mean(const Tensor& a, const Dims& dims, bool keepdim) {
  check_floating("mean", a);
  const Dims reduced = normalize_dims(dims, a.dim(), "mean");
  std::int64_t count = 1;
  for (auto d : reduced) count *= a.shape()[static_cast<int>(d)];
  return mul(sum(a, reduced, keepdim), 1.0 / static_cast<double>(count));
}

Tensor mean(const Tensor& a) { return mean(a, {}, false); }

Tensor any(const Tensor& a) {
  check_defined("any", a);
  return gt(sum(ne(a, 0.0)), 0.0);
}

Tensor all(const Tensor& a) {
  check_defined("all", a);
  return eq(sum(logical_not(a)), 0.0);
}

namespace {

// Two passes (the mean, then the squared deviations from it), as torch does, rather than
// E[x^2] - E[x]^2, which cancels catastrophically when the mean is large.
Tensor variance(const char* name, const Tensor& a, const Dims& dims, double correction, bool keepdim) {
  check_floating(name, a);
  const Dims reduced = normalize_dims(dims, a.dim(), name);
  TAPEGRAD_CHECK(correction >= 0, "{}: correction must be non-negative, got {}", name, correction);
  std::int64_t count = 1;
  for (auto d : reduced) count *= a.shape()[static_cast<int>(d)];
  const Tensor deviation = sub(a, mean(a, reduced, true));
  // No more samples than the correction: torch divides by zero here (inf or nan), and so do we.
  const double divisor = std::max(0.0, static_cast<double>(count) - correction);
  return div(sum(mul(deviation, deviation), reduced, keepdim), divisor);
}

}  // namespace

Tensor var(const Tensor& a, const Dims& dims, double correction, bool keepdim) {
  return variance("var", a, dims, correction, keepdim);
}

Tensor std(const Tensor& a, const Dims& dims, double correction, bool keepdim) {
  return sqrt(variance("std", a, dims, correction, keepdim));
}

Tensor sum_to(const Tensor& a, const Shape& shape) {
  check_defined("sum_to", a);
  if (a.shape() == shape) return a;
  const int leading = a.dim() - shape.size();
  TAPEGRAD_CHECK(leading >= 0, "sum_to: cannot sum shape {} to the larger shape {}", a.shape(), shape);
  Dims dims;
  for (int d = 0; d < a.dim(); ++d) {
    if (d < leading) {
      dims.push_back(d);
      continue;
    }
    const std::int64_t target = shape[d - leading];
    TAPEGRAD_CHECK(target == a.shape()[d] || target == 1, "sum_to: shape {} is not a broadcast of {}", a.shape(), shape);
    if (target == 1 && a.shape()[d] != 1) dims.push_back(d);
  }
  Tensor summed = dims.empty() ? a : sum(a, dims, true);
  return reshape(summed, shape);
}

namespace {

ValuesIndices max_or_min(const Tensor& a, std::int64_t dim_arg, bool keepdim, bool take_min) {
  const char* name = take_min ? "min" : "max";
  check_defined(name, a);
  const int dim = wrap_dim(dim_arg, a.dim(), name);
  const Tensor input = at_least_1d(a);
  TAPEGRAD_CHECK(input.shape()[dim] > 0, "{}: cannot reduce over dim {} of size 0 (shape {})", name, dim, a.shape());
  Shape keep = input.shape();
  keep[dim] = 1;
  Tensor values = empty(keep, options_of(a));
  Tensor indices = empty(keep, TensorOptions(kInt64).with_device(a.device()));
  backend_of(a).reduce_extreme(input.desc(), dim, take_min ? kernels::Extreme::Min : kernels::Extreme::Max,
                               values.desc(), indices.desc());
  if (!keepdim || a.dim() == 0) {
    Shape dropped = input.shape();
    dropped.erase(dim);
    values = make_view(values, dropped, contiguous_strides(dropped), 0);
    indices = make_view(indices, dropped, contiguous_strides(dropped), 0);
  }
  if (should_record(a))
    record(name, values, {a}, [index = indices, keep, input_shape = a.shape(), dim](BackwardContext& ctx) {
      const Tensor grad = reshape(ctx.grad(), keep);
      const Tensor routed = scatter_add_into_zeros(grad, keep.size() == input_shape.size() ? input_shape : Shape{1}, dim,
                                                   reshape(index, keep));
      ctx.set_input_grad(0, reshape(routed, input_shape));
    });
  return {values, indices};
}

Tensor max_or_min_all(const Tensor& a, bool take_min) {
  const char* name = take_min ? "min" : "max";
  check_defined(name, a);
  TAPEGRAD_CHECK(a.numel() > 0, "{}: the tensor is empty (shape {}); there is no {} to take", name, a.shape(), name);
  return reshape(max_or_min(reshape(a, {-1}), 0, false, take_min).values, {});
}

Tensor arg_extreme(const Tensor& a, std::int64_t dim, bool keepdim, bool take_min) {
  NoGradGuard no_grad;
  return max_or_min(a, dim, keepdim, take_min).indices;
}

}  // namespace

Tensor max(const Tensor& a) { return max_or_min_all(a, false); }
Tensor min(const Tensor& a) { return max_or_min_all(a, true); }
ValuesIndices max(const Tensor& a, std::int64_t dim, bool keepdim) { return max_or_min(a, dim, keepdim, false); }
ValuesIndices min(const Tensor& a, std::int64_t dim, bool keepdim) { return max_or_min(a, dim, keepdim, true); }
Tensor argmax(const Tensor& a, std::int64_t dim, bool keepdim) { return arg_extreme(a, dim, keepdim, false); }
Tensor argmin(const Tensor& a, std::int64_t dim, bool keepdim) { return arg_extreme(a, dim, keepdim, true); }
Tensor argmax(const Tensor& a) {
  check_defined("argmax", a);
  return arg_extreme(reshape(a, {-1}), 0, false, false);
}
Tensor argmin(const Tensor& a) {
  check_defined("argmin", a);
  return arg_extreme(reshape(a, {-1}), 0, false, true);
}

Tensor logsumexp(const Tensor& a, const Dims& dims, bool keepdim) {
  check_floating("logsumexp", a);
  const Dims reduced = normalize_dims(dims, a.dim(), "logsumexp");
  // Shift by the (constant) maximum so exp never overflows; an infinite maximum is left
  // unshifted so that all -inf gives -inf and +inf gives +inf.
  Tensor shift = a.detach();
  for (auto d : reduced) shift = max(shift, d, true).values;
  shift = where(eq(abs(shift), std::numeric_limits<double>::infinity()), zeros_like(shift), shift);
  Tensor result = add(log(sum(exp(sub(a, shift)), reduced, true)), shift);
  return keepdim ? result : reshape(result, dropped_shape(a.shape(), reduced));
}

namespace {

Tensor softmax_forward(const Tensor& a, std::int64_t dim_arg, bool log_softmax_output) {
  const char* name = log_softmax_output ? "log_softmax" : "softmax";
  check_floating(name, a);
  const Tensor input = at_least_1d(a);
  const int dim = wrap_dim(dim_arg, a.dim(), name);
  Tensor out = empty(input.shape(), options_of(a));
  const kernels::SoftmaxOutput output =
      log_softmax_output ? kernels::SoftmaxOutput::LogProbabilities : kernels::SoftmaxOutput::Probabilities;
  if (out.numel() > 0) backend_of(a).softmax(input.desc(), dim, output, out.desc());
  if (a.dim() == 0) out = reshape(out, {});
  return out;
}

}  // namespace

Tensor softmax(const Tensor& a, std::int64_t dim) {
  Tensor out = softmax_forward(a, dim, false);
  if (should_record(a))
    record("softmax", out, {a}, [so = SavedTensor::output(out), dim](BackwardContext& ctx) {
      const Tensor& y = ctx.unpack(so);  // y * (g - sum(g * y))
      const Tensor g = ctx.grad();
      ctx.set_input_grad(0, mul(y, sub(g, sum(mul(g, y), {dim}, true))));
    });
  return out;
}

Tensor log_softmax(const Tensor& a, std::int64_t dim) {
  Tensor out = softmax_forward(a, dim, true);
  if (should_record(a))
    record("log_softmax", out, {a}, [so = SavedTensor::output(out), dim](BackwardContext& ctx) {
      const Tensor g = ctx.grad();  // g - softmax * sum(g)
      ctx.set_input_grad(0, sub(g, mul(exp(ctx.unpack(so)), sum(g, {dim}, true))));
    });
  return out;
}

namespace {

// `a` in reverse order along dim. Reversed before and after a cumsum, the incoming gradient sums
// from each position to the end: cumsum's gradient, in differentiable ops so that it has one too.
Tensor reversed(const Tensor& a, int dim) {
  const std::int64_t extent = at_least_1d(a).shape()[dim];
  const Tensor last_to_first =
      arange(static_cast<double>(extent - 1), -1, -1, TensorOptions(kInt64).with_device(a.device()));
  return index_select(a, dim, last_to_first);
}

}  // namespace

Tensor cumsum(const Tensor& a, std::int64_t dim_arg) {
  check_defined("cumsum", a);
  const int dim = wrap_dim(dim_arg, a.dim(), "cumsum");
  const Tensor input = at_least_1d(a);
  Tensor out = empty(input.shape(), options_of(a));
  backend_of(a).cumsum(input.desc(), dim, out.desc());
  if (a.dim() == 0) out = reshape(out, {});
  if (should_record(a))
    record("cumsum", out, {a}, [dim](BackwardContext& ctx) {
      ctx.set_input_grad(0, reversed(cumsum(reversed(ctx.grad(), dim), dim), dim));
    });
  return out;
}

Tensor Tensor::sum() const { return tapegrad::sum(*this); }
Tensor Tensor::sum(Dims dims, bool keepdim) const { return tapegrad::sum(*this, dims, keepdim); }
Tensor Tensor::mean() const { return tapegrad::mean(*this); }
Tensor Tensor::mean(Dims dims, bool keepdim) const { return tapegrad::mean(*this, dims, keepdim); }
Tensor Tensor::max() const { return tapegrad::max(*this); }
ValuesIndices Tensor::max(std::int64_t dim, bool keepdim) const { return tapegrad::max(*this, dim, keepdim); }
Tensor Tensor::min() const { return tapegrad::min(*this); }
ValuesIndices Tensor::min(std::int64_t dim, bool keepdim) const { return tapegrad::min(*this, dim, keepdim); }
Tensor Tensor::argmax() const { return tapegrad::argmax(*this); }
Tensor Tensor::argmax(std::int64_t dim, bool keepdim) const { return tapegrad::argmax(*this, dim, keepdim); }

}  // namespace tapegrad
