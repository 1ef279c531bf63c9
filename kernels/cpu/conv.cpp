// CPU convolution: each image is unfolded (im2col) into a buffer that stays in cache, one
// single-threaded gemm per image produces or contracts it, and the input gradient folds the
// product back (col2im). Threads take whole images, so nothing waits between the unfolding and
// the products, and no column buffer of the whole batch is ever written to memory. The weight
// gradient sums per-group partial products in a fixed order, so results do not depend on the
// thread count or on which thread ran which image. im2col / col2im over a whole batch remain
// entries of their own (the backend's generic convolution, the tests' reference).
#include <algorithm>
#include <cstring>

#include <tapegrad/kernels/cpu/conv_activation.h>
#include <tapegrad/kernels/cpu/cpu_backend.h>
#include <tapegrad/kernels/cpu/onednn.h>
#include <tapegrad/kernels/cpu/parallel.h>
#include <tapegrad/kernels/element_rules.h>

namespace tapegrad::kernels::cpu {
namespace {

// Runs f(begin, end) over [0, units), on several threads when `work` elements justify it.
template <class F>
void split_units(std::int64_t units, std::int64_t work, F&& f) {
  if (worth_parallel(work))
    parallel_for(units, f);
  else
    f(std::int64_t{0}, units);
}

// One output line of a column row: zeros where the taps fall in the padding, the image line
// between. Lines are short (out_w, often 10-30), so plain loops the compiler vectorizes with
// masks beat a memcpy and two memset calls per line; the attribute keeps GCC from turning them
// back into those calls.
template <class T>
[[gnu::always_inline]] inline void unfold_line(T* dst, const T* line, const OutputRange& cols, std::int64_t out_w,
                                               std::int64_t w0, std::int64_t stride, std::int64_t sw) {
  for (std::int64_t ow = 0; ow < cols.begin; ++ow) dst[ow] = T(0);
  if (stride == 1 && sw == 1) {
    const T* source = line + w0;
    for (std::int64_t ow = cols.begin; ow < cols.end; ++ow) dst[ow] = source[ow];
  } else {
    for (std::int64_t ow = cols.begin; ow < cols.end; ++ow) dst[ow] = line[(ow * stride + w0) * sw];
  }
  for (std::int64_t ow = cols.end; ow < out_w; ++ow) dst[ow] = T(0);
}

template <class T>
[[gnu::optimize("no-tree-loop-distribute-patterns")]] void unfold(const TensorDesc& image, const Window2d& g,
                                                                   T* columns) {
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
      const OutputRange cols = outputs_inside(g.out_w, g.stride_w, g.pad_w, j, g.dilation_w, g.width);
      const OutputRange lines = outputs_inside(g.out_h, g.stride_h, g.pad_h, i, g.dilation_h, g.height);
      const std::int64_t w0 = tap_source(0, g.stride_w, g.pad_w, j, g.dilation_w);
      for (std::int64_t k = 0; k < lines.begin * g.out_w; ++k) dst[k] = T(0);
      for (std::int64_t oh = lines.begin; oh < lines.end; ++oh)
        unfold_line(dst + oh * g.out_w, source + tap_source(oh, g.stride_h, g.pad_h, i, g.dilation_h) * sh, cols,
                    g.out_w, w0, g.stride_w, sw);
      for (std::int64_t k = lines.end * g.out_w; k < plane; ++k) dst[k] = T(0);
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
          const T* src = columns + column_row(g, c, i, j) * row_length + n * plane;
          const OutputRange cols = outputs_inside(g.out_w, g.stride_w, g.pad_w, j, g.dilation_w, g.width);
          const OutputRange lines = outputs_inside(g.out_h, g.stride_h, g.pad_h, i, g.dilation_h, g.height);
          const std::int64_t w0 = tap_source(0, g.stride_w, g.pad_w, j, g.dilation_w);
          for (std::int64_t oh = lines.begin; oh < lines.end; ++oh) {
            T* line = y + tap_source(oh, g.stride_h, g.pad_h, i, g.dilation_h) * g.width;
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

// The weight gradient is summed in this many partial sums at most, one per run of images.
constexpr std::int64_t kWeightGradPartials = 16;

// Per-image geometry of a convolution. The column rows are channel-major, so channel group g owns
// the rows [g * group_rows, (g + 1) * group_rows) and meets only output channels
// [g * group_out, (g + 1) * group_out): one gemm per group.
struct ConvShape {
  std::int64_t rows, plane, out_channels, groups, group_rows, group_out;
  Window2d one;  // the window over a single image

  ConvShape(const Window2d& w, std::int64_t out_channels_)
      : rows(w.channels * w.kernel_h * w.kernel_w), plane(w.out_h * w.out_w), out_channels(out_channels_),
        groups(w.groups), group_rows(rows / w.groups), group_out(out_channels_ / w.groups), one(w) {
    one.batch = 1;
  }
  std::int64_t work_per_image() const {
    return out_channels * group_rows * plane / kConvMultiplyAddsPerUnit + rows * plane;
  }
  // Offsets of group g's blocks: its filters in the weight [C_out, group_rows], its column rows
  // [group_rows, plane] and its output channels [group_out, plane].
  std::int64_t weight_block(std::int64_t g) const { return g * group_out * group_rows; }
  std::int64_t column_block(std::int64_t g) const { return g * group_rows * plane; }
  std::int64_t output_block(std::int64_t g) const { return g * group_out * plane; }
};

// Memory from the CPU backend's caching allocator for the duration of a call.
template <class T>
class Buffer {
 public:
  Buffer(Backend& backend, std::int64_t count)
      : backend_(backend), bytes_(static_cast<std::size_t>(std::max<std::int64_t>(count, 1)) * sizeof(T)),
        data_(static_cast<T*>(backend.allocate(bytes_))) {}
  ~Buffer() { backend_.deallocate(data_, bytes_); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  T* get() const { return data_; }

 private:
  Backend& backend_;
  std::size_t bytes_;
  T* data_;
};

// Image n of a strided [N, C, H, W] tensor, as a batch of one.
TensorDesc image_of(const TensorDesc& t, std::int64_t n) {
  TensorDesc image = t;
  image.data = static_cast<char*>(t.data) + n * t.strides[0] * static_cast<std::int64_t>(dtype_size(t.dtype));
  image.shape[0] = 1;
  return image;
}

template <class T>
GemmProblem product(std::int64_t m, std::int64_t n, std::int64_t k, GemmOperand a, GemmOperand b, T* c, double beta) {
  GemmProblem p;
  p.dtype = std::is_same_v<T, float> ? DType::Float32 : DType::Float64;
  p.m = m;
  p.n = n;
  p.k = k;
  p.a = a;
  p.b = b;
  p.c = {c, n, 0};
  p.beta = beta;
  return p;
}

// Unfolds one image at a time into a column buffer [rows, plane] of its own. Unit strides and
// dilations (most layers) take a fast path: the image is first copied into a zero-bordered
// buffer, after which every line of a column row is a plain copy of a padded image line, done in
// fixed 16-element blocks that may spill into the next line (written afterwards) or the slack.
template <class T>
class Unfolder {
 public:
  static constexpr std::int64_t kBlock = 16;

  Unfolder(Backend& backend, const ConvShape& shape)
      : shape_(shape), fast_(is_plain(shape.one)), padded_h_(shape.one.height + 2 * shape.one.pad_h),
        padded_w_(shape.one.width + 2 * shape.one.pad_w), columns_(backend, shape.rows * shape.plane + kBlock),
        padded_(backend, fast_ ? shape.one.channels * padded_h_ * padded_w_ + kBlock : 0) {
    if (fast_) std::fill(padded_.get(), padded_.get() + shape.one.channels * padded_h_ * padded_w_ + kBlock, T(0));
  }

  T* columns() const { return columns_.get(); }

  // Fills columns() from image n.
  const T* unfold_image(const TensorDesc& input, std::int64_t n) {
    if (!fast_) {
      unfold(image_of(input, n), shape_.one, columns_.get());
      return columns_.get();
    }
    copy_into_border(image_of(input, n));
    const Window2d& g = shape_.one;
    T* dst = columns_.get();
    for (std::int64_t c = 0; c < g.channels; ++c)
      for (std::int64_t i = 0; i < g.kernel_h; ++i)
        for (std::int64_t j = 0; j < g.kernel_w; ++j) {
          const T* source = padded_.get() + (c * padded_h_ + i) * padded_w_ + j;
          for (std::int64_t oh = 0; oh < g.out_h; ++oh, dst += g.out_w, source += padded_w_)
            for (std::int64_t k = 0; k < g.out_w; k += kBlock) std::memcpy(dst + k, source + k, kBlock * sizeof(T));
        }
    return columns_.get();
  }

 private:
  static bool is_plain(const Window2d& g) {
    return g.stride_h == 1 && g.stride_w == 1 && g.dilation_h == 1 && g.dilation_w == 1;
  }

  // The image into the interior of the padded buffer; the border stays zero from construction.
  void copy_into_border(const TensorDesc& image) {
    const Window2d& g = shape_.one;
    const T* x = image.ptr<T>();
    const std::int64_t sc = image.strides[1], sh = image.strides[2], sw = image.strides[3];
    for (std::int64_t c = 0; c < g.channels; ++c)
      for (std::int64_t h = 0; h < g.height; ++h) {
        T* line = padded_.get() + (c * padded_h_ + h + g.pad_h) * padded_w_ + g.pad_w;
        const T* source = x + c * sc + h * sh;
        for (std::int64_t w = 0; w < g.width; ++w) line[w] = source[w * sw];
      }
  }

  const ConvShape& shape_;
  bool fast_;
  std::int64_t padded_h_, padded_w_;
  Buffer<T> columns_, padded_;
};

// Runs per_image(n, unfolder) for every image, threads taking whole images, each with buffers of
// its own.
template <class T, class F>
void for_each_image(Backend& backend, const ConvShape& shape, std::int64_t images, F&& per_image) {
  const auto run = [&](std::int64_t begin, std::int64_t end) {
    Unfolder<T> unfolder(backend, shape);
    for (std::int64_t n = begin; n < end; ++n) per_image(n, unfolder);
  };
  if (images > 1 && worth_parallel(images * shape.work_per_image()))
    parallel_for(images, run);
  else
    run(0, images);
}

template <class T>
void conv_forward(Backend& backend, const TensorDesc& input, const TensorDesc& weight, const TensorDesc& bias,
                  const Window2d& w, const TensorDesc& out, ConvActivation activation) {
  const ConvShape s(w, weight.shape[0]);
  T* y = out.ptr<T>();
  const T* kernel = weight.ptr<T>();
  const T* b = bias.data != nullptr ? bias.ptr<T>() : nullptr;
  for_each_image<T>(backend, s, w.batch, [&](std::int64_t n, Unfolder<T>& unfolder) {
    const T* columns = unfolder.unfold_image(input, n);
    T* y_n = y + n * s.out_channels * s.plane;
    // y_n[group] [group_out, plane] = weight[group] [group_out, group_rows] x columns[group] [group_rows, plane]
    for (std::int64_t g = 0; g < s.groups; ++g)
      backend.gemm(product(s.group_out, s.plane, s.group_rows, {kernel + s.weight_block(g), s.group_rows, 0, false},
                           {columns + s.column_block(g), s.plane, 0, false}, y_n + s.output_block(g), 0));
    if (b != nullptr) {
      for (std::int64_t c = 0; c < s.out_channels; ++c) {
        const T shift = b[c * bias.strides[0]];
        T* row = y_n + c * s.plane;
        for (std::int64_t i = 0; i < s.plane; ++i) row[i] += shift;
      }
    }
    if (activation == ConvActivation::Relu) apply_relu(y_n, s.out_channels * s.plane);
  });
}

template <class T>
void conv_input_grad(Backend& backend, const TensorDesc& grad_output, const TensorDesc& weight, const Window2d& w,
                     const TensorDesc& grad_input) {
  const ConvShape s(w, weight.shape[0]);
  const T* gy = grad_output.ptr<T>();
  const T* kernel = weight.ptr<T>();
  T* gx = grad_input.ptr<T>();
  const std::int64_t image_size = w.channels * w.height * w.width;
  for_each_image<T>(backend, s, w.batch, [&](std::int64_t n, Unfolder<T>& unfolder) {
    T* columns = unfolder.columns();
    const T* gy_n = gy + n * s.out_channels * s.plane;
    // columns[group] [group_rows, plane] = weight[group]^T [group_rows, group_out] x gy_n[group] [group_out, plane]
    for (std::int64_t g = 0; g < s.groups; ++g)
      backend.gemm(product(s.group_rows, s.plane, s.group_out, {kernel + s.weight_block(g), s.group_rows, 0, true},
                           {gy_n + s.output_block(g), s.plane, 0, false}, columns + s.column_block(g), 0));
    fold(columns, s.one, gx + n * image_size);
  });
}

// Adds each channel's sum of one image's output gradient [C_out, plane] to bias_sums [C_out],
// while the weight gradient's product has the image in cache.
template <class T>
void add_channel_sums(const T* gy_n, std::int64_t channels, std::int64_t plane, double* bias_sums) {
  for (std::int64_t c = 0; c < channels; ++c) {
    const T* row = gy_n + c * plane;
    double sum = 0;
    // Vector lanes of partial sums: one chain of dependent additions would cost 4 cycles each.
#pragma omp simd reduction(+ : sum)
    for (std::int64_t i = 0; i < plane; ++i) sum += row[i];
    bias_sums[c] += sum;
  }
}

template <class T>
void conv_weight_grad(Backend& backend, const TensorDesc& input, const TensorDesc& grad_output, const Window2d& w,
                      const TensorDesc& grad_weight, const TensorDesc& grad_bias) {
  const ConvShape s(w, grad_weight.shape[0]);
  const std::int64_t size = s.out_channels * s.group_rows;
  const std::int64_t partial_count = std::min(w.batch, kWeightGradPartials);
  // Run 0 sums into grad_weight itself, the others into partial sums added to it in order; the
  // bias gradient likewise, in double, one row of C_out per run.
  Buffer<T> partials(backend, (partial_count - 1) * size);
  const bool with_bias = grad_bias.data != nullptr;
  Buffer<double> bias_partials(backend, with_bias ? partial_count * s.out_channels : 0);
  if (with_bias) std::fill_n(bias_partials.get(), partial_count * s.out_channels, 0.0);
  const T* gy = grad_output.ptr<T>();
  const auto run_partials = [&](std::int64_t partial_begin, std::int64_t partial_end) {
    Unfolder<T> unfolder(backend, s);
    for (std::int64_t p = partial_begin; p < partial_end; ++p) {
      T* sum = p == 0 ? grad_weight.ptr<T>() : partials.get() + (p - 1) * size;
      const std::int64_t first = p * w.batch / partial_count, last = (p + 1) * w.batch / partial_count;
      for (std::int64_t n = first; n < last; ++n) {
        const T* columns = unfolder.unfold_image(input, n);
        const T* gy_n = gy + n * s.out_channels * s.plane;
        if (with_bias) add_channel_sums(gy_n, s.out_channels, s.plane, bias_partials.get() + p * s.out_channels);
        // sum[group] (+)= gy_n[group] [group_out, plane] x columns[group]^T [plane, group_rows]
        for (std::int64_t g = 0; g < s.groups; ++g)
          backend.gemm(product(s.group_out, s.group_rows, s.plane, {gy_n + s.output_block(g), s.plane, 0, false},
                               {columns + s.column_block(g), s.plane, 0, true}, sum + s.weight_block(g),
                               n == first ? 0 : 1));
      }
    }
  };
  if (partial_count > 1 && worth_parallel(w.batch * s.work_per_image()))
    run_parallel(partial_count, partial_count, num_threads(), run_partials);
  else
    run_partials(0, partial_count);
  T* total = grad_weight.ptr<T>();
  for (std::int64_t p = 1; p < partial_count; ++p) {
    const T* part = partials.get() + (p - 1) * size;
    for (std::int64_t i = 0; i < size; ++i) total[i] += part[i];
  }
  if (!with_bias) return;
  for (std::int64_t c = 0; c < s.out_channels; ++c) {
    double bias_sum = 0;
    for (std::int64_t p = 0; p < partial_count; ++p) bias_sum += bias_partials.get()[p * s.out_channels + c];
    grad_bias.ptr<T>()[c] = static_cast<T>(bias_sum);
  }
}

bool is_contiguous(const TensorDesc& t) { return t.strides == contiguous_strides(t.shape); }

void check_float(DType dtype, const char* op) {
  TAPEGRAD_CHECK(is_floating(dtype), "{}: expected float32 or float64 data, got {}", op, dtype);
}

}  // namespace

void CpuBackend::conv2d(const TensorDesc& input, const TensorDesc& weight, const TensorDesc& bias,
                        const Window2d& window, const TensorDesc& out, ConvActivation activation) {
  check_float(input.dtype, "conv2d");
  const bool plain = is_contiguous(input) && is_contiguous(weight) && (bias.data == nullptr || bias.strides[0] == 1);
  if (onednn::handles(window, input.dtype, plain))
    onednn::conv2d(input.ptr<float>(), weight.ptr<float>(), bias.data != nullptr ? bias.ptr<float>() : nullptr, window,
                   weight.shape[0], out.ptr<float>(), activation);
  else if (input.dtype == DType::Float32)
    conv_forward<float>(*this, input, weight, bias, window, out, activation);
  else
    conv_forward<double>(*this, input, weight, bias, window, out, activation);
}

void CpuBackend::conv2d_input_grad(const TensorDesc& grad_output, const TensorDesc& weight, const Window2d& window,
                                   const TensorDesc& grad_input) {
  check_float(grad_output.dtype, "conv2d_input_grad");
  if (onednn::handles(window, grad_output.dtype, is_contiguous(grad_output) && is_contiguous(weight)))
    onednn::conv2d_input_grad(grad_output.ptr<float>(), weight.ptr<float>(), window, weight.shape[0],
                              grad_input.ptr<float>());
  else if (grad_output.dtype == DType::Float32)
    conv_input_grad<float>(*this, grad_output, weight, window, grad_input);
  else
    conv_input_grad<double>(*this, grad_output, weight, window, grad_input);
}

void CpuBackend::conv2d_weight_grad(const TensorDesc& input, const TensorDesc& grad_output, const Window2d& window,
                                    const TensorDesc& grad_weight, const TensorDesc& grad_bias) {
  check_float(input.dtype, "conv2d_weight_grad");
  if (onednn::handles(window, input.dtype, is_contiguous(input) && is_contiguous(grad_output)))
    onednn::conv2d_weight_grad(input.ptr<float>(), grad_output.ptr<float>(), window, grad_weight.shape[0],
                               grad_weight.ptr<float>(), grad_bias.ptr<float>());
  else if (input.dtype == DType::Float32)
    conv_weight_grad<float>(*this, input, grad_output, window, grad_weight, grad_bias);
  else
    conv_weight_grad<double>(*this, input, grad_output, window, grad_weight, grad_bias);
}

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
