// Helpers for the dataset tests: scratch files, and the real datasets (fetched by
// scripts/fetch_data.sh; ctest runs it first as a fixture and passes the directory in
// TAPEGRAD_DATA), with a skip that names the fetch command when they are absent.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>

#include <tapegrad/datasets/data_dir.h>

namespace tapegrad::testing {

// A fresh directory removed when the test ends.
class ScratchDir {
 public:
  ScratchDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("tapegrad_" + std::to_string(::getpid()) + "_" + (info ? std::string(info->name()) : "scratch"));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

inline void write_bytes(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline void write_text(const std::string& path, const std::string& text) {
  write_bytes(path, std::vector<std::uint8_t>(text.begin(), text.end()));
}

// The data directory when `relative_file` is there, else nothing.
inline std::optional<std::string> real_data_dir(const std::string& relative_file) {
  const std::string dir = datasets::resolve_data_dir();
  if (std::filesystem::is_regular_file(std::filesystem::path(dir) / relative_file)) return dir;
  return std::nullopt;
}

}  // namespace tapegrad::testing

// Skips the test unless the real datasets are present, saying how to fetch them.
#define REQUIRE_REAL_DATA(dir_variable, relative_file)                                                     \
  const auto dir_variable##_found = ::tapegrad::testing::real_data_dir(relative_file);                     \
  if (!dir_variable##_found)                                                                             \
    GTEST_SKIP() << "the real datasets are not in " << ::tapegrad::datasets::resolve_data_dir()             \
                 << "; run scripts/fetch_data.sh (or set TAPEGRAD_DATA to where they are)";               \
  const std::string dir_variable = *dir_variable##_found
