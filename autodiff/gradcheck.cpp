// Finite-difference Jacobians against the engine's reverse-mode Jacobians.
#include <tapegrad/autodiff/gradcheck.h>

#include <cmath>

#include <tapegrad/autodiff/engine.h>
#include <tapegrad/autodiff/grad_mode.h>
#include <tapegrad/autodiff/ops.h>
#include <tapegrad/kernels/backend.h>

namespace tapegrad {
namespace {

// Flattened float64 values of fn(inputs). Grad mode stays on, as in PyTorch's gradcheck: a
// function that differentiates inside (a gradient penalty calling grad()) needs its graph.
std::vector<double> evaluate(const GradcheckFunction& fn, const std::vector<Tensor>& inputs) {
  GradModeGuard grad_mode(true);
  return fn(inputs).to_vector<double>();
}

// Where the element at row-major position `flat` of a (possibly strided) float64 view lives.
double* element_address(const Tensor& t, std::int64_t flat) {
  std::int64_t offset = 0;
  for (int d = t.dim() - 1; d >= 0; --d) {
    offset += (flat % t.shape()[d]) * t.strides()[d];
    flat /= t.shape()[d];
  }
  return static_cast<double*>(t.desc().data) + offset;
}

// One element read or written through its device's host copies, behind autodiff's back: a
// perturbation must not bump the version of an input the checked graph saved.
double read_element(const Tensor& t, std::int64_t flat) {
  double value = 0;
  kernels::backend_for(t.device()).copy_to_host(&value, element_address(t, flat), sizeof value);
  return value;
}

void write_element(const Tensor& t, std::int64_t flat, double value) {
  kernels::backend_for(t.device()).copy_from_host(element_address(t, flat), &value, sizeof value);
}

// numeric[j][i] = d out_i / d x_j by central differences, perturbing the input's own memory (on
// whatever device it lives).
std::vector<std::vector<double>> numerical_jacobian(const GradcheckFunction& fn, const std::vector<Tensor>& inputs,
                                                    const Tensor& x, double eps) {
  std::vector<std::vector<double>> columns(static_cast<std::size_t>(x.numel()));
  for (std::int64_t j = 0; j < x.numel(); ++j) {
    const double original = read_element(x, j);
    write_element(x, j, original + eps);
    const std::vector<double> plus = evaluate(fn, inputs);
    write_element(x, j, original - eps);
    const std::vector<double> minus = evaluate(fn, inputs);
    write_element(x, j, original);
    auto& column = columns[static_cast<std::size_t>(j)];
    column.resize(plus.size());
    for (std::size_t i = 0; i < plus.size(); ++i) column[i] = (plus[i] - minus[i]) / (2 * eps);
  }
  return columns;
}

void check_inputs(const std::vector<Tensor>& inputs, const char* api) {
  bool any = false;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    TAPEGRAD_CHECK(x.defined(), "{}: input {} is undefined", api, i);
    if (!x.requires_grad()) continue;
    any = true;
    TAPEGRAD_CHECK(x.dtype() == kFloat64, "{}: input {} is {}; finite differences need float64 inputs (use "
                   ".to(kFloat64))", api, i, x.dtype());
    TAPEGRAD_CHECK(x.is_leaf(), "{}: input {} must be a leaf tensor (create it, then requires_grad_())", api, i);
  }
  TAPEGRAD_CHECK(any, "{}: no input requires grad; call requires_grad_() on the inputs to check", api);
}

}  // namespace

bool GradcheckReport::ok() const {
  for (const auto& input : inputs)
    if (!input.ok) return false;
  return true;
}

std::string GradcheckReport::str() const {
  std::string text;
  for (const auto& input : inputs)
    text += fmt::format("input {} {}: max abs error {:.3e}, max rel error {:.3e}, {}\n", input.input, input.shape,
                        input.max_abs_error, input.max_rel_error, input.ok ? "ok" : "FAILED");
  return text;
}

