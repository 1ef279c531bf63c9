// Rows of the pooling functions: max pooling (values and argmax positions), average pooling and
// adaptive average pooling. The references scan each window tap by tap, with output sizes from
// PyTorch's formulas in floating point (a ceil_mode window that would start past the input and
// its right padding dropped).
#include <array>
#include <cmath>

#include <tapegrad/autodiff/op_table/rows.h>

namespace tapegrad::op_rows {
namespace {

using reference::at;
using reference::batched;
using reference::Index;
using reference::inside;
using reference::unbatched;

constexpr auto kFloating = OpDTypes::Floating;

// One axis of a pooling window: `kernel` taps `dilation` apart, every `stride` (0: the kernel).
struct Axis {
  std::int64_t size, kernel, stride, padding, dilation;
  bool ceil_mode;

  std::int64_t step() const { return stride == 0 ? kernel : stride; }
  std::int64_t start(std::int64_t o) const { return o * step() - padding; }
  std::int64_t outputs() const {
    const double room = static_cast<double>(size + 2 * padding - dilation * (kernel - 1) - 1) / static_cast<double>(step());
    auto out = static_cast<std::int64_t>(ceil_mode ? std::ceil(room) : std::floor(room)) + 1;
    if (ceil_mode && start(out - 1) >= size) --out;  // starts past the input and the left padding
    return out;
  }
};

std::array<Axis, 2> axes(const Shape& s, const Pool2dParams& p) {
  return {Axis{s[2], p.kernel[0], p.stride[0], p.padding[0], p.dilation[0], p.ceil_mode},
          Axis{s[3], p.kernel[1], p.stride[1], p.padding[1], p.dilation[1], p.ceil_mode}};
}

std::string pool_detail(const Pool2dParams& p) {
  std::string detail = fmt::format("kernel {}x{} stride {}x{} padding {}x{}", p.kernel[0], p.kernel[1], p.stride[0],
                                   p.stride[1], p.padding[0], p.padding[1]);
  if (p.dilation != std::array<std::int64_t, 2>{1, 1}) detail += fmt::format(" dilation {}x{}", p.dilation[0], p.dilation[1]);
  return p.ceil_mode ? detail + " ceil_mode" : detail;
}

// Max pooling by a scan of each window, in which padding never wins; with `argmax`, the position
// h * W + w in its input plane of each window's first maximum, as max_pool2d_with_indices gives.
Tensor max_pool2d_reference(const Tensor& input, const Pool2dParams& p, bool argmax) {
  const Tensor x = batched(input);
  const Shape& s = x.shape();
  // Named, not a structured binding: the lambda below uses both, which clang 14 does not allow.
  const std::array<Axis, 2> windows = axes(s, p);
  const Axis& rows = windows[0];
  const Axis& columns = windows[1];
  const Tensor y = reference::generate({s[0], s[1], rows.outputs(), columns.outputs()}, [&](const Index& i) {
    double best = -INFINITY;
    std::int64_t position = -1;
    for (std::int64_t kh = 0; kh < p.kernel[0]; ++kh)
      for (std::int64_t kw = 0; kw < p.kernel[1]; ++kw) {
        const std::int64_t h = rows.start(i[2]) + kh * p.dilation[0], w = columns.start(i[3]) + kw * p.dilation[1];
        if (inside(h, s[2]) && inside(w, s[3]) && at(x, {i[0], i[1], h, w}) > best) {
          best = at(x, {i[0], i[1], h, w});
          position = h * s[3] + w;
        }
      }
    return argmax ? static_cast<double>(position) : best;
  });
  return input.dim() == 3 ? unbatched(y) : y;
}

// relu(max_pool2d(...)) in one op. Most windows of draws from row.x have a positive maximum;
// draws shifted down by 0.5 make windows whose maximum is negative, where no gradient passes.
OpInfo max_pool_relu_row(SampleInputs& in) {
  RowBuilder row("max_pool2d_relu", 1, kFloating, {0}, in);
  const auto pool = [&](Tensor x, Pool2dParams p, const std::string& note = "") {
    row.sample(pool_detail(p) + note, {std::move(x)}, [p](const Inputs& v) { return max_pool2d_relu(v[0], p); },
               [p](const Inputs& v) { return relu(max_pool2d_reference(v[0], p, false)); });
  };
  pool(row.x({2, 2, 4, 4}), {}, " (stride = kernel)");
  pool(row.x({2, 3, 6, 6}) - 0.5, {}, ", mostly negative");
  pool(row.x({1, 2, 5, 5}) - 0.5, {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}}, ", mostly negative");
  pool(row.x({2, 3, 3}), {.kernel = {2, 2}, .stride = {1, 1}}, ", unbatched [C,H,W]");
  pool(row.xt({2, 1, 5, 6}) - 0.5, {.kernel = {3, 2}, .stride = {2, 2}, .dilation = {2, 1}, .ceil_mode = true});
  pool(row.x({0, 2, 4, 4}), {}, ", empty batch");
  row.error("kernel 3x3 on a 2x2 image", {row.x({1, 1, 2, 2})},
            [](const Inputs& v) { return max_pool2d_relu(v[0], {.kernel = {3, 3}}); },
            {"larger than the padded input", "[1, 1, 2, 2]"});
  return row.build();
}

// Uniform draws are distinct, so no window has a tie for finite differences to trip on.
OpInfo max_pool_row(const std::string& name, SampleInputs& in) {
  const bool with_indices = name == "max_pool2d_with_indices";
  RowBuilder row(name, 1, kFloating, {0}, in);
  const auto call = [with_indices](Pool2dParams p) -> GradcheckFunction {
    return [with_indices, p](const Inputs& v) {
      return with_indices ? max_pool2d_with_indices(v[0], p).values : max_pool2d(v[0], p);
    };
  };
  const auto pool = [&](Tensor x, Pool2dParams p, const std::string& note = "") {
    row.sample(pool_detail(p) + note, {std::move(x)}, call(p),
               [p](const Inputs& v) { return max_pool2d_reference(v[0], p, false); });
  };
  pool(row.x({2, 2, 4, 4}), {}, " (stride = kernel)");
  pool(row.x({1, 2, 5, 5}), {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}});
  pool(row.x({2, 3, 3}), {.kernel = {2, 2}, .stride = {1, 1}}, ", unbatched [C,H,W]");
  pool(row.x({1, 1, 4, 5}), {.kernel = {2, 3}, .stride = {1, 2}, .padding = {1, 1}});
  pool(row.x({1, 1, 5, 5}), {}, ", last row and column left over");
  pool(row.xt({2, 1, 4, 4}), {.kernel = {2, 2}, .stride = {1, 1}});
  pool(row.x({1, 2, 7, 7}), {.kernel = {3, 3}, .padding = {1, 1}, .dilation = {2, 2}});
  pool(row.x({1, 1, 6, 7}), {.kernel = {2, 3}, .stride = {1, 2}, .dilation = {3, 1}});
  pool(row.x({1, 2, 5, 5}), {.ceil_mode = true}, ", last window partial");
  pool(row.x({1, 1, 6, 6}), {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true});
  pool(row.x({1, 1, 5, 5}), {.kernel = {2, 2}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true},
       ", a window starting in the right padding dropped");
  pool(row.xt({1, 2, 7, 6}), {.kernel = {3, 2}, .stride = {2, 2}, .dilation = {2, 1}, .ceil_mode = true});
  pool(row.x({0, 2, 4, 4}), {}, ", empty batch");
  pool(row.x({0, 4, 4}), {}, ", no channels");
  if (!with_indices)
    row.sample("kernel 3 (the shorthand)", {row.x({1, 2, 7, 6})}, [](const Inputs& v) { return max_pool2d(v[0], 3); },
               [](const Inputs& v) { return max_pool2d_reference(v[0], {.kernel = {3, 3}}, false); });
  if (with_indices) {
    // The int64 positions, compared as float64 (they carry no gradient).
    const auto positions = [&](Tensor x, Pool2dParams p) {
      row.sample(pool_detail(p) + ", indices", {std::move(x)},
                 [p](const Inputs& v) { return to_dtype(max_pool2d_with_indices(v[0], p).indices, kFloat64); },
                 [p](const Inputs& v) { return max_pool2d_reference(v[0], p, true); });
    };
    positions(row.x({1, 2, 5, 5}), {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}});
    positions(row.xt({2, 3, 4}), {.kernel = {2, 3}, .stride = {1, 1}, .padding = {1, 1}});
    positions(row.x({1, 2, 7, 7}), {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .dilation = {2, 2},
                                    .ceil_mode = true});
  }
  row.error("kernel 3x3 on a 2x2 image", {row.x({1, 1, 2, 2})}, call({.kernel = {3, 3}}),
            {"larger than the padded input", "[1, 1, 2, 2]"});
  row.error("kernel 2 dilation 3 on a 3x3 image", {row.x({1, 1, 3, 3})}, call({.dilation = {3, 3}}),
            {"larger than the padded input", "4x4 with dilation"});
  row.error("padding 2 for kernel 2", {row.x({1, 1, 4, 4})}, call({.padding = {2, 2}}),
            {"padding must be between 0 and half the kernel size"});
  row.error("dilation 0", {row.x({1, 1, 4, 4})}, call({.dilation = {0, 1}}), {"dilation must be positive"});
  row.error("input [4,4]", {row.x({4, 4})}, call({}), {"3-D [C, H, W] or 4-D [N, C, H, W]", "[4, 4]"});
  return row.build();
}

