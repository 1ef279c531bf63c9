// The transforms' parameter draws (torchvision's get_params, line for line where it matters for
// the distribution) and the sampling plans that turn the draws into pixels.
#include <tapegrad/datasets/transforms.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include <tapegrad/autodiff/ops.h>
#include <tapegrad/datasets/resample.h>

namespace tapegrad::datasets::transforms {
namespace {

double uniform(Generator& generator, double low, double high) { return low + (high - low) * generator.next_double(); }

// Uniform in [0, bound): torch.randint(0, bound).
std::int64_t random_below(Generator& generator, std::int64_t bound) {
  return static_cast<std::int64_t>(generator.next_u64() % static_cast<std::uint64_t>(bound));
}

// Python's round(): halves go to the even neighbour (nearbyint in the default rounding mode).
std::int64_t python_round(double value) { return static_cast<std::int64_t>(std::nearbyint(value)); }

// PyTorch's bilinear source positions for resizing `in` samples to `out` (align_corners=False):
// the two neighbours and the weight of the second, per output position.
struct Taps {
  std::vector<std::int64_t> first, second;
  std::vector<float> weight;
};

Taps bilinear_taps(std::int64_t in, std::int64_t out) {
  Taps taps;
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  for (std::int64_t o = 0; o < out; ++o) {
    const float source = std::max(scale * (static_cast<float>(o) + 0.5f) - 0.5f, 0.0f);
    const auto first = static_cast<std::int64_t>(source);
    taps.first.push_back(first);
    taps.second.push_back(first < in - 1 ? first + 1 : first);
    taps.weight.push_back(source - static_cast<float>(first));
  }
  return taps;
}

}  // namespace

namespace {

// Transforms take batches only: a 3-D tensor could be one image [C, H, W] or a batch of
// single-channel images [N, H, W], and guessing wrong transforms a whole batch as one image.
void check_batch_shape(const Tensor& images) {
  TAPEGRAD_CHECK(images.defined(), "transform: expected a batch of images [N, C, H, W], got an undefined tensor");
  switch (images.dim()) {
    case 4:
      return;
    case 3:
      fail("transform: expected a batch of images [N, C, H, W], got the 3-D shape {}; for a batch of single-channel "
           "images [N, H, W] add the channel dim with images.unsqueeze(1), for one image [C, H, W] add the batch dim "
           "with image.unsqueeze(0)", images.shape());
    case 2:
      fail("transform: expected a batch of images [N, C, H, W], got the 2-D shape {}; for one single-channel image "
           "[H, W] use image.unsqueeze(0).unsqueeze(0)", images.shape());
    default:
      fail("transform: expected a batch of images [N, C, H, W], got shape {}", images.shape());
  }
}

}  // namespace

Tensor ImageTransform::operator()(const Tensor& images, Generator& generator) const {
  check_batch_shape(images);
  TAPEGRAD_CHECK(is_floating(images.dtype()),
                 "transform: expected float32 or float64 images, got {}; convert uint8 pixels with to_unit_range",
                 images.dtype());
  const std::int64_t count = images.size(0), channels = images.size(1), height = images.size(2),
                     width = images.size(3);
  check_input(channels, height, width);

  std::vector<Params> params;
  params.reserve(static_cast<std::size_t>(count));
  for (std::int64_t n = 0; n < count; ++n) params.push_back(draw(height, width, generator));
  return apply(images, params);
}

// ---- RandomResizedCrop ----

RandomResizedCrop::RandomResizedCrop(std::array<std::int64_t, 2> size, std::array<double, 2> scale,
                                     std::array<double, 2> ratio)
    : size_(size), scale_(scale), ratio_(ratio) {
  TAPEGRAD_CHECK(size[0] > 0 && size[1] > 0, "RandomResizedCrop: size must be positive, got {}x{}", size[0], size[1]);
  TAPEGRAD_CHECK(0 < scale[0] && scale[0] <= scale[1], "RandomResizedCrop: scale must be 0 < low <= high, got ({}, {})",
                 scale[0], scale[1]);
  TAPEGRAD_CHECK(0 < ratio[0] && ratio[0] <= ratio[1], "RandomResizedCrop: ratio must be 0 < low <= high, got ({}, {})",
                 ratio[0], ratio[1]);
}

CropBox RandomResizedCrop::get_params(std::int64_t height, std::int64_t width, Generator& generator) const {
  const double area = static_cast<double>(height * width);
  const double log_low = std::log(ratio_[0]), log_high = std::log(ratio_[1]);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * uniform(generator, scale_[0], scale_[1]);
    const double aspect = std::exp(uniform(generator, log_low, log_high));
    const std::int64_t w = python_round(std::sqrt(target_area * aspect));
    const std::int64_t h = python_round(std::sqrt(target_area / aspect));
    if (0 < w && w <= width && 0 < h && h <= height) {
      const std::int64_t top = random_below(generator, height - h + 1);
      const std::int64_t left = random_below(generator, width - w + 1);
      return {top, left, h, w};
    }
  }
  // No box fitted: the largest centred box whose ratio lies in range.
  const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
  std::int64_t w = width, h = height;
  if (in_ratio < ratio_[0]) h = python_round(static_cast<double>(w) / ratio_[0]);
  else if (in_ratio > ratio_[1]) w = python_round(static_cast<double>(h) * ratio_[1]);
  return {(height - h) / 2, (width - w) / 2, h, w};
}

