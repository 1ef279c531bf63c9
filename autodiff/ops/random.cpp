// Random tensors drawn from a Generator: each draw reserves one Philox counter per element, so
// results depend only on the seed and the sequence of draws.
#include <cmath>
#include <numeric>

#include <tapegrad/autodiff/ops/common.h>

namespace tapegrad {

using namespace detail;

namespace {

Tensor draw(const Shape& shape, kernels::Distribution distribution, double a, double b, Generator& generator,
            const TensorOptions& options, const char* op) {
  TAPEGRAD_CHECK(is_floating(options.dtype), "{}: needs a floating dtype, got {}", op, options.dtype);
  Tensor t = empty(shape, options.with_requires_grad(false));
  const std::uint64_t offset = generator.reserve(static_cast<std::uint64_t>(t.numel()));
  backend_of(t).fill_random(t.desc(), distribution, a, b, generator.seed(), offset);
  if (options.requires_grad) t.requires_grad_(true);
  return t;
}

}  // namespace

Tensor uniform(const Shape& shape, double low, double high, Generator& generator, TensorOptions options) {
  TAPEGRAD_CHECK(low <= high, "uniform: low {} must not exceed high {}", low, high);
  return draw(shape, kernels::Distribution::Uniform, low, high, generator, options, "uniform");
}
Tensor uniform(const Shape& shape, double low, double high, TensorOptions options) {
  return uniform(shape, low, high, default_generator(), options);
}
Tensor rand(const Shape& shape, Generator& generator, TensorOptions options) {
  return uniform(shape, 0.0, 1.0, generator, options);
}
Tensor rand(const Shape& shape, TensorOptions options) { return rand(shape, default_generator(), options); }

Tensor normal(const Shape& shape, double mean, double std, Generator& generator, TensorOptions options) {
  TAPEGRAD_CHECK(std >= 0, "normal: std must be non-negative, got {}", std);
  return draw(shape, kernels::Distribution::Normal, mean, std, generator, options, "normal");
}
Tensor normal(const Shape& shape, double mean, double std, TensorOptions options) {
  return normal(shape, mean, std, default_generator(), options);
}
Tensor randn(const Shape& shape, Generator& generator, TensorOptions options) {
  return normal(shape, 0.0, 1.0, generator, options);
}
Tensor randn(const Shape& shape, TensorOptions options) { return randn(shape, default_generator(), options); }

Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, Generator& generator, TensorOptions options) {
  TAPEGRAD_CHECK(low < high, "randint: low {} must be below high {}", low, high);
  // Drawn in float64 on [low, high) and floored: exact for ranges below 2^53.
  Tensor values = draw(shape, kernels::Distribution::Uniform, static_cast<double>(low), static_cast<double>(high),
                       generator, TensorOptions(kFloat64).with_device(options.device), "randint");
  {
    NoGradGuard no_grad;
    backend_of(values).unary(kernels::UnaryOp::Floor, values.desc(), values.desc(), {});
    // low + (high - low) * u can round up to high itself for wide ranges.
    backend_of(values).unary(kernels::UnaryOp::Clamp, values.desc(), values.desc(),
                             kernels::UnaryScalars::bounds(static_cast<double>(low), static_cast<double>(high - 1)));
  }
  return to_dtype(values, options.dtype);
}
Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, TensorOptions options) {
  return randint(low, high, shape, default_generator(), options);
}

Tensor randperm(std::int64_t n, Generator& generator, TensorOptions options) {
  TAPEGRAD_CHECK(n >= 0, "randperm: n must be non-negative, got {}", n);
  std::vector<std::int64_t> permutation(static_cast<std::size_t>(n));
  std::iota(permutation.begin(), permutation.end(), 0);
  for (std::int64_t i = n - 1; i > 0; --i) {  // Fisher-Yates
    const auto j = static_cast<std::int64_t>(generator.next_u64() % static_cast<std::uint64_t>(i + 1));
    std::swap(permutation[static_cast<std::size_t>(i)], permutation[static_cast<std::size_t>(j)]);
  }
  return to_dtype(from_vector(permutation, std::nullopt, TensorOptions(kInt64).with_device(options.device)), options.dtype);
}
Tensor randperm(std::int64_t n, TensorOptions options) { return randperm(n, default_generator(), options); }

}  // namespace tapegrad