// ---- average pooling ----

std::string avg_pool_detail(const AvgPool2dParams& p) {
  std::string detail = pool_detail({.kernel = p.kernel, .stride = p.stride, .padding = p.padding, .ceil_mode = p.ceil_mode});
  if (!p.count_include_pad) detail += " count_include_pad=false";
  return p.divisor_override ? detail + fmt::format(" divisor {}", *p.divisor_override) : detail;
}

// The mean of each window as PyTorch's kernel takes it: the sum of its taps inside the input,
// divided by divisor_override, or the count of its taps inside the padded input (count_include_pad;
// a ceil_mode window may reach past it), or the count inside the input.
Tensor avg_pool2d_reference(const Tensor& input, const AvgPool2dParams& p) {
  const Tensor x = batched(input);
  const Shape& s = x.shape();
  const std::array<Axis, 2> windows =
      axes(s, {.kernel = p.kernel, .stride = p.stride, .padding = p.padding, .ceil_mode = p.ceil_mode});
  const Axis& rows = windows[0];
  const Axis& columns = windows[1];
  const Tensor y = reference::generate({s[0], s[1], rows.outputs(), columns.outputs()}, [&](const Index& i) {
    double sum = 0, inside_count = 0, padded_count = 0;
    for (std::int64_t kh = 0; kh < p.kernel[0]; ++kh)
      for (std::int64_t kw = 0; kw < p.kernel[1]; ++kw) {
        const std::int64_t h = rows.start(i[2]) + kh, w = columns.start(i[3]) + kw;
        if (h < s[2] + p.padding[0] && w < s[3] + p.padding[1]) ++padded_count;
        if (inside(h, s[2]) && inside(w, s[3])) {
          sum += at(x, {i[0], i[1], h, w});
          ++inside_count;
        }
      }
    if (p.divisor_override) return sum / static_cast<double>(*p.divisor_override);
    return sum / (p.count_include_pad ? padded_count : inside_count);
  });
  return input.dim() == 3 ? unbatched(y) : y;
}

