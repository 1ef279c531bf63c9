// Convolution as matrix products, for any backend: the batch is unfolded (im2col) a few samples
// at a time into one reused buffer, one gemm per chunk produces or contracts the whole chunk,
// and the input gradient is folded back (col2im). Backends with faster kernels of their own
// override these entries; this stays their reference.
#include <algorithm>

#include <tapegrad/kernels/backend.h>
#include <tapegrad/kernels/scratch.h>

namespace tapegrad::kernels {
namespace {

// The batch is unfolded into one reused buffer of about this many elements: a whole-batch
// buffer (40 MB for 16 -> 32 channels, k5, 14x14 at batch 128) would be fresh memory on every call.
constexpr std::int64_t kColumnBudget = std::int64_t{1} << 20;

std::int64_t column_rows(const Window2d& w) { return w.channels * w.kernel_h * w.kernel_w; }
// The column rows are channel-major, so channel group g owns a block of rows [g * group_rows,
// (g + 1) * group_rows), which meets only its own output channels: one gemm per group.
std::int64_t group_rows(const Window2d& w) { return column_rows(w) / w.groups; }
std::int64_t output_plane(const Window2d& w) { return w.out_h * w.out_w; }

// Samples [begin, begin + count) of the batch.
struct Chunk {
  std::int64_t begin, count;
  Window2d window;  // the window over these samples only
};

std::int64_t samples_per_chunk(const Window2d& w) {
  const std::int64_t per_sample = std::max<std::int64_t>(column_rows(w) * output_plane(w), 1);
  return std::clamp<std::int64_t>(kColumnBudget / per_sample, 1, std::max<std::int64_t>(w.batch, 1));
}

template <class F>
void for_each_chunk(const Window2d& w, F&& f) {
  const std::int64_t samples = samples_per_chunk(w);
  for (std::int64_t begin = 0; begin < w.batch; begin += samples) {
    Chunk chunk{begin, std::min(samples, w.batch - begin), w};
    chunk.window.batch = chunk.count;
    f(chunk);
  }
}

void* element(const TensorDesc& t, std::int64_t offset) {
  return static_cast<char*>(t.data) + offset * static_cast<std::int64_t>(dtype_size(t.dtype));
}

// Samples [begin, begin + count) of an [N, ...] tensor.
TensorDesc samples_of(const TensorDesc& t, const Chunk& chunk) {
  TensorDesc d = t;
  d.data = element(t, chunk.begin * t.strides[0]);
  d.shape[0] = chunk.count;
  return d;
}

GemmOperand operand(const void* data, std::int64_t leading_dim, bool transposed = false) {
  return {data, leading_dim, 0, transposed};
}

// grad_output [N, C_out, plane] as a contiguous [C_out, N * plane]: every product of the
// backward pass then contracts or produces whole chunks of samples in one gemm.
void to_channels_first(Backend& backend, const TensorDesc& grad_output, const Scratch& out) {
  TensorDesc by_channel = grad_output;
  const Strides& s = grad_output.strides;
  const Shape& shape = grad_output.shape;
  by_channel.shape = {shape[1], shape[0], shape[2], shape[3]};
  by_channel.strides = {s[1], s[0], s[2], s[3]};
  TensorDesc destination = out.desc();
  destination.shape = by_channel.shape;
  destination.strides = contiguous_strides(by_channel.shape);
  backend.copy(by_channel, destination);
}

}  // namespace

void Backend::conv2d(const TensorDesc& input, const TensorDesc& weight, const TensorDesc& bias, const Window2d& w,
                     const TensorDesc& out, ConvActivation activation) {
  const std::int64_t out_channels = weight.shape[0], plane = output_plane(w), rows = column_rows(w);
  const Scratch columns(*this, {samples_per_chunk(w) * rows * plane}, input.dtype);
  const Scratch product(*this, {out_channels * samples_per_chunk(w) * plane}, input.dtype);
  const std::int64_t per_group = group_rows(w), group_out = out_channels / w.groups;
  for_each_chunk(w, [&](const Chunk& chunk) {
    im2col(samples_of(input, chunk), chunk.window, columns.desc());
    // product[group]: [group_out, count * plane] = weight[group] [group_out, per_group] x
    // columns[group] [per_group, count * plane]
    const std::int64_t width = chunk.count * plane;
    for (std::int64_t g = 0; g < w.groups; ++g) {
      GemmProblem problem;
      problem.dtype = input.dtype;
      problem.m = group_out;
      problem.n = width;
      problem.k = per_group;
      problem.a = operand(element(weight, g * group_out * per_group), per_group);
      problem.b = operand(element(columns.desc(), g * per_group * width), width);
      problem.c = {element(product.desc(), g * group_out * width), width, 0};
      gemm(problem);
    }
    // out[begin + n, c] = product[c, n] (+ bias[c]): the permutation to NCHW and the bias in one pass.
    TensorDesc permuted = product.desc();
    permuted.shape = {chunk.count, out_channels, plane};
    permuted.strides = {plane, width, 1};
    TensorDesc destination = samples_of(out, chunk);
    destination.shape = permuted.shape;
    destination.strides = {out_channels * plane, plane, 1};
    if (bias.data != nullptr) {
      TensorDesc broadcast = bias;
      broadcast.shape = permuted.shape;
      broadcast.strides = {0, bias.strides[0], 0};
      binary(BinaryOp::Add, permuted, broadcast, destination, 1);
    } else {
      copy(permuted, destination);
    }
    if (activation == ConvActivation::Relu) unary(UnaryOp::Relu, destination, destination, {});
  });
}

void Backend::conv2d_input_grad(const TensorDesc& grad_output, const TensorDesc& weight, const Window2d& w,
                                const TensorDesc& grad_input) {
  const std::int64_t out_channels = weight.shape[0], plane = output_plane(w), rows = column_rows(w);
  const Scratch gy(*this, {out_channels, w.batch * plane}, grad_output.dtype);
  to_channels_first(*this, grad_output, gy);
  const Scratch columns(*this, {samples_per_chunk(w) * rows * plane}, grad_output.dtype);
  const std::int64_t per_group = group_rows(w), group_out = out_channels / w.groups;
  for_each_chunk(w, [&](const Chunk& chunk) {
    // columns[group]: [per_group, count * plane] = weight[group]^T [per_group, group_out] x
    // gy[group, chunk] [group_out, count * plane]
    const std::int64_t width = chunk.count * plane;
    for (std::int64_t g = 0; g < w.groups; ++g) {
      GemmProblem problem;
      problem.dtype = grad_output.dtype;
      problem.m = per_group;
      problem.n = width;
      problem.k = group_out;
      problem.a = operand(element(weight, g * group_out * per_group), per_group, true);
      problem.b = operand(element(gy.desc(), g * group_out * w.batch * plane + chunk.begin * plane), w.batch * plane);
      problem.c = {element(columns.desc(), g * per_group * width), width, 0};
      gemm(problem);
    }
    col2im(columns.desc(), chunk.window, samples_of(grad_input, chunk));
  });
}

void Backend::conv2d_weight_grad(const TensorDesc& input, const TensorDesc& grad_output, const Window2d& w,
                                 const TensorDesc& grad_weight, const TensorDesc& grad_bias) {
  const std::int64_t out_channels = grad_weight.shape[0], plane = output_plane(w), rows = column_rows(w);
  const Scratch gy(*this, {out_channels, w.batch * plane}, input.dtype);
  to_channels_first(*this, grad_output, gy);
  const Scratch columns(*this, {samples_per_chunk(w) * rows * plane}, input.dtype);
  const std::int64_t per_group = group_rows(w), group_out = out_channels / w.groups;
  for_each_chunk(w, [&](const Chunk& chunk) {
    im2col(samples_of(input, chunk), chunk.window, columns.desc());
    // grad_weight[group] (+)= gy[group, chunk] [group_out, count * plane] x
    // columns[group]^T [count * plane, per_group]
    const std::int64_t width = chunk.count * plane;
    for (std::int64_t g = 0; g < w.groups; ++g) {
      GemmProblem problem;
      problem.dtype = input.dtype;
      problem.m = group_out;
      problem.n = per_group;
      problem.k = width;
      problem.a = operand(element(gy.desc(), g * group_out * w.batch * plane + chunk.begin * plane), w.batch * plane);
      problem.b = operand(element(columns.desc(), g * per_group * width), width, true);
      problem.c = {element(grad_weight, g * group_out * per_group), per_group, 0};
      problem.beta = chunk.begin == 0 ? 0 : 1;
      gemm(problem);
    }
  });
  if (grad_bias.data == nullptr) return;
  // grad_bias [C_out] as reduce_sum's output: gy's shape, stride 0 over the images and positions.
  TensorDesc sums = gy.desc();
  sums.data = grad_bias.data;
  sums.strides = Strides{1, 0};
  reduce_sum(gy.desc(), sums);
}

}  // namespace tapegrad::kernels
