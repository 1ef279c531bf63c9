// Layer functions: conv2d (the backend's convolution kernels) with its two gradients as ops of
// their own, batch normalization and dropout (pooling is autodiff/ops/pooling.cpp). The conv trio
// {conv2d, conv2d_input_grad, conv2d_weight_grad} is closed under differentiation, so conv layers
// have exact second derivatives.
#include <algorithm>
#include <cmath>
#include <numbers>

#include <tapegrad/autodiff/ops/common.h>

namespace tapegrad {

using namespace detail;

namespace {

// ---- convolution ----

void check_conv_params(const char* op, const Conv2dParams& p) {
  for (int d = 0; d < 2; ++d) {
    TAPEGRAD_CHECK(p.stride[d] > 0, "{}: stride must be positive, got ({}, {})", op, p.stride[0], p.stride[1]);
    TAPEGRAD_CHECK(p.dilation[d] > 0, "{}: dilation must be positive, got ({}, {})", op, p.dilation[0], p.dilation[1]);
    TAPEGRAD_CHECK(p.padding[d] >= 0, "{}: padding must be non-negative, got ({}, {})", op, p.padding[0], p.padding[1]);
  }
  TAPEGRAD_CHECK(p.groups > 0, "{}: groups must be positive, got {}", op, p.groups);
}

// The window of a convolution of an [N, C, H, W] input with a [C_out, C / groups, kH, kW] weight.
kernels::Window2d conv_window(const char* op, const Shape& input, const Shape& weight, const Conv2dParams& p) {
  check_conv_params(op, p);
  TAPEGRAD_CHECK(input.size() == 4, "{}: expected a 4-D input [N, C, H, W], got shape {}", op, input);
  TAPEGRAD_CHECK(weight.size() == 4, "{}: expected a 4-D weight [C_out, C_in / groups, kH, kW], got shape {}", op, weight);
  TAPEGRAD_CHECK(input[1] == weight[1] * p.groups,
                 "{}: the input has {} channels (shape {}) but the weight expects {} (shape {}, {} channels per group "
                 "in {} groups); they must match", op, input[1], input, weight[1] * p.groups, weight, weight[1], p.groups);
  TAPEGRAD_CHECK(input[1] > 0, "{}: the input (shape {}) has no channels", op, input);
  TAPEGRAD_CHECK(weight[0] % p.groups == 0,
                 "{}: the weight's {} output channels (shape {}) do not divide into {} groups; use a multiple of {}", op,
                 weight[0], weight, p.groups, p.groups);
  kernels::Window2d w;
  w.batch = input[0];
  w.channels = input[1];
  w.groups = p.groups;
  w.height = input[2];
  w.width = input[3];
  w.kernel_h = weight[2];
  w.kernel_w = weight[3];
  w.stride_h = p.stride[0];
  w.stride_w = p.stride[1];
  w.pad_h = p.padding[0];
  w.pad_w = p.padding[1];
  w.dilation_h = p.dilation[0];
  w.dilation_w = p.dilation[1];
  const std::int64_t span_h = w.dilation_h * (w.kernel_h - 1) + 1, span_w = w.dilation_w * (w.kernel_w - 1) + 1;
  const std::int64_t padded_h = w.height + 2 * w.pad_h, padded_w = w.width + 2 * w.pad_w;
  TAPEGRAD_CHECK(w.kernel_h > 0 && w.kernel_w > 0 && span_h <= padded_h && span_w <= padded_w,
                 "{}: the kernel ({}x{}, {}x{} with dilation) does not fit in the padded input ({}x{} from input "
                 "shape {} and padding ({}, {})); use a smaller kernel or more padding",
                 op, w.kernel_h, w.kernel_w, span_h, span_w, padded_h, padded_w, input, w.pad_h, w.pad_w);
  w.out_h = (padded_h - span_h) / w.stride_h + 1;
  w.out_w = (padded_w - span_w) / w.stride_w + 1;
  return w;
}

std::int64_t output_plane(const kernels::Window2d& w) { return w.out_h * w.out_w; }

Tensor contiguous_data(const Tensor& t) {
  NoGradGuard no_grad;
  return contiguous(t.detach());
}

void check_output_shape(const char* op, const Tensor& grad_output, const kernels::Window2d& w, std::int64_t out_channels) {
  const Shape expected{w.batch, out_channels, w.out_h, w.out_w};
  TAPEGRAD_CHECK(grad_output.shape() == expected,
                 "{}: grad_output has shape {}, but the convolution's output has shape {}", op, grad_output.shape(),
                 expected);
}

// The data of a tensor for a kernel that reads it as a plain array, detached from the tape.
kernels::TensorDesc contiguous_desc(const Tensor& t, Tensor& holder) {
  holder = contiguous_data(t);
  return holder.desc();
}

Tensor conv2d_forward(const char* op, const Tensor& input, const Tensor& weight, const Tensor& bias,
                      const Conv2dParams& params, kernels::ConvActivation activation) {
  const kernels::Window2d w = conv_window(op, input.shape(), weight.shape(), params);
  Tensor out = empty({w.batch, weight.shape()[0], w.out_h, w.out_w}, options_of(input));
  if (out.numel() == 0) return out;
  Tensor kernel;
  backend_of(input).conv2d(input.desc(), contiguous_desc(weight, kernel), bias.defined() ? bias.desc() : kernels::TensorDesc{},
                           w, out.desc(), activation);
  return out;
}

Tensor conv2d_input_grad_forward(const Tensor& grad_output, const Tensor& weight, const kernels::Window2d& w) {
  Tensor grad_input = empty({w.batch, w.channels, w.height, w.width}, options_of(grad_output));
  if (grad_input.numel() == 0) return grad_input;
  if (output_plane(w) == 0 || weight.shape()[0] == 0) return grad_input.detach().zero_();
  Tensor kernel, gy;
  backend_of(grad_output).conv2d_input_grad(contiguous_desc(grad_output, gy), contiguous_desc(weight, kernel), w,
                                            grad_input.desc());
  return grad_input;
}

// The weight gradient; with `grad_bias`, the bias gradient too, from the same pass over grad_output.
Tensor conv2d_weight_grad_forward(const Tensor& input, const Tensor& grad_output, const Shape& weight_shape,
                                  const kernels::Window2d& w, Tensor* grad_bias = nullptr) {
  Tensor grad_weight = empty(weight_shape, options_of(input));
  if (grad_weight.numel() == 0 || w.batch * output_plane(w) == 0) {
    if (grad_bias != nullptr) *grad_bias = sum(grad_output, {0, 2, 3});
    return grad_weight.zero_();
  }
  if (grad_bias != nullptr) *grad_bias = empty({weight_shape[0]}, options_of(input));
  Tensor gy;
  backend_of(input).conv2d_weight_grad(input.desc(), contiguous_desc(grad_output, gy), w, grad_weight.desc(),
                                       grad_bias != nullptr ? grad_bias->desc() : kernels::TensorDesc{});
  return grad_weight;
}

// conv2d, its messages naming `op`, the function the user called (conv1d runs through here on
// [N, C, 1, L] images).
Tensor convolution(const char* op, const Tensor& input, const Tensor& weight, const Tensor& bias,
                   const Conv2dParams& params, kernels::ConvActivation activation = kernels::ConvActivation::None) {
  check_floating(op, input);
  check_compatible(op, input, weight);
  TAPEGRAD_CHECK(input.dim() == 3 || input.dim() == 4,
                 "{}: expected a 3-D [C, H, W] or 4-D [N, C, H, W] input, got shape {}", op, input.shape());
  if (bias.defined()) {
    check_compatible(op, input, bias);
    TAPEGRAD_CHECK(weight.dim() == 4 && bias.dim() == 1 && bias.shape()[0] == weight.shape()[0],
                   "{}: bias must be [C_out] = [{}] for a weight of shape {}, got shape {}", op,
                   weight.dim() > 0 ? weight.shape()[0] : 0, weight.shape(), bias.shape());
  }
  if (is_unbatched(input))
    return squeeze(convolution(op, unsqueeze(input, 0), weight, bias, params, activation), 0);
  Tensor out = conv2d_forward(op, input, weight, bias, params, activation);
  if (!should_record(input, weight, bias)) return out;
  const bool relu_after = activation == kernels::ConvActivation::Relu;
  record(relu_after ? "conv2d_relu" : "conv2d", out, {input, weight, bias},
         [si = SavedTensor::input(input), sw = SavedTensor::input(weight),
          // ReLU's gradient from its output: positive exactly where its input was.
          so = relu_after ? SavedTensor::output(out) : SavedTensor(), relu_after, params](BackwardContext& ctx) {
           // [N, C_out, out_h, out_w], the gradient of the convolution's own output
           const Tensor g = relu_after ? relu_backward(ctx.grad(), ctx.unpack(so)) : ctx.grad();
           const Tensor &x = ctx.unpack(si), &w = ctx.unpack(sw);
           if (ctx.needs_input_grad(0)) ctx.set_input_grad(0, conv2d_input_grad(g, w, x.shape(), params));
           if (ctx.needs_input_grad(1) && ctx.needs_input_grad(2) && !GradMode::is_enabled()) {
             // Not recording (no create_graph): both parameter gradients from one pass over g.
             Tensor grad_bias;
             const kernels::Window2d window = conv_window("conv2d", x.shape(), w.shape(), params);
             ctx.set_input_grad(1, conv2d_weight_grad_forward(x, g, w.shape(), window, &grad_bias));
             ctx.set_input_grad(2, grad_bias);
             return;
           }
           if (ctx.needs_input_grad(1)) ctx.set_input_grad(1, conv2d_weight_grad(x, g, w.shape(), params));
           if (ctx.needs_input_grad(2)) ctx.set_input_grad(2, sum(g, {0, 2, 3}));
         });
  return out;
}

}  // namespace

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, const Conv2dParams& params) {
  return convolution("conv2d", input, weight, bias, params);
}

