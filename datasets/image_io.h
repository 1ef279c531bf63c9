// PNG output for looking at data: a grid of grayscale images, written with libpng.
#pragma once

#include <cstdint>
#include <string>

#include <tapegrad/autodiff/tensor.h>

namespace tapegrad::datasets {

struct ImageGridOptions {
  std::int64_t columns = 8;
  std::int64_t padding = 2;      // pixels between images and around the grid
  double low = 0, high = 1;      // float values mapped to black and white (clamped); uint8 is as is
  std::uint8_t background = 64;  // the padding's gray
};

// Writes images [N, H, W] or [N, 1, H, W] (float or uint8) as an 8-bit grayscale PNG, row-major,
// `columns` images per row.
void write_png_grid(const std::string& path, const Tensor& images, const ImageGridOptions& options = {});

}  // namespace tapegrad::datasets
