// Pooling over NCHW images, with PyTorch's window and output-size rules: max pooling through the
// backend's kernel with argmax routing for the gradient; average pooling (fixed and adaptive) as
// two matrix products with per-axis averaging matrices, so both gradients and second derivatives
// come from matmul and run on every backend.
#include <algorithm>
#include <vector>

#include <tapegrad/autodiff/ops/common.h>

namespace tapegrad {

using namespace detail;

namespace {

// The output size of pooling along one axis, as PyTorch's pooling_output_shape: windows spanning
// `span` positions every `stride` over the padded input, rounded down, or up with ceil_mode; a last
// window rounded up into being is kept only when it starts inside the input or the left padding.
std::int64_t pooled_size(std::int64_t size, std::int64_t span, std::int64_t stride, std::int64_t pad, bool ceil_mode) {
  const std::int64_t room = size + 2 * pad - span + (ceil_mode ? stride - 1 : 0);
  std::int64_t out = (room >= 0 ? room / stride : -((-room + stride - 1) / stride)) + 1;  // floor division
  if (ceil_mode && (out - 1) * stride >= size + pad) --out;
  return out;
}

// The windows of pooling [N, C, H, W] (given as 4-D), after PyTorch's checks of the parameters.
kernels::Window2d pool_window(const char* op, const Shape& input, const Pool2dParams& params) {
  const auto& [kernel, stride_arg, padding, dilation, ceil_mode] = params;
  TAPEGRAD_CHECK(kernel[0] > 0 && kernel[1] > 0, "{}: kernel size must be positive, got ({}, {})", op, kernel[0],
                 kernel[1]);
  TAPEGRAD_CHECK(stride_arg[0] >= 0 && stride_arg[1] >= 0,
                 "{}: stride must be positive (or 0 for the kernel size), got ({}, {})", op, stride_arg[0],
                 stride_arg[1]);
  TAPEGRAD_CHECK(dilation[0] > 0 && dilation[1] > 0, "{}: dilation must be positive, got ({}, {})", op, dilation[0],
                 dilation[1]);
  // As in PyTorch: a wider border would allow windows that see only padding.
  TAPEGRAD_CHECK(padding[0] >= 0 && padding[1] >= 0 && padding[0] <= kernel[0] / 2 && padding[1] <= kernel[1] / 2,
                 "{}: padding must be between 0 and half the kernel size, got padding ({}, {}) for kernel "
                 "({}, {})", op, padding[0], padding[1], kernel[0], kernel[1]);
  kernels::Window2d w;
  w.batch = input[0];
  w.channels = input[1];
  w.height = input[2];
  w.width = input[3];
  w.kernel_h = kernel[0];
  w.kernel_w = kernel[1];
  w.stride_h = stride_arg[0] == 0 ? kernel[0] : stride_arg[0];
  w.stride_w = stride_arg[1] == 0 ? kernel[1] : stride_arg[1];
  w.pad_h = padding[0];
  w.pad_w = padding[1];
  w.dilation_h = dilation[0];
  w.dilation_w = dilation[1];
  const std::int64_t span_h = w.dilation_h * (w.kernel_h - 1) + 1, span_w = w.dilation_w * (w.kernel_w - 1) + 1;
  w.out_h = pooled_size(w.height, span_h, w.stride_h, w.pad_h, ceil_mode);
  w.out_w = pooled_size(w.width, span_w, w.stride_w, w.pad_w, ceil_mode);
  TAPEGRAD_CHECK(w.out_h > 0 && w.out_w > 0,
                 "{}: the kernel ({}x{}, spanning {}x{} with dilation) is larger than the padded input ({}x{} from "
                 "input shape {}); use a smaller kernel or more padding", op, w.kernel_h, w.kernel_w, span_h, span_w,
                 w.height + 2 * w.pad_h, w.width + 2 * w.pad_w, input);
  return w;
}

void check_image(const char* op, const Tensor& input) {
  check_floating(op, input);
  TAPEGRAD_CHECK(input.dim() == 4, "{}: expected a 3-D [C, H, W] or 4-D [N, C, H, W] input, got shape {}", op,
                 input.shape());
}

// Max pooling's gradient with respect to its input: each output's gradient at its argmax, zeros
// elsewhere. Its own gradient gathers at the same positions, which makes the second derivative.
Tensor max_pool2d_backward(const Tensor& grad_values, const Tensor& indices, const kernels::Window2d& w) {
  const Tensor grad = grad_values.contiguous();
  Tensor grad_input = empty({w.batch, w.channels, w.height, w.width}, options_of(grad));
  if (grad_input.numel() > 0) backend_of(grad).max_pool2d_backward(grad.desc(), indices.desc(), w, grad_input.desc());
  if (should_record(grad))
    record("max_pool2d_backward", grad_input, {grad}, [indices, w](BackwardContext& ctx) {
      const Tensor planes = reshape(ctx.grad(), {w.batch, w.channels, w.height * w.width});
      const Tensor routed = gather(planes, 2, reshape(indices, {w.batch, w.channels, w.out_h * w.out_w}));
      ctx.set_input_grad(0, reshape(routed, indices.shape()));
    });
  return grad_input;
}

// max_pool2d_relu's gradient with respect to its input: max pooling's, of the gradient where the
// output is positive. Recording (create_graph), it is those two differentiable ops; otherwise one
// kernel that masks and routes in the same pass.
Tensor max_pool2d_relu_backward(const Tensor& grad_values, const Tensor& values, const Tensor& indices,
                                const kernels::Window2d& w) {
  if (should_record(grad_values)) return max_pool2d_backward(relu_backward(grad_values, values), indices, w);
  const Tensor grad = grad_values.contiguous();
  Tensor grad_input = empty({w.batch, w.channels, w.height, w.width}, options_of(grad));
  if (grad_input.numel() > 0)
    backend_of(grad).max_pool2d_relu_backward(grad.desc(), values.desc(), indices.desc(), w, grad_input.desc());
  return grad_input;
}

// Every max pooling entry point; `op` names the one the user called, in the messages. With
// `relu_after`, ReLU is applied to the values.
ValuesIndices max_pool2d_impl(const char* op, const Tensor& input, const Pool2dParams& params,
                              bool relu_after = false) {
  if (is_unbatched(input)) {
    const ValuesIndices batched = max_pool2d_impl(op, unsqueeze(input, 0), params, relu_after);
    return {squeeze(batched.values, 0), squeeze(batched.indices, 0)};
  }
  check_image(op, input);
  const kernels::Window2d w = pool_window(op, input.shape(), params);
  const Shape out_shape{w.batch, w.channels, w.out_h, w.out_w};
  Tensor values = empty(out_shape, options_of(input));
  Tensor indices = empty(out_shape, TensorOptions(kInt64).with_device(input.device()));
  if (values.numel() > 0) {
    kernels::Backend& backend = backend_of(input);
    if (relu_after)
      backend.max_pool2d_relu(input.desc(), w, values.desc(), indices.desc());
    else
      backend.max_pool2d(input.desc(), w, values.desc(), indices.desc());
  }
  if (!should_record(input)) return {values, indices};
  if (relu_after)
    record("max_pool2d_relu", values, {input}, [indices, w, so = SavedTensor::output(values)](BackwardContext& ctx) {
      ctx.set_input_grad(0, max_pool2d_relu_backward(ctx.grad(), ctx.unpack(so), indices, w));
    });
  else
    record("max_pool2d", values, {input}, [indices, w](BackwardContext& ctx) {
      ctx.set_input_grad(0, max_pool2d_backward(ctx.grad(), indices, w));
    });
  return {values, indices};
}

// One axis of average pooling: output o averages input positions [begin[o], end[o]), each
// weighted 1 / divisor[o].
struct AveragingAxis {
  std::int64_t size = 0;
  std::vector<std::int64_t> begin, end;
  std::vector<double> divisor;
};

// The [outputs, size] matrix that averages along one axis: row o holds 1 / divisor[o] over its window.
Tensor averaging_matrix(const AveragingAxis& axis, const Tensor& like) {
  const auto outputs = static_cast<std::int64_t>(axis.begin.size());
  std::vector<double> weights(static_cast<std::size_t>(outputs * axis.size), 0.0);
  for (std::int64_t o = 0; o < outputs; ++o) {
    const auto u = static_cast<std::size_t>(o);
    for (std::int64_t i = axis.begin[u]; i < axis.end[u]; ++i)
      weights[static_cast<std::size_t>(o * axis.size + i)] = 1.0 / axis.divisor[u];
  }
  return from_vector(weights, Shape{outputs, axis.size}, options_of(like));
}

// [N, C, H, W] averaged along H and W: the planes times rows^T on the right, then rows on the
// left. The divisors of both pooling functions are products of per-axis factors, so this is exact.
Tensor average_planes(const Tensor& input, const AveragingAxis& rows, const AveragingAxis& columns) {
  const Shape& s = input.shape();
  const Tensor planes = reshape(input, {s[0] * s[1], s[2], s[3]});
  const Tensor along_w = matmul(planes, transpose(averaging_matrix(columns, input), 0, 1));  // [NC, H, out_w]
  const Tensor pooled = matmul(averaging_matrix(rows, input), along_w);                       // [NC, out_h, out_w]
  return reshape(pooled, {s[0], s[1], static_cast<std::int64_t>(rows.begin.size()),
                          static_cast<std::int64_t>(columns.begin.size())});
}

// avg_pool2d's windows along one axis, as PyTorch's kernel: the window's extent within the padded
// input gives the count_include_pad divisor, its extent within the input the other.
AveragingAxis fixed_windows(std::int64_t size, std::int64_t outputs, std::int64_t kernel, std::int64_t stride,
                            std::int64_t pad, const AvgPool2dParams& p) {
  AveragingAxis axis{size, {}, {}, {}};
  for (std::int64_t o = 0; o < outputs; ++o) {
    const std::int64_t start = o * stride - pad, padded_end = std::min(start + kernel, size + pad);
    const std::int64_t begin = std::max<std::int64_t>(start, 0), end = std::min(padded_end, size);
    axis.begin.push_back(begin);
    axis.end.push_back(std::max(begin, end));
    const std::int64_t count = p.count_include_pad ? padded_end - start : end - begin;
    axis.divisor.push_back(count > 0 ? static_cast<double>(count) : 1.0);
  }
  return axis;
}

// adaptive_avg_pool2d's windows along one axis: [floor(o size / outputs), ceil((o + 1) size / outputs)).
AveragingAxis adaptive_windows(std::int64_t size, std::int64_t outputs) {
  AveragingAxis axis{size, {}, {}, {}};
  for (std::int64_t o = 0; o < outputs; ++o) {
    const std::int64_t begin = o * size / outputs, end = ((o + 1) * size + outputs - 1) / outputs;
    axis.begin.push_back(begin);
    axis.end.push_back(end);
    axis.divisor.push_back(static_cast<double>(end - begin));
  }
  return axis;
}

}  // namespace

ValuesIndices max_pool2d_with_indices(const Tensor& input, const Pool2dParams& params) {
  return max_pool2d_impl("max_pool2d_with_indices", input, params);
}

Tensor max_pool2d(const Tensor& input, const Pool2dParams& params) {
  return max_pool2d_impl("max_pool2d", input, params).values;
}

Tensor max_pool2d_relu(const Tensor& input, const Pool2dParams& params) {
  return max_pool2d_impl("max_pool2d_relu", input, params, true).values;
}

Tensor max_pool2d(const Tensor& input, std::int64_t kernel_size) {
  return max_pool2d(input, Pool2dParams{.kernel = {kernel_size, kernel_size}});
}

Tensor avg_pool2d(const Tensor& input, const AvgPool2dParams& params) {
  if (is_unbatched(input)) return squeeze(avg_pool2d(unsqueeze(input, 0), params), 0);
  check_image("avg_pool2d", input);
  TAPEGRAD_CHECK(!params.divisor_override || *params.divisor_override != 0,
                 "avg_pool2d: divisor_override must be non-zero; leave it unset to divide by the window size");
  const kernels::Window2d w = pool_window(
      "avg_pool2d", input.shape(),
      Pool2dParams{.kernel = params.kernel, .stride = params.stride, .padding = params.padding,
                   .ceil_mode = params.ceil_mode});
  AveragingAxis rows = fixed_windows(w.height, w.out_h, w.kernel_h, w.stride_h, w.pad_h, params);
  AveragingAxis columns = fixed_windows(w.width, w.out_w, w.kernel_w, w.stride_w, w.pad_w, params);
  if (params.divisor_override) {  // the whole divisor on the rows' factor
    rows.divisor.assign(rows.divisor.size(), static_cast<double>(*params.divisor_override));
    columns.divisor.assign(columns.divisor.size(), 1.0);
  }
  return average_planes(input, rows, columns);
}

Tensor adaptive_avg_pool2d(const Tensor& input, const std::array<std::int64_t, 2>& output_size) {
  if (is_unbatched(input)) return squeeze(adaptive_avg_pool2d(unsqueeze(input, 0), output_size), 0);
  check_image("adaptive_avg_pool2d", input);
  const Shape& s = input.shape();
  TAPEGRAD_CHECK(output_size[0] >= 0 && output_size[1] >= 0,
                 "adaptive_avg_pool2d: output_size must be non-negative, got ({}, {})", output_size[0], output_size[1]);
  TAPEGRAD_CHECK(s[1] > 0 && s[2] > 0 && s[3] > 0,
                 "adaptive_avg_pool2d: expected an input with non-zero channels, height and width, got shape {}", s);
  return average_planes(input, adaptive_windows(s[2], output_size[0]), adaptive_windows(s[3], output_size[1]));
}

}  // namespace tapegrad