Tensor conv2d_relu(const Tensor& input, const Tensor& weight, const Tensor& bias, const Conv2dParams& params) {
  return convolution("conv2d_relu", input, weight, bias, params, kernels::ConvActivation::Relu);
}

Tensor conv2d_input_grad(const Tensor& grad_output, const Tensor& weight, const Shape& input_shape,
                         const Conv2dParams& params) {
  check_floating("conv2d_input_grad", grad_output);
  check_compatible("conv2d_input_grad", grad_output, weight);
  const kernels::Window2d w = conv_window("conv2d_input_grad", input_shape, weight.shape(), params);
  check_output_shape("conv2d_input_grad", grad_output, w, weight.shape()[0]);
  Tensor out = conv2d_input_grad_forward(grad_output, weight, w);
  if (should_record(grad_output, weight))
    record("conv2d_input_grad", out, {grad_output, weight},
           [sg = SavedTensor::input(grad_output), sw = SavedTensor::input(weight), params](BackwardContext& ctx) {
             const Tensor& gg = ctx.grad();  // [N, C_in, H, W], the gradient of grad_input
             const Tensor &gy = ctx.unpack(sg), &w = ctx.unpack(sw);
             // grad_input = J^T gy is linear in gy and in w: <gg, J^T gy> = <conv2d(gg, w), gy>.
             if (ctx.needs_input_grad(0)) ctx.set_input_grad(0, conv2d(gg, w, {}, params));
             if (ctx.needs_input_grad(1)) ctx.set_input_grad(1, conv2d_weight_grad(gg, gy, w.shape(), params));
           });
  return out;
}

