// The IDX reader and the MNIST / FashionMNIST datasets: the real files load with the published
// class counts; every malformed file (each built here, a few bytes long) gives a tapegrad::Error
// that says what is wrong; and thousands of random mutations of a valid file load cleanly or
// fail with a tapegrad::Error, never a crash (the sanitizer build runs this too).
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <zlib.h>

#include <gtest/gtest.h>

#include <tapegrad/datasets/idx.h>
#include <tapegrad/kernels/cpu_memory.h>
#include <tapegrad/datasets/mnist.h>

#include "data_test_util.h"
#include "test_util.h"

namespace tapegrad {
namespace {

using datasets::read_idx;
using tapegrad::testing::expect_error;
using tapegrad::testing::ScratchDir;
using tapegrad::testing::write_bytes;

using Bytes = std::vector<std::uint8_t>;

void append_u32(Bytes& bytes, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<std::uint8_t>(value >> shift));
}

// An IDX file of uint8 data: the header for `dims`, then `payload`.
Bytes idx_file(const std::vector<std::uint32_t>& dims, const Bytes& payload, std::uint32_t magic = 0) {
  Bytes bytes;
  append_u32(bytes, magic != 0 ? magic : 0x0800u | static_cast<std::uint32_t>(dims.size()));
  for (std::uint32_t d : dims) append_u32(bytes, d);
  bytes.insert(bytes.end(), payload.begin(), payload.end());
  return bytes;
}

Bytes counting(std::size_t n, std::uint8_t modulo = 251) {
  Bytes bytes(n);
  for (std::size_t i = 0; i < n; ++i) bytes[i] = static_cast<std::uint8_t>(i % modulo);
  return bytes;
}

void write_gzip(const std::string& path, const Bytes& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  ASSERT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  gzclose(file);
}

Bytes read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::int64_t> class_counts(const Tensor& labels) {
  std::vector<std::int64_t> counts(10, 0);
  for (std::int64_t label : labels.to_vector<std::int64_t>()) ++counts.at(static_cast<std::size_t>(label));
  return counts;
}

// ---- well-formed files ----

TEST(IdxReader, ReadsImagesAndLabelsRawOrGzipped) {
  ScratchDir dir;
  const Bytes images = idx_file({2, 3, 4}, counting(24));
  write_bytes(dir.file("images"), images);
  write_gzip(dir.file("images.gz"), images);
  for (const std::string& name : {"images", "images.gz"}) {
    const Tensor t = read_idx(dir.file(name));
    EXPECT_EQ(t.dtype(), kUInt8) << name;
    EXPECT_EQ(t.shape(), Shape({2, 3, 4})) << name;
    EXPECT_EQ(t.to_vector<std::uint8_t>(), counting(24)) << name;
  }
  write_bytes(dir.file("labels"), idx_file({5}, {0, 9, 3, 3, 1}));
  EXPECT_EQ(read_idx(dir.file("labels")).to_vector<std::uint8_t>(), (Bytes{0, 9, 3, 3, 1}));
}

TEST(IdxReader, AnEmptySetIsValid) {
  ScratchDir dir;
  write_bytes(dir.file("empty"), idx_file({0, 28, 28}, {}));
  EXPECT_EQ(read_idx(dir.file("empty")).shape(), Shape({0, 28, 28}));
}

// ---- malformed files ----

TEST(IdxReader, RefusesAWrongMagicNumber) {
  ScratchDir dir;
  for (std::uint32_t magic : {0x00000802u, 0x00000D03u, 0x08030000u, 0x00000800u, 0x00000804u, 0x12345678u}) {
    write_bytes(dir.file("bad"), idx_file({1, 1, 1}, {7}, magic));
    expect_error([&] { read_idx(dir.file("bad")); }, {"magic number", fmt::format("0x{:08x}", magic), "0x00000803"});
  }
}

TEST(IdxReader, RefusesADimensionProductThatOverflowsOrExceedsTheBound) {
  ScratchDir dir;
  write_bytes(dir.file("overflow"), idx_file({0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}, {1, 2, 3}));
  expect_error([&] { read_idx(dir.file("overflow")); }, {"product exceeds", "bytes"});
  write_bytes(dir.file("huge"), idx_file({60000, 28, 28000}, {1, 2, 3}));  // 47 GB
  expect_error([&] { read_idx(dir.file("huge")); }, {"product exceeds", "dimension 2 is 28000"});
}

TEST(IdxReader, RefusesAPayloadShorterOrLongerThanTheHeaderSays) {
  ScratchDir dir;
  write_bytes(dir.file("short"), idx_file({2, 2, 2}, counting(5)));
  expect_error([&] { read_idx(dir.file("short")); }, {"holds 5 payload bytes", "declares 8"});
  write_bytes(dir.file("long"), idx_file({2, 2, 2}, counting(9)));
  expect_error([&] { read_idx(dir.file("long")); }, {"holds 9 payload bytes", "declares 8"});

  write_gzip(dir.file("short.gz"), idx_file({2, 2, 2}, counting(5)));
  expect_error([&] { read_idx(dir.file("short.gz")); }, {"holds 5 payload bytes", "declares 8"});
  write_gzip(dir.file("long.gz"), idx_file({2, 2, 2}, counting(9)));
  expect_error([&] { read_idx(dir.file("long.gz")); }, {"more payload bytes than the 8"});
}

TEST(IdxReader, RefusesAFileThatEndsInsideTheHeader) {
  ScratchDir dir;
  write_bytes(dir.file("stub"), {0, 0});
  expect_error([&] { read_idx(dir.file("stub")); }, {"ends inside the 4-byte magic"});
  write_bytes(dir.file("dims"), {0, 0, 8, 3, 0, 0, 0, 2, 0, 0});
  expect_error([&] { read_idx(dir.file("dims")); }, {"ends inside dimension 1 of 3"});
}

TEST(IdxReader, StopsDecompressingAGzipBombOneBytePastTheDeclaredPayload) {
  ScratchDir dir;
  // 16 MB of zeros compress to about 16 KB; the header declares 4 bytes.
  write_gzip(dir.file("bomb.gz"), idx_file({4}, Bytes(16u << 20, 0)));
  expect_error([&] { read_idx(dir.file("bomb.gz")); }, {"more payload bytes than the 4"});
}

TEST(IdxReader, RefusesAHeaderClaimingMoreThanTheCompressedFileCanHold) {
  ScratchDir dir;
  write_gzip(dir.file("claim.gz"), idx_file({60000, 28, 28}, counting(10)));
  expect_error([&] { read_idx(dir.file("claim.gz")); }, {"too few for the 47040000 bytes"});
}

TEST(IdxReader, RefusesCorruptCompressedData) {
  ScratchDir dir;
  write_gzip(dir.file("good.gz"), idx_file({2, 3, 4}, counting(24)));
  Bytes bytes = read_whole(dir.file("good.gz"));
  bytes[bytes.size() - 6] ^= 0xFF;  // inside the CRC-32 trailer
  write_bytes(dir.file("crc.gz"), bytes);
  expect_error([&] { read_idx(dir.file("crc.gz")); }, {"crc.gz"});
}

TEST(IdxReader, RefusesACompressedFileCutBeforeOrInsideItsGzipTrailer) {
  ScratchDir dir;
  write_gzip(dir.file("good.gz"), idx_file({2, 3, 4}, counting(24)));
  const Bytes bytes = read_whole(dir.file("good.gz"));
  for (const std::size_t cut : {8u, 4u, 1u}) {  // the whole trailer, its length, one byte of it
    write_bytes(dir.file("cut.gz"), Bytes(bytes.begin(), bytes.end() - static_cast<std::ptrdiff_t>(cut)));
    expect_error([&] { read_idx(dir.file("cut.gz")); }, {"cut.gz", "truncated", "gzip trailer"});
  }
  Bytes wrong_length = bytes;
  wrong_length[wrong_length.size() - 2] ^= 0x01;  // inside the length field of the trailer
  write_bytes(dir.file("length.gz"), wrong_length);
  expect_error([&] { read_idx(dir.file("length.gz")); }, {"length.gz", "length"});
}

// An incompressible payload of 256 KiB under a header that claims 64 MiB: deflate's limit allows
// the claim, but the reader must not allocate it before the data is there.
TEST(IdxReader, MemoryFollowsTheCompressedDataActuallyReadNotTheHeadersClaim) {
  ScratchDir dir;
  Bytes noise(256u << 10);
  std::uint32_t state = 12345;
  for (std::uint8_t& byte : noise) byte = static_cast<std::uint8_t>((state = state * 1664525u + 1013904223u) >> 24);
  write_gzip(dir.file("claim.gz"), idx_file({64u << 20}, noise));
  cpu::empty_cache();
  cpu::reset_peak_memory_stats();
  const std::size_t before = cpu::memory_stats().allocated;
  expect_error([&] { read_idx(dir.file("claim.gz")); }, {"holds 262144 payload bytes", "declares 67108864"});
  EXPECT_LT(cpu::memory_stats().peak_allocated - before, std::size_t{4} << 20);
}

TEST(IdxReader, NamesAMissingFile) {
  expect_error([] { read_idx("/nonexistent/train-images-idx3-ubyte"); }, {"cannot open", "/nonexistent"});
}

// A small MNIST-format folder with images [count_images, 28, 28] and the given labels.
void write_mnist_folder(const std::string& root, std::uint32_t count_images, const Bytes& labels) {
  write_bytes(root + "/mnist/train-images-idx3-ubyte",
              idx_file({count_images, 28, 28}, counting(std::size_t{count_images} * 784)));
  write_bytes(root + "/mnist/train-labels-idx1-ubyte", idx_file({static_cast<std::uint32_t>(labels.size())}, labels));
}

TEST(MnistDataset, RefusesImagesAndLabelsOfDifferentCounts) {
  ScratchDir dir;
  write_mnist_folder(dir.path(), 3, {1, 2});
  expect_error([&] { datasets::MNIST(dir.path(), datasets::Split::Train); }, {"holds 3 images", "holds 2 labels"});
}

// A labels file whose header claims far more labels than there are images (here 50 million, as
// 50 MB of zeros compressed to 50 kB) is refused from the headers alone, before any payload is
// inflated or widened to int64.
TEST(MnistDataset, ComparesTheHeadersCountsBeforeReadingEitherPayload) {
  ScratchDir dir;
  write_bytes(dir.file("mnist/train-images-idx3-ubyte"), idx_file({2, 28, 28}, counting(2 * 784)));
  write_gzip(dir.file("mnist/train-labels-idx1-ubyte.gz"), idx_file({50'000'000}, Bytes(50'000'000, 0)));
  cpu::empty_cache();
  cpu::reset_peak_memory_stats();
  const std::size_t before = cpu::memory_stats().allocated;
  expect_error([&] { datasets::MNIST(dir.path(), datasets::Split::Train); }, {"holds 2 images", "holds 50000000 labels"});
  EXPECT_LT(cpu::memory_stats().peak_allocated - before, std::size_t{1} << 20);
}

TEST(MnistDataset, RefusesLabelsOutsideZeroToNine) {
  ScratchDir dir;
  write_mnist_folder(dir.path(), 3, {1, 10, 2});
  expect_error([&] { datasets::MNIST(dir.path(), datasets::Split::Train); }, {"label 1", "is 10", "0-9"});
}

TEST(MnistDataset, RefusesImagesThatAreNot28By28) {
  ScratchDir dir;
  write_bytes(dir.file("mnist/train-images-idx3-ubyte"), idx_file({1, 2, 2}, counting(4)));
  write_bytes(dir.file("mnist/train-labels-idx1-ubyte"), idx_file({1}, {0}));
  expect_error([&] { datasets::MNIST(dir.path(), datasets::Split::Train); }, {"shape [1, 2, 2]", "[N, 28, 28]"});
}

TEST(MnistDataset, AMissingFileNamesTheFetchCommand) {
  ScratchDir dir;
  expect_error([&] { datasets::MNIST(dir.path(), datasets::Split::Test); },
               {"t10k-images-idx3-ubyte", "scripts/fetch_data.sh --data-dir " + dir.path()});
}

TEST(MnistDataset, ExamplesPairImagesWithInt64Labels) {
  ScratchDir dir;
  write_mnist_folder(dir.path(), 2, {7, 3});
  const datasets::MNIST mnist(dir.path(), datasets::Split::Train);
  ASSERT_EQ(mnist.size(), 2);
  const datasets::Example second = mnist.get(1);
  EXPECT_EQ(second.input.shape(), Shape({28, 28}));
  EXPECT_EQ(second.input.dtype(), kUInt8);
  EXPECT_EQ(second.target.dtype(), kInt64);
  EXPECT_EQ(second.target.item(), 3.0);
  EXPECT_EQ(second.input.to_vector<std::uint8_t>()[0], 784 % 251);
}

// ---- fuzzing ----

// Applies one random edit: flip bits, set a byte, truncate, insert or delete bytes.
Bytes mutate(Bytes bytes, Generator& generator) {
  const auto pick = [&](std::size_t bound) { return static_cast<std::size_t>(generator.next_u64() % bound); };
  const int edits = 1 + static_cast<int>(pick(4));
  for (int e = 0; e < edits; ++e) {
    if (bytes.empty()) bytes.push_back(0);
    switch (pick(6)) {
      case 0: bytes[pick(bytes.size())] ^= static_cast<std::uint8_t>(1u << pick(8)); break;
      case 1: bytes[pick(bytes.size())] = static_cast<std::uint8_t>(pick(256)); break;
      case 2: bytes[pick(std::min<std::size_t>(bytes.size(), 16))] = static_cast<std::uint8_t>(pick(256)); break;
      case 3: bytes.resize(pick(bytes.size() + 1)); break;
      case 4: bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(pick(bytes.size() + 1)), pick(16) + 1,
                           static_cast<std::uint8_t>(pick(256))); break;
      default: bytes.erase(bytes.begin() + static_cast<std::ptrdiff_t>(pick(bytes.size()))); break;
    }
  }
  return bytes;
}

