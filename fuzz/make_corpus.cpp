// Writes the fuzz targets' seed corpora: small valid files of each format and a few damaged
// ones, under <folder>/<target>/. Run from the fuzz build as
//   build-fuzz/fuzz/fuzz_make_corpus fuzz/corpus
// Everything is seeded, so the files come out the same on every run.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>
#include <zlib.h>

#include <experiment/checkpoint.h>

#include "fuzz_model.h"

using namespace tapegrad;
namespace fs = std::filesystem;

namespace {

fs::path g_root;

fs::path seed_path(const std::string& target, const std::string& name) {
  fs::create_directories(g_root / target);
  return g_root / target / name;
}

void write(const std::string& target, const std::string& name, const std::string& bytes) {
  std::ofstream(seed_path(target, name), std::ios::binary | std::ios::trunc) << bytes;
}

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// gzip with a fixed header (no name, no time stamp), so the bytes do not depend on when they were made.
std::string gzip(const std::string& bytes) {
  z_stream stream{};
  if (deflateInit2(&stream, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) throw std::runtime_error("zlib");
  std::string out(deflateBound(&stream, bytes.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  stream.avail_in = static_cast<uInt>(bytes.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  if (deflate(&stream, Z_FINISH) != Z_STREAM_END) throw std::runtime_error("zlib");
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

std::string big_endian(std::uint32_t value) {
  return {static_cast<char>(value >> 24), static_cast<char>(value >> 16), static_cast<char>(value >> 8),
          static_cast<char>(value)};
}

std::string idx_file(std::uint32_t magic, const std::vector<std::uint32_t>& shape) {
  std::string bytes = big_endian(magic);
  std::uint64_t payload = 1;
  for (const std::uint32_t extent : shape) {
    bytes += big_endian(extent);
    payload *= extent;
  }
  for (std::uint64_t i = 0; i < payload; ++i) bytes += static_cast<char>(i * 37 % 256);
  return bytes;
}

void idx_seeds() {
  const std::string labels = idx_file(0x801, {6});
  const std::string images = idx_file(0x803, {3, 4, 5});
  for (const std::string target : {"idx", "idx_gzip"}) {
    // idx reads the bytes as they are; idx_gzip compresses them first.
    write(target, "labels.idx", labels);
    write(target, "images.idx", images);
    write(target, "empty_images.idx", idx_file(0x803, {0, 28, 28}));
    write(target, "truncated.idx", images.substr(0, images.size() - 7));
    write(target, "huge_dimension.idx", big_endian(0x803) + big_endian(60000) + big_endian(0xffffffff) + big_endian(28));
    write(target, "bad_magic.idx", big_endian(0x0d03) + images.substr(4));
  }
  write("idx", "labels.idx.gz", gzip(labels));
  write("idx", "images.idx.gz", gzip(images));
  const std::string compressed = gzip(images);
  write("idx", "no_trailer.idx.gz", compressed.substr(0, compressed.size() - 8));
  std::string bad_crc = compressed;
  bad_crc[bad_crc.size() - 6] ^= 0x5a;
  write("idx", "bad_crc.idx.gz", bad_crc);
}

void text_seeds() {
  write("libsvm", "binary.libsvm", "+1 1:0.5 3:-1.25\n-1 2:1e-3 4:7 # a comment\n+1 1:2\n");
  write("libsvm", "classes.libsvm", "# classes\n0 1:1 2:2 3:3\n2 5:0.5\n1\n\n1 8:-4.5e2\n");
  write("libsvm", "regression.libsvm", "3.25 1:1 6:0.5\n-0.5 2:nan 3:inf\n");
  write("libsvm", "unordered.libsvm", "1 3:1 2:1\n");
  write("libsvm", "bad_token.libsvm", "1 1:2 x:y\n");
  write("libsvm", "huge_index.libsvm", "1 99999999999:1\n");

  write("csv", "iris.csv", "sepal_length,sepal_width,label\n5.1,3.5,setosa\n7.0,3.2,versicolor\n6.3,3.3,virginica\n"
                          "4.9,3.0,setosa\n");
  write("csv", "numbers.csv", "a,b,c\n1,2,3\n-4.5,5e3,nan\n7,8,9\n");
  write("csv", "semicolons.csv", "1;2;3\n4;5;6\n");
  write("csv", "quoted.csv", "\"a\",\"b\"\r\n1,2\r\n");
  write("csv", "ragged.csv", "a,b,label\n1,2,x\n3\n");
  write("csv", "not_a_number.csv", "a,label\n1x,y\n");
}

void safetensors_seeds() {
  Generator generator(7);
  save_tensors(seed_path("safetensors", "dtypes.safetensors"),
               {{"f32", randn({2, 3}, generator)}, {"f64", randn({3}, generator, kFloat64)},
                {"i64", arange(0, 4, 1, kInt64)}, {"u8", tensor({0, 7, 255}, std::nullopt, kUInt8)},
                {"flag", tensor({1, 0, 1}, std::nullopt, kBool)}, {"scalar", scalar_tensor(2.5, kFloat64)},
                {"empty", zeros({0, 3})}},
               {{"note", "seed"}});
  // The bare layout other writers produce: no tapegrad metadata, no checksum.
  const std::string header = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  std::string bare(8, '\0');
  const std::uint64_t length = header.size();
  std::memcpy(bare.data(), &length, 8);
  const float values[2] = {1.5f, -2.0f};
  bare += header + std::string(reinterpret_cast<const char*>(values), sizeof values);
  write("safetensors", "bare.safetensors", bare);
  write("safetensors", "truncated.safetensors", bare.substr(0, bare.size() - 3));
  std::string overlapping = bare;
  overlapping.replace(overlapping.find("[0,8]"), 5, "[4,8]");
  write("safetensors", "bad_offsets.safetensors", overlapping);
}

void model_seeds() {
  manual_seed(0);
  const auto model = fuzz::make_model();
  nn::save(*model, seed_path("nn_load", "model.safetensors"));
  nn::save(nn::Linear(3, 4), seed_path("nn_load", "other_model.safetensors"));
  const std::string saved = read(seed_path("nn_load", "model.safetensors"));
  write("nn_load", "truncated.safetensors", saved.substr(0, saved.size() - 5));
  // Also a seed for the plain tensor reader: a module's file with buffers of two dtypes.
  write("safetensors", "model.safetensors", saved);
}

void checkpoint_seeds() {
  manual_seed(0);
  const auto model = fuzz::make_model();
  optim::Adam optimizer = fuzz::make_optimizer(*model);
  const fs::path metrics_csv = fs::temp_directory_path() / ("tapegrad_fuzz_metrics_" + std::to_string(::getpid()));
  experiment::MetricsLog metrics(metrics_csv, fuzz::metrics_columns());
  const Tensor loss = mse_loss(model->forward(randn({5, 3})), zeros({5, 2}));
  loss.backward();
  optimizer.step();  // the optimizer has state to save
  metrics.append({1, loss.item<double>()});
  experiment::Checkpointer checkpoint(seed_path("checkpoint", "checkpoint.safetensors"), *model, optimizer, metrics);
  checkpoint.save(1, 1);
  fs::remove(metrics_csv);
  const std::string saved = read(seed_path("checkpoint", "checkpoint.safetensors"));
  write("checkpoint", "truncated.safetensors", saved.substr(0, saved.size() / 2));
  write("checkpoint", "model_only.safetensors", read(seed_path("nn_load", "model.safetensors")));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s FOLDER (fuzz/corpus)\n", argv[0]);
    return 2;
  }
  g_root = argv[1];
  idx_seeds();
  text_seeds();
  safetensors_seeds();
  model_seeds();
  checkpoint_seeds();
  return 0;
}