Tensor conv2d_weight_grad(const Tensor& input, const Tensor& grad_output, const Shape& weight_shape,
                          const Conv2dParams& params) {
  check_floating("conv2d_weight_grad", input);
  check_compatible("conv2d_weight_grad", input, grad_output);
  const kernels::Window2d w = conv_window("conv2d_weight_grad", input.shape(), weight_shape, params);
  check_output_shape("conv2d_weight_grad", grad_output, w, weight_shape[0]);
  Tensor out = conv2d_weight_grad_forward(input, grad_output, weight_shape, w);
  if (should_record(input, grad_output))
    record("conv2d_weight_grad", out, {input, grad_output},
           [si = SavedTensor::input(input), sg = SavedTensor::input(grad_output), params](BackwardContext& ctx) {
             const Tensor& gg = ctx.grad();  // [C_out, C_in, kH, kW], the gradient of grad_weight
             const Tensor &x = ctx.unpack(si), &gy = ctx.unpack(sg);
             // <gg, grad_weight(x, gy)> = <conv2d(x, gg), gy>, linear in x and in gy.
             if (ctx.needs_input_grad(0)) ctx.set_input_grad(0, conv2d_input_grad(gy, gg, x.shape(), params));
             if (ctx.needs_input_grad(1)) ctx.set_input_grad(1, conv2d(x, gg, {}, params));
           });
  return out;
}

