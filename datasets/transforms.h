// Image transforms as torchvision.transforms, on floating-point batches of images [N, C, H, W]
// (only: a 3-D tensor could be [C, H, W] or [N, H, W], so it is refused with the unsqueeze that
// makes it a batch), on any device: they are computed with tensor ops, so they run where the
// images are and gradients flow through them. Random transforms draw their parameters on the
// host from the Generator passed in, image by image in batch order, so the same seed gives the
// same augmented batch on every device; each image of a batch gets its own draws. Resampling is
// bilinear with PyTorch's pixel-centre convention (align_corners=False) and no antialiasing.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include <tapegrad/autodiff/generator.h>
#include <tapegrad/autodiff/tensor.h>

namespace tapegrad::datasets::transforms {

// A crop box: top row, left column, height, width (torchvision's i, j, h, w).
struct CropBox {
  std::int64_t top = 0, left = 0, height = 0, width = 0;
};

class Transform {
 public:
  virtual ~Transform() = default;
  // The transformed batch [N, C, H', W']: a new tensor of the input's dtype.
  virtual Tensor operator()(const Tensor& images, Generator& generator) const = 0;
};

// The transforms that work image by image: all images' parameters are drawn first, in batch
// order, then the whole batch is transformed at once.
class ImageTransform : public Transform {
 public:
  Tensor operator()(const Tensor& images, Generator& generator) const final;

 protected:
  // Up to four numbers per image (a box, an angle, a coin flip).
  using Params = std::array<double, 4>;
  // Refuses inputs the transform cannot handle, before any work starts.
  virtual void check_input(std::int64_t /*channels*/, std::int64_t /*height*/, std::int64_t /*width*/) const {}
  virtual Params draw(std::int64_t height, std::int64_t width, Generator& generator) const = 0;
  // The transformed batch: `images` is [N, C, H, W], `params` holds image n's draw at n.
  virtual Tensor apply(const Tensor& images, std::span<const Params> params) const = 0;
};

using TransformPtr = std::shared_ptr<const Transform>;

// torchvision's RandomResizedCrop: a box of area fraction in `scale` and aspect ratio (w/h) in
// `ratio` (log-uniform), up to 10 tries, then a centre crop clamped to the ratio range; the box
// is resized bilinearly to `size` (height, width).
class RandomResizedCrop : public ImageTransform {
 public:
  RandomResizedCrop(std::array<std::int64_t, 2> size, std::array<double, 2> scale = {0.08, 1.0},
                    std::array<double, 2> ratio = {3.0 / 4.0, 4.0 / 3.0});
  // torchvision's get_params: the crop box for an image of height x width.
  CropBox get_params(std::int64_t height, std::int64_t width, Generator& generator) const;

 protected:
  Params draw(std::int64_t height, std::int64_t width, Generator& generator) const override;
  Tensor apply(const Tensor& images, std::span<const Params> params) const override;

 private:
  std::array<std::int64_t, 2> size_;
  std::array<double, 2> scale_, ratio_;
};

// torchvision's RandomRotation with bilinear interpolation: an angle uniform in
// [-degrees, degrees] (or [low, high]), counter-clockwise about the image centre, same size,
// zero fill (with torchvision's fill mask, so border pixels fade exactly as there).
class RandomRotation : public ImageTransform {
 public:
  explicit RandomRotation(double degrees) : RandomRotation(-degrees, degrees) {}
  RandomRotation(double low_degrees, double high_degrees);

 protected:
  Params draw(std::int64_t height, std::int64_t width, Generator& generator) const override;
  Tensor apply(const Tensor& images, std::span<const Params> params) const override;

 private:
  double low_, high_;
};

// Rotates every image of a batch [N, C, H, W] by exactly `degrees` (what RandomRotation applies
// once it has drawn).
Tensor rotate(const Tensor& images, double degrees);

// torchvision's RandomCrop: zero padding of `padding` on every side, then a uniform box of `size`.
class RandomCrop : public ImageTransform {
 public:
  explicit RandomCrop(std::array<std::int64_t, 2> size, std::int64_t padding = 0);

 protected:
  void check_input(std::int64_t channels, std::int64_t height, std::int64_t width) const override;
  Params draw(std::int64_t height, std::int64_t width, Generator& generator) const override;
  Tensor apply(const Tensor& images, std::span<const Params> params) const override;

 private:
  std::array<std::int64_t, 2> size_;
  std::int64_t padding_;
};

// Mirrors left-right with probability p.
class RandomHorizontalFlip : public ImageTransform {
 public:
  explicit RandomHorizontalFlip(double p = 0.5);

 protected:
  Params draw(std::int64_t height, std::int64_t width, Generator& generator) const override;
  Tensor apply(const Tensor& images, std::span<const Params> params) const override;

 private:
  double p_;
};

// (x - mean[c]) / std[c] per channel (one value each applies to every channel). Draws nothing.
class Normalize : public ImageTransform {
 public:
  Normalize(std::vector<double> mean, std::vector<double> std);

 protected:
  void check_input(std::int64_t channels, std::int64_t height, std::int64_t width) const override;
  Params draw(std::int64_t, std::int64_t, Generator&) const override { return {}; }
  Tensor apply(const Tensor& images, std::span<const Params> params) const override;

 private:
  std::vector<double> mean_, std_;
};

// Applies each transform in turn to the whole batch.
class Compose : public Transform {
 public:
  explicit Compose(std::vector<TransformPtr> transforms);
  Tensor operator()(const Tensor& images, Generator& generator) const override;

 private:
  std::vector<TransformPtr> transforms_;
};

}  // namespace tapegrad::datasets::transforms
