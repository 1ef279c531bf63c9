// Resampling images by a per-image sampling plan, with tensor ops only (gather, multiply, sum),
// so that every transform built on it runs on whatever device holds the images. Internal to
// the transforms; not installed.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>

#include <tapegrad/autodiff/tensor.h>

namespace tapegrad::datasets::transforms {

// Where the output pixels of one image read from: `taps` source pixels per output pixel, each an
// offset into the source image's plane (row * width + column) with a weight. A tap that falls
// outside the image has weight 0 (and any valid offset). Laid out tap-major: tap k of output
// pixel p is entry k * pixels + p.
struct SamplingPlan {
  std::int64_t taps = 0, pixels = 0;
  std::span<std::int64_t> offsets;
  std::span<float> weights;

  void set(std::int64_t tap, std::int64_t pixel, std::int64_t offset, float weight) const {
    const auto at = static_cast<std::size_t>(tap * pixels + pixel);
    offsets[at] = offset;
    weights[at] = weight;
  }
};

// Fills the plan of image `image` (its position in the batch).
using PlanImage = std::function<void(std::int64_t image, SamplingPlan plan)>;

// images [N, C, H, W] (float32 or float64, any device) resampled to [N, C, out_size]: every output
// pixel is the weighted sum of its taps, the same plan for every channel of an image. Plans are
// built on the host a bounded number of images at a time.
Tensor resample(const Tensor& images, std::int64_t taps, std::array<std::int64_t, 2> out_size,
                const PlanImage& plan_image);

}  // namespace tapegrad::datasets::transforms