// ---- convolutions built on conv2d ----

Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias, const Conv1dParams& params) {
  check_floating("conv1d", input);
  check_compatible("conv1d", input, weight);
  TAPEGRAD_CHECK(input.dim() == 2 || input.dim() == 3, "conv1d: expected a 2-D [C, L] or 3-D [N, C, L] input, got shape {}",
                 input.shape());
  TAPEGRAD_CHECK(weight.dim() == 3, "conv1d: expected a 3-D weight [C_out, C_in / groups, k], got shape {}",
                 weight.shape());
  // A unit height: [N, C, 1, L] (or the unbatched [C, 1, L]) with a [C_out, C_in / groups, 1, k] weight.
  const std::int64_t height_dim = input.dim() - 1;
  const Conv2dParams planar{.stride = {1, params.stride}, .padding = {0, params.padding},
                            .dilation = {1, params.dilation}, .groups = params.groups};
  return squeeze(convolution("conv1d", unsqueeze(input, height_dim), unsqueeze(weight, 2), bias, planar), height_dim);
}

Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const Tensor& bias,
                        const ConvTranspose2dParams& params) {
  check_floating("conv_transpose2d", input);
  check_compatible("conv_transpose2d", input, weight);
  TAPEGRAD_CHECK(input.dim() == 3 || input.dim() == 4,
                 "conv_transpose2d: expected a 3-D [C, H, W] or 4-D [N, C, H, W] input, got shape {}", input.shape());
  if (is_unbatched(input)) return squeeze(conv_transpose2d(unsqueeze(input, 0), weight, bias, params), 0);
  TAPEGRAD_CHECK(weight.dim() == 4, "conv_transpose2d: expected a 4-D weight [C_in, C_out / groups, kH, kW], got shape {}",
                 weight.shape());
  TAPEGRAD_CHECK(input.shape()[1] == weight.shape()[0],
                 "conv_transpose2d: the input has {} channels (shape {}) but the weight (shape {}) expects {}; they must "
                 "match", input.shape()[1], input.shape(), weight.shape(), weight.shape()[0]);
  const Conv2dParams conv{params.stride, params.padding, params.dilation, params.groups};
  check_conv_params("conv_transpose2d", conv);
  TAPEGRAD_CHECK(weight.shape()[0] % params.groups == 0,
                 "conv_transpose2d: the input's {} channels (weight shape {}) do not divide into {} groups; use a "
                 "multiple of {}", weight.shape()[0], weight.shape(), params.groups, params.groups);
  Shape out_shape{input.shape()[0], weight.shape()[1] * params.groups, 0, 0};
  Tensor source = input;
  for (int d = 0; d < 2; ++d) {
    TAPEGRAD_CHECK(params.output_padding[d] >= 0 &&
                       (params.output_padding[d] < params.stride[d] || params.output_padding[d] < params.dilation[d]),
                   "conv_transpose2d: output_padding must be non-negative and smaller than either the stride or the "
                   "dilation, got output_padding ({}, {}) with stride ({}, {}) and dilation ({}, {})",
                   params.output_padding[0], params.output_padding[1], params.stride[0], params.stride[1],
                   params.dilation[0], params.dilation[1]);
    // The output is the input of the conv2d this transposes, whose output has output_padding /
    // stride more positions than the input along this axis: the input gets them as trailing zeros.
    if (const std::int64_t extra = params.output_padding[d] / params.stride[d]; extra > 0) {
      Shape zeros_shape = source.shape();
      zeros_shape[2 + d] = extra;
      source = cat({source, zeros(zeros_shape, options_of(source))}, 2 + d);
    }
    out_shape[2 + d] = (input.shape()[2 + d] - 1) * params.stride[d] - 2 * params.padding[d] +
                       params.dilation[d] * (weight.shape()[2 + d] - 1) + params.output_padding[d] + 1;
    TAPEGRAD_CHECK(out_shape[2 + d] > 0,
                   "conv_transpose2d: the output would be {}x{} from input shape {}, weight shape {}, stride ({}, {}) "
                   "and padding ({}, {}); use less padding", out_shape[2], out_shape[3], input.shape(), weight.shape(),
                   params.stride[0], params.stride[1], params.padding[0], params.padding[1]);
  }
  // conv2d_input_grad records its own backward (conv2d and conv2d_weight_grad), so the gradients
  // and second derivatives come with it.
  const Tensor out = conv2d_input_grad(source, weight, out_shape, conv);
  if (!bias.defined()) return out;
  check_compatible("conv_transpose2d", input, bias);
  TAPEGRAD_CHECK(bias.dim() == 1 && bias.shape()[0] == out_shape[1],
                 "conv_transpose2d: bias must be [C_out] = [{}] for a weight of shape {} in {} groups, got shape {}",
                 out_shape[1], weight.shape(), params.groups, bias.shape());
  return add(out, reshape(bias, {1, out_shape[1], 1, 1}));
}