ImageTransform::Params RandomResizedCrop::draw(std::int64_t height, std::int64_t width, Generator& generator) const {
  const CropBox box = get_params(height, width, generator);
  return {static_cast<double>(box.top), static_cast<double>(box.left), static_cast<double>(box.height),
          static_cast<double>(box.width)};
}

// Each output pixel reads the four neighbours of its source position in the box.
Tensor RandomResizedCrop::apply(const Tensor& images, std::span<const Params> params) const {
  const std::int64_t width = images.size(3);
  return resample(images, 4, size_, [params, width, size = size_](std::int64_t image, SamplingPlan plan) {
    const Params& box = params[static_cast<std::size_t>(image)];
    const auto top = static_cast<std::int64_t>(box[0]), left = static_cast<std::int64_t>(box[1]);
    const Taps rows = bilinear_taps(static_cast<std::int64_t>(box[2]), size[0]);
    const Taps cols = bilinear_taps(static_cast<std::int64_t>(box[3]), size[1]);
    for (std::int64_t y = 0, pixel = 0; y < size[0]; ++y) {
      const std::int64_t row0 = (top + rows.first[y]) * width + left, row1 = (top + rows.second[y]) * width + left;
      const float wy1 = rows.weight[y], wy0 = 1.0f - wy1;
      for (std::int64_t x = 0; x < size[1]; ++x, ++pixel) {
        const std::int64_t x0 = cols.first[x], x1 = cols.second[x];
        const float wx1 = cols.weight[x], wx0 = 1.0f - wx1;
        plan.set(0, pixel, row0 + x0, wy0 * wx0);
        plan.set(1, pixel, row0 + x1, wy0 * wx1);
        plan.set(2, pixel, row1 + x0, wy1 * wx0);
        plan.set(3, pixel, row1 + x1, wy1 * wx1);
      }
    }
  });
}

// ---- RandomRotation ----

RandomRotation::RandomRotation(double low_degrees, double high_degrees) : low_(low_degrees), high_(high_degrees) {
  TAPEGRAD_CHECK(low_degrees <= high_degrees, "RandomRotation: degrees must be low <= high, got ({}, {})", low_degrees,
                 high_degrees);
}

ImageTransform::Params RandomRotation::draw(std::int64_t, std::int64_t, Generator& generator) const {
  return {uniform(generator, low_, high_), 0, 0, 0};
}

