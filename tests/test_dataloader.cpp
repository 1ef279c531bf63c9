// Datasets and the DataLoader: each epoch serves every index exactly once (without
// replacement), orders are a function of (seed, epoch) alone, prefetching changes nothing but
// speed, state() resumes mid-epoch, per-example transforms draw from generators of (seed, epoch,
// position) alone, and subsets, mapping and normalization behave as documented.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include <tapegrad/datasets/dataloader.h>
#include <tapegrad/datasets/mnist.h>
#include <tapegrad/datasets/normalize.h>

#include "data_test_util.h"
#include "test_util.h"

namespace tapegrad {
namespace {

using datasets::DataLoader;
using datasets::DataLoaderOptions;
using datasets::TensorDataset;
using tapegrad::testing::expect_error;
using tapegrad::testing::expect_values;

// Example i has input [i, i] (float32) and target i (int64), so a batch shows its indices.
std::shared_ptr<TensorDataset> numbered(std::int64_t n) {
  const Tensor ids = arange(n, kInt64);
  return std::make_shared<TensorDataset>(ids.to(kFloat32).unsqueeze(1).expand({n, 2}).contiguous(), ids);
}

// Every batch's targets, in order, one epoch.
std::vector<std::vector<std::int64_t>> epoch_batches(DataLoader& loader) {
  std::vector<std::vector<std::int64_t>> batches;
  for (auto& [x, y] : loader) {
    EXPECT_EQ(x.size(0), y.size(0));
    expect_values(x.select(1, 0), y.to_vector<double>());
    batches.push_back(y.to_vector<std::int64_t>());
  }
  return batches;
}

std::vector<std::int64_t> flat(const std::vector<std::vector<std::int64_t>>& batches) {
  std::vector<std::int64_t> all;
  for (const auto& b : batches) all.insert(all.end(), b.begin(), b.end());
  return all;
}

TEST(DataLoader, ShufflingServesEveryIndexExactlyOncePerEpoch) {
  DataLoader loader(numbered(103), DataLoaderOptions().with_batch_size(10).with_shuffle().with_seed(5));
  EXPECT_EQ(loader.size(), 11);
  std::vector<std::int64_t> previous;
  for (int epoch = 0; epoch < 3; ++epoch) {
    const auto batches = epoch_batches(loader);
    ASSERT_EQ(batches.size(), 11u);
    EXPECT_EQ(batches.back().size(), 3u) << "the last batch holds the remainder";
    std::vector<std::int64_t> order = flat(batches), sorted = order;
    std::sort(sorted.begin(), sorted.end());
    std::vector<std::int64_t> expected(103);
    std::iota(expected.begin(), expected.end(), 0);
    EXPECT_EQ(sorted, expected) << "epoch " << epoch;
    EXPECT_NE(order, previous) << "each epoch is reshuffled";
    previous = order;
  }
  EXPECT_EQ(loader.state(), (datasets::DataLoaderState{3, 0}));
}

TEST(DataLoader, WithoutShuffleTheOrderIsSequentialAndDropLastDropsTheRemainder) {
  DataLoader loader(numbered(7), DataLoaderOptions().with_batch_size(3).with_drop_last());
  EXPECT_EQ(loader.size(), 2);
  EXPECT_EQ(epoch_batches(loader), (std::vector<std::vector<std::int64_t>>{{0, 1, 2}, {3, 4, 5}}));
}

TEST(DataLoader, TheSameSeedGivesTheSameOrderAndAnotherSeedAnother) {
  const auto data = numbered(50);
  DataLoader a(data, DataLoaderOptions().with_batch_size(8).with_shuffle().with_seed(11));
  DataLoader b(data, DataLoaderOptions().with_batch_size(8).with_shuffle().with_seed(11));
  DataLoader c(data, DataLoaderOptions().with_batch_size(8).with_shuffle().with_seed(12));
  const auto first = epoch_batches(a);
  EXPECT_EQ(first, epoch_batches(b));
  EXPECT_NE(first, epoch_batches(c));
  b.set_epoch(0);
  EXPECT_EQ(first, epoch_batches(b)) << "an epoch's order depends only on (seed, epoch)";
  EXPECT_EQ(flat(first), a.epoch_order(0));
}

TEST(DataLoader, PrefetchGivesTheSameBatchesAsNoPrefetch) {
  const auto data = numbered(200);
  for (bool replacement : {false, true}) {
    auto options = DataLoaderOptions().with_batch_size(16).with_shuffle().with_seed(3);
    if (replacement) options.with_sampling_with_replacement(150);
    DataLoader eager(data, options.with_prefetch(false));
    DataLoader ahead(data, options.with_prefetch(true));
    for (int epoch = 0; epoch < 2; ++epoch) EXPECT_EQ(epoch_batches(eager), epoch_batches(ahead));
  }
}

TEST(DataLoader, ADeviceLoaderHandsOutTheSameBatchesOnTheDevice) {
  const auto data = numbered(100);
  const auto options = DataLoaderOptions().with_batch_size(16).with_shuffle().with_seed(5);
  if (!cuda::is_available()) {
    expect_error([&] { DataLoader(data, DataLoaderOptions(options).with_device(Device::cuda())); },
                 {"cuda:0", "Device::cpu()"});
    GTEST_SKIP() << "no usable CUDA device: only the error for requesting one was checked";
  }
  for (bool prefetch : {false, true}) {
    DataLoader host(data, DataLoaderOptions(options).with_prefetch(prefetch));
    DataLoader device(data, DataLoaderOptions(options).with_prefetch(prefetch).with_device(Device::cuda()));
    std::vector<std::vector<double>> host_inputs, device_inputs;
    for (auto& [x, y] : host) host_inputs.push_back(x.to_vector<double>());
    for (auto& [x, y] : device) {
      EXPECT_EQ(x.device(), Device::cuda());
      EXPECT_EQ(y.device(), Device::cuda());
      device_inputs.push_back(x.to_vector<double>());
    }
    EXPECT_EQ(host_inputs, device_inputs) << "prefetch " << prefetch;
  }
}

TEST(DataLoader, SamplingWithReplacementDrawsNumSamplesUniformIndices) {
  DataLoader loader(numbered(10), DataLoaderOptions().with_batch_size(16).with_sampling_with_replacement(16000));
  EXPECT_EQ(loader.size(), 1000);
  std::vector<int> counts(10, 0);
  for (std::int64_t i : flat(epoch_batches(loader))) ++counts.at(static_cast<std::size_t>(i));
  for (int c : counts) EXPECT_NEAR(c, 1600, 160);  // about 4 standard deviations
  DataLoader by_size(numbered(10), DataLoaderOptions().with_batch_size(4).with_sampling_with_replacement());
  EXPECT_EQ(flat(epoch_batches(by_size)).size(), 10u) << "num_samples defaults to the dataset's size";
}

TEST(DataLoader, StateResumesMidEpochWhereALoopWasLeft) {
  const auto data = numbered(40);
  const auto options = DataLoaderOptions().with_batch_size(6).with_shuffle().with_seed(9);
  DataLoader reference(data, options);
  epoch_batches(reference);
  const auto second_epoch = epoch_batches(reference);

  DataLoader loader(data, options);
  epoch_batches(loader);
  std::vector<std::vector<std::int64_t>> seen;
  for (auto& [x, y] : loader) {
    seen.push_back(y.to_vector<std::int64_t>());
    if (seen.size() == 3) break;
  }
  const datasets::DataLoaderState saved = loader.state();
  EXPECT_EQ(saved, (datasets::DataLoaderState{1, 3}));

  DataLoader restored(data, options);  // as after a restart from a checkpoint
  restored.load_state(saved);
  for (const auto& batch : epoch_batches(restored)) seen.push_back(batch);
  EXPECT_EQ(seen, second_epoch);
  EXPECT_EQ(restored.state(), (datasets::DataLoaderState{2, 0}));
}

TEST(DataLoader, RefusesBadOptionsAndStates) {
  expect_error([] { DataLoader(numbered(3), DataLoaderOptions().with_batch_size(0)); }, {"batch_size"});
  DataLoader loader(numbered(3), DataLoaderOptions().with_batch_size(2));
  expect_error([&] { loader.load_state({0, 5}); }, {"batch 5", "2 batches per epoch"});
}

TEST(Datasets, SubsetsMapAndRandomSubsetsDrawDistinctExamples) {
  const auto data = numbered(100);
  Generator generator(1);
  const auto by_fraction = datasets::random_subset(data, 0.12, generator);
  EXPECT_EQ(by_fraction->size(), 12);
  const auto by_count = datasets::random_subset(data, 30, generator);
  const std::vector<std::int64_t> picked = by_count->indices().to_vector<std::int64_t>();
  EXPECT_EQ(std::set<std::int64_t>(picked.begin(), picked.end()).size(), 30u) << "without replacement";
  EXPECT_EQ(by_count->get(4).target.item(), static_cast<double>(picked[4]));
  EXPECT_EQ(datasets::load_all(*by_count).target.to_vector<std::int64_t>(), picked);
  Generator same(1);
  EXPECT_EQ(datasets::random_subset(data, 0.12, same)->indices().to_vector<std::int64_t>(),
            by_fraction->indices().to_vector<std::int64_t>());

  const auto doubled = datasets::map_inputs(by_count, [](const Tensor& x) { return x * 2.0; });
  expect_values(doubled->get(0).input, {2.0 * picked[0], 2.0 * picked[0]});
  expect_values(doubled->get_batch(from_vector(std::vector<std::int64_t>{1})).input, {2.0 * picked[1], 2.0 * picked[1]});
  expect_error([&] { datasets::random_subset(data, 101, generator); }, {"101", "100"});
}

// Every input of one epoch, concatenated in the order served.
std::vector<float> epoch_inputs(DataLoader& loader) {
  std::vector<float> all;
  for (auto& [x, y] : loader) {
    const std::vector<float> values = x.contiguous().to_vector<float>();
    all.insert(all.end(), values.begin(), values.end());
  }
  return all;
}

TEST(DataLoader, ASampleTransformDrawsFromSeedEpochAndPositionAlone) {
  // Example i's input [i, i] gets uniform noise in [0, 1) from its own generator.
  const auto noisy = [](const Tensor& input, Generator& generator) {
    EXPECT_EQ(input.dim(), 1) << "the transform sees one example";
    return input + generator.next_double();
  };
  const auto data = numbered(23);
  auto options = DataLoaderOptions().with_shuffle().with_seed(5).with_transform(noisy);
  DataLoader eager(data, DataLoaderOptions(options).with_batch_size(4).with_prefetch(false));
  DataLoader ahead(data, DataLoaderOptions(options).with_batch_size(5).with_prefetch(true));
  DataLoader other_seed(data, DataLoaderOptions(options).with_batch_size(4).with_seed(6));
  std::vector<float> previous;
  for (int epoch = 0; epoch < 2; ++epoch) {
    const std::vector<float> inputs = epoch_inputs(eager);
    EXPECT_EQ(epoch_inputs(ahead), inputs) << "batch size and prefetching change nothing";
    EXPECT_NE(epoch_inputs(other_seed), inputs);
    EXPECT_NE(inputs, previous) << "each epoch draws afresh";
    // Targets still pair with their inputs, and each example's two values got one draw.
    const std::vector<std::int64_t> order = eager.epoch_order(epoch);
    for (std::size_t k = 0; k < order.size(); ++k) {
      EXPECT_EQ(std::floor(inputs[2 * k]), static_cast<float>(order[k])) << "position " << k;
      EXPECT_EQ(inputs[2 * k], inputs[2 * k + 1]);
      EXPECT_NE(inputs[2 * k], static_cast<float>(order[k]));
    }
    previous = inputs;
  }
}

TEST(DataLoader, AnImageTransformSeesEachImageAsABatchOfOne) {
  // Image i is [1, 3, 3] filled with 0..8 plus 10 i.
  const Tensor images = add(arange(9).reshape({1, 1, 3, 3}), mul(arange(4).reshape({4, 1, 1, 1}), 10.0));
  const auto data = std::make_shared<TensorDataset>(images, arange(4, kInt64));
  DataLoader flipped(data, DataLoaderOptions().with_batch_size(3).with_transform(
                               std::make_shared<datasets::transforms::RandomHorizontalFlip>(1.0)));
  for (auto& [x, y] : flipped) {
    ASSERT_EQ(x.dim(), 4);
    const Tensor reversed_columns = from_vector(std::vector<std::int64_t>{2, 1, 0});
    expect_values(x, images.index_select(0, y).index_select(3, reversed_columns).to_vector<double>(), 0);
  }
  // A random crop of padded images: the same for a seed, prefetching or not.
  const auto crop = std::make_shared<datasets::transforms::RandomCrop>(std::array<std::int64_t, 2>{3, 3}, 1);
  auto options = DataLoaderOptions().with_batch_size(2).with_shuffle().with_seed(9).with_transform(crop);
  DataLoader eager(data, DataLoaderOptions(options).with_prefetch(false));
  DataLoader ahead(data, DataLoaderOptions(options).with_prefetch(true));
  EXPECT_EQ(epoch_inputs(eager), epoch_inputs(ahead));
  // A deterministic function needs no generator.
  DataLoader doubled(data, DataLoaderOptions().with_batch_size(4).with_transform([](const Tensor& x) { return x * 2.0; }));
  expect_values((*doubled.begin()).input, (images * 2.0).to_vector<double>(), 0);
  // Single-channel images stored as [N, H, W] are refused, naming the fix.
  DataLoader flat_images(std::make_shared<TensorDataset>(images.squeeze(1), arange(4, kInt64)),
                         DataLoaderOptions().with_transform(crop));
  expect_error([&] { (void)flat_images.begin(); }, {"[C, H, W]", "[3, 3]", "unsqueeze(1)"});
}

TEST(Datasets, MapSamplesMapsEachExampleOnItsOwn) {
  const auto data = numbered(6);
  // A function that only makes sense for one example: its input [2] becomes [2, 1].
  const auto columns = datasets::map_samples(data, [](const Tensor& x) {
    EXPECT_EQ(x.dim(), 1);
    return x.unsqueeze(1) + 0.5;
  });
  EXPECT_EQ(columns->size(), 6);
  expect_values(columns->get(3).input, {3.5, 3.5});
  const datasets::Example batch = columns->get_batch(from_vector(std::vector<std::int64_t>{4, 1}));
  EXPECT_EQ(batch.input.shape(), Shape({2, 2, 1}));
  expect_values(batch.input, {4.5, 4.5, 1.5, 1.5});
  expect_values(batch.target, {4, 1});
  expect_error([&] { datasets::map_samples(data, nullptr); }, {"map_samples"});
}

TEST(Normalization, ScalesStandardizesAndComputesUnbiasedPixelStatistics) {
  const Tensor pixels = from_vector(std::vector<std::uint8_t>{0, 255, 51, 102}, Shape{2, 2});
  expect_values(datasets::to_unit_range(pixels), {0, 1, 0.2, 0.4});
  expect_values(datasets::normalize(datasets::to_unit_range(pixels), 0.5, 0.5), {-1, 1, -0.6, -0.2}, 1e-6);

  const Tensor images = tensor({1, 2, 3, 6, 5, 10}, Shape{3, 2});  // per pixel: {1,3,5} and {2,6,10}
  const datasets::PixelStatistics stats = datasets::pixel_statistics(images);
  expect_values(stats.mean, {3, 6});
  expect_values(stats.std, {2, 4});
  expect_values(datasets::standardize(images.select(0, 0), stats, 0.0), {-1, -1});
  // uint8 statistics are taken on the raw values and chunking does not change them.
  Generator generator(4);
  const Tensor many = randint(0, 256, {5000, 3}, generator).to(kUInt8);
  const datasets::PixelStatistics chunked = datasets::pixel_statistics(many);
  const Tensor reference = many.to(kFloat64);
  expect_values(chunked.mean, mean(reference, {0}).to_vector<double>(), 1e-3);
}

// The helpers work in place on the tensors they make, never on the caller's: a float32 input is
// already in the unit range's dtype, so to_unit_range makes no copy of it to work on.
TEST(Normalization, LeavesItsInputsAsTheyWere) {
  const Tensor floats = tensor({0, 255, 51});  // float32
  expect_values(datasets::to_unit_range(floats), {0, 1, 0.2}, 1e-6);
  expect_values(floats, {0, 255, 51});
  const Tensor unit = tensor({0, 1, 0.5});
  expect_values(datasets::normalize(unit, 0.5, 0.5), {-1, 1, 0});
  expect_values(unit, {0, 1, 0.5});
  const Tensor images = tensor({1, 2, 3, 6, 5, 10}, Shape{3, 2});
  const datasets::PixelStatistics stats = datasets::pixel_statistics(images);
  expect_values(datasets::standardize(images, stats, 0.0), {-1, -1, 0, 0, 1, 1});
  expect_values(images, {1, 2, 3, 6, 5, 10});
  expect_values(stats.mean, {3, 6});
  expect_values(stats.std, {2, 4});
  // Through autograd, the in-place steps are recorded: the gradient is 1 / (255 * std) per pixel.
  const Tensor x = tensor({10, 20}, std::nullopt, kFloat64).requires_grad_();
  datasets::normalize(datasets::to_unit_range(x), 0.5, 0.5).sum().backward();
  expect_values(x.grad(), {2 / 255.0, 2 / 255.0}, 1e-7);
}

TEST(RealMnistLoading, AnEpochOfBatch64CoversTheTrainingSetAsFloat) {
  REQUIRE_REAL_DATA(data_dir, "mnist/train-images-idx3-ubyte");
  auto mnist = std::make_shared<datasets::MNIST>(data_dir, datasets::Split::Train);
  auto normalized = datasets::map_inputs(mnist, [](const Tensor& pixels) {
    return datasets::normalize(datasets::to_unit_range(pixels), 0.5, 0.5);
  });
  DataLoader loader(normalized, DataLoaderOptions().with_batch_size(64).with_shuffle().with_seed(0));
  EXPECT_EQ(loader.size(), 938);
  std::int64_t seen = 0;
  for (auto& [x, y] : loader) {
    if (seen == 0) {
      EXPECT_EQ(x.dtype(), kFloat32);
      EXPECT_EQ(x.shape(), Shape({64, 28, 28}));
      EXPECT_GE(min(x).item(), -1.0);
      EXPECT_LE(max(x).item(), 1.0);
    }
    seen += y.size(0);
  }
  EXPECT_EQ(seen, 60000);
}

}  // namespace
}  // namespace tapegrad
