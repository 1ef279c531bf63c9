// Tensor printing in PyTorch's layout: one number format for the whole tensor (integers
// without decimals, 4 decimals, or scientific when magnitudes call for it), aligned columns,
// nested brackets indented under "tensor(".
#include <tapegrad/autodiff/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include <tapegrad/autodiff/node.h>

namespace tapegrad {
namespace {

constexpr std::int64_t kSummarizeAbove = 1000;  // elements; as torch's print threshold
constexpr std::int64_t kEdgeItems = 3;

struct NumberFormat {
  bool integer_valued = true;
  bool scientific = false;
  bool is_integer_dtype = false;
  bool is_bool_dtype = false;
  std::size_t width = 1;

  std::string apply(double value) const {
    if (is_bool_dtype) return value != 0 ? "True" : "False";
    if (is_integer_dtype) return fmt::format("{}", static_cast<std::int64_t>(value));
    if (std::isnan(value)) return "nan";
    if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
    if (scientific) return fmt::format("{:.4e}", value);
    if (integer_valued) return fmt::format("{:.0f}.", value);
    return fmt::format("{:.4f}", value);
  }
};

NumberFormat choose_format(const std::vector<double>& values, DType dtype) {
  NumberFormat format;
  format.is_integer_dtype = dtype == kInt64 || dtype == kUInt8;
  format.is_bool_dtype = dtype == kBool;
  double largest = 0, smallest = INFINITY;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    if (v != std::floor(v)) format.integer_valued = false;
    largest = std::max(largest, std::abs(v));
    if (v != 0) smallest = std::min(smallest, std::abs(v));
  }
  // torch's rule: nonzero magnitudes above 1e8 or spanning more than a factor 1000, or
  // (non-integers) below 1e-4.
  if (!format.is_integer_dtype && !format.is_bool_dtype)
    format.scientific = largest > 1e8 || largest / smallest > 1000 || (!format.integer_valued && smallest < 1e-4);
  for (double v : values) format.width = std::max(format.width, format.apply(v).size());
  return format;
}

class Printer {
 public:
  Printer(const Tensor& t, bool summarize) : t_(t), summarize_(summarize) {}

  // Row-major values of the elements that will be shown.
  void collect(std::vector<double>& out) const {
    walk(0, 0, [&](double v) { out.push_back(v); }, nullptr);
  }

  std::string render(const NumberFormat& format) const {
    std::string text;
    walk(0, 0, [&](double v) {
      const std::string s = format.apply(v);
      text += std::string(format.width - s.size(), ' ') + s;
    }, &text);
    return text;
  }

 private:
  std::vector<std::int64_t> shown(int dim) const {
    const std::int64_t n = t_.shape()[dim];
    std::vector<std::int64_t> idx;
    if (!summarize_ || n <= 2 * kEdgeItems) {
      for (std::int64_t i = 0; i < n; ++i) idx.push_back(i);
    } else {
      for (std::int64_t i = 0; i < kEdgeItems; ++i) idx.push_back(i);
      idx.push_back(-1);  // "..."
      for (std::int64_t i = n - kEdgeItems; i < n; ++i) idx.push_back(i);
    }
    return idx;
  }

  double value_at(std::int64_t offset) const {
    return dispatch_storage_dtype(t_.dtype(), [&](auto zero) {
      return static_cast<double>(static_cast<const decltype(zero)*>(t_.desc().data)[offset]);
    });
  }

  template <class Emit>
  void walk(int dim, std::int64_t offset, Emit&& emit, std::string* text) const {
    if (dim == t_.dim()) {
      emit(value_at(offset));
      return;
    }
    const std::string indent(static_cast<std::size_t>(dim) + 8, ' ');  // under "tensor(["
    if (text) *text += '[';
    const auto idx = shown(dim);
    for (std::size_t k = 0; k < idx.size(); ++k) {
      if (k > 0 && text) {
        *text += ',';
        if (dim + 1 < t_.dim()) *text += std::string(static_cast<std::size_t>(t_.dim() - dim - 1), '\n') + indent;
        else *text += ' ';
      }
      if (idx[k] < 0) {
        if (text) *text += dim + 1 < t_.dim() ? "..." : " ...";  // within a row torch pads it: "2.,  ..., 9."
        continue;
      }
      walk(dim + 1, offset + idx[k] * t_.strides()[dim], emit, text);
    }
    if (text) *text += ']';
  }

  const Tensor& t_;
  bool summarize_;
};

// PyTorch's spelling of a node: "log_softmax" -> "LogSoftmaxBackward0".
std::string backward_name(std::string_view op) {
  if (op == "AccumulateGrad") return std::string(op);
  std::string name;
  bool capitalize = true;
  for (char c : op) {
    if (c == '_') {
      capitalize = true;
      continue;
    }
    name += capitalize ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    capitalize = false;
  }
  return name + "Backward0";
}

}  // namespace

std::string Tensor::str() const {
  const Tensor host = cpu().detach();
  const Printer printer(host, host.numel() > kSummarizeAbove);
  std::vector<double> values;
  printer.collect(values);
  const NumberFormat format = choose_format(values, dtype());
  std::string text = "tensor(" + (dim() == 0 ? format.apply(values.at(0)) : printer.render(format));
  text += fmt::format(", shape={}, dtype={}", shape(), dtype());
  if (!device().is_cpu()) text += fmt::format(", device={}", device());
  if (grad_fn()) text += fmt::format(", grad_fn=<{}>", backward_name(grad_fn()->name()));
  else if (requires_grad()) text += ", requires_grad=true";
  return text + ")";
}

}  // namespace tapegrad