TEST(IdxReaderFuzz, RandomMutationsLoadCleanlyOrRaiseTapegradErrors) {
  ScratchDir dir;
  const Bytes raw = idx_file({3, 4, 5}, counting(60));
  write_gzip(dir.file("valid.gz"), raw);
  const Bytes gzipped = read_whole(dir.file("valid.gz"));
  Generator generator(2024);
  int loaded = 0, refused = 0;
  for (int trial = 0; trial < 4000; ++trial) {
    const Bytes mutated = mutate(trial % 2 == 0 ? raw : gzipped, generator);
    write_bytes(dir.file("mutated"), mutated);
    try {
      const Tensor t = read_idx(dir.file("mutated"));
      EXPECT_EQ(t.dtype(), kUInt8);
      EXPECT_LE(static_cast<std::size_t>(t.numel()), std::max<std::size_t>(mutated.size(), 1) * 1100);
      ++loaded;
    } catch (const Error&) {
      ++refused;
    }
  }
  EXPECT_GT(refused, 1000) << "most mutations damage the file";
  EXPECT_GT(loaded, 0) << "some mutations (payload bytes) leave a valid file";
}

// ---- the real datasets ----

TEST(RealMnist, TrainAndTestSplitsHaveThePublishedClassCounts) {
  REQUIRE_REAL_DATA(data_dir, "mnist/train-images-idx3-ubyte");
  const datasets::MNIST train(data_dir, datasets::Split::Train), test(data_dir, datasets::Split::Test);
  EXPECT_EQ(train.images().shape(), Shape({60000, 28, 28}));
  EXPECT_EQ(test.images().shape(), Shape({10000, 28, 28}));
  EXPECT_EQ(class_counts(train.labels()),
            (std::vector<std::int64_t>{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}));
  EXPECT_EQ(class_counts(test.labels()),
            (std::vector<std::int64_t>{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}));
  // The first training image is a 5 whose pixel sum is well known.
  EXPECT_EQ(train.labels().select(0, 0).item(), 5.0);
  EXPECT_EQ(sum(train.images().select(0, 0).to(kInt64)).item(), 27525.0);
}

TEST(RealFashionMnist, GzippedSplitsHaveSixThousandAndOneThousandPerClass) {
  REQUIRE_REAL_DATA(data_dir, "fashion-mnist/train-images-idx3-ubyte.gz");
  const datasets::FashionMNIST train(data_dir, datasets::Split::Train), test(data_dir, datasets::Split::Test);
  EXPECT_EQ(train.images().shape(), Shape({60000, 28, 28}));
  EXPECT_EQ(class_counts(train.labels()), std::vector<std::int64_t>(10, 6000));
  EXPECT_EQ(class_counts(test.labels()), std::vector<std::int64_t>(10, 1000));
  EXPECT_EQ(datasets::FashionMNIST::kClassNames[9], "Ankle boot");
}

}  // namespace
}  // namespace tapegrad
