// Grid layout, then libpng. libpng reports failures by longjmp, which must not jump over C++
// destructors: the block it may leave creates none, and a failure becomes a tapegrad::Error
// once libpng's state is released.
#include <tapegrad/datasets/image_io.h>

#include <cstdio>
#include <memory>
#include <vector>

#include <png.h>

#include <tapegrad/autodiff/ops.h>

namespace tapegrad::datasets {
namespace {

// false when libpng fails (it returns here by longjmp, so nothing below owns resources).
bool write_rows(png_structp png, png_infop info, std::FILE* file, const png_byte* pixels, std::int64_t width,
                std::int64_t height) {
  if (setjmp(png_jmpbuf(png)) != 0) return false;
  png_init_io(png, file);
  png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 8, PNG_COLOR_TYPE_GRAY,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (std::int64_t y = 0; y < height; ++y) png_write_row(png, pixels + y * width);
  png_write_end(png, nullptr);
  return true;
}

}  // namespace

void write_png_grid(const std::string& path, const Tensor& images, const ImageGridOptions& options) {
  TAPEGRAD_CHECK(images.defined() && (images.dim() == 3 || (images.dim() == 4 && images.size(1) == 1)),
                 "write_png_grid: expected grayscale images [N, H, W] or [N, 1, H, W], got {}",
                 images.defined() ? fmt::format("shape {}", images.shape()) : "an undefined tensor");
  TAPEGRAD_CHECK(options.columns >= 1 && options.padding >= 0 && options.high > options.low,
                 "write_png_grid: needs columns >= 1, padding >= 0 and high > low");
  const std::int64_t count = images.size(0), height = images.size(-2), width = images.size(-1);
  TAPEGRAD_CHECK(count >= 1, "write_png_grid: no images to write");
  const std::int64_t columns = std::min(options.columns, count), rows = (count + columns - 1) / columns;
  const std::int64_t pad = options.padding;
  const std::int64_t grid_width = columns * (width + pad) + pad, grid_height = rows * (height + pad) + pad;
  TAPEGRAD_CHECK(grid_width <= 1 << 16 && grid_height <= 1 << 16, "write_png_grid: a {}x{} grid is too large",
                 grid_width, grid_height);

  // Pixels as bytes: uint8 as they are, floats mapped from [low, high] and rounded (to(kUInt8)
  // saturates outside).
  const double scale = 255.0 / (options.high - options.low);
  const Tensor bytes = images.dtype() == kUInt8 ? images : add(mul(sub(images.to(kFloat64), options.low), scale), 0.5);
  const Tensor pixels = bytes.reshape({count, height, width}).to(kUInt8).contiguous();
  const std::uint8_t* source = pixels.data_ptr<std::uint8_t>();
  std::vector<png_byte> grid(static_cast<std::size_t>(grid_width * grid_height), options.background);
  for (std::int64_t n = 0; n < count; ++n) {
    const std::int64_t top = pad + (n / columns) * (height + pad), left = pad + (n % columns) * (width + pad);
    for (std::int64_t y = 0; y < height; ++y)
      std::copy_n(source + (n * height + y) * width, width, grid.begin() + (top + y) * grid_width + left);
  }

  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "wb"), &std::fclose);
  TAPEGRAD_CHECK(file != nullptr, "write_png_grid: cannot open {} for writing", path);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  TAPEGRAD_CHECK(png != nullptr, "write_png_grid: libpng could not start");
  png_infop info = png_create_info_struct(png);
  const bool written = info != nullptr && write_rows(png, info, file.get(), grid.data(), grid_width, grid_height);
  png_destroy_write_struct(&png, &info);
  TAPEGRAD_CHECK(written, "write_png_grid: libpng failed while writing {}", path);
  TAPEGRAD_CHECK(std::fflush(file.get()) == 0, "write_png_grid: could not write {}", path);
}

}  // namespace tapegrad::datasets
