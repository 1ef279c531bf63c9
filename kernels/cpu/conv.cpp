// CPU im2col / col2im: convolution becomes one matrix product over an unfolded image, and its
// input gradient folds the product's result back. Work is split by independent output rows
// (im2col) or image planes (col2im), so no two threads write the same element and results do
// not depend on the thread count.
#include <algorithm>
#include <cstring>

#include <tapegrad/kernels/cpu/cpu_backend.h>
#include <tapegrad/kernels/cpu/parallel.h>

namespace tapegrad::kernels::cpu {
namespace {

// Outputs o in [begin, end) whose tap o * stride - pad + offset lands inside [0, extent).
struct ValidRange {
  std::int64_t begin, end;
};

ValidRange valid_outputs(std::int64_t outputs, std::int64_t stride, std::int64_t pad, std::int64_t offset,
                         std::int64_t extent) {
  const std::int64_t shift = pad - offset;  // tap = o * stride - shift
  std::int64_t begin = shift > 0 ? (shift + stride - 1) / stride : 0;
  std::int64_t end = extent + shift > 0 ? (extent - 1 + shift) / stride + 1 : 0;
  begin = std::min(begin, outputs);
  end = std::clamp(end, begin, outputs);
  return {begin, end};
}

// Runs f(begin, end) over [0, units), on several threads when `work` elements justify it.
template <class F>
void split_units(std::int64_t units, std::int64_t work, F&& f) {
  if (worth_parallel(work))
    parallel_for(units, f);
  else
    f(std::int64_t{0}, units);
}

template <class T>
void unfold(const TensorDesc& image, const Window2d& g, T* columns) {
  const T* x = image.ptr<T>();
  const std::int64_t plane = g.out_h * g.out_w, row_length = g.batch * plane, taps = g.kernel_h * g.kernel_w;
  const std::int64_t sn = image.strides[0], sc = image.strides[1], sh = image.strides[2], sw = image.strides[3];
  const std::int64_t rows = g.channels * taps;
  // One unit = one (row, sample) pair: `plane` contiguous column entries.
  split_units(rows * g.batch, rows * row_length, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t unit = begin; unit < end; ++unit) {
      const std::int64_t row = unit / g.batch, n = unit % g.batch;
      const std::int64_t c = row / taps, i = (row / g.kernel_w) % g.kernel_h, j = row % g.kernel_w;
      const T* source = x + n * sn + c * sc;
      T* dst = columns + row * row_length + n * plane;
      const ValidRange cols = valid_outputs(g.out_w, g.stride_w, g.pad_w, j * g.dilation_w, g.width);
      const std::int64_t w0 = j * g.dilation_w - g.pad_w;
      for (std::int64_t oh = 0; oh < g.out_h; ++oh, dst += g.out_w) {
        const std::int64_t h = oh * g.stride_h - g.pad_h + i * g.dilation_h;
        if (h < 0 || h >= g.height) {
          std::fill(dst, dst + g.out_w, T(0));
          continue;
        }
        std::fill(dst, dst + cols.begin, T(0));
        std::fill(dst + cols.end, dst + g.out_w, T(0));
        const T* line = source + h * sh;
        if (g.stride_w == 1 && sw == 1) {
          std::memcpy(dst + cols.begin, line + cols.begin + w0, sizeof(T) * (cols.end - cols.begin));
        } else {
          for (std::int64_t ow = cols.begin; ow < cols.end; ++ow) dst[ow] = line[(ow * g.stride_w + w0) * sw];
        }
      }
    }
  });
}

template <class T>
void fold(const T* columns, const Window2d& g, T* image) {
  const std::int64_t plane = g.out_h * g.out_w, row_length = g.batch * plane, taps = g.kernel_h * g.kernel_w;
  const std::int64_t image_plane = g.height * g.width;
  // One unit = one image plane (n, c); it gathers from the kernel_h * kernel_w rows of channel c.
  split_units(g.batch * g.channels, g.channels * taps * row_length, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t unit = begin; unit < end; ++unit) {
      const std::int64_t n = unit / g.channels, c = unit % g.channels;
      T* y = image + unit * image_plane;
      std::fill(y, y + image_plane, T(0));
      for (std::int64_t i = 0; i < g.kernel_h; ++i)
        for (std::int64_t j = 0; j < g.kernel_w; ++j) {
          const T* src = columns + ((c * g.kernel_h + i) * g.kernel_w + j) * row_length + n * plane;
          const ValidRange cols = valid_outputs(g.out_w, g.stride_w, g.pad_w, j * g.dilation_w, g.width);
          const ValidRange lines = valid_outputs(g.out_h, g.stride_h, g.pad_h, i * g.dilation_h, g.height);
          const std::int64_t w0 = j * g.dilation_w - g.pad_w;
          for (std::int64_t oh = lines.begin; oh < lines.end; ++oh) {
            T* line = y + (oh * g.stride_h - g.pad_h + i * g.dilation_h) * g.width;
            const T* s = src + oh * g.out_w;
            if (g.stride_w == 1) {
              T* shifted = line + cols.begin + w0;
              const T* from = s + cols.begin;
              for (std::int64_t k = 0; k < cols.end - cols.begin; ++k) shifted[k] += from[k];
            } else {
              for (std::int64_t ow = cols.begin; ow < cols.end; ++ow) line[ow * g.stride_w + w0] += s[ow];
            }
          }
        }
    }
  });
}

void check_float(DType dtype, const char* op) {
  TAPEGRAD_CHECK(is_floating(dtype), "{}: expected float32 or float64 data, got {}", op, dtype);
}

}  // namespace

void CpuBackend::im2col(const TensorDesc& image, const Window2d& window, const TensorDesc& columns) {
  check_float(image.dtype, "im2col");
  if (image.dtype == DType::Float32)
    unfold(image, window, columns.ptr<float>());
  else
    unfold(image, window, columns.ptr<double>());
}

void CpuBackend::col2im(const TensorDesc& columns, const Window2d& window, const TensorDesc& image) {
  check_float(columns.dtype, "col2im");
  if (columns.dtype == DType::Float32)
    fold(columns.ptr<float>(), window, image.ptr<float>());
  else
    fold(columns.ptr<double>(), window, image.ptr<double>());
}

}  // namespace tapegrad::kernels::cpu