namespace {

// fn(inputs) with recording on, whatever the caller's grad mode: its graph is what is checked.
Tensor recorded_output(const GradcheckFunction& fn, const std::vector<Tensor>& inputs, const char* api) {
  check_inputs(inputs, api);
  GradModeGuard grad_mode(true);
  Tensor output = fn(inputs);
  TAPEGRAD_CHECK(output.defined() && output.dtype() == kFloat64, "{}: the function must return a float64 tensor, got {}",
                 api, output.defined() ? fmt::format("{}", output.dtype()) : std::string("an undefined tensor"));
  return output;
}

// analytic[k][i][j] = d out_i / d x_kj, one reverse pass per output element; zero where unused.
std::vector<std::vector<std::vector<double>>> analytical_jacobians(const Tensor& output,
                                                                  const std::vector<Tensor>& checked) {
  std::vector<std::vector<std::vector<double>>> analytic(checked.size());
  for (std::int64_t i = 0; i < output.numel(); ++i) {
    Tensor seed = zeros(output.shape(), TensorOptions(kFloat64).with_device(output.device()));
    write_element(seed, i, 1.0);
    std::vector<Tensor> grads;
    if (output.requires_grad()) grads = grad({output}, checked, {seed}, true, false, true);
    for (std::size_t k = 0; k < checked.size(); ++k) {
      const bool used = k < grads.size() && grads[k].defined();
      analytic[k].push_back(used ? grads[k].to_vector<double>()
                                 : std::vector<double>(static_cast<std::size_t>(checked[k].numel()), 0.0));
    }
  }
  return analytic;
}

// Worst errors of one input's analytic Jacobian [outputs][elements] against the numeric one
// [elements][outputs].
void compare_jacobians(const std::vector<std::vector<double>>& analytic,
                       const std::vector<std::vector<double>>& numeric, const GradcheckOptions& options,
                       GradcheckInputReport& entry) {
  for (std::size_t i = 0; i < analytic.size(); ++i)
    for (std::size_t j = 0; j < numeric.size(); ++j) {
      const double a = analytic[i][j], n = numeric[j][i];
      const double error = std::abs(a - n);
      entry.max_abs_error = std::max(entry.max_abs_error, error);
      entry.max_rel_error = std::max(entry.max_rel_error, error / std::max(std::abs(n), 1e-12));
      if (!(error <= options.atol + options.rtol * std::abs(n))) entry.ok = false;  // NaN fails too
    }
}

}  // namespace

GradcheckReport gradcheck(const GradcheckFunction& fn, const std::vector<Tensor>& inputs, GradcheckOptions options) {
  const Tensor output = recorded_output(fn, inputs, "gradcheck");
  std::vector<Tensor> checked;
  std::vector<std::size_t> positions;
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].requires_grad()) {
      checked.push_back(inputs[i]);
      positions.push_back(i);
    }
  const auto analytic = analytical_jacobians(output, checked);
  GradcheckReport report;
  for (std::size_t k = 0; k < checked.size(); ++k) {
    GradcheckInputReport entry{positions[k], checked[k].shape()};
    compare_jacobians(analytic[k], numerical_jacobian(fn, inputs, checked[k], options.eps), options, entry);
    report.inputs.push_back(entry);
  }
  return report;
}

GradcheckReport gradgradcheck(const GradcheckFunction& fn, const std::vector<Tensor>& inputs, GradcheckOptions options) {
  const Tensor output = recorded_output(fn, inputs, "gradgradcheck");
  Generator generator(20240601);
  const TensorOptions on_device = TensorOptions(kFloat64).with_device(output.device());
  const Tensor v = randn(output.shape(), generator, on_device).requires_grad_();
  const std::size_t count = inputs.size();
  // g(inputs, v) = concatenated d<fn(inputs), v>/d inputs, recorded so it can be differentiated.
  GradcheckFunction first_derivative = [fn, count, on_device](const std::vector<Tensor>& args) {
    GradModeGuard grad_mode(true);  // the finite differences evaluate this too: it must record
    std::vector<Tensor> xs(args.begin(), args.begin() + static_cast<std::ptrdiff_t>(count));
    const Tensor& direction = args.back();
    std::vector<Tensor> differentiable;
    for (const Tensor& x : xs)
      if (x.requires_grad()) differentiable.push_back(x);
    const Tensor out = fn(xs);
    std::vector<Tensor> pieces;
    if (!out.requires_grad()) return zeros({1}, on_device);
    const std::vector<Tensor> grads = grad({out}, differentiable, {direction}, true, true, true);
    for (std::size_t k = 0; k < grads.size(); ++k)
      pieces.push_back(grads[k].defined() ? reshape(grads[k], {-1}) : zeros({differentiable[k].numel()}, on_device));
    return cat(pieces, 0);
  };
  std::vector<Tensor> args = inputs;
  args.push_back(v);
  return gradcheck(first_derivative, args, options);
}

}  // namespace tapegrad
