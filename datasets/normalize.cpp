// Normalization helpers; pixel statistics in two chunked passes (mean, then squared deviations),
// which stays accurate where sum-of-squares formulas cancel.
#include <tapegrad/datasets/normalize.h>

#include <tapegrad/autodiff/grad_mode.h>
#include <tapegrad/autodiff/ops.h>

namespace tapegrad::datasets {
namespace {

constexpr std::int64_t kStatisticsChunk = 4096;  // images per float64 chunk: bounded memory

// uint8 and int64 pixels become float32; floating tensors keep their precision.
Tensor as_floating(const Tensor& x) { return x.is_floating_point() ? x : x.to(kFloat32); }

// Sums f(chunk) over the leading dim, chunk by chunk, in float64.
template <class F>
Tensor sum_over_chunks(const Tensor& images, F&& f) {
  Shape example_shape = images.shape();
  example_shape.erase(0);
  Tensor total = zeros(example_shape, kFloat64);
  for (std::int64_t start = 0; start < images.size(0); start += kStatisticsChunk) {
    const std::int64_t length = std::min(kStatisticsChunk, images.size(0) - start);
    total.add_(sum(f(images.narrow(0, start, length).to(kFloat64)), {0}));
  }
  return total;
}

}  // namespace

// A batch of images is megabytes, so each step after the first works in place on the fresh tensor
// the first made: an op of its own per step would allocate and fill another buffer that size (a
// MNIST evaluation batch spent more time there than in its second and third layers).
Tensor to_unit_range(const Tensor& pixels) {
  if (pixels.dtype() == kFloat32) return div(pixels, 255.0);  // no conversion: the caller's memory
  Tensor converted = pixels.to(kFloat32);
  return converted.div_(255.0);
}

Tensor normalize(const Tensor& x, double mean, double std) {
  TAPEGRAD_CHECK(std != 0, "normalize: std must be non-zero");
  Tensor centered = sub(as_floating(x), mean);
  return centered.div_(std);
}

PixelStatistics pixel_statistics(const Tensor& images) {
  TAPEGRAD_CHECK(images.defined() && images.dim() >= 1 && images.size(0) >= 2,
                 "pixel_statistics: needs at least two images stacked along dim 0");
  NoGradGuard no_grad;
  const auto n = static_cast<double>(images.size(0));
  const Tensor mean = div(sum_over_chunks(images, [](const Tensor& chunk) { return chunk; }), n);
  const Tensor squared = sum_over_chunks(images, [&](const Tensor& chunk) {
    const Tensor deviation = sub(chunk, mean);
    return mul(deviation, deviation);
  });
  return {mean.to(kFloat32), sqrt(div(squared, n - 1)).to(kFloat32)};
}

Tensor standardize(const Tensor& x, const PixelStatistics& statistics, double eps) {
  TAPEGRAD_CHECK(statistics.mean.defined() && statistics.std.defined(), "standardize: statistics are not computed");
  const Tensor values = as_floating(x);
  Tensor centered = sub(values, statistics.mean.to(values.dtype()));
  return centered.div_(add(statistics.std.to(values.dtype()), eps));
}

}  // namespace tapegrad::datasets