OpInfo avg_pool_row(SampleInputs& in) {
  RowBuilder row("avg_pool2d", 1, kFloating, {0}, in);
  const auto call = [](AvgPool2dParams p) -> GradcheckFunction {
    return [p](const Inputs& v) { return avg_pool2d(v[0], p); };
  };
  const auto pool = [&](Tensor x, AvgPool2dParams p, const std::string& note = "") {
    row.sample(avg_pool_detail(p) + note, {std::move(x)}, call(p),
               [p](const Inputs& v) { return avg_pool2d_reference(v[0], p); });
  };
  pool(row.x({2, 2, 4, 4}), {}, " (stride = kernel)");
  pool(row.x({1, 2, 5, 5}), {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}});
  pool(row.x({1, 2, 5, 5}), {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .count_include_pad = false});
  pool(row.x({1, 1, 4, 5}), {.kernel = {2, 3}, .stride = {1, 2}, .padding = {1, 1}});
  pool(row.x({2, 3, 3}), {.kernel = {2, 2}, .stride = {1, 1}}, ", unbatched [C,H,W]");
  pool(row.xt({2, 1, 4, 5}), {.kernel = {2, 2}, .stride = {1, 1}});
  pool(row.x({1, 2, 5, 5}), {.ceil_mode = true}, ", last window partial");
  pool(row.x({1, 1, 6, 6}), {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true});
  pool(row.x({1, 1, 6, 6}), {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true,
                             .count_include_pad = false});
  pool(row.x({1, 1, 5, 5}), {.kernel = {2, 2}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true},
       ", a window starting in the right padding dropped");
  pool(row.x({1, 2, 5, 4}), {.kernel = {3, 2}, .padding = {1, 1}, .divisor_override = 4});
  pool(row.x({0, 2, 4, 4}), {}, ", empty batch");
  row.error("kernel 3x3 on a 2x2 image", {row.x({1, 1, 2, 2})}, call({.kernel = {3, 3}}),
            {"larger than the padded input", "[1, 1, 2, 2]"});
  row.error("padding 2 for kernel 3", {row.x({1, 1, 4, 4})}, call({.kernel = {3, 3}, .padding = {2, 2}}),
            {"padding must be between 0 and half the kernel size"});
  row.error("stride -1", {row.x({1, 1, 4, 4})}, call({.stride = {-1, 1}}), {"stride must be positive"});
  row.error("divisor_override 0", {row.x({1, 1, 4, 4})}, call({.divisor_override = 0}),
            {"divisor_override must be non-zero"});
  row.error("input [4,4]", {row.x({4, 4})}, call({}), {"3-D [C, H, W] or 4-D [N, C, H, W]", "[4, 4]"});
  return row.build();
}

