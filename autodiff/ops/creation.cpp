// Tensor factories: constants, ranges, identity, and tensors from host values.
#include <cmath>

#include <tapegrad/autodiff/ops/common.h>

namespace tapegrad {

using namespace detail;

namespace {

Tensor finish(Tensor t, const TensorOptions& options) {
  if (options.requires_grad) t.requires_grad_(true);
  return t;
}

// Copies host values (already of the target C++ type) into a new tensor on options.device.
template <class T>
Tensor from_host(const T* values, const Shape& shape, const TensorOptions& options) {
  Tensor host = empty(shape, options.with_device(Device::cpu()).with_requires_grad(false));
  std::copy(values, values + host.numel(), host.data_ptr<T>());
  return finish(options.device.is_cpu() ? host : host.to(options.device), options);
}

}  // namespace

Tensor full(const Shape& shape, double value, TensorOptions options) {
  Tensor t = empty(shape, options.with_requires_grad(false));
  backend_of(t).fill(t.desc(), value);
  return finish(t, options);
}
Tensor zeros(const Shape& shape, TensorOptions options) { return full(shape, 0.0, options); }
Tensor ones(const Shape& shape, TensorOptions options) { return full(shape, 1.0, options); }
Tensor zeros_like(const Tensor& like) { return zeros(like.shape(), options_of(like)); }
Tensor ones_like(const Tensor& like) { return ones(like.shape(), options_of(like)); }
Tensor full_like(const Tensor& like, double value) { return full(like.shape(), value, options_of(like)); }
Tensor empty_like(const Tensor& like) { return empty(like.shape(), options_of(like)); }
Tensor scalar_tensor(double value, TensorOptions options) { return full({}, value, options); }

Tensor arange(double end, TensorOptions options) { return arange(0, end, 1, options); }

Tensor arange(double start, double end, double step, TensorOptions options) {
  TAPEGRAD_CHECK(step != 0, "arange: step must be non-zero");
  TAPEGRAD_CHECK(std::isfinite(start) && std::isfinite(end), "arange: start {} and end {} must be finite", start, end);
  TAPEGRAD_CHECK((end - start) / step >= 0 || start == end,
                 "arange: step {} goes away from end {} when starting at {}", step, end, start);
  const auto count = static_cast<std::int64_t>(std::ceil((end - start) / step));
  Tensor t = empty({count}, options.with_requires_grad(false));
  backend_of(t).fill_range(t.desc(), start, step);
  return finish(t, options);
}

Tensor linspace(double start, double end, std::int64_t steps, TensorOptions options) {
  TAPEGRAD_CHECK(steps >= 0, "linspace: steps must be non-negative, got {}", steps);
  Tensor t = empty({steps}, options.with_requires_grad(false));
  if (steps <= 1) {  // no step to take: the grid is just `start`
    backend_of(t).fill(t.desc(), start);
    return finish(t, options);
  }
  // torch.linspace's formula: the first half counts up from start, the second half down from end
  // (filled through a reversed view), so both endpoints are exact and the grid is symmetric.
  const double step = (end - start) / static_cast<double>(steps - 1);
  const std::int64_t halfway = steps / 2;
  kernels::TensorDesc first_half = t.desc(), second_half_reversed = t.desc();
  first_half.shape = {halfway};
  second_half_reversed.data =
      static_cast<char*>(second_half_reversed.data) + (steps - 1) * static_cast<std::int64_t>(dtype_size(t.dtype()));
  second_half_reversed.shape = {steps - halfway};
  second_half_reversed.strides = {-1};
  backend_of(t).fill_range(first_half, start, step);
  backend_of(t).fill_range(second_half_reversed, end, -step);
  return finish(t, options);
}

Tensor eye(std::int64_t n, std::int64_t m, TensorOptions options) {
  if (m < 0) m = n;
  TAPEGRAD_CHECK(n >= 0, "eye: n must be non-negative, got {}", n);
  Tensor t = zeros({n, m}, options.with_requires_grad(false));
  const std::int64_t diagonal = std::min(n, m);
  kernels::TensorDesc d = t.desc();
  d.shape = {diagonal};
  d.strides = {m + 1};
  backend_of(t).fill(d, 1.0);
  return finish(t, options);
}

Tensor tensor(std::initializer_list<double> values, std::optional<Shape> shape, TensorOptions options) {
  const Shape target = shape.value_or(Shape{static_cast<std::int64_t>(values.size())});
  TAPEGRAD_CHECK(numel_of(target) == static_cast<std::int64_t>(values.size()),
                 "tensor: {} values do not fill shape {} ({} elements)", values.size(), target, numel_of(target));
  const Tensor as_double = from_host(values.begin(), target, options.with_dtype(kFloat64).with_requires_grad(false));
  return finish(to_dtype(as_double, options.dtype), options);
}

template <class T>
Tensor from_vector(const std::vector<T>& values, std::optional<Shape> shape, TensorOptions options) {
  const Shape target = shape.value_or(Shape{static_cast<std::int64_t>(values.size())});
  TAPEGRAD_CHECK(numel_of(target) == static_cast<std::int64_t>(values.size()),
                 "from_vector: {} values do not fill shape {} ({} elements)", values.size(), target, numel_of(target));
  const Tensor exact = from_host(values.data(), target, options.with_dtype(dtype_of<T>).with_requires_grad(false));
  return finish(to_dtype(exact, options.dtype), options);
}
template Tensor from_vector(const std::vector<float>&, std::optional<Shape>, TensorOptions);
template Tensor from_vector(const std::vector<double>&, std::optional<Shape>, TensorOptions);
template Tensor from_vector(const std::vector<std::int64_t>&, std::optional<Shape>, TensorOptions);
template Tensor from_vector(const std::vector<std::uint8_t>&, std::optional<Shape>, TensorOptions);

}  // namespace tapegrad
