#include <tapegrad/datasets/resample.h>

#include <algorithm>
#include <vector>

#include <tapegrad/autodiff/ops.h>

namespace tapegrad::datasets::transforms {
namespace {

// 65,536 taps per chunk: the plan (768 KB) and what is gathered through it stay in the L2 cache.
constexpr std::int64_t kTapsPerChunk = std::int64_t{1} << 16;

// One chunk of images resampled: gather every tap of every output pixel from the image's plane
// (repeated, without copying, once per tap), weight it, and sum over the taps.
Tensor resample_chunk(const Tensor& images, std::int64_t first, std::int64_t taps, std::array<std::int64_t, 2> out_size,
                      const PlanImage& plan_image) {
  const std::int64_t count = images.size(0), channels = images.size(1);
  const std::int64_t plane = images.size(2) * images.size(3), pixels = out_size[0] * out_size[1];
  Tensor offsets = empty({count, 1, taps, pixels}, kInt64);
  Tensor weights = empty({count, 1, taps, pixels}, kFloat32);
  const auto plan_size = static_cast<std::size_t>(taps * pixels);
  for (std::int64_t n = 0; n < count; ++n) {
    const SamplingPlan plan{.taps = taps,
                            .pixels = pixels,
                            .offsets = {offsets.data_ptr<std::int64_t>() + n * taps * pixels, plan_size},
                            .weights = {weights.data_ptr<float>() + n * taps * pixels, plan_size}};
    plan_image(first + n, plan);
  }
  const Tensor planes = images.reshape({count, channels, 1, plane}).expand({count, channels, taps, plane});
  const Tensor gathered = gather(planes, 3, offsets.to(images.device()).expand({count, channels, taps, pixels}));
  const Tensor weighted = gathered * weights.to(images.dtype()).to(images.device());
  return sum(weighted, {2}).reshape({count, channels, out_size[0], out_size[1]});
}

}  // namespace

Tensor resample(const Tensor& images, std::int64_t taps, std::array<std::int64_t, 2> out_size,
                const PlanImage& plan_image) {
  const std::int64_t count = images.size(0), channels = images.size(1);
  if (images.size(2) * images.size(3) == 0)  // no source pixel: every tap lies outside
    return zeros({count, channels, out_size[0], out_size[1]}, TensorOptions(images.dtype()).with_device(images.device()));
  const std::int64_t per_chunk = std::max<std::int64_t>(1, kTapsPerChunk / std::max<std::int64_t>(1, taps * out_size[0] * out_size[1]));
  if (count <= per_chunk) return resample_chunk(images, 0, taps, out_size, plan_image);
  std::vector<Tensor> chunks;
  for (std::int64_t first = 0; first < count; first += per_chunk) {
    const std::int64_t size = std::min(per_chunk, count - first);
    chunks.push_back(resample_chunk(images.narrow(0, first, size), first, taps, out_size, plan_image));
  }
  return cat(chunks, 0);
}

}  // namespace tapegrad::datasets::transforms