// torchvision's rotate on tensors: each output pixel centre, relative to the image centre, is
// mapped through the inverse rotation and sampled as grid_sample(bilinear, zeros,
// align_corners=False); the image is then multiplied by the same sampling of an all-ones mask,
// which is how torchvision applies fill=0. The mask is folded into the taps' weights.
Tensor RandomRotation::apply(const Tensor& images, std::span<const Params> params) const {
  const std::int64_t height = images.size(2), width = images.size(3);
  // Captured by value: the plan's integer stores cannot alias copies.
  return resample(images, 4, {height, width}, [params, height, width](std::int64_t image, SamplingPlan plan) {
    const double radians = params[static_cast<std::size_t>(image)][0] * std::numbers::pi / 180.0;
    const auto cos_a = static_cast<float>(std::cos(radians)), sin_a = static_cast<float>(std::sin(radians));
    const float half_w = 0.5f * static_cast<float>(width), half_h = 0.5f * static_cast<float>(height);
    for (std::int64_t y = 0, pixel = 0; y < height; ++y) {
      const float yc = static_cast<float>(y) - half_h + 0.5f;
      for (std::int64_t x = 0; x < width; ++x, ++pixel) {
        const float xc = static_cast<float>(x) - half_w + 0.5f;
        const float ix = cos_a * xc - sin_a * yc + half_w - 0.5f;
        const float iy = sin_a * xc + cos_a * yc + half_h - 0.5f;
        const auto x0 = static_cast<std::int64_t>(std::floor(ix)), y0 = static_cast<std::int64_t>(std::floor(iy));
        const float fx = ix - static_cast<float>(x0), fy = iy - static_cast<float>(y0);
        const std::array<std::int64_t, 4> xs{x0, x0 + 1, x0, x0 + 1}, ys{y0, y0, y0 + 1, y0 + 1};
        const std::array<float, 4> weights{(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy};
        std::array<bool, 4> inside{};
        float mask = 0;
        for (int k = 0; k < 4; ++k) {
          inside[k] = xs[k] >= 0 && xs[k] < width && ys[k] >= 0 && ys[k] < height;
          if (inside[k]) mask += weights[k];
        }
        for (int k = 0; k < 4; ++k)
          plan.set(k, pixel, inside[k] ? ys[k] * width + xs[k] : 0, inside[k] ? weights[k] * mask : 0.0f);
      }
    }
  });
}

Tensor rotate(const Tensor& images, double degrees) {
  Generator unused;  // a zero-width range: the draw is the angle itself
  return RandomRotation(degrees, degrees)(images, unused);
}

// ---- RandomCrop ----

RandomCrop::RandomCrop(std::array<std::int64_t, 2> size, std::int64_t padding) : size_(size), padding_(padding) {
  TAPEGRAD_CHECK(size[0] > 0 && size[1] > 0 && padding >= 0,
                 "RandomCrop: size must be positive and padding non-negative, got {}x{} and {}", size[0], size[1],
                 padding);
}

void RandomCrop::check_input(std::int64_t, std::int64_t height, std::int64_t width) const {
  TAPEGRAD_CHECK(height + 2 * padding_ >= size_[0] && width + 2 * padding_ >= size_[1],
                 "RandomCrop: a {}x{} crop does not fit a {}x{} image padded by {}", size_[0], size_[1], height, width,
                 padding_);
}

ImageTransform::Params RandomCrop::draw(std::int64_t height, std::int64_t width, Generator& generator) const {
  const std::int64_t padded_h = height + 2 * padding_, padded_w = width + 2 * padding_;
  if (padded_h == size_[0] && padded_w == size_[1]) return {0, 0, 0, 0};  // torchvision draws nothing here
  const std::int64_t top = random_below(generator, padded_h - size_[0] + 1);
  const std::int64_t left = random_below(generator, padded_w - size_[1] + 1);
  return {static_cast<double>(top), static_cast<double>(left), 0, 0};
}

// One tap per output pixel; the padding reads as zero.
Tensor RandomCrop::apply(const Tensor& images, std::span<const Params> params) const {
  const std::int64_t height = images.size(2), width = images.size(3);
  return resample(images, 1, size_, [params, height, width, size = size_, padding = padding_](std::int64_t image,
                                                                                    SamplingPlan plan) {
    // Box coordinates are in the padded image.
    const std::int64_t top = static_cast<std::int64_t>(params[static_cast<std::size_t>(image)][0]) - padding;
    const std::int64_t left = static_cast<std::int64_t>(params[static_cast<std::size_t>(image)][1]) - padding;
    for (std::int64_t y = 0, pixel = 0; y < size[0]; ++y)
      for (std::int64_t x = 0; x < size[1]; ++x, ++pixel) {
        const std::int64_t sy = top + y, sx = left + x;
        const bool inside = sy >= 0 && sy < height && sx >= 0 && sx < width;
        plan.set(0, pixel, inside ? sy * width + sx : 0, inside ? 1.0f : 0.0f);
      }
  });
}

// ---- RandomHorizontalFlip ----

RandomHorizontalFlip::RandomHorizontalFlip(double p) : p_(p) {
  TAPEGRAD_CHECK(p >= 0 && p <= 1, "RandomHorizontalFlip: p must lie in [0, 1], got {}", p);
}

ImageTransform::Params RandomHorizontalFlip::draw(std::int64_t, std::int64_t, Generator& generator) const {
  return {generator.next_double() < p_ ? 1.0 : 0.0, 0, 0, 0};
}

// The mirrored batch where the coin said so, the batch itself elsewhere.
Tensor RandomHorizontalFlip::apply(const Tensor& images, std::span<const Params> params) const {
  std::vector<std::int64_t> flipped(params.size()), reversed(static_cast<std::size_t>(images.size(3)));
  std::ranges::transform(params, flipped.begin(), [](const Params& coin) { return coin[0] != 0 ? 1 : 0; });
  for (std::size_t x = 0; x < reversed.size(); ++x) reversed[x] = static_cast<std::int64_t>(reversed.size() - 1 - x);
  const Device device = images.device();
  const Tensor mirrored = images.index_select(3, from_vector(reversed).to(device));
  return where(from_vector(flipped, Shape{images.size(0), 1, 1, 1}).to(kBool).to(device), mirrored, images);
}

// ---- Normalize ----

Normalize::Normalize(std::vector<double> mean, std::vector<double> std) : mean_(std::move(mean)), std_(std::move(std)) {
  TAPEGRAD_CHECK(!mean_.empty() && mean_.size() == std_.size(),
                 "Normalize: needs as many means as stds (one, or one per channel), got {} and {}", mean_.size(),
                 std_.size());
  for (double s : std_) TAPEGRAD_CHECK(s != 0, "Normalize: std must be non-zero");
}

void Normalize::check_input(std::int64_t channels, std::int64_t, std::int64_t) const {
  TAPEGRAD_CHECK(mean_.size() == 1 || static_cast<std::int64_t>(mean_.size()) == channels,
                 "Normalize: {} means for images of {} channels", mean_.size(), channels);
}

Tensor Normalize::apply(const Tensor& images, std::span<const Params>) const {
  const auto per_channel = [&](const std::vector<double>& values) {
    return from_vector(values, Shape{static_cast<std::int64_t>(values.size()), 1, 1}).to(images.dtype()).to(images.device());
  };
  return (images - per_channel(mean_)) / per_channel(std_);
}

// ---- Compose ----

Compose::Compose(std::vector<TransformPtr> transforms) : transforms_(std::move(transforms)) {
  for (const TransformPtr& t : transforms_) TAPEGRAD_CHECK(t != nullptr, "Compose: a transform is null");
}

Tensor Compose::operator()(const Tensor& images, Generator& generator) const {
  check_batch_shape(images);  // an empty pipeline refuses what its transforms would
  Tensor result = images;
  for (const TransformPtr& t : transforms_) result = (*t)(result, generator);
  return transforms_.empty() ? images.clone() : result;
}

}  // namespace tapegrad::datasets::transforms