// ---- adaptive average pooling ----

// The mean over rows [floor(o H / out), ceil((o + 1) H / out)), columns alike, as PyTorch's kernel.
Tensor adaptive_avg_pool2d_reference(const Tensor& input, const std::array<std::int64_t, 2>& size) {
  const Tensor x = batched(input);
  const Shape& s = x.shape();
  const auto bounds = [](std::int64_t o, std::int64_t in, std::int64_t out) {
    const double scale = static_cast<double>(in) / static_cast<double>(out);
    return std::array<std::int64_t, 2>{static_cast<std::int64_t>(std::floor(static_cast<double>(o) * scale)),
                                       static_cast<std::int64_t>(std::ceil(static_cast<double>(o + 1) * scale))};
  };
  const Tensor y = reference::generate({s[0], s[1], size[0], size[1]}, [&](const Index& i) {
    const auto [h_begin, h_end] = bounds(i[2], s[2], size[0]);
    const auto [w_begin, w_end] = bounds(i[3], s[3], size[1]);
    double sum = 0;
    for (std::int64_t h = h_begin; h < h_end; ++h)
      for (std::int64_t w = w_begin; w < w_end; ++w) sum += at(x, {i[0], i[1], h, w});
    return sum / static_cast<double>((h_end - h_begin) * (w_end - w_begin));
  });
  return input.dim() == 3 ? unbatched(y) : y;
}

OpInfo adaptive_avg_pool_row(SampleInputs& in) {
  RowBuilder row("adaptive_avg_pool2d", 1, kFloating, {0}, in);
  const auto pool = [&](Tensor x, std::array<std::int64_t, 2> size, const std::string& note = "") {
    row.sample(fmt::format("output {}x{}{}", size[0], size[1], note), {std::move(x)},
               [size](const Inputs& v) { return adaptive_avg_pool2d(v[0], size); },
               [size](const Inputs& v) { return adaptive_avg_pool2d_reference(v[0], size); });
  };
  pool(row.x({2, 2, 5, 7}), {3, 4}, ", overlapping windows");
  pool(row.x({2, 3, 4, 4}), {1, 1}, ", global average");
  pool(row.x({1, 2, 6, 4}), {3, 2}, ", even division");
  pool(row.x({1, 1, 3, 4}), {5, 6}, ", output larger than input");
  pool(row.x({2, 5, 3}), {2, 2}, ", unbatched [C,H,W]");
  pool(row.xt({2, 1, 5, 6}), {2, 3});
  pool(row.x({0, 2, 4, 4}), {2, 2}, ", empty batch");
  row.error("output (-1, 2)", {row.x({1, 1, 4, 4})},
            [](const Inputs& v) { return adaptive_avg_pool2d(v[0], {-1, 2}); }, {"output_size must be non-negative"});
  row.error("input [1,2,0,4]", {row.x({1, 2, 0, 4})}, [](const Inputs& v) { return adaptive_avg_pool2d(v[0], {2, 2}); },
            {"non-zero channels, height and width", "[1, 2, 0, 4]"});
  row.error("input [4,4]", {row.x({4, 4})}, [](const Inputs& v) { return adaptive_avg_pool2d(v[0], {2, 2}); },
            {"3-D [C, H, W] or 4-D [N, C, H, W]", "[4, 4]"});
  return row.build();
}

}  // namespace

std::vector<OpInfo> pooling_rows(SampleInputs& in) {
  return {max_pool_row("max_pool2d", in), max_pool_row("max_pool2d_with_indices", in), max_pool_relu_row(in),
          avg_pool_row(in), adaptive_avg_pool_row(in)};
}

}  // namespace tapegrad::op_rows
