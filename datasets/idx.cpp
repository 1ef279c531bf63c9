// IDX reading through zlib's gz* interface, which also reads uncompressed files transparently.
#include <tapegrad/datasets/idx.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include <zlib.h>

#include <tapegrad/autodiff/ops.h>

namespace tapegrad::datasets {
namespace {

constexpr std::uint32_t kLabelsMagic = 0x00000801;
constexpr std::uint32_t kImagesMagic = 0x00000803;
// deflate cannot expand data more than about 1032:1, so a compressed file of n bytes cannot hold
// a payload much beyond 1032 n: a header claiming more is refused before any allocation.
constexpr std::uint64_t kMaxDeflateRatio = 1032;
constexpr std::uint64_t kGzipOverhead = 1024;

struct GzCloser {
  void operator()(gzFile_s* file) const { gzclose(file); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

std::string gz_message(gzFile file) {
  int code = Z_OK;
  const char* message = gzerror(file, &code);
  return code == Z_OK || message == nullptr ? "unexpected end of data" : message;
}

// Reads up to `count` bytes; fewer only at the end of the data. Corrupt data throws, and so does
// a compressed file that ends before its gzip trailer (CRC-32 and length): zlib then returns the
// bytes it could inflate and records the truncation as an error instead of failing the read.
std::uint64_t read_some(gzFile file, void* destination, std::uint64_t count, const std::string& path) {
  auto* bytes = static_cast<unsigned char*>(destination);
  std::uint64_t done = 0;
  while (done < count) {
    const auto chunk = static_cast<unsigned>(std::min<std::uint64_t>(count - done, 1u << 30));
    const int got = gzread(file, bytes + done, chunk);
    TAPEGRAD_CHECK(got >= 0, "read_idx: {} is not a readable IDX file: {}", path, gz_message(file));
    done += static_cast<std::uint64_t>(got);
    if (static_cast<unsigned>(got) < chunk) break;
  }
  int code = Z_OK;
  gzerror(file, &code);
  TAPEGRAD_CHECK(code == Z_OK, "read_idx: {} is truncated: its compressed data ends before the gzip trailer (CRC-32 "
                 "and length); fetch the file again", path);
  return done;
}

std::uint32_t big_endian(const unsigned char* bytes) {
  return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) | (std::uint32_t{bytes[2]} << 8) |
         std::uint32_t{bytes[3]};
}

struct IdxHeader {
  Shape shape;
  std::uint64_t payload = 0;  // bytes
};

struct OpenIdx {
  GzFile file;
  IdxHeader header;
};

// Opens `path` and reads and checks its header, leaving the file at the first payload byte.
OpenIdx open_idx(const std::string& path) {
  std::error_code error;
  const std::uint64_t file_size = std::filesystem::file_size(path, error);
  TAPEGRAD_CHECK(!error, "read_idx: cannot open {}: {}", path, error.message());
  GzFile file(gzopen(path.c_str(), "rb"));
  TAPEGRAD_CHECK(file != nullptr, "read_idx: cannot open {}", path);

  std::array<unsigned char, 4> word{};
  TAPEGRAD_CHECK(read_some(file.get(), word.data(), 4, path) == 4, "read_idx: {} ends inside the 4-byte magic number",
                 path);
  const std::uint32_t magic = big_endian(word.data());
  TAPEGRAD_CHECK(magic == kLabelsMagic || magic == kImagesMagic,
                 "read_idx: {} has magic number 0x{:08x}; expected 0x{:08x} (uint8 labels) or 0x{:08x} (uint8 images)",
                 path, magic, kLabelsMagic, kImagesMagic);
  const int dims = static_cast<int>(magic & 0xff);

  IdxHeader header{.shape = {}, .payload = 1};
  for (int d = 0; d < dims; ++d) {
    TAPEGRAD_CHECK(read_some(file.get(), word.data(), 4, path) == 4, "read_idx: {} ends inside dimension {} of {}",
                   path, d, dims);
    const std::uint32_t extent = big_endian(word.data());
    TAPEGRAD_CHECK(!__builtin_mul_overflow(header.payload, std::uint64_t{extent}, &header.payload) &&
                       header.payload <= kMaxIdxBytes,
                   "read_idx: {} declares dimensions whose product exceeds {} bytes (dimension {} is {})", path,
                   kMaxIdxBytes, d, extent);
    header.shape.push_back(static_cast<std::int64_t>(extent));
  }
  const std::uint64_t header_bytes = 4 + 4 * static_cast<std::uint64_t>(dims);
  // Raw files can be checked against their size; compressed ones only against deflate's limit.
  if (gzdirect(file.get())) {
    TAPEGRAD_CHECK(file_size - header_bytes == header.payload,
                   "read_idx: {} holds {} payload bytes, but its header {} declares {}", path, file_size - header_bytes,
                   header.shape, header.payload);
  } else {
    TAPEGRAD_CHECK(header.payload <= kMaxDeflateRatio * file_size + kGzipOverhead,
                   "read_idx: {} is {} compressed bytes, too few for the {} bytes its header {} declares", path,
                   file_size, header.payload, header.shape);
  }
  return {std::move(file), std::move(header)};
}

// The payload of a compressed file, read into a buffer that grows with what has arrived: a header
// may claim up to deflate's limit of the file size, and nothing that large is allocated before the
// data is there to fill it.
std::vector<std::uint8_t> read_growing(gzFile file, std::uint64_t payload, const std::string& path) {
  constexpr std::uint64_t kFirstBlock = std::uint64_t{1} << 20;
  std::vector<std::uint8_t> bytes;
  while (bytes.size() < payload) {
    const std::uint64_t have = bytes.size();
    const std::uint64_t want = std::min(payload, std::max(kFirstBlock, 2 * have));
    bytes.resize(want);
    const std::uint64_t got = read_some(file, bytes.data() + have, want - have, path);
    if (got < want - have) {
      bytes.resize(have + got);
      break;
    }
  }
  return bytes;
}

}  // namespace

Shape read_idx_shape(const std::string& path) { return open_idx(path).header.shape; }

Tensor read_idx(const std::string& path) {
  const OpenIdx opened = open_idx(path);
  const GzFile& file = opened.file;
  const IdxHeader& header = opened.header;  // a reference, not a structured binding: the lambda uses it
  const auto check_count = [&](std::uint64_t got) {
    TAPEGRAD_CHECK(got == header.payload, "read_idx: {} holds {} payload bytes, but its header {} declares {}", path,
                   got, header.shape, header.payload);
  };
  Tensor data;
  if (gzdirect(file.get())) {  // the file's size already matched the header
    data = empty(header.shape, kUInt8);
    check_count(read_some(file.get(), data.data_ptr<std::uint8_t>(), header.payload, path));
  } else {
    const std::vector<std::uint8_t> bytes = read_growing(file.get(), header.payload, path);
    check_count(bytes.size());
    data = empty(header.shape, kUInt8);
    if (!bytes.empty()) std::memcpy(data.data_ptr<std::uint8_t>(), bytes.data(), bytes.size());
  }
  unsigned char extra = 0;
  TAPEGRAD_CHECK(read_some(file.get(), &extra, 1, path) == 0,
                 "read_idx: {} holds more payload bytes than the {} its header {} declares", path, header.payload,
                 header.shape);
  return data;
}

}  // namespace tapegrad::datasets
