// Named tensors on disk in the safetensors format, the interchange format PyTorch users load
// with `safetensors.torch.load_file`: an 8-byte little-endian header length, a JSON header
// giving each tensor's dtype, shape and byte range, then the raw little-endian data.
//
// tapegrad adds to `__metadata__` a format version and a checksum, a CRC-32 of the whole file
// (length, header and metadata, data) taken with the checksum's own digits read as zeros, and
// checks it before interpreting anything else. Files written elsewhere have none and load all
// the same; files of format 1 (a checksum of the data only) load with that check. A tool that
// rewrites a tapegrad file must drop the `tapegrad.` entries, or it is refused as damaged. Files
// are written atomically: a temporary file in the same directory, flushed, then renamed, so a
// crash or a full disk never leaves a half-written file under the real name and never harms the
// file already there. Loading validates like safetensors does and throws a tapegrad::Error
// naming the file and the problem.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
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
// `what` names the file in errors ("could not write checkpoint '<path>': No space left on
// device; the previous checkpoint is kept").
void save_tensors(const std::filesystem::path& path, const NamedTensors& tensors,
                  const std::map<std::string, std::string>& metadata = {}, std::string_view what = "tensor file");

// Reads a whole safetensors file into CPU tensors; `what` names the file in errors
// ("checkpoint '<path>' is damaged (checksum mismatch): ...").
TensorFile load_tensors(const std::filesystem::path& path, std::string_view what = "tensor file");

}  // namespace tapegrad
