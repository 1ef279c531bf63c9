// Rows of the layer functions: conv2d and its two gradient ops, batch normalization (training and
// evaluation), layer and group normalization, embedding, dropout and scaled dot-product attention
// (pooling is pooling.cpp). The references are direct loops: the seven-index sum of a convolution,
// each channel's or group's mean and variance, a row lookup, the softmax of each query's scores.
#include <algorithm>
#include <array>
#include <cmath>

#include <tapegrad/autodiff/op_table/rows.h>
#include <tapegrad/kernels/error.h>

namespace tapegrad::op_rows {
namespace {

using reference::at;
using reference::Index;

constexpr auto kFloating = OpDTypes::Floating;

using reference::batched;
using reference::inside;
using reference::unbatched;

// ---- convolution ----

std::string conv_detail(const Conv2dParams& p) {
  const std::string detail = fmt::format("stride {}x{} padding {}x{} dilation {}x{}", p.stride[0], p.stride[1],
                                         p.padding[0], p.padding[1], p.dilation[0], p.dilation[1]);
  return p.groups == 1 ? detail : detail + fmt::format(" groups {}", p.groups);
}

Shape conv_output_shape(const Shape& x, const Shape& weight, const Conv2dParams& p) {
  Shape out{x[0], weight[0], 0, 0};
  for (int d = 0; d < 2; ++d)
    out[2 + d] = (x[2 + d] + 2 * p.padding[d] - p.dilation[d] * (weight[2 + d] - 1) - 1) / p.stride[d] + 1;
  return out;
}

// One term x[n, ci, h, w] * weight[o, c, kh, kw] of a convolution: output position (n, o, oh, ow),
// kernel tap (c, kh, kw), and the input channel ci (c of output o's group) and position (h, w)
// that tap reads.
struct Term {
  std::int64_t n, o, oh, ow, c, kh, kw, ci, h, w;
};

// The seven-index sum of a convolution of an [N, C, H, W] input with an [O, C / groups, kH, kW] weight,
// over the terms whose input position lies inside the image (h = oh * stride - padding +
// kh * dilation, w alike). conv2d and its two gradients are its three contractions: each term
// adds value(term) to the element into(term) of a result of `shape`.
Tensor convolution_sum(const Shape& x, const Shape& weight, const Conv2dParams& p, const Shape& shape,
                       const std::function<Index(const Term&)>& into, const std::function<double(const Term&)>& value) {
  const Shape out = conv_output_shape(x, weight, p);
  std::vector<double> result(static_cast<std::size_t>(numel_of(shape)), 0.0);
  Term t{};
  for (t.n = 0; t.n < x[0]; ++t.n)
    for (t.o = 0; t.o < weight[0]; ++t.o)
      for (t.oh = 0; t.oh < out[2]; ++t.oh)
        for (t.ow = 0; t.ow < out[3]; ++t.ow)
          for (t.c = 0; t.c < weight[1]; ++t.c)
            for (t.kh = 0; t.kh < weight[2]; ++t.kh)
              for (t.kw = 0; t.kw < weight[3]; ++t.kw) {
                t.ci = t.o / (weight[0] / p.groups) * weight[1] + t.c;
                t.h = t.oh * p.stride[0] - p.padding[0] + t.kh * p.dilation[0];
                t.w = t.ow * p.stride[1] - p.padding[1] + t.kw * p.dilation[1];
                if (!inside(t.h, x[2]) || !inside(t.w, x[3])) continue;
                const Index i = into(t);
                std::int64_t flat = 0;
                for (int d = 0; d < shape.size(); ++d) flat = flat * shape[d] + i[static_cast<std::size_t>(d)];
                result[static_cast<std::size_t>(flat)] += value(t);
              }
  return from_vector(result, shape);
}

Tensor conv2d_reference(const Tensor& input, const Tensor& weight, const Tensor& bias, const Conv2dParams& p) {
  const Tensor x = batched(input);
  const Shape out = conv_output_shape(x.shape(), weight.shape(), p);
  const Tensor sum = convolution_sum(
      x.shape(), weight.shape(), p, out, [](const Term& t) { return Index{t.n, t.o, t.oh, t.ow}; },
      [&](const Term& t) { return at(x, {t.n, t.ci, t.h, t.w}) * at(weight, {t.o, t.c, t.kh, t.kw}); });
  const Tensor y =
      reference::generate(out, [&](const Index& i) { return at(sum, i) + (bias.defined() ? at(bias, {i[1]}) : 0); });
  return input.dim() == 3 ? unbatched(y) : y;
}

Tensor conv2d_input_grad_reference(const Tensor& grad_output, const Tensor& weight, const Shape& input_shape,
                                   const Conv2dParams& p) {
  return convolution_sum(
      input_shape, weight.shape(), p, input_shape, [](const Term& t) { return Index{t.n, t.ci, t.h, t.w}; },
      [&](const Term& t) { return at(grad_output, {t.n, t.o, t.oh, t.ow}) * at(weight, {t.o, t.c, t.kh, t.kw}); });
}

Tensor conv2d_weight_grad_reference(const Tensor& x, const Tensor& grad_output, const Shape& weight_shape,
                                    const Conv2dParams& p) {
  return convolution_sum(
      x.shape(), weight_shape, p, weight_shape, [](const Term& t) { return Index{t.o, t.c, t.kh, t.kw}; },
      [&](const Term& t) { return at(x, {t.n, t.ci, t.h, t.w}) * at(grad_output, {t.n, t.o, t.oh, t.ow}); });
}

using ConvFunction = Tensor (*)(const Tensor&, const Tensor&, const Tensor&, const Conv2dParams&);

// What adds a sample of `function` (conv2d, or conv2d_relu with relu set) to `row`: input,
// weight, bias ({} for none), parameters and a note for its name.
auto conv_sampler(RowBuilder& row, ConvFunction function, bool relu) {
  return [&row, function, relu](Tensor x, Tensor w, Tensor b, Conv2dParams p, const std::string& note = "") {
    const bool bias = b.defined();
    Inputs inputs{std::move(x), std::move(w)};
    if (bias) inputs.push_back(std::move(b));
    row.sample(conv_detail(p) + (bias ? "" : ", no bias") + note, std::move(inputs),
               [function, p](const Inputs& v) { return function(v[0], v[1], v.size() > 2 ? v[2] : Tensor(), p); },
               [relu, p](const Inputs& v) {
                 const Tensor y = conv2d_reference(v[0], v[1], v.size() > 2 ? v[2] : Tensor(), p);
                 return relu ? tapegrad::relu(y) : y;
               });
  };
}

OpInfo conv2d_row(SampleInputs& in) {
  RowBuilder row("conv2d", 3, kFloating, {0, 1, 2}, in);
  const auto conv = conv_sampler(row, &conv2d, false);
  conv(row.x({2, 2, 5, 5}), row.x({3, 2, 3, 3}), row.x({3}), {});
  conv(row.x({2, 2, 5, 5}), row.x({3, 2, 3, 3}), {}, {.padding = {1, 1}});
  conv(row.x({1, 2, 7, 6}), row.x({2, 2, 3, 2}), row.x({2}), {.stride = {2, 2}, .padding = {2, 2}}, ", 3x2 kernel");
  conv(row.x({1, 1, 7, 7}), row.x({2, 1, 3, 3}), row.x({2}), {.padding = {1, 1}, .dilation = {2, 2}});
  conv(row.x({2, 3, 4, 4}), row.x({2, 3, 1, 1}), {}, {}, ", 1x1 kernel");
  conv(row.x({2, 4, 4}), row.x({2, 2, 3, 3}), row.x({2}), {.padding = {1, 1}}, ", unbatched [C,H,W]");
  conv(row.x({1, 2, 5, 6}), row.x({2, 2, 2, 3}), row.x({2}), {.stride = {2, 1}, .padding = {1, 0}, .dilation = {1, 2}});
  conv(row.xt({1, 2, 5, 5}), row.xt({3, 2, 3, 3}), row.x({3}), {.stride = {2, 2}, .padding = {1, 1}});
  conv(row.x({0, 2, 4, 4}), row.x({3, 2, 3, 3}), row.x({3}), {}, ", empty batch");
  conv(row.x({2, 4, 5, 5}), row.x({6, 2, 3, 3}), row.x({6}), {.padding = {1, 1}, .groups = 2});
  conv(row.x({1, 3, 6, 5}), row.x({6, 1, 3, 2}), {}, {.stride = {2, 1}, .dilation = {1, 2}, .groups = 3}, ", depthwise");
  conv(row.xt({1, 4, 5, 5}), row.xt({2, 2, 2, 2}), row.x({2}), {.padding = {1, 0}, .groups = 2});
  const GradcheckFunction plain = [](const Inputs& v) { return conv2d(v[0], v[1]); };
  row.error("input [1,2,5,5], weight [3,3,3,3]", {row.x({1, 2, 5, 5}), row.x({3, 3, 3, 3})}, plain,
            {"2 channels", "expects 3"});
  row.error("input [1,1,2,2], weight [1,1,3,3]", {row.x({1, 1, 2, 2}), row.x({1, 1, 3, 3})}, plain, {"does not fit"});
  row.error("input [5,5]", {row.x({5, 5}), row.x({1, 1, 3, 3})}, plain, {"3-D [C, H, W] or 4-D [N, C, H, W]", "[5, 5]"});
  row.error("bias [2] for 3 output channels", {row.x({1, 2, 5, 5}), row.x({3, 2, 3, 3}), row.x({2})},
            [](const Inputs& v) { return conv2d(v[0], v[1], v[2]); }, {"bias must be [C_out] = [3]", "[2]"});
  row.error("groups 2, input [1,3,5,5], weight [4,2,3,3]", {row.x({1, 3, 5, 5}), row.x({4, 2, 3, 3})},
            [](const Inputs& v) { return conv2d(v[0], v[1], {}, {.groups = 2}); }, {"3 channels", "expects 4"});
  row.error("groups 2, weight [3,2,3,3]", {row.x({1, 4, 5, 5}), row.x({3, 2, 3, 3})},
            [](const Inputs& v) { return conv2d(v[0], v[1], {}, {.groups = 2}); }, {"do not divide into 2 groups"});
  row.error("groups 0", {row.x({1, 2, 5, 5}), row.x({3, 2, 3, 3})},
            [](const Inputs& v) { return conv2d(v[0], v[1], {}, {.groups = 0}); }, {"groups must be positive"});
  row.error("stride 0", {row.x({1, 2, 5, 5}), row.x({3, 2, 3, 3})},
            [](const Inputs& v) { return conv2d(v[0], v[1], {}, {.stride = {0, 1}}); }, {"stride must be positive"});
  return row.build();
}

// relu(conv2d(...)) in one op; pre-activations drawn from row.x land on both sides of 0.
OpInfo conv2d_relu_row(SampleInputs& in) {
  RowBuilder row("conv2d_relu", 3, kFloating, {0, 1, 2}, in);
  const auto conv = conv_sampler(row, &conv2d_relu, true);
  conv(row.x({2, 2, 5, 5}), row.x({3, 2, 3, 3}), row.x({3}), {});
  conv(row.x({2, 1, 6, 6}), row.x({4, 1, 3, 3}), {}, {.padding = {1, 1}}, ", one input channel");
  conv(row.x({2, 8, 5, 5}), row.x({4, 8, 3, 3}), row.x({4}), {.padding = {1, 1}}, ", 8 input channels");
  conv(row.x({3, 5, 5}), row.x({2, 3, 3, 3}), row.x({2}), {.padding = {1, 1}}, ", unbatched [C,H,W]");
  conv(row.xt({1, 4, 5, 5}), row.xt({2, 2, 2, 2}), row.x({2}), {.padding = {1, 0}, .groups = 2});
  conv(row.x({0, 2, 4, 4}), row.x({3, 2, 3, 3}), row.x({3}), {}, ", empty batch");
  row.error("input [1,2,5,5], weight [3,3,3,3]", {row.x({1, 2, 5, 5}), row.x({3, 3, 3, 3})},
            [](const Inputs& v) { return conv2d_relu(v[0], v[1]); }, {"conv2d_relu", "2 channels", "expects 3"});
  return row.build();
}

OpInfo conv2d_input_grad_row(SampleInputs& in) {
  RowBuilder row("conv2d_input_grad", 2, kFloating, {0, 1}, in);
  const auto grad = [&](Tensor gy, Tensor w, Shape input_shape, Conv2dParams p) {
    row.sample(fmt::format("input {}, {}", input_shape, conv_detail(p)), {std::move(gy), std::move(w)},
               [input_shape, p](const Inputs& v) { return conv2d_input_grad(v[0], v[1], input_shape, p); },
               [input_shape, p](const Inputs& v) { return conv2d_input_grad_reference(v[0], v[1], input_shape, p); });
  };
  grad(row.x({2, 3, 3, 3}), row.x({3, 2, 3, 3}), {2, 2, 5, 6}, {.stride = {2, 2}, .padding = {1, 1}});
  grad(row.x({1, 2, 3, 3}), row.x({2, 3, 3, 3}), {1, 3, 5, 5}, {});
  grad(row.x({1, 2, 5, 5}), row.x({2, 1, 3, 3}), {1, 1, 7, 7}, {.padding = {1, 1}, .dilation = {2, 2}});
  grad(row.x({1, 2, 3, 2}), row.x({2, 2, 2, 3}), {1, 2, 5, 6}, {.stride = {2, 1}, .padding = {1, 0}, .dilation = {1, 2}});
  grad(row.xt({2, 3, 3, 3}), row.xt({3, 2, 3, 3}), {2, 2, 5, 6}, {.stride = {2, 2}, .padding = {1, 1}});
  grad(row.x({0, 3, 3, 3}), row.x({3, 2, 3, 3}), {0, 2, 5, 5}, {});
  grad(row.x({2, 4, 3, 3}), row.x({4, 1, 3, 3}), {2, 2, 5, 5}, {.groups = 2});
  row.error("grad_output [1,2,4,4] for input [1,3,5,5]", {row.x({1, 2, 4, 4}), row.x({2, 3, 3, 3})},
            [](const Inputs& v) { return conv2d_input_grad(v[0], v[1], {1, 3, 5, 5}, {}); },
            {"grad_output has shape [1, 2, 4, 4]", "[1, 2, 3, 3]"});
  row.error("input [1,2,5,5], weight [2,3,3,3]", {row.x({1, 2, 3, 3}), row.x({2, 3, 3, 3})},
            [](const Inputs& v) { return conv2d_input_grad(v[0], v[1], {1, 2, 5, 5}, {}); }, {"2 channels", "expects 3"});
  return row.build();
}

OpInfo conv2d_weight_grad_row(SampleInputs& in) {
  RowBuilder row("conv2d_weight_grad", 2, kFloating, {0, 1}, in);
  const auto grad = [&](Tensor x, Tensor gy, Shape weight_shape, Conv2dParams p) {
    row.sample(fmt::format("weight {}, {}", weight_shape, conv_detail(p)), {std::move(x), std::move(gy)},
               [weight_shape, p](const Inputs& v) { return conv2d_weight_grad(v[0], v[1], weight_shape, p); },
               [weight_shape, p](const Inputs& v) { return conv2d_weight_grad_reference(v[0], v[1], weight_shape, p); });
  };
  grad(row.x({2, 2, 5, 6}), row.x({2, 3, 3, 3}), {3, 2, 3, 3}, {.stride = {2, 2}, .padding = {1, 1}});
  grad(row.x({1, 3, 5, 5}), row.x({1, 2, 3, 3}), {2, 3, 3, 3}, {});
  grad(row.x({1, 1, 7, 7}), row.x({1, 2, 5, 5}), {2, 1, 3, 3}, {.padding = {1, 1}, .dilation = {2, 2}});
  grad(row.x({1, 2, 5, 6}), row.x({1, 2, 3, 2}), {2, 2, 2, 3}, {.stride = {2, 1}, .padding = {1, 0}, .dilation = {1, 2}});
  grad(row.xt({2, 2, 5, 6}), row.xt({2, 3, 3, 3}), {3, 2, 3, 3}, {.stride = {2, 2}, .padding = {1, 1}});
  grad(row.x({0, 2, 5, 5}), row.x({0, 3, 3, 3}), {3, 2, 3, 3}, {});
  grad(row.x({2, 4, 5, 5}), row.x({2, 6, 3, 3}), {6, 2, 3, 3}, {.groups = 2});
  row.error("grad_output [1,2,4,4] for weight [2,3,3,3]", {row.x({1, 3, 5, 5}), row.x({1, 2, 4, 4})},
            [](const Inputs& v) { return conv2d_weight_grad(v[0], v[1], {2, 3, 3, 3}, {}); },
            {"grad_output has shape [1, 2, 4, 4]", "[1, 2, 3, 3]"});
  return row.build();
}

// conv1d as the convolution of a unit-height image: [N, C, L] -> [N, C, 1, L], weight [O, C, k] -> [O, C, 1, k].
Tensor conv1d_reference(const Tensor& input, const Tensor& weight, const Tensor& bias, const Conv1dParams& p) {
  const Shape& s = input.shape();
  const Tensor x = input.dim() == 2 ? reference::with_shape(input, {1, s[0], 1, s[1]})
                                    : reference::with_shape(input, {s[0], s[1], 1, s[2]});
  const Shape& k = weight.shape();
  const Tensor y = conv2d_reference(x, reference::with_shape(weight, {k[0], k[1], 1, k[2]}), bias,
                                    {{1, p.stride}, {0, p.padding}, {1, p.dilation}, p.groups});
  const Shape& o = y.shape();
  return reference::with_shape(y, input.dim() == 2 ? Shape{o[1], o[3]} : Shape{o[0], o[1], o[3]});
}

OpInfo conv1d_row(SampleInputs& in) {
  RowBuilder row("conv1d", 3, kFloating, {0, 1, 2}, in);
  const auto conv = [&](Tensor x, Tensor w, Tensor b, Conv1dParams p, const std::string& note = "") {
    const bool bias = b.defined();
    Inputs inputs{std::move(x), std::move(w)};
    if (bias) inputs.push_back(std::move(b));
    row.sample(fmt::format("stride {} padding {} dilation {} groups {}{}{}", p.stride, p.padding, p.dilation, p.groups,
                           bias ? "" : ", no bias", note),
               std::move(inputs),
               [p](const Inputs& v) { return conv1d(v[0], v[1], v.size() > 2 ? v[2] : Tensor(), p); },
               [p](const Inputs& v) { return conv1d_reference(v[0], v[1], v.size() > 2 ? v[2] : Tensor(), p); });
  };
  conv(row.x({2, 3, 7}), row.x({4, 3, 3}), row.x({4}), {});
  conv(row.x({1, 2, 9}), row.x({3, 2, 2}), {}, {.stride = 2, .padding = 1, .dilation = 2});
  conv(row.x({2, 4, 6}), row.x({4, 1, 3}), row.x({4}), {.padding = 1, .groups = 4}, ", depthwise");
  conv(row.x({3, 8}), row.x({2, 3, 3}), row.x({2}), {}, ", unbatched [C,L]");
  conv(row.xt({2, 2, 6}), row.x({2, 2, 3}), {}, {.padding = 1});
  const GradcheckFunction plain = [](const Inputs& v) { return conv1d(v[0], v[1]); };
  row.error("input [1,2,5,5]", {row.x({1, 2, 5, 5}), row.x({3, 2, 3})}, plain, {"2-D [C, L] or 3-D [N, C, L]"});
  row.error("weight [3,2,3,3]", {row.x({1, 2, 5}), row.x({3, 2, 3, 3})}, plain, {"3-D weight"});
  row.error("input [1,2,5], weight [3,3,3]", {row.x({1, 2, 5}), row.x({3, 3, 3})}, plain, {"2 channels", "expects 3"});
  return row.build();
}

// The output of conv_transpose2d is the input of the conv2d it transposes; then the bias.
Shape transposed_output_shape(const Shape& x, const Shape& weight, const ConvTranspose2dParams& p) {
  Shape out{x[0], weight[1] * p.groups, 0, 0};
  for (int d = 0; d < 2; ++d)
    out[2 + d] = (x[2 + d] - 1) * p.stride[d] - 2 * p.padding[d] + p.dilation[d] * (weight[2 + d] - 1) +
                 p.output_padding[d] + 1;
  return out;
}

Tensor conv_transpose2d_reference(const Tensor& input, const Tensor& weight, const Tensor& bias,
                                  const ConvTranspose2dParams& p) {
  const Tensor x = batched(input);
  const Shape out = transposed_output_shape(x.shape(), weight.shape(), p);
  const Conv2dParams conv{p.stride, p.padding, p.dilation, p.groups};
  // output_padding past the stride gives the conv2d more outputs than x has: x's zeros beyond.
  const Shape& s = x.shape();
  const Shape conv_out = conv_output_shape(out, weight.shape(), conv);
  const Tensor extended = reference::generate({s[0], s[1], conv_out[2], conv_out[3]}, [&](const Index& i) {
    return i[2] < s[2] && i[3] < s[3] ? at(x, i) : 0.0;
  });
  const Tensor scattered = conv2d_input_grad_reference(extended, weight, out, conv);
  const Tensor y =
      reference::generate(out, [&](const Index& i) { return at(scattered, i) + (bias.defined() ? at(bias, {i[1]}) : 0); });
  return input.dim() == 3 ? unbatched(y) : y;
}

OpInfo conv_transpose2d_row(SampleInputs& in) {
  RowBuilder row("conv_transpose2d", 3, kFloating, {0, 1, 2}, in);
  const auto conv = [&](Tensor x, Tensor w, Tensor b, ConvTranspose2dParams p, const std::string& note = "") {
    const bool bias = b.defined();
    Inputs inputs{std::move(x), std::move(w)};
    if (bias) inputs.push_back(std::move(b));
    row.sample(fmt::format("stride {}x{} padding {}x{} output_padding {}x{} dilation {}x{} groups {}{}{}", p.stride[0],
                           p.stride[1], p.padding[0], p.padding[1], p.output_padding[0], p.output_padding[1],
                           p.dilation[0], p.dilation[1], p.groups, bias ? "" : ", no bias", note),
               std::move(inputs),
               [p](const Inputs& v) { return conv_transpose2d(v[0], v[1], v.size() > 2 ? v[2] : Tensor(), p); },
               [p](const Inputs& v) { return conv_transpose2d_reference(v[0], v[1], v.size() > 2 ? v[2] : Tensor(), p); });
  };
  conv(row.x({2, 2, 3, 3}), row.x({2, 3, 3, 3}), row.x({3}), {});
  conv(row.x({1, 2, 3, 4}), row.x({2, 2, 3, 3}), {}, {.stride = {2, 2}, .padding = {1, 1}, .output_padding = {1, 0}});
  conv(row.x({1, 4, 3, 3}), row.x({4, 1, 2, 3}), row.x({2}), {.stride = {2, 1}, .groups = 2, .dilation = {1, 2}});
  conv(row.x({2, 3, 3}), row.x({2, 2, 2, 2}), row.x({2}), {.stride = {2, 2}}, ", unbatched [C,H,W]");
  conv(row.xt({1, 2, 3, 4}), row.xt({2, 2, 3, 3}), row.x({2}), {.padding = {1, 1}});
  conv(row.x({0, 2, 3, 3}), row.x({2, 3, 3, 3}), row.x({3}), {}, ", empty batch");
  conv(row.x({1, 2, 3, 2}), row.x({2, 1, 3, 2}), row.x({1}), {.output_padding = {1, 0}, .dilation = {2, 1}},
       ", output_padding below the dilation");
  const GradcheckFunction plain = [](const Inputs& v) { return conv_transpose2d(v[0], v[1]); };
  row.error("input [1,3,4,4], weight [2,3,3,3]", {row.x({1, 3, 4, 4}), row.x({2, 3, 3, 3})}, plain,
            {"3 channels", "expects 2"});
  row.error("output_padding 2 with stride 2", {row.x({1, 2, 3, 3}), row.x({2, 2, 3, 3})},
            [](const Inputs& v) { return conv_transpose2d(v[0], v[1], {}, {.stride = {2, 2}, .output_padding = {2, 0}}); },
            {"output_padding must be non-negative and smaller than either the stride or the dilation"});
  row.error("bias [2] for 3 output channels", {row.x({1, 2, 3, 3}), row.x({2, 3, 3, 3}), row.x({2})},
            [](const Inputs& v) { return conv_transpose2d(v[0], v[1], v[2]); }, {"bias must be [C_out] = [3]"});
  row.error("padding 3 on a 1x1 input", {row.x({1, 2, 1, 1}), row.x({2, 3, 2, 2})},
            [](const Inputs& v) { return conv_transpose2d(v[0], v[1], {}, {.padding = {3, 3}}); }, {"less padding"});
  return row.build();
}

// ---- batch normalization ----

constexpr double kBatchNormEps = 1e-5;

// Normalizes each channel (dim 1) with its batch mean and biased variance when training, else
// with running_mean and running_var; then scales by weight and shifts by bias where given.
Tensor batch_norm_reference(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                            const Tensor& bias, bool training) {
  const auto channels = static_cast<std::size_t>(x.shape()[1]);
  std::vector<double> mean(channels), variance(channels), count(channels);
  if (training) {
    reference::for_each_index(x.shape(), [&](const Index& i) {
      mean[static_cast<std::size_t>(i[1])] += at(x, i);
      count[static_cast<std::size_t>(i[1])] += 1;
    });
    for (std::size_t c = 0; c < channels; ++c) mean[c] /= count[c];
    reference::for_each_index(x.shape(), [&](const Index& i) {
      const auto c = static_cast<std::size_t>(i[1]);
      variance[c] += (at(x, i) - mean[c]) * (at(x, i) - mean[c]) / count[c];
    });
  } else {
    mean = reference::values(running_mean);
    variance = reference::values(running_var);
  }
  return reference::generate(x.shape(), [&](const Index& i) {
    const auto c = static_cast<std::size_t>(i[1]);
    const double normalized = (at(x, i) - mean[c]) / std::sqrt(variance[c] + kBatchNormEps);
    return normalized * (weight.defined() ? at(weight, {i[1]}) : 1) + (bias.defined() ? at(bias, {i[1]}) : 0);
  });
}

// Inputs: input, running_mean, running_var, weight, bias. The running statistics are constants
// (never differentiated). A training call is given undefined ones instead, since given ones would
// be updated in place on every call and its output does not depend on them; its samples still
// hold them at 1 and 2 (gradcheck takes no undefined inputs) so that weight and bias stay at 3, 4.
OpInfo batch_norm_row(SampleInputs& in) {
  RowBuilder row("batch_norm", 5, kFloating, {0, 3, 4}, in);
  const auto arg = [](const Inputs& v, std::size_t i) { return i < v.size() ? v[i] : Tensor(); };
  const auto running = [&](std::int64_t channels) {
    return Inputs{row.x({channels}), row.inputs().uniform({channels}, 0.5, 2.0)};  // mean, variance > 0
  };
  // With the running statistics at 1 and 2 (unused when training), and weight and bias if affine.
  const auto with = [&](Tensor x, bool affine) {
    const std::int64_t channels = x.shape()[1];
    Inputs inputs = running(channels);
    inputs.insert(inputs.begin(), std::move(x));
    if (affine) {
      inputs.push_back(row.x({channels}));
      inputs.push_back(row.x({channels}));
    }
    return inputs;
  };
  const auto training = [&](Inputs inputs, const std::string& detail) {
    row.sample("training" + detail, std::move(inputs),
               [arg](const Inputs& v) { return batch_norm(v[0], {}, {}, arg(v, 3), arg(v, 4), true); },
               [arg](const Inputs& v) { return batch_norm_reference(v[0], {}, {}, arg(v, 3), arg(v, 4), true); });
  };
  const auto evaluation = [&](Inputs inputs, const std::string& detail) {
    row.sample("evaluation" + detail, std::move(inputs),
               [arg](const Inputs& v) { return batch_norm(v[0], v[1], v[2], arg(v, 3), arg(v, 4), false); },
               [arg](const Inputs& v) { return batch_norm_reference(v[0], v[1], v[2], arg(v, 3), arg(v, 4), false); });
  };
  training(with(row.x({4, 3}), true), "");
  training(with(row.x({2, 3, 4}), true), "");
  training(with(row.x({2, 2, 3, 3}), true), "");
  training({row.x({2, 2, 3, 3})}, ", no weight or bias");
  training({row.x({3, 2})}, ", no weight or bias");
  training(with(row.xt({4, 3}), true), "");
  training(with(row.xt({2, 3, 4}), true), "");
  Inputs weight_only = with(row.x({3, 4}), true);
  weight_only.pop_back();
  training(weight_only, ", no bias");
  // Given running statistics (copies, updated in place by the call) change nothing in training.
  row.sample("training, running statistics given", with(row.x({4, 3}), true),
             [](const Inputs& v) { return batch_norm(v[0], clone(v[1]), clone(v[2]), v[3], v[4], true); },
             [](const Inputs& v) { return batch_norm_reference(v[0], {}, {}, v[3], v[4], true); });
  evaluation(with(row.x({4, 3}), true), "");
  evaluation(with(row.x({2, 3, 4}), false), ", no weight or bias");
  evaluation(with(row.xt({2, 2, 3, 3}), true), "");
  evaluation(with(row.x({1, 3}), true), ", batch of one");
  evaluation(with(row.x({0, 3}), true), ", empty batch");
  const GradcheckFunction train = [](const Inputs& v) { return batch_norm(v[0], {}, {}, {}, {}, true); };
  row.error("input [3]", {row.x({3})}, train, {"at least 2 dims", "[3]"});
  row.error("training on [1,3]", {row.x({1, 3})}, train, {"more than 1 value per channel", "[1, 3]"});
  row.error("weight [2] for 3 channels", {row.x({4, 3}), row.x({2})},
            [](const Inputs& v) { return batch_norm(v[0], {}, {}, v[1], {}, true); }, {"weight must have shape [3]", "[2]"});
  row.error("evaluation without running statistics", {row.x({4, 3})},
            [](const Inputs& v) { return batch_norm(v[0], {}, {}, {}, {}, false); }, {"evaluation mode", "running_mean"});
  return row.build();
}

// ---- dropout ----

// Every call draws from a fresh generator of this seed, so each evaluation drops the same elements.
Tensor seeded_dropout(const Tensor& x, double p, bool training) {
  Generator generator(20240612);
  return dropout(x, p, training, generator);
}

Tensor dropout_reference(const Tensor& x, double p, bool training) {
  if (!training || p == 0) return reference::unary(x, [](double e) { return e; });
  // The mask is random, and rebuilding it would mean copying how dropout draws it; it comes instead
  // from the same seeded call on a tensor of ones, checked to hold only 0 and 1 / (1 - p). So the
  // sample checks that the same elements are dropped whatever the values, and the rest scaled.
  const Tensor mask = seeded_dropout(ones(x.shape(), kFloat64), p, true);
  for (double m : reference::values(mask))
    TAPEGRAD_CHECK(m == 0 || std::abs(m - 1 / (1 - p)) < 1e-12, "dropout reference: mask element {} for p = {}", m, p);
  return reference::binary(x, mask, std::multiplies<double>());
}

OpInfo dropout_row(SampleInputs& in) {
  RowBuilder row("dropout", 1, kFloating, {0}, in);
  const auto drop = [&](Tensor x, double p, bool training) {
    row.sample(fmt::format("p {}{}", p, training ? ", training" : ", evaluation"), {std::move(x)},
               [p, training](const Inputs& v) { return seeded_dropout(v[0], p, training); },
               [p, training](const Inputs& v) { return dropout_reference(v[0], p, training); });
  };
  drop(row.x({2, 3}), 0.5, false);
  drop(row.x({}), 0.5, false);
  drop(row.xt({2, 3}), 0, true);
  drop(row.x({3, 4}), 0.5, true);
  drop(row.xt({4, 3}), 0.5, true);
  drop(row.x({2, 3, 4}), 0.2, true);
  drop(row.x({}), 0.5, true);
  drop(row.x({0, 3}), 0.5, true);
  drop(row.x({2, 3}), 1, true);
  for (double p : {1.5, -0.1})
    row.error(fmt::format("p {}", p), {row.x({2, 3})}, [p](const Inputs& v) { return seeded_dropout(v[0], p, true); },
              {"between 0 and 1", fmt::format("got {}", p)});
  return row.build();
}

// ---- layer and group normalization, embedding ----

// x's values in consecutive groups of `group` elements, each standardized by its own mean and
// biased variance; then scaled and shifted by the affine value each element's `affine_index` picks.
Tensor standardized_groups(const Tensor& x, std::int64_t group, double eps, const Tensor& weight, const Tensor& bias,
                           const std::function<std::int64_t(std::int64_t)>& affine_index) {
  std::vector<double> v = reference::values(x);
  const std::vector<double> w = weight.defined() ? reference::values(weight) : std::vector<double>{};
  const std::vector<double> b = bias.defined() ? reference::values(bias) : std::vector<double>{};
  for (std::size_t start = 0; start < v.size(); start += static_cast<std::size_t>(group)) {
    const auto begin = v.begin() + static_cast<std::ptrdiff_t>(start), end = begin + group;
    double mean = 0, squares = 0;
    for (auto it = begin; it != end; ++it) mean += *it;
    mean /= static_cast<double>(group);
    for (auto it = begin; it != end; ++it) squares += (*it - mean) * (*it - mean);
    const double scale = 1 / std::sqrt(squares / static_cast<double>(group) + eps);
    for (auto it = begin; it != end; ++it) *it = (*it - mean) * scale;
  }
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto k = static_cast<std::size_t>(affine_index(static_cast<std::int64_t>(i)));
    if (!w.empty()) v[i] *= w[k];
    if (!b.empty()) v[i] += b[k];
  }
  return reference::with_shape(from_vector(v), x.shape());
}

OpInfo layer_norm_row(SampleInputs& in) {
  RowBuilder row("layer_norm", 3, kFloating, {0, 1, 2}, in);
  const auto arg = [](const Inputs& v, std::size_t i) { return i < v.size() ? v[i] : Tensor(); };
  const auto normalized = [&](Tensor x, Shape shape, bool affine) {
    const std::int64_t inner = numel_of(shape);
    Inputs inputs = affine ? Inputs{std::move(x), row.x(shape), row.x(shape)} : Inputs{std::move(x)};
    row.sample(fmt::format("normalized_shape {}{}", shape, affine ? ", affine" : ""), std::move(inputs),
               [shape, arg](const Inputs& v) { return layer_norm(v[0], shape, arg(v, 1), arg(v, 2)); },
               [inner, arg](const Inputs& v) {
                 return standardized_groups(v[0], inner, 1e-5, arg(v, 1), arg(v, 2),
                                            [inner](std::int64_t i) { return i % inner; });
               });
  };
  normalized(row.x({3, 4}), {4}, true);
  normalized(row.xt({4, 3}), {3}, false);
  normalized(row.x({2, 2, 3}), {2, 3}, true);
  row.error("normalized_shape [3] of [2,4]", {row.x({2, 4})}, [](const Inputs& v) { return layer_norm(v[0], {3}); },
            {"[3]", "[2, 4]", "last dims"});
  row.error("weight [2] for [4]", {row.x({2, 4}), row.x({2})},
            [](const Inputs& v) { return layer_norm(v[0], {4}, v[1]); }, {"weight", "[4]", "[2]"});
  return row.build();
}

OpInfo group_norm_row(SampleInputs& in) {
  RowBuilder row("group_norm", 3, kFloating, {0, 1, 2}, in);
  const auto grouped = [&](Tensor x, std::int64_t groups, bool affine) {
    const std::int64_t channels = x.shape()[1], spatial = x.numel() / (x.shape()[0] * channels);
    const std::int64_t group = channels / groups * spatial;
    Inputs inputs = affine ? Inputs{std::move(x), row.x({channels}), row.x({channels})} : Inputs{std::move(x)};
    row.sample(fmt::format("{} groups{}", groups, affine ? ", affine" : ""), std::move(inputs),
               [groups](const Inputs& v) {
                 return group_norm(v[0], groups, v.size() > 1 ? v[1] : Tensor(), v.size() > 2 ? v[2] : Tensor());
               },
               [group, channels, spatial](const Inputs& v) {
                 return standardized_groups(v[0], group, 1e-5, v.size() > 1 ? v[1] : Tensor(),
                                            v.size() > 2 ? v[2] : Tensor(),
                                            [=](std::int64_t i) { return i / spatial % channels; });
               });
  };
  grouped(row.x({2, 4, 3}), 2, true);
  grouped(row.x({2, 6, 2, 2}), 3, true);
  grouped(row.x({3, 4}), 4, false);
  row.error("4 channels in 3 groups", {row.x({2, 4, 3})}, [](const Inputs& v) { return group_norm(v[0], 3); },
            {"4 channels", "3 groups"});
  return row.build();
}

OpInfo embedding_row(SampleInputs& in) {
  RowBuilder row("embedding", 2, kFloating, {1}, in);
  using SI = SampleInputs;
  const auto rows_at = [](const Inputs& v) {
    const Tensor& weight = v[1];
    Shape shape = v[0].shape();
    shape.push_back(weight.shape()[1]);
    return reference::generate(shape, [&](const Index& index) {
      Index position(index.begin(), index.end() - 1);
      return at(weight, {static_cast<std::int64_t>(at(v[0], position)), index.back()});
    });
  };
  row.sample("indices [2,3]", {SI::indices({0, 4, 2, 2, 1, 4}, {2, 3}), row.x({5, 3})},
             [](const Inputs& v) { return embedding(v[0], v[1]); }, rows_at);
  row.sample("indices [], strided weight", {SI::indices({1}, {}), row.xt({4, 2})},
             [](const Inputs& v) { return embedding(v[0], v[1]); }, rows_at);
  row.sample("indices [0]", {SI::indices({}, {0}), row.x({3, 2})}, [](const Inputs& v) { return embedding(v[0], v[1]); },
             rows_at);
  row.error("float indices", {row.x({2}), row.x({3, 2})}, [](const Inputs& v) { return embedding(v[0], v[1]); },
            {"int64"});
  row.error("weight [3]", {SI::indices({0}, {1}), row.x({3})}, [](const Inputs& v) { return embedding(v[0], v[1]); },
            {"[num_embeddings, embedding_dim]"});
  return row.build();
}

}  // namespace