// ---- batch normalization ----

Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps) {
  check_floating("batch_norm", input);
  TAPEGRAD_CHECK(input.dim() >= 2, "batch_norm: expected an input [N, C, ...] of at least 2 dims, got shape {}",
                 input.shape());
  const std::int64_t channels = input.shape()[1];
  const auto check_per_channel = [&](const Tensor& t, const char* name) {
    if (!t.defined()) return;
    check_compatible("batch_norm", input, t);
    TAPEGRAD_CHECK(t.dim() == 1 && t.shape()[0] == channels,
                   "batch_norm: {} must have shape [{}] (one value per channel of input shape {}), got {}", name,
                   channels, input.shape(), t.shape());
  };
  check_per_channel(running_mean, "running_mean");
  check_per_channel(running_var, "running_var");
  check_per_channel(weight, "weight");
  check_per_channel(bias, "bias");
  TAPEGRAD_CHECK(running_mean.defined() == running_var.defined(),
                 "batch_norm: give both running_mean and running_var, or neither");
  TAPEGRAD_CHECK(training || running_mean.defined(),
                 "batch_norm: evaluation mode normalizes with running_mean and running_var, and none were given");
  Dims reduced{0};
  Shape per_channel = Dims::filled(input.dim(), 1);  // [1, C, 1, ...]: broadcasts along dim 1
  per_channel[1] = channels;
  for (int d = 2; d < input.dim(); ++d) reduced.push_back(d);

  Tensor centered, inv_std;
  if (training) {
    const std::int64_t count = channels == 0 ? 0 : input.numel() / channels;
    TAPEGRAD_CHECK(count > 1, "batch_norm: expected more than 1 value per channel when training, got input of shape {}",
                   input.shape());
    const Tensor batch_mean = mean(input, reduced, true);
    centered = sub(input, batch_mean);
    const Tensor batch_var = mean(mul(centered, centered), reduced, true);  // biased, as PyTorch normalizes
    inv_std = pow(add(batch_var, eps), -0.5);
    if (running_mean.defined()) {
      NoGradGuard no_grad;
      const double unbias = static_cast<double>(count) / static_cast<double>(count - 1);
      Tensor mean_buffer = running_mean, var_buffer = running_var;  // handles: the buffers update in place
      mean_buffer.mul_(1 - momentum).add_(reshape(batch_mean.detach(), {channels}), momentum);
      var_buffer.mul_(1 - momentum).add_(reshape(batch_var.detach(), {channels}), momentum * unbias);
    }
  } else {
    centered = sub(input, reshape(running_mean, per_channel));
    inv_std = pow(add(reshape(running_var, per_channel), eps), -0.5);
  }
  // The weight joins the [1, C, 1, ...] scale, so the full-size tensor is multiplied once.
  const Tensor scale = weight.defined() ? mul(inv_std, reshape(weight, per_channel)) : inv_std;
  const Tensor normalized = mul(centered, scale);
  return bias.defined() ? add(normalized, reshape(bias, per_channel)) : normalized;
}

// ---- activations built from other ops (their gradients and second derivatives come with them) ----

Tensor gelu(const Tensor& a, GeluApproximation approximate) {
  check_floating("gelu", a);
  if (approximate == GeluApproximation::Tanh) {
    // 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
    const double scale = std::sqrt(2.0 / std::numbers::pi);
    const Tensor inner = mul(add(a, mul(pow(a, 3.0), 0.044715)), scale);
    return mul(mul(a, 0.5), add(tanh(inner), 1.0));
  }
  return mul(mul(a, 0.5), add(erf(mul(a, std::numbers::sqrt2 / 2)), 1.0));  // 0.5 x (1 + erf(x / sqrt 2))
}

Tensor silu(const Tensor& a) {
  check_floating("silu", a);
  return mul(a, sigmoid(a));
}

Tensor leaky_relu(const Tensor& a, double negative_slope) {
  check_floating("leaky_relu", a);
  return where(gt(a, 0.0), a, mul(a, negative_slope));
}

// ---- layer and group normalization, embedding ----

namespace {

// (x - mean) / sqrt(var + eps) over `dims`, the variance biased as torch normalizes.
Tensor standardized(const Tensor& x, const Dims& dims, double eps) {
  const Tensor centered = sub(x, mean(x, dims, true));
  return mul(centered, rsqrt(add(mean(mul(centered, centered), dims, true), eps)));
}

void check_affine(const char* op, const Tensor& input, const Tensor& t, const char* name, const Shape& shape) {
  if (!t.defined()) return;
  check_compatible(op, input, t);
  TAPEGRAD_CHECK(t.shape() == shape, "{}: {} must have shape {}, got {}", op, name, shape, t.shape());
}

}  // namespace

