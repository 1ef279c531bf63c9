// Transforms and test-time augmentation: rotating by 90 degrees is an exact transpose-flip away
// from the borders; RandomResizedCrop with scale and ratio pinned to 1 is the identity; crop
// boxes over 10,000 draws stay within (and fill) the requested scale and ratio ranges; the same
// seed gives the same augmented batch; batches larger than one sampling chunk match image-by-image
// results; float64 images, gradients through a transform and CUDA images (where a GPU is) work;
// the TTA vote breaks ties toward the smallest class.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include <tapegrad/autodiff/gradcheck.h>
#include <tapegrad/datasets/transforms.h>
#include <tapegrad/datasets/tta.h>
#include <tapegrad/kernels/cuda/cuda.h>

#include "test_util.h"

namespace tapegrad {
namespace {

using namespace datasets::transforms;
using tapegrad::testing::expect_error;
using tapegrad::testing::expect_values;

Tensor random_images(const Shape& shape, std::uint64_t seed) {
  Generator generator(seed);
  return rand(shape, generator);
}

float at(const Tensor& image, std::int64_t y, std::int64_t x) {
  return image.data_ptr<float>()[y * image.size(-1) + x];
}

TEST(RandomRotation, NinetyDegreesIsATransposeFlipAwayFromTheBorders) {
  const std::int64_t side = 12;
  const Tensor image = random_images({1, 1, side, side}, 1);
  for (double degrees : {90.0, -90.0}) {
    const Tensor rotated = rotate(image, degrees);
    ASSERT_EQ(rotated.shape(), image.shape());
    for (std::int64_t y = 1; y + 1 < side; ++y)
      for (std::int64_t x = 1; x + 1 < side; ++x) {
        // Counter-clockwise by 90: output (y, x) shows input (x, side-1-y); clockwise the mirror.
        const float expected = degrees > 0 ? at(image, x, side - 1 - y) : at(image, side - 1 - x, y);
        EXPECT_NEAR(at(rotated, y, x), expected, 1e-5) << degrees << " degrees at " << y << ", " << x;
      }
  }
}

TEST(RandomRotation, ZeroDegreesKeepsTheImageAndCornersFillWithZero) {
  const Tensor image = random_images({1, 3, 9, 9}, 2);
  expect_values(rotate(image, 0), image.to_vector<double>(), 1e-6);
  const Tensor ones_rotated = rotate(ones({1, 1, 9, 9}), 45);
  EXPECT_EQ(at(ones_rotated, 0, 0), 0.0f) << "a corner maps outside the image";
  EXPECT_NEAR(at(ones_rotated, 4, 4), 1.0f, 1e-6) << "the centre stays";
}

TEST(RandomRotation, DrawsOneUniformAngleInTheRangePerImage) {
  const Tensor batch = random_images({3, 1, 8, 8}, 4);
  Generator generator(3), probe(3);
  const Tensor rotated = RandomRotation(-10, 30)(batch, generator);
  for (std::int64_t n = 0; n < 3; ++n) {
    const double angle = -10 + 40 * probe.next_double();
    EXPECT_GE(angle, -10);
    EXPECT_LE(angle, 30);
    EXPECT_EQ(rotated.select(0, n).to_vector<float>(), rotate(batch.narrow(0, n, 1), angle).to_vector<float>());
  }
}

TEST(RandomResizedCrop, ScaleAndRatioPinnedToOneIsTheIdentity) {
  Generator generator(5);
  const Tensor batch = random_images({4, 1, 28, 28}, 6);
  const RandomResizedCrop crop({28, 28}, {1.0, 1.0}, {1.0, 1.0});
  const Tensor out = crop(batch, generator);
  EXPECT_EQ(out.to_vector<float>(), batch.to_vector<float>());
}

TEST(RandomResizedCrop, UpscalingAConstantImageKeepsItConstant) {
  Generator generator(7);
  const Tensor out = RandomResizedCrop({20, 24})(full({1, 2, 10, 10}, 0.25), generator);
  EXPECT_EQ(out.shape(), Shape({1, 2, 20, 24}));
  for (float v : out.to_vector<float>()) EXPECT_FLOAT_EQ(v, 0.25f);
}

TEST(RandomResizedCrop, CropBoxesOverTenThousandDrawsMatchTheRequestedRanges) {
  const std::int64_t height = 28, width = 28;
  const double scale_low = 0.75, scale_high = 1.0, ratio_low = 3.0 / 4.0, ratio_high = 4.0 / 3.0;
  const RandomResizedCrop crop({28, 28}, {scale_low, scale_high}, {ratio_low, ratio_high});
  Generator generator(8);
  double smallest_scale = 1e9, largest_scale = 0, smallest_ratio = 1e9, largest_ratio = 0, scale_sum = 0;
  const int draws = 10000;
  for (int i = 0; i < draws; ++i) {
    const CropBox box = crop.get_params(height, width, generator);
    ASSERT_GE(box.top, 0);
    ASSERT_GE(box.left, 0);
    ASSERT_LE(box.top + box.height, height);
    ASSERT_LE(box.left + box.width, width);
    const double scale = static_cast<double>(box.height * box.width) / (height * width);
    const double ratio = static_cast<double>(box.width) / box.height;
    smallest_scale = std::min(smallest_scale, scale), largest_scale = std::max(largest_scale, scale);
    smallest_ratio = std::min(smallest_ratio, ratio), largest_ratio = std::max(largest_ratio, ratio);
    scale_sum += scale;
  }
  // Integer rounding of the sides moves a box's area and ratio slightly past the continuous
  // range: a side of ~24 pixels off by half a pixel is ~2% of area and ratio.
  EXPECT_GE(smallest_scale, scale_low - 0.05);
  EXPECT_LE(largest_scale, scale_high);
  EXPECT_GE(smallest_ratio, ratio_low * 0.95);
  EXPECT_LE(largest_ratio, ratio_high * 1.05);
  EXPECT_LT(smallest_scale, scale_low + 0.02) << "the whole scale range is used";
  EXPECT_GT(largest_ratio, ratio_high * 0.97);
  EXPECT_LT(smallest_ratio, ratio_low * 1.03);
  // Boxes that do not fit are redrawn, which favours small areas a little: the mean lies below
  // the middle of the range but well inside it.
  EXPECT_GT(scale_sum / draws, scale_low + 0.05);
  EXPECT_LT(scale_sum / draws, (scale_low + scale_high) / 2 + 0.01);
}

TEST(RandomResizedCrop, FallsBackToACentreCropWhenNoBoxFits) {
  // A 4x40 image cannot hold a box of ratio 1 and area >= 90%: ten failed tries, then the
  // centre crop clamped to the largest ratio, as torchvision.
  const RandomResizedCrop crop({4, 4}, {0.9, 1.0}, {1.0, 1.0});
  Generator generator(9);
  const CropBox box = crop.get_params(4, 40, generator);
  EXPECT_EQ(box.height, 4);
  EXPECT_EQ(box.width, 4);
  EXPECT_EQ(box.left, 18);
  EXPECT_EQ(box.top, 0);
}

TEST(Transforms, TheSameSeedGivesTheSameAugmentedBatch) {
  const Tensor batch = random_images({16, 1, 28, 28}, 10);
  const Compose pipeline({std::make_shared<RandomResizedCrop>(std::array<std::int64_t, 2>{28, 28},
                                                              std::array<double, 2>{0.75, 1.0}),
                          std::make_shared<RandomRotation>(10), std::make_shared<RandomHorizontalFlip>(),
                          std::make_shared<RandomCrop>(std::array<std::int64_t, 2>{28, 28}, 2)});
  Generator a(42), b(42), c(43);
  const Tensor first = pipeline(batch, a);
  EXPECT_EQ(first.shape(), batch.shape());
  EXPECT_EQ(first.to_vector<float>(), pipeline(batch, b).to_vector<float>());
  EXPECT_NE(first.to_vector<float>(), pipeline(batch, c).to_vector<float>());
  EXPECT_NE(first.select(0, 0).to_vector<float>(), first.select(0, 1).to_vector<float>())
      << "each image of a batch gets its own draws";
}

TEST(Transforms, CropFlipAndNormalizeMoveExactPixels) {
  const Tensor image = arange(9).reshape({1, 1, 3, 3});
  Generator generator(11);
  expect_values(RandomHorizontalFlip(1.0)(image, generator), {2, 1, 0, 5, 4, 3, 8, 7, 6});
  expect_values(RandomHorizontalFlip(0.0)(image, generator), image.to_vector<double>());
  expect_values(RandomCrop({5, 5}, 1)(image, generator),
                {0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 5, 0, 0, 6, 7, 8, 0, 0, 0, 0, 0, 0});
  const Tensor cropped = RandomCrop({2, 2})(image, generator);
  const std::vector<float> c = cropped.to_vector<float>();
  EXPECT_EQ(c[1] - c[0], 1.0f);
  EXPECT_EQ(c[2] - c[0], 3.0f) << "a contiguous 2x2 window";
  expect_values(Normalize({1.0}, {2.0})(image, generator), {-0.5, 0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5});
}

TEST(Transforms, RefuseWhatTheyCannotHandle) {
  Generator generator(12);
  expect_error([&] { RandomRotation(5)(zeros({1, 1, 2, 2}, kInt64), generator); }, {"float32 or float64", "int64",
                                                                               "to_unit_range"});
  expect_error([&] { RandomRotation(5)(zeros({4}), generator); }, {"[N, C, H, W]", "[4]"});
  // A 3-D tensor is [C, H, W] or [N, H, W]: refused, saying which unsqueeze makes it a batch.
  expect_error([&] { RandomRotation(5)(zeros({8, 28, 28}), generator); },
               {"[N, C, H, W]", "[8, 28, 28]", "unsqueeze(1)", "unsqueeze(0)"});
  expect_error([&] { RandomCrop({2, 2})(zeros({28, 28}), generator); }, {"[N, C, H, W]", "[28, 28]", "unsqueeze"});
  expect_error([&] { Compose(std::vector<TransformPtr>{})(zeros({8, 28, 28}), generator); }, {"[N, C, H, W]", "unsqueeze(1)"});
  expect_error([&] { RandomCrop({8, 8})(zeros({1, 1, 4, 4}), generator); }, {"8x8 crop", "4x4"});
  expect_error([&] { Normalize({0.5, 0.5}, {1, 1})(zeros({1, 3, 4, 4}), generator); }, {"2 means", "3 channels"});
  expect_error([] { RandomResizedCrop({4, 4}, {0.0, 1.0}); }, {"scale"});
}

// Every transform, each on its own.
std::vector<TransformPtr> every_transform() {
  return {std::make_shared<RandomResizedCrop>(std::array<std::int64_t, 2>{28, 28}, std::array<double, 2>{0.75, 1.0}),
          std::make_shared<RandomRotation>(10), std::make_shared<RandomHorizontalFlip>(),
          std::make_shared<RandomCrop>(std::array<std::int64_t, 2>{28, 28}, 2),
          std::make_shared<Normalize>(std::vector<double>{0.5}, std::vector<double>{0.25})};
}

TEST(Transforms, ALargeBatchMatchesImageByImage) {
  // 100 images of 28x28 with four taps a pixel: several of the resampler's chunks.
  const Tensor batch = random_images({100, 1, 28, 28}, 14);
  for (const TransformPtr& transform : every_transform()) {
    Generator whole(5), single(5);
    const Tensor together = (*transform)(batch, whole);
    for (std::int64_t n = 0; n < batch.size(0); ++n)
      ASSERT_EQ(together.select(0, n).to_vector<float>(), (*transform)(batch.narrow(0, n, 1), single).to_vector<float>())
          << "image " << n;
  }
}

TEST(Transforms, Float64ImagesGiveTheFloat32Result) {
  const Tensor batch = random_images({4, 2, 12, 12}, 15);
  const Compose pipeline({std::make_shared<RandomResizedCrop>(std::array<std::int64_t, 2>{9, 7}),
                          std::make_shared<RandomRotation>(30), std::make_shared<RandomCrop>(std::array<std::int64_t, 2>{8, 8}, 1),
                          std::make_shared<Normalize>(std::vector<double>{0.1, 0.2}, std::vector<double>{2, 3})});
  Generator a(6), b(6);
  const Tensor single = pipeline(batch, a);
  const Tensor dual = pipeline(batch.to(kFloat64), b);
  EXPECT_EQ(dual.dtype(), kFloat64);
  expect_values(dual, single.to_vector<double>(), 1e-5);
}

TEST(Transforms, GradientsFlowThroughResampling) {
  // Rotation is linear in the pixels: its gradient is the transposed resampling.
  const Tensor image = random_images({1, 1, 5, 6}, 16).to(kFloat64).requires_grad_();
  const GradcheckReport report = gradcheck([](const std::vector<Tensor>& x) { return rotate(x[0], 33.0); }, {image});
  EXPECT_TRUE(report.ok()) << fmt::format("{}", report);
}

TEST(Transforms, AnImageWithoutPixelsCropsToPadding) {
  Generator generator(17);
  expect_values(RandomCrop({2, 2}, 1)(zeros({1, 1, 0, 0}), generator), {0, 0, 0, 0});
}

TEST(Transforms, RunOnTheImagesDevice) {
  if (!cuda::is_available()) GTEST_SKIP() << "no usable CUDA device (" << cuda::unavailable_reason() << ")";
  const Tensor batch = random_images({8, 1, 28, 28}, 18);
  const Compose pipeline(every_transform());
  Generator on_cpu(7), on_cuda(7);
  const Tensor expected = pipeline(batch, on_cpu);
  const Tensor result = pipeline(batch.to(Device::cuda(0)), on_cuda);
  EXPECT_TRUE(result.device().is_cuda());
  expect_values(result.cpu(), expected.to_vector<double>(), 1e-5);
}

TEST(TestTimeAugmentation, MajorityVoteBreaksTiesTowardTheSmallestClass) {
  // Columns: a clear majority for 2; a three-way tie of 3, 1 and 9; another of 5, 4 and 6; six
  // different votes.
  const Tensor votes = from_vector(std::vector<std::int64_t>{2, 3, 5, 0,
                                                             2, 1, 4, 1,
                                                             2, 3, 6, 2,
                                                             1, 1, 4, 3,
                                                             0, 9, 5, 4,
                                                             2, 9, 6, 5},
                                   Shape{6, 4});
  EXPECT_EQ(datasets::majority_vote(votes).to_vector<std::int64_t>(), (std::vector<std::int64_t>{2, 1, 4, 0}));
}

TEST(TestTimeAugmentation, VotesOverAugmentedCopiesOfAnyModel) {
  // A "model" that reads the class off the brightest pixel's column: flips move it.
  const auto model = [](const Tensor& batch) {
    const Tensor columns = sum(batch.reshape({batch.size(0), 4, 4}), {1});  // [N, 4]
    return columns;
  };
  Tensor batch = zeros({2, 1, 4, 4});
  batch.select(0, 0).select(1, 1).select(1, 0).fill_(1.0);  // image 0: column 0 lit
  batch.select(0, 1).select(1, 2).select(1, 3).fill_(1.0);  // image 1: column 3 lit
  Generator generator(13);
  // Always flipped: column 0 <-> 3.
  EXPECT_EQ(datasets::tta_predict(model, batch, RandomHorizontalFlip(1.0), 3, generator).to_vector<std::int64_t>(),
            (std::vector<std::int64_t>{3, 0}));
  // Flipped half the time over an even count of copies: ties and wins, never another class.
  const std::vector<std::int64_t> mixed =
      datasets::tta_predict(model, batch, RandomHorizontalFlip(0.5), 8, generator).to_vector<std::int64_t>();
  EXPECT_TRUE(mixed[0] == 0 || mixed[0] == 3);
  EXPECT_TRUE(mixed[1] == 0 || mixed[1] == 3);
}

}  // namespace
}  // namespace tapegrad
