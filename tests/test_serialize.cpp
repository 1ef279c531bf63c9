// Specification of tensor files (safetensors) and of saving/loading modules: exact round trips,
// the byte layout other safetensors readers expect, files written elsewhere, atomic writes, and
// a distinct clear error for each kind of damage, with the module left unchanged.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <tuple>
#include <vector>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

namespace tapegrad {
namespace {

using namespace testing;  // the shared test vocabulary of test_util.h

namespace fs = std::filesystem;

class TensorFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / fmt::format("tapegrad_serialize_{}_{}", ::getpid(),
                                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path path(const std::string& name) const { return dir_ / name; }

  static std::string read(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  static void write(const fs::path& file, const std::string& bytes) {
    std::ofstream(file, std::ios::binary) << bytes;
  }
  // A file in the bare safetensors layout, as other writers produce it: no tapegrad metadata.
  static std::string safetensors_bytes(const std::string& header, const std::string& data) {
    std::string bytes(8, '\0');
    const std::uint64_t length = header.size();
    std::memcpy(bytes.data(), &length, 8);
    return bytes + header + data;
  }

  fs::path dir_;
};

TEST_F(TensorFiles, RoundTripIsExactForEveryDtypeAndLayout) {
  Generator generator(3);
  const Tensor f32 = randn({3, 4}, generator);
  const Tensor f64 = randn({2, 3, 2}, generator, kFloat64).transpose(0, 2);  // strided: stored contiguous
  const Tensor i64 = arange(0, 5, 1, kInt64);
  const Tensor scalar = scalar_tensor(2.5, kFloat64);
  const Tensor empty_tensor = zeros({0, 3});
  save_tensors(path("t.safetensors"), {{"f32", f32}, {"f64", f64}, {"i64", i64}, {"scalar", scalar}, {"empty", empty_tensor}},
               {{"note", "hello"}});
  const TensorFile file = load_tensors(path("t.safetensors"));
  ASSERT_EQ(file.tensors.size(), 5u);
  for (const auto& [name, original] : std::vector<std::pair<std::string, Tensor>>{
           {"f32", f32}, {"f64", f64}, {"i64", i64}, {"scalar", scalar}, {"empty", empty_tensor}}) {
    const Tensor& loaded = file.at(name);
    EXPECT_EQ(loaded.shape(), original.shape()) << name;
    EXPECT_EQ(loaded.dtype(), original.dtype()) << name;
    expect_values(loaded, original.to_vector<double>(), 0);
  }
  EXPECT_EQ(file.metadata.at("note"), "hello");
  EXPECT_EQ(file.metadata.at("format"), "pt");
  EXPECT_EQ(file.metadata.at("tapegrad.format_version"), "2");
  EXPECT_EQ(file.metadata.at("tapegrad.file_checksum").rfind("crc32:", 0), 0u);
  EXPECT_FALSE(file.metadata.contains("tapegrad.checksum"));
  expect_error([&] { (void)file.at("nope"); }, {"no tensor 'nope'", "f32"});
}

TEST_F(TensorFiles, LayoutIsSafetensors) {
  save_tensors(path("t.safetensors"), {{"w", f64({1.5, -2}, Shape{1, 2})}});
  const std::string bytes = read(path("t.safetensors"));
  std::uint64_t header_length = 0;
  std::memcpy(&header_length, bytes.data(), 8);
  EXPECT_EQ(header_length % 8, 0u);  // the data section starts 8-byte aligned
  const std::string header = bytes.substr(8, header_length);
  EXPECT_NE(header.find(R"("w":{"data_offsets":[0,16],"dtype":"F64","shape":[1,2]})"), std::string::npos) << header;
  ASSERT_EQ(bytes.size(), 8 + header_length + 16);
  double values[2];
  std::memcpy(values, bytes.data() + 8 + header_length, 16);
  EXPECT_EQ(values[0], 1.5);
  EXPECT_EQ(values[1], -2);
}

TEST_F(TensorFiles, LoadsFilesWrittenWithoutTapegradMetadata) {
  // What safetensors.torch.save_file writes for {"a": torch.tensor([1., 2.]), "b": torch.tensor([7])}.
  std::string data(8, '\0');
  const float a[2] = {1, 2};
  std::memcpy(data.data(), a, 8);
  const std::int64_t b = 7;
  data.append(reinterpret_cast<const char*>(&b), 8);
  write(path("torch.safetensors"),
        safetensors_bytes(R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                          R"("b":{"dtype":"I64","shape":[1],"data_offsets":[8,16]}}  )",
                          data));
  const TensorFile file = load_tensors(path("torch.safetensors"));
  expect_values(file.at("a"), {1, 2}, 0);
  EXPECT_EQ(file.at("b").dtype(), kInt64);
  expect_values(file.at("b"), {7}, 0);
}

TEST_F(TensorFiles, WritesAtomicallyLeavingNoTemporaryFiles) {
  save_tensors(path("t.safetensors"), {{"x", ones({2})}});
  save_tensors(path("t.safetensors"), {{"x", zeros({2})}});  // replaces the old file
  expect_values(load_tensors(path("t.safetensors")).at("x"), {0, 0}, 0);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
  expect_error([&] { save_tensors(dir_ / "missing" / "t.safetensors", {{"x", ones({1})}}); },
               {"cannot create", "directory exists"});
}

TEST_F(TensorFiles, RejectsBadNamesWhenSaving) {
  expect_error([&] { save_tensors(path("t"), {{"x", ones({1})}, {"x", ones({1})}}); }, {"used twice"});
  expect_error([&] { save_tensors(path("t"), {{"__metadata__", ones({1})}}); }, {"reserved"});
  expect_error([&] { save_tensors(path("t"), {{"x", Tensor()}}); }, {"undefined"});
}

// Each kind of damage gets its own message.
TEST_F(TensorFiles, RejectsDamagedFilesWithClearErrors) {
  save_tensors(path("good"), {{"w", ones({4})}, {"b", zeros({2}, kFloat64)}});
  const std::string good = read(path("good"));
  std::uint64_t header_length = 0;
  std::memcpy(&header_length, good.data(), 8);

  expect_error([&] { load_tensors(path("absent")); }, {"cannot open", "no such file"});
  write(path("tiny"), "abc");
  expect_error([&] { load_tensors(path("tiny")); }, {"fewer than the 8-byte header length"});
  write(path("truncated"), good.substr(0, good.size() - 3));
  expect_error([&] { load_tensors(path("truncated")); }, {"is damaged (checksum mismatch)"});
  write(path("header_cut"), good.substr(0, 20));
  expect_error([&] { load_tensors(path("header_cut")); }, {"runs past the end", "truncated"});

  std::string flipped = good;
  flipped[flipped.size() - 5] ^= 0x10;  // a bit of the data
  write(path("flipped"), flipped);
  expect_error([&] { load_tensors(path("flipped")); },
               {"tensor file '" + path("flipped").string() + "' is damaged (checksum mismatch)", "restore a copy"});

  std::string huge = good;
  const std::uint64_t absurd = 1ull << 60;
  std::memcpy(huge.data(), &absurd, 8);
  write(path("huge"), huge);
  expect_error([&] { load_tensors(path("huge")); }, {"exceeds the"});

  write(path("not_json"), safetensors_bytes("{not json", ""));
  expect_error([&] { load_tensors(path("not_json")); }, {"not valid JSON"});
  write(path("gap"), safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", std::string(8, '\0')));
  expect_error([&] { load_tensors(path("gap")); }, {"offsets must be contiguous"});
  write(path("size"), safetensors_bytes(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0')));
  expect_error([&] { load_tensors(path("size")); }, {"needs 12 bytes"});
  write(path("overflow"),
        safetensors_bytes(R"({"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", std::string(8, '\0')));
  expect_error([&] { load_tensors(path("overflow")); }, {path("overflow").string(), "too large", "2^63"});
  // An empty tensor whose other extent is absurd: its size is 0 bytes, but its strides are not.
  for (const char* shape : {"[0,18446744073709551615]", "[0,4611686018427387904,4]"}) {
    write(path("empty_huge"), safetensors_bytes(std::string(R"({"a":{"dtype":"F32","shape":)") + shape +
                                                    R"(,"data_offsets":[0,0]}})",
                                                ""));
    expect_error([&] { load_tensors(path("empty_huge")); }, {path("empty_huge").string(), "too large"});
  }
  write(path("dtype"), safetensors_bytes(R"({"a":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}})", std::string(2, '\0')));
  expect_error([&] { load_tensors(path("dtype")); }, {"does not support"});
  write(path("negative"), safetensors_bytes(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", std::string(4, '\0')));
  expect_error([&] { load_tensors(path("negative")); }, {"non-negative"});
  write(path("extra"), good + "xx");
  expect_error([&] { load_tensors(path("extra")); }, {"is damaged (checksum mismatch)"});
  // Without a checksum (a file written elsewhere), the data section's size is what shows it.
  const std::string bare = safetensors_bytes(R"({"a":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}})",
                                             std::string(32, '\0'));
  write(path("bare_truncated"), bare.substr(0, bare.size() - 3));
  expect_error([&] { load_tensors(path("bare_truncated")); }, {"cover 32 bytes", "truncated"});
  write(path("bare_extra"), bare + "xx");
  expect_error([&] { load_tensors(path("bare_extra")); }, {"file holds"});
}

// The checksum covers the whole file: a changed byte anywhere in the header (a tensor's name,
// shape or offsets, the metadata, the JSON itself) is damage, found before anything is read.
TEST_F(TensorFiles, ChecksumCoversHeaderAndMetadata) {
  save_tensors(path("good"), {{"weight", ones({4})}, {"bias", zeros({2}, kFloat64)}}, {{"epochs_done", "3"}});
  const std::string good = read(path("good"));
  const auto flip_at = [&](const std::string& text, std::size_t offset_in_text, char replacement) {
    std::string bytes = good;
    const std::size_t position = bytes.find(text);
    EXPECT_NE(position, std::string::npos) << text;
    bytes[position + offset_in_text] = replacement;
    write(path("edited"), bytes);
    return path("edited");
  };
  for (const auto& [text, offset, replacement] : std::vector<std::tuple<std::string, std::size_t, char>>{
           {"\"weight\"", 1, 'v'},          // a tensor's name: not a model mismatch but damage
           {"\"epochs_done\":\"3\"", 15, '6'},  // a metadata value
           {"\"shape\":[4]", 9, '2'},       // a shape, which would also fail the size check
           {"{", 0, '['}}) {                // the JSON itself
    expect_error([&] { load_tensors(flip_at(text, offset, replacement)); },
                 {"'" + path("edited").string() + "' is damaged (checksum mismatch)", "delete it or restore a copy"});
  }
  expect_error([&] { load_tensors(flip_at("file_checksum", 0, 'F')); }, {"is damaged", "no readable checksum"});
  expect_error([&] { (void)load_tensors(flip_at("\"weight\"", 1, 'v'), "checkpoint"); },
               {"checkpoint '" + path("edited").string() + "' is damaged (checksum mismatch)"});
}

// Files of format 1, whose checksum covers the data only, still load, and are still checked.
TEST_F(TensorFiles, LoadsFormatOneFilesAndChecksTheirData) {
  std::string data(8, '\0');
  const float a[2] = {1, 2};
  std::memcpy(data.data(), a, 8);
  const auto format_one = [&](const std::string& checksum) {
    return safetensors_bytes(R"({"__metadata__":{"format":"pt","tapegrad.checksum":")" + checksum +
                             R"(","tapegrad.format_version":"1"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                             data);
  };
  write(path("one"), format_one("crc32:2e3fa576"));  // zlib.crc32 of the data
  expect_values(load_tensors(path("one")).at("a"), {1, 2}, 0);
  write(path("one_damaged"), format_one("crc32:2e3fa577"));
  expect_error([&] { load_tensors(path("one_damaged")); }, {"is damaged (checksum mismatch)"});
  // Saving what was loaded writes format 2, with no stale format-1 checksum.
  const TensorFile loaded = load_tensors(path("one"));
  save_tensors(path("two"), loaded.tensors, loaded.metadata);
  const TensorFile resaved = load_tensors(path("two"));
  EXPECT_FALSE(resaved.metadata.contains("tapegrad.checksum"));
  EXPECT_EQ(resaved.metadata.at("tapegrad.format_version"), "2");
}

// A write that fails part-way (here a file-size limit, as a full disk fails it) throws with the
// system's reason, leaves the file already there byte for byte, and leaves no temporary file.
TEST_F(TensorFiles, AFailedWriteKeepsThePreviousFile) {
  save_tensors(path("t.safetensors"), {{"x", ones({4})}});
  const std::string previous = read(path("t.safetensors"));
  const auto failing_save = [&](const fs::path& file) {
    const fs::path message = path("message");
    const pid_t child = ::fork();
    if (child == 0) {
      ::signal(SIGXFSZ, SIG_IGN);  // writes past the limit then fail with EFBIG instead of killing
      const rlimit limit{.rlim_cur = 4096, .rlim_max = 4096};
      ::setrlimit(RLIMIT_FSIZE, &limit);
      try {
        save_tensors(file, {{"x", ones({100000})}});
      } catch (const Error& error) {
        const std::string text = error.what();
        const int fd = ::open(message.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);  // short: under the limit
        if (fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size())) ::_exit(0);
      }
      ::_exit(1);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the save did not fail with an Error";
    const std::string text = read(message);
    fs::remove(message);
    return text;
  };
  const std::string kept = failing_save(path("t.safetensors"));
  EXPECT_NE(kept.find("could not write tensor file '" + path("t.safetensors").string() + "': File too large; the "
                      "previous tensor file is kept"), std::string::npos) << kept;
  EXPECT_EQ(read(path("t.safetensors")), previous);
  const std::string none = failing_save(path("new.safetensors"));
  EXPECT_NE(none.find("File too large; nothing was written"), std::string::npos) << none;
  EXPECT_FALSE(fs::exists(path("new.safetensors")));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);  // no temporary file left
}

// ---- modules ----

nn::Sequential small_model() { return nn::Sequential(nn::Linear(3, 4), nn::ReLU(), nn::Linear(4, 2)); }

TEST_F(TensorFiles, ModuleSaveLoadRoundTripIsExact) {
  manual_seed(1);
  nn::Sequential saved = small_model();
  nn::save(saved, path("model.safetensors"));
  manual_seed(2);
  nn::Sequential loaded = small_model();
  nn::load(loaded, path("model.safetensors"));
  const auto a = saved.state_dict(), b = loaded.state_dict();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    expect_values(b[i].second, a[i].second.to_vector<double>(), 0);
  }
  EXPECT_TRUE(loaded.at<nn::Linear>(0).weight.requires_grad());  // still parameters
}

TEST_F(TensorFiles, ModuleLoadRejectsMismatchesAndLeavesTheModuleUnchanged) {
  manual_seed(1);
  nn::Sequential model = small_model();
  const std::vector<double> before = model.at<nn::Linear>(0).weight.to_vector<double>();
  const auto expect_unchanged = [&] { expect_values(model.at<nn::Linear>(0).weight, before, 0); };

  nn::Sequential wider(nn::Linear(3, 5), nn::ReLU(), nn::Linear(5, 2));
  nn::save(wider, path("wider"));
  expect_error([&] { nn::load(model, path("wider")); }, {"'0.weight' has shape [5, 3] in the file but [4, 3]"});
  expect_unchanged();

  nn::Sequential shorter(nn::Linear(3, 4));
  nn::save(shorter, path("shorter"));
  expect_error([&] { nn::load(model, path("shorter")); }, {"no tensor '2.weight'", "different model"});
  expect_unchanged();

  nn::Sequential longer(nn::Linear(3, 4), nn::ReLU(), nn::Linear(4, 2), nn::Linear(2, 2));
  nn::save(longer, path("longer"));
  expect_error([&] { nn::load(model, path("longer")); }, {"does not: 3.bias, 3.weight"});
  expect_unchanged();

  nn::Sequential doubled = small_model();
  doubled.to(kFloat64);
  nn::save(doubled, path("doubled"));
  expect_error([&] { nn::load(model, path("doubled")); }, {"dtype float64 in the file but float32"});
  expect_unchanged();

  nn::save(small_model(), path("good"));
  std::string bytes = read(path("good"));
  bytes[bytes.size() - 1] ^= 0x01;
  write(path("flipped"), bytes);
  expect_error([&] { nn::load(model, path("flipped")); }, {"is damaged (checksum mismatch)"});
  expect_unchanged();
}

}  // namespace
}  // namespace tapegrad
