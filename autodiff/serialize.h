// Named tensors on disk in the safetensors format, the interchange format PyTorch users load
// with `safetensors.torch.load_file`: an 8-byte little-endian header length, a JSON header
// giving each tensor's dtype, shape and byte range, then the raw little-endian data.
//
// tapegrad adds to `__metadata__` a format version and a checksum of the data, and checks the
// checksum when present (files written elsewhere have none and load all the same). Files are
// written atomically: a temporary file in the same directory, flushed, then renamed, so a crash
// never leaves a half-written file under the real name. Loading validates like safetensors
// does and throws a tapegrad::Error naming the file and the problem.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <tapegrad/autodiff/tensor.h>

namespace tapegrad {

// Tensors in a fixed order; names are unique.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

struct TensorFile {
  NamedTensors tensors;                          // in file order (by data offset)
  std::map<std::string, std::string> metadata;   // `__metadata__`, tapegrad's own keys included
  // The tensor called `name`; throws naming the file's tensors when there is none.
  const Tensor& at(const std::string& name) const;
};

// Writes `tensors` (any device, dtype and strides; stored contiguous) and `metadata` to `path`.
void save_tensors(const std::filesystem::path& path, const NamedTensors& tensors,
                  const std::map<std::string, std::string>& metadata = {});

// Reads a whole safetensors file into CPU tensors.
TensorFile load_tensors(const std::filesystem::path& path);

}  // namespace tapegrad
