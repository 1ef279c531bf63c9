// Reader for IDX files, the format of MNIST and FashionMNIST, raw or gzip-compressed. Every
// header field is validated before memory is allocated, so a damaged or hostile file gives a
// tapegrad::Error, never a crash or an allocation its contents cannot back.
#pragma once

#include <cstdint>
#include <string>

#include <tapegrad/autodiff/tensor.h>

namespace tapegrad::datasets {

// Sanity bound on an IDX payload (MNIST's training images are 47 MB).
inline constexpr std::uint64_t kMaxIdxBytes = std::uint64_t{1} << 31;

// Reads an IDX file of unsigned bytes: magic 0x00000801 gives labels [N], magic 0x00000803
// images [N, H, W], both uint8. The file may be gzip-compressed (detected from its contents).
// Throws on a wrong magic, a dimension product that overflows or exceeds kMaxIdxBytes, a
// payload shorter or longer than the header says (decompression stops one byte past it), and
// on corrupt compressed data.
// Compressed payloads are read into memory that grows with the data actually inflated, and a
// compressed file must end with its gzip trailer, whose CRC-32 and length are verified.
Tensor read_idx(const std::string& path);

// The shape an IDX file's header declares, checked as read_idx checks it, without reading the
// payload: loaders compare the headers of files that belong together before reading either.
Shape read_idx_shape(const std::string& path);

}  // namespace tapegrad::datasets