Tensor layer_norm(const Tensor& input, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  check_floating("layer_norm", input);
  const int count = normalized_shape.size(), leading = input.dim() - count;
  bool trailing_match = leading >= 0 && count > 0;
  for (int d = 0; trailing_match && d < count; ++d) trailing_match = input.shape()[leading + d] == normalized_shape[d];
  TAPEGRAD_CHECK(trailing_match, "layer_norm: normalized_shape {} must be non-empty and equal the input's last dims, "
                 "got input shape {}", normalized_shape, input.shape());
  check_affine("layer_norm", input, weight, "weight", normalized_shape);
  check_affine("layer_norm", input, bias, "bias", normalized_shape);
  Dims dims;
  for (int d = leading; d < input.dim(); ++d) dims.push_back(d);
  Tensor out = standardized(input, dims, eps);
  if (weight.defined()) out = mul(out, weight);  // both broadcast along the trailing dims
  return bias.defined() ? add(out, bias) : out;
}

Tensor group_norm(const Tensor& input, std::int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps) {
  check_floating("group_norm", input);
  TAPEGRAD_CHECK(input.dim() >= 2, "group_norm: expected an input [N, C, ...] of at least 2 dims, got shape {}",
                 input.shape());
  const std::int64_t batch = input.shape()[0], channels = input.shape()[1];
  TAPEGRAD_CHECK(num_groups > 0 && channels % num_groups == 0,
                 "group_norm: {} channels (input shape {}) do not divide into {} groups; pick a divisor of {}",
                 channels, input.shape(), num_groups, channels);
  check_affine("group_norm", input, weight, "weight", {channels});
  check_affine("group_norm", input, bias, "bias", {channels});
  const std::int64_t per_group = channels == 0 ? 0 : input.numel() / (batch * num_groups);
  const Tensor grouped = standardized(reshape(input, {batch, num_groups, per_group}), {2}, eps);
  Tensor out = reshape(grouped, input.shape());
  Shape per_channel = Dims::filled(input.dim(), 1);  // [1, C, 1, ...]
  per_channel[1] = channels;
  if (weight.defined()) out = mul(out, reshape(weight, per_channel));
  return bias.defined() ? add(out, reshape(bias, per_channel)) : out;
}

Tensor embedding(const Tensor& indices, const Tensor& weight, std::optional<std::int64_t> padding_idx) {
  check_floating("embedding", weight);
  check_index("embedding", indices, weight);
  TAPEGRAD_CHECK(weight.dim() == 2, "embedding: weight must be [num_embeddings, embedding_dim], got shape {}",
                 weight.shape());
  const std::int64_t rows = weight.shape()[0];
  Tensor picked = index_select(weight, 0, reshape(indices, {-1}));
  if (padding_idx) {
    const std::int64_t padding = *padding_idx < 0 ? *padding_idx + rows : *padding_idx;
    TAPEGRAD_CHECK(padding >= 0 && padding < rows, "embedding: padding_idx {} is out of range for {} embeddings",
                   *padding_idx, rows);
    // The padding row's value, detached: it is read but never trained.
    const Tensor keeps_gradient = reshape(ne(reshape(indices, {-1}), static_cast<double>(padding)), {-1, 1});
    picked = where(keeps_gradient, picked, picked.detach());
  }
  Shape shape = indices.shape();
  shape.push_back(weight.shape()[1]);
  return reshape(picked, shape);
}

// ---- dropout ----

Tensor dropout(const Tensor& input, double p, bool training, Generator& generator) {
  check_floating("dropout", input);
  TAPEGRAD_CHECK(p >= 0 && p <= 1, "dropout: probability must be between 0 and 1, got {}", p);
  if (!training || p == 0) return input;
  if (p == 1) return mul(input, 0.0);  // every element dropped; the gradient is zero, not NaN
  Tensor mask;
  {
    NoGradGuard no_grad;
    const Tensor draws = rand(input.shape(), generator, options_of(input));
    mask = lt(draws, 1 - p).to(input.dtype());  // kept with probability 1 - p
    mask.mul_(1 / (1 - p));
  }
  return mul(input, mask);
}

Tensor dropout(const Tensor& input, double p, bool training) {
  return dropout(input, p, training, default_generator());
}

}  // namespace tapegrad