// ---- attention ----

// softmax(q k^T * scale + mask) v by loops over every output element; batch dims broadcast. A
// floating mask is added to the scores; a bool mask's false entries (and, when causal, j > i) get -inf.
Tensor attention_reference(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, bool causal,
                           double scale) {
  const std::int64_t length = q.size(-2), keys = k.size(-2), features = q.size(-1);
  const int batch_ndim = std::max({q.dim(), k.dim(), v.dim()}) - 2;
  Shape shape;
  for (int d = 0; d < batch_ndim; ++d) {
    std::int64_t size = 1;
    for (const Tensor* t : {&q, &k, &v}) {
      const int own = d - (batch_ndim - (t->dim() - 2));
      if (own >= 0 && t->shape()[own] != 1) size = t->shape()[own];
    }
    shape.push_back(size);
  }
  shape.push_back(length);
  shape.push_back(v.size(-1));
  return reference::generate(shape, [&](const Index& index) {
    const std::int64_t i = index[index.size() - 2], column = index.back();
    const auto read = [&](const Tensor& t, std::int64_t row, std::int64_t col) {
      Index full(index.begin(), index.end() - 2);
      full.push_back(row);
      full.push_back(col);
      return reference::at_broadcast(t, full);
    };
    std::vector<double> scores;
    for (std::int64_t j = 0; j < keys; ++j) {
      double score = 0;
      for (std::int64_t e = 0; e < features; ++e) score += read(q, i, e) * read(k, j, e);
      score *= scale;
      if (causal && j > i) score = -INFINITY;
      if (mask.defined()) {
        const double m = read(mask, i, j);
        if (mask.is_floating_point()) score += m;
        else if (m == 0) score = -INFINITY;
      }
      scores.push_back(score);
    }
    const double largest = reference::max_of(scores);
    double total = 0, out = 0;
    for (std::int64_t j = 0; j < keys; ++j) total += std::exp(scores[static_cast<std::size_t>(j)] - largest);
    for (std::int64_t j = 0; j < keys; ++j)
      out += std::exp(scores[static_cast<std::size_t>(j)] - largest) / total * read(v, j, column);
    return out;
  });
}

