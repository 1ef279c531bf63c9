// What the fuzz targets share. tapegrad's readers take paths, so each input is written to a file
// of the process's own (in $TMPDIR, a RAM disk where there is one) and read from there. A reader
// may refuse an input only with a tapegrad::Error; any other exception escapes the target and
// libFuzzer reports it, as it reports crashes and sanitizer findings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

#include <unistd.h>

#include <tapegrad/tapegrad.h>

namespace tapegrad::fuzz {

// A folder of this process's own, removed at exit.
inline const std::filesystem::path& scratch_dir() {
  struct Dir {
    std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("tapegrad_fuzz_" + std::to_string(::getpid()));
    Dir() { std::filesystem::create_directories(path); }
    ~Dir() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  };
  static const Dir dir;
  return dir.path;
}

inline std::filesystem::path write_file(const std::string& name, const void* data, std::size_t size) {
  const std::filesystem::path path = scratch_dir() / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) throw std::runtime_error("fuzz: cannot write " + path.string());
  return path;
}

inline std::filesystem::path write_input(const std::uint8_t* data, std::size_t size, const std::string& name) {
  return write_file(name, data, size);
}

// Reads an IDX file as both targets do: a refusal is fine, but read_idx_shape must accept every
// file read_idx accepts, with the same shape.
inline void read_idx_consistently(const std::string& path) {
  Tensor tensor;
  try {
    tensor = datasets::read_idx(path);
  } catch (const Error&) {
    return;
  }
  if (datasets::read_idx_shape(path) != tensor.shape()) __builtin_trap();
}

// The threads of tapegrad's pool would only slow each input down (and confuse libFuzzer's
// per-input memory accounting); the readers are single-threaded.
inline void single_threaded() { set_num_threads(1); }

}  // namespace tapegrad::fuzz
