// Gradient checking, for users as much as for tapegrad's own tests: compares the Jacobian that
// reverse mode computes with central finite differences, in float64.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/autodiff/tensor.h>

namespace tapegrad {

struct GradcheckOptions {
  double eps = 1e-6;   // finite-difference step
  double atol = 1e-5;  // an entry passes when |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 1e-3;
};

struct GradcheckInputReport {
  std::size_t input = 0;  // position in the inputs list
  Shape shape;
  double max_abs_error = 0;
  double max_rel_error = 0;
  bool ok = true;
};

struct GradcheckReport {
  std::vector<GradcheckInputReport> inputs;  // one per input that requires grad
  bool ok() const;
  std::string str() const;
};

using GradcheckFunction = std::function<Tensor(const std::vector<Tensor>&)>;

// Checks d fn(inputs) / d inputs[i] for every float64 input that requires grad, on whatever
// device the inputs live (the finite differences perturb them in place there). fn may return a
// tensor of any shape; every element of it is checked.
GradcheckReport gradcheck(const GradcheckFunction& fn, const std::vector<Tensor>& inputs, GradcheckOptions options = {});

// Checks second derivatives: gradcheck of (inputs, v) -> d<fn(inputs), v>/d inputs, for a
// random float64 v, differentiating through a create_graph backward.
GradcheckReport gradgradcheck(const GradcheckFunction& fn, const std::vector<Tensor>& inputs,
                              GradcheckOptions options = {});

}  // namespace tapegrad

template <>
struct fmt::formatter<tapegrad::GradcheckReport> : fmt::formatter<std::string> {
  auto format(const tapegrad::GradcheckReport& report, format_context& ctx) const {
    return fmt::formatter<std::string>::format(report.str(), ctx);
  }
};