OpInfo scaled_dot_product_attention_row(SampleInputs& in) {
  RowBuilder row("scaled_dot_product_attention", 4, kFloating, {0, 1, 2, 3}, in);
  const auto default_scale = [](const Inputs& v) { return 1 / std::sqrt(static_cast<double>(v[0].size(-1))); };
  const GradcheckFunction plain = [](const Inputs& v) { return scaled_dot_product_attention(v[0], v[1], v[2]); };
  const GradcheckFunction plain_reference = [=](const Inputs& v) {
    return attention_reference(v[0], v[1], v[2], {}, false, default_scale(v));
  };
  const GradcheckFunction masked = [](const Inputs& v) { return scaled_dot_product_attention(v[0], v[1], v[2], v[3]); };
  const GradcheckFunction masked_reference = [=](const Inputs& v) {
    return attention_reference(v[0], v[1], v[2], v[3], false, default_scale(v));
  };
  const GradcheckFunction causal = [](const Inputs& v) {
    return scaled_dot_product_attention(v[0], v[1], v[2], {}, 0, true);
  };
  const GradcheckFunction causal_reference = [=](const Inputs& v) {
    return attention_reference(v[0], v[1], v[2], {}, true, default_scale(v));
  };
  const auto boolean = [](const std::vector<double>& values, const Shape& shape) {
    return SampleInputs::mask(values, shape);
  };
  // Unbatched, batched, batch dims broadcast (key and value shared), empty batch and queries.
  for (const auto& [q, k, v] : std::initializer_list<std::array<Shape, 3>>{{{{2, 3}, {4, 3}, {4, 2}}},
                                                                           {{{2, 2, 3}, {2, 4, 3}, {2, 4, 5}}},
                                                                           {{{2, 1, 2, 3}, {3, 4, 3}, {3, 4, 2}}},
                                                                           {{{2, 2, 3}, {4, 3}, {4, 2}}},
                                                                           {{{1, 1}, {1, 1}, {1, 1}}},
                                                                           {{{0, 2, 3}, {0, 4, 3}, {0, 4, 2}}},
                                                                           {{{2, 0, 3}, {2, 4, 3}, {2, 4, 2}}}})
    row.sample("", {row.x(q), row.x(k), row.x(v)}, plain, plain_reference);
  row.sample("", {row.xt({2, 2, 3}), row.xt({2, 4, 3}), row.x({2, 4, 2})}, plain, plain_reference);
  row.sample("additive mask", {row.x({2, 2, 3}), row.x({2, 4, 3}), row.x({2, 4, 2}), row.x({2, 4})}, masked,
             masked_reference);
  row.sample("boolean mask [2,4]",
             {row.x({2, 2, 3}), row.x({2, 4, 3}), row.x({2, 4, 2}), boolean({1, 0, 1, 1, 0, 1, 1, 0}, {2, 4})}, masked,
             masked_reference);
  row.sample("boolean mask [2,1,4]",
             {row.x({2, 3, 3}), row.x({2, 4, 3}), row.x({2, 4, 2}), boolean({0, 0, 1, 1, 1, 0, 0, 0}, {2, 1, 4})},
             masked, masked_reference);
  row.sample("causal", {row.x({2, 3, 2}), row.x({2, 3, 2}), row.x({2, 3, 3})}, causal, causal_reference);
  row.sample("causal, L 2 < S 3", {row.x({2, 2}), row.x({3, 2}), row.x({3, 3})}, causal, causal_reference);
  row.sample("scale 0.7", {row.x({2, 3}), row.x({4, 3}), row.x({4, 2})},
             [](const Inputs& v) { return scaled_dot_product_attention(v[0], v[1], v[2], {}, 0, false, 0.7); },
             [](const Inputs& v) { return attention_reference(v[0], v[1], v[2], {}, false, 0.7); });
  row.error("query E 3, key E 2", {row.x({2, 3}), row.x({4, 2}), row.x({4, 2})}, plain, {"share their last dim"});
  row.error("key S 4, value S 3", {row.x({2, 3}), row.x({4, 3}), row.x({3, 2})}, plain, {"sequence length"});
  row.error("a 1-D query", {row.x({3}), row.x({4, 3}), row.x({4, 2})}, plain, {"expected query [..., L, E]"});
  row.error("mask [3,4] for scores [2,4]", {row.x({2, 3}), row.x({4, 3}), row.x({4, 2}), row.x({3, 4})}, masked,
            {"does not broadcast", "[3, 4]"});
  row.error("mask and is_causal", {row.x({2, 3}), row.x({2, 3}), row.x({2, 2}), row.x({2, 2})},
            [](const Inputs& v) { return scaled_dot_product_attention(v[0], v[1], v[2], v[3], 0, true); },
            {"not both"});
  return row.build();
}

std::vector<OpInfo> layer_rows(SampleInputs& in) {
  return {scaled_dot_product_attention_row(in),
          conv2d_row(in),
          conv2d_relu_row(in),
          conv2d_input_grad_row(in),
          conv2d_weight_grad_row(in),
          conv1d_row(in),
          conv_transpose2d_row(in),
          batch_norm_row(in),
          layer_norm_row(in),
          group_norm_row(in),
          embedding_row(in),
          dropout_row(in)};
}

}  // namespace tapegrad::op_rows
