// The case table of examples/gradcheck.cpp: one row per (op, argument shapes) whose gradient is
// checked against finite differences. Each op family has its own registry function, so a new
// family (layers, losses) is one more function appended in all_gradcheck_cases().
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/tapegrad.h>

namespace tapegrad::examples {

struct GradcheckCase {
  std::string op;      // the function of ops.h (or layer) under test
  std::string shapes;  // the inputs that require grad, then the other arguments
  GradcheckFunction fn;
  std::vector<Tensor> inputs;  // float64 leaves; those that require grad are checked
  bool second_order = true;    // also run gradgradcheck (false where the backward is not differentiable)
  GradcheckOptions options = {};
};

// Reproducible float64 inputs, each kept away from the points where finite differences break.
class CaseInputs {
 public:
  explicit CaseInputs(std::uint64_t seed) : generator_(seed) {}

  Tensor uniform(const Shape& shape, double low = -1, double high = 1) {
    return tapegrad::uniform(shape, low, high, generator_, kFloat64).requires_grad_();
  }
  // For log, sqrt, division, and bases of tensor powers.
  Tensor positive(const Shape& shape) { return uniform(shape, 0.5, 2.0); }

  // Uniform in [-1, 1), redrawn until at least `margin` from every kink (abs/relu at 0, clamp bounds).
  Tensor avoiding(const Shape& shape, const std::vector<double>& kinks, double margin = 0.1) {
    std::vector<double> values(static_cast<std::size_t>(numel_of(shape)));
    for (double& value : values) {
      const auto near_kink = [&] {
        for (double kink : kinks)
          if (std::abs(value - kink) < margin) return true;
        return false;
      };
      do value = 2 * generator_.next_double() - 1;
      while (near_kink());
    }
    return from_vector(values, shape).requires_grad_();
  }

  // The same values as `x`, but a non-contiguous leaf: the transpose of a contiguous tensor whose
  // last two dims are swapped, so kernels and backward passes see real strides.
  static Tensor stored_transposed(const Tensor& x) {
    NoGradGuard no_grad;
    const Tensor memory = clone(x.detach().transpose(-1, -2));
    Tensor view = memory.transpose(-1, -2);
    view.requires_grad_();
    return view;
  }

  // Constants that do not require grad: 0/1 masks and int64 indices.
  static Tensor mask(const std::vector<double>& values, const Shape& shape) { return from_vector(values, shape); }
  static Tensor indices(const std::vector<std::int64_t>& values, const Shape& shape) {
    return from_vector(values, shape);
  }

 private:
  Generator generator_;
};

// "[3,1]", with "^T" when the tensor is stored transposed (non-contiguous).
inline std::string describe(const Tensor& t) {
  return fmt::format("[{}]{}", fmt::join(t.shape(), ","), t.is_contiguous() ? "" : "^T");
}

// Appends a case; its shapes column lists the inputs that require grad, then `detail`.
class CaseTable {
 public:
  CaseTable& add(std::string op, std::vector<Tensor> inputs, GradcheckFunction fn, std::string detail = {},
                 GradcheckOptions options = {}) {
    std::string shapes;
    for (const Tensor& input : inputs)
      if (input.requires_grad()) shapes += (shapes.empty() ? "" : " x ") + describe(input);
    if (!detail.empty()) shapes += (shapes.empty() ? "" : ", ") + detail;
    cases_.push_back({std::move(op), std::move(shapes), std::move(fn), std::move(inputs), true, options});
    return *this;
  }
  // Marks the last case as first-order only.
  CaseTable& first_order_only() {
    cases_.back().second_order = false;
    return *this;
  }
  std::vector<GradcheckCase> take() { return std::move(cases_); }

 private:
  std::vector<GradcheckCase> cases_;
};

using Inputs = std::vector<Tensor>;

// add/sub (with alpha), mul, div, their scalar forms, neg, and the three forms of pow.
inline std::vector<GradcheckCase> arithmetic_cases(CaseInputs& in) {
  CaseTable table;
  const auto binary_shapes = [&](const std::string& op, auto fn, bool positive_rhs) {
    const auto rhs = [&](const Shape& shape) { return positive_rhs ? in.positive(shape) : in.uniform(shape); };
    const GradcheckFunction f = [fn](const Inputs& x) { return fn(x[0], x[1]); };
    table.add(op, {in.uniform({2, 3}), rhs({2, 3})}, f);
    table.add(op, {in.uniform({3, 1}), rhs({1, 4})}, f);
    table.add(op, {in.uniform({2, 3}), rhs({3})}, f);
    table.add(op, {in.uniform({2, 3}), rhs({})}, f);
    table.add(op, {in.uniform({}), rhs({2, 3})}, f);
    table.add(op, {CaseInputs::stored_transposed(in.uniform({2, 3})), rhs({2, 3})}, f);
    table.add(op, {in.uniform({2, 3}), CaseInputs::stored_transposed(rhs({2, 3}))}, f);
    table.add(op, {in.uniform({4, 3}), rhs({3, 4})}, [fn](const Inputs& x) { return fn(x[0], x[1].t()); }, "rhs.t()");
  };
  binary_shapes("add", [](const Tensor& a, const Tensor& b) { return add(a, b); }, false);
  binary_shapes("sub", [](const Tensor& a, const Tensor& b) { return sub(a, b); }, false);
  binary_shapes("mul", [](const Tensor& a, const Tensor& b) { return mul(a, b); }, false);
  binary_shapes("div", [](const Tensor& a, const Tensor& b) { return div(a, b); }, true);
  table.add("add", {in.uniform({2, 3}), in.uniform({3})}, [](const Inputs& x) { return add(x[0], x[1], 0.5); },
            "alpha 0.5");
  table.add("sub", {in.uniform({3, 1}), in.uniform({1, 4})}, [](const Inputs& x) { return sub(x[0], x[1], 2.0); },
            "alpha 2");
  table.add("mul", {in.uniform({2, 3})}, [](const Inputs& x) { return mul(x[0], x[0]); }, "x * x");
  table.add("div", {in.positive({2, 3})}, [](const Inputs& x) { return div(x[0], add(x[0], 1.0)); }, "x / (x + 1)");

  table.add("add", {in.uniform({2, 3})}, [](const Inputs& x) { return add(x[0], 2.5); }, "scalar 2.5");
  table.add("sub", {in.uniform({2, 3})}, [](const Inputs& x) { return sub(x[0], 1.5); }, "scalar 1.5");
  table.add("rsub", {in.uniform({2, 3})}, [](const Inputs& x) { return rsub(x[0], 2.0); }, "2 - x");
  table.add("mul", {in.uniform({})}, [](const Inputs& x) { return mul(x[0], -1.5); }, "scalar -1.5");
  table.add("div", {CaseInputs::stored_transposed(in.uniform({2, 3}))}, [](const Inputs& x) { return div(x[0], 4.0); },
            "scalar 4");
  table.add("rdiv", {in.positive({2, 3})}, [](const Inputs& x) { return rdiv(x[0], 3.0); }, "3 / x");
  table.add("neg", {in.uniform({2, 3})}, [](const Inputs& x) { return neg(x[0]); });
  table.add("neg", {in.uniform({})}, [](const Inputs& x) { return neg(x[0]); });

  for (double exponent : {3.0, 2.0, 0.0})
    table.add("pow", {in.uniform({2, 3})}, [exponent](const Inputs& x) { return pow(x[0], exponent); },
              fmt::format("exponent {}", exponent));
  for (double exponent : {0.5, -1.5})
    table.add("pow", {in.positive({2, 3})}, [exponent](const Inputs& x) { return pow(x[0], exponent); },
              fmt::format("exponent {}", exponent));
  const GradcheckFunction tensor_power = [](const Inputs& x) { return pow(x[0], x[1]); };
  table.add("pow", {in.positive({2, 3}), in.uniform({2, 3})}, tensor_power, "tensor exponent");
  table.add("pow", {in.positive({3, 1}), in.uniform({1, 4})}, tensor_power, "tensor exponent");
  table.add("pow", {in.positive({2, 3}), in.uniform({})}, tensor_power, "tensor exponent");
  table.add("pow", {in.uniform({2, 3})}, [](const Inputs& x) { return pow(2.5, x[0]); }, "scalar base 2.5");
  table.add("pow", {CaseInputs::stored_transposed(in.uniform({2, 3}))}, [](const Inputs& x) { return pow(0.5, x[0]); },
            "scalar base 0.5");
  return table.take();
}

// Unary functions, clamp, minimum/maximum and where; inputs keep clear of every kink.
inline std::vector<GradcheckCase> unary_and_selection_cases(CaseInputs& in) {
  CaseTable table;
  const auto unary = [&](const std::string& op, Tensor (*fn)(const Tensor&), std::vector<Tensor> inputs) {
    for (Tensor& input : inputs) table.add(op, {input}, [fn](const Inputs& x) { return fn(x[0]); });
  };
  using CI = CaseInputs;
  unary("exp", exp, {in.uniform({2, 3}), CI::stored_transposed(in.uniform({2, 3})), in.uniform({})});
  unary("log", log, {in.positive({2, 3}), CI::stored_transposed(in.positive({3, 2}))});
  unary("sqrt", sqrt, {in.positive({2, 3}), in.positive({1, 3})});
  unary("abs", abs, {in.avoiding({2, 3}, {0}), CI::stored_transposed(in.avoiding({3, 2}, {0}))});
  unary("sin", sin, {in.uniform({2, 3}), CI::stored_transposed(in.uniform({2, 3}))});
  unary("cos", cos, {in.uniform({2, 3}), in.uniform({})});
  unary("tanh", tanh, {in.uniform({2, 3}), in.uniform({})});
  unary("sigmoid", sigmoid, {in.uniform({2, 3}), CI::stored_transposed(in.uniform({2, 3}))});
  unary("relu", relu, {in.avoiding({2, 3}, {0}), CI::stored_transposed(in.avoiding({3, 2}, {0}))});

  table.add("clamp", {in.avoiding({3, 4}, {-0.5, 0.5})}, [](const Inputs& x) { return clamp(x[0], -0.5, 0.5); },
            "[-0.5, 0.5]");
  table.add("clamp", {in.avoiding({2, 3}, {-0.3})}, [](const Inputs& x) { return clamp(x[0], -0.3, std::nullopt); },
            "low -0.3");
  table.add("clamp", {CI::stored_transposed(in.avoiding({2, 3}, {0.2}))},
            [](const Inputs& x) { return clamp(x[0], std::nullopt, 0.2); }, "high 0.2");

  for (const std::string op : {"minimum", "maximum"}) {
    const auto pick = op == "minimum" ? minimum : maximum;
    const GradcheckFunction f = [pick](const Inputs& x) { return pick(x[0], x[1]); };
    table.add(op, {in.uniform({2, 3}), in.uniform({2, 3})}, f);
    table.add(op, {in.uniform({3, 1}), in.uniform({1, 4})}, f);
    table.add(op, {in.uniform({2, 3}), in.uniform({})}, f);
    table.add(op, {CI::stored_transposed(in.uniform({2, 3})), in.uniform({3})}, f);
  }

  const GradcheckFunction choose = [](const Inputs& x) { return where(x[0], x[1], x[2]); };
  table.add("where", {CI::mask({1, 0, 0, 1, 1, 0}, {2, 3}), in.uniform({2, 3}), in.uniform({2, 3})}, choose,
            "mask [2,3]");
  table.add("where", {CI::mask({0, 1, 1}, {3, 1}), in.uniform({1, 4}), in.uniform({})}, choose, "mask [3,1]");
  table.add("where", {CI::mask({1, 0, 1}, {3}), CI::stored_transposed(in.uniform({2, 3})), in.uniform({2, 1})},
            choose, "mask [3]");
  return table.take();
}

// sum, mean, max/min (all and along a dim), logsumexp, softmax, log_softmax, sum_to.
inline std::vector<GradcheckCase> reduction_cases(CaseInputs& in) {
  CaseTable table;
  using CI = CaseInputs;
  table.add("sum", {in.uniform({2, 3})}, [](const Inputs& x) { return sum(x[0]); }, "all");
  table.add("sum", {CI::stored_transposed(in.uniform({2, 3}))},
            [](const Inputs& x) { return sum(x[0], {1}); }, "dim 1");
  table.add("sum", {in.uniform({2, 3, 4})}, [](const Inputs& x) { return sum(x[0], {0, 2}, true); },
            "dims {0,2} keepdim");
  table.add("sum", {in.uniform({3, 1})}, [](const Inputs& x) { return sum(x[0], {1}); }, "dim 1 (size 1)");
  table.add("sum", {in.uniform({})}, [](const Inputs& x) { return sum(x[0]); }, "all");
  table.add("mean", {in.uniform({2, 3})}, [](const Inputs& x) { return mean(x[0]); }, "all");
  table.add("mean", {CI::stored_transposed(in.uniform({2, 3}))}, [](const Inputs& x) { return mean(x[0], {0}, true); },
            "dim 0 keepdim");
  table.add("mean", {in.uniform({2, 3, 4})}, [](const Inputs& x) { return mean(x[0], {1, -1}); }, "dims {1,-1}");
  table.add("mean", {in.uniform({1, 3})}, [](const Inputs& x) { return mean(x[0], {0}); }, "dim 0 (size 1)");
  table.add("sum", {in.uniform({2, 3, 4})}, [](const Inputs& x) { return sum(permute(x[0], {2, 0, 1}), {1}); },
            "permuted {2,0,1}, dim 1");

  // Continuous uniform draws have no ties, so each maximum is unique and stays so under +-eps.
  table.add("max", {in.uniform({2, 3})}, [](const Inputs& x) { return max(x[0]); }, "all");
  table.add("max", {CI::stored_transposed(in.uniform({3, 4}))}, [](const Inputs& x) { return max(x[0]); }, "all");
  table.add("max", {in.uniform({3, 4})}, [](const Inputs& x) { return max(x[0], 1).values; }, "dim 1");
  table.add("max", {CI::stored_transposed(in.uniform({3, 4}))},
            [](const Inputs& x) { return max(x[0], 0, true).values; }, "dim 0 keepdim");
  table.add("max", {in.uniform({3, 1})}, [](const Inputs& x) { return max(x[0], 1).values; }, "dim 1 (size 1)");
  table.add("max", {in.uniform({})}, [](const Inputs& x) { return max(x[0], 0).values; }, "dim 0");
  table.add("min", {in.uniform({3, 4})}, [](const Inputs& x) { return min(x[0]); }, "all");
  table.add("min", {in.uniform({})}, [](const Inputs& x) { return min(x[0]); }, "all");
  table.add("min", {in.uniform({2, 3, 4})}, [](const Inputs& x) { return min(x[0], -1).values; }, "dim -1");
  table.add("min", {CI::stored_transposed(in.uniform({3, 4}))},
            [](const Inputs& x) { return min(x[0], 1, true).values; }, "dim 1 keepdim");

  table.add("logsumexp", {in.uniform({2, 3})}, [](const Inputs& x) { return logsumexp(x[0], {1}); }, "dim 1");
  table.add("logsumexp", {CI::stored_transposed(in.uniform({2, 3}))},
            [](const Inputs& x) { return logsumexp(x[0], {0}, true); }, "dim 0 keepdim");
  table.add("logsumexp", {in.uniform({2, 3, 4})}, [](const Inputs& x) { return logsumexp(x[0], {}); }, "all");
  for (const std::string op : {"softmax", "log_softmax"}) {
    const auto fn = op == "softmax" ? softmax : log_softmax;
    table.add(op, {in.uniform({2, 3})}, [fn](const Inputs& x) { return fn(x[0], 1); }, "dim 1");
    table.add(op, {CI::stored_transposed(in.uniform({2, 3}))}, [fn](const Inputs& x) { return fn(x[0], 0); }, "dim 0");
    table.add(op, {CI::stored_transposed(in.uniform({2, 3}))},
              [fn](const Inputs& x) { return fn(x[0], -1); }, "dim -1");
    table.add(op, {in.uniform({2, 3, 4})}, [fn](const Inputs& x) { return fn(x[0], 1); }, "dim 1");
    table.add(op, {in.uniform({1, 4})}, [fn](const Inputs& x) { return fn(x[0], 0); }, "dim 0 (size 1)");
    table.add(op, {in.uniform({})}, [fn](const Inputs& x) { return fn(x[0], 0); }, "dim 0");
  }
  table.add("sum_to", {in.uniform({2, 3, 4})}, [](const Inputs& x) { return sum_to(x[0], {3, 1}); }, "to [3,1]");
  table.add("sum_to", {in.uniform({2, 3})}, [](const Inputs& x) { return sum_to(x[0], {}); }, "to []");
  table.add("sum_to", {CI::stored_transposed(in.uniform({2, 3}))}, [](const Inputs& x) { return sum_to(x[0], {1, 3}); },
            "to [1,3]");
  return table.take();
}

// matmul in every rank combination it accepts, dot, outer, cat and stack.
inline std::vector<GradcheckCase> linalg_cases(CaseInputs& in) {
  CaseTable table;
  using CI = CaseInputs;
  const GradcheckFunction product = [](const Inputs& x) { return matmul(x[0], x[1]); };
  table.add("matmul", {in.uniform({3}), in.uniform({3})}, product);
  table.add("matmul", {in.uniform({2, 3}), in.uniform({3, 4})}, product);
  table.add("matmul", {CI::stored_transposed(in.uniform({2, 3})), in.uniform({3, 4})}, product);
  table.add("matmul", {in.uniform({2, 3}), CI::stored_transposed(in.uniform({3, 4}))}, product);
  table.add("matmul", {in.uniform({4, 2}), in.uniform({3, 4})},
            [](const Inputs& x) { return matmul(x[0].t(), x[1].t()); }, "lhs.t() x rhs.t()");
  table.add("matmul", {in.uniform({1, 3}), in.uniform({3, 1})}, product);
  table.add("matmul", {in.uniform({3, 1}), in.uniform({1, 4})}, product);
  table.add("matmul", {in.uniform({3}), in.uniform({3, 4})}, product);
  table.add("matmul", {in.uniform({2, 3}), in.uniform({3})}, product);
  table.add("matmul", {in.uniform({2, 2, 3}), in.uniform({2, 3, 4})}, product);
  table.add("matmul", {in.uniform({2, 2, 3}), in.uniform({2, 4, 3})},
            [](const Inputs& x) { return matmul(x[0], x[1].transpose(1, 2)); }, "rhs.transpose(1,2)");
  table.add("matmul", {in.uniform({2, 2, 3}), in.uniform({3, 4})}, product);
  table.add("matmul", {in.uniform({2, 3}), in.uniform({2, 3, 4})}, product);
  table.add("matmul", {in.uniform({1, 2, 3}), in.uniform({2, 3, 4})}, product);
  table.add("matmul", {in.uniform({3}), in.uniform({2, 3, 4})}, product);
  table.add("matmul", {in.uniform({2, 2, 3}), in.uniform({3})}, product);

  table.add("dot", {in.uniform({4}), in.uniform({4})}, [](const Inputs& x) { return dot(x[0], x[1]); });
  table.add("dot", {in.uniform({8}), in.uniform({4})},
            [](const Inputs& x) { return dot(x[0].slice(0, 0, 8, 2), x[1]); }, "lhs[::2]");
  table.add("outer", {in.uniform({3}), in.uniform({4})}, [](const Inputs& x) { return outer(x[0], x[1]); });
  table.add("outer", {in.uniform({1}), in.uniform({3})}, [](const Inputs& x) { return outer(x[0], x[1]); });

  table.add("cat", {in.uniform({2, 3}), in.uniform({1, 3})},
            [](const Inputs& x) { return cat({x[0], x[1]}, 0); }, "dim 0");
  table.add("cat", {in.uniform({2, 3}), in.uniform({2, 1}), CI::stored_transposed(in.uniform({2, 2}))},
            [](const Inputs& x) { return cat({x[0], x[1], x[2]}, 1); }, "dim 1");
  table.add("cat", {in.uniform({2, 2, 3}), in.uniform({2, 2, 2})},
            [](const Inputs& x) { return cat({x[0], x[1]}, -1); }, "dim -1");
  table.add("cat", {in.uniform({3})}, [](const Inputs& x) { return cat({x[0], mul(x[0], x[0])}, 0); }, "[x, x * x]");
  table.add("stack", {in.uniform({2, 3}), in.uniform({2, 3})}, [](const Inputs& x) { return stack({x[0], x[1]}, 0); },
            "dim 0");
  table.add("stack", {in.uniform({2, 3}), CI::stored_transposed(in.uniform({2, 3})), in.uniform({2, 3})},
            [](const Inputs& x) { return stack({x[0], x[1], x[2]}, -1); }, "dim -1");
  table.add("stack", {in.uniform({}), in.uniform({})}, [](const Inputs& x) { return stack({x[0], x[1]}, 0); }, "dim 0");
  return table.take();
}

// Views and copies: reshape/view, flatten, (un)squeeze, transpose/permute, narrow, slice, select,
// expand, contiguous, clone and dtype conversion.
inline std::vector<GradcheckCase> shape_cases(CaseInputs& in) {
  CaseTable table;
  using CI = CaseInputs;
  table.add("reshape", {in.uniform({2, 3})}, [](const Inputs& x) { return reshape(x[0], {3, 2}); }, "to [3,2]");
  table.add("reshape", {CI::stored_transposed(in.uniform({2, 3}))}, [](const Inputs& x) { return reshape(x[0], {6}); },
            "to [6] (copies)");
  table.add("reshape", {in.uniform({2, 3, 4})}, [](const Inputs& x) { return reshape(x[0], {4, -1}); }, "to [4,-1]");
  table.add("reshape", {in.uniform({})}, [](const Inputs& x) { return reshape(x[0], {1, 1}); }, "to [1,1]");
  table.add("view", {in.uniform({2, 3, 4})}, [](const Inputs& x) { return view(x[0], {6, 4}); }, "to [6,4]");
  table.add("view", {in.uniform({2, 3})}, [](const Inputs& x) { return x[0].view({3, 1, 2}); }, "to [3,1,2]");
  table.add("flatten", {in.uniform({2, 3, 4})}, [](const Inputs& x) { return flatten(x[0]); });
  table.add("flatten", {in.uniform({2, 3, 4})}, [](const Inputs& x) { return flatten(x[0], 1, 2); }, "dims 1..2");
  table.add("flatten", {CI::stored_transposed(in.uniform({2, 3}))}, [](const Inputs& x) { return flatten(x[0]); });
  table.add("flatten", {in.uniform({})}, [](const Inputs& x) { return flatten(x[0]); });
  table.add("squeeze", {in.uniform({3, 1, 2})}, [](const Inputs& x) { return squeeze(x[0]); }, "all");
  table.add("squeeze", {in.uniform({3, 1, 2})}, [](const Inputs& x) { return squeeze(x[0], 1); }, "dim 1");
  table.add("squeeze", {CI::stored_transposed(in.uniform({2, 3}))},
            [](const Inputs& x) { return squeeze(unsqueeze(x[0], 1)); }, "all, of [2,1,3]");
  table.add("unsqueeze", {in.uniform({2, 3})}, [](const Inputs& x) { return unsqueeze(x[0], 0); }, "dim 0");
  table.add("unsqueeze", {CI::stored_transposed(in.uniform({2, 3}))},
            [](const Inputs& x) { return unsqueeze(x[0], -1); }, "dim -1");
  table.add("unsqueeze", {in.uniform({})}, [](const Inputs& x) { return unsqueeze(x[0], 0); }, "dim 0");
  table.add("transpose", {in.uniform({2, 3})}, [](const Inputs& x) { return transpose(x[0], 0, 1); }, "dims 0,1");
  table.add("transpose", {in.uniform({2, 3, 4})}, [](const Inputs& x) { return transpose(x[0], 0, 2); }, "dims 0,2");
  table.add("permute", {in.uniform({2, 3, 4})}, [](const Inputs& x) { return permute(x[0], {2, 0, 1}); }, "{2,0,1}");
  table.add("permute", {CI::stored_transposed(in.uniform({2, 3, 4}))},
            [](const Inputs& x) { return permute(x[0], {1, 2, 0}); }, "{1,2,0}");
  table.add("narrow", {in.uniform({4, 3})}, [](const Inputs& x) { return narrow(x[0], 0, 1, 2); }, "dim 0, 1+2");
  table.add("narrow", {CI::stored_transposed(in.uniform({3, 4}))},
            [](const Inputs& x) { return narrow(x[0], 1, -3, 2); }, "dim 1, -3+2");
  table.add("slice", {in.uniform({6, 3})}, [](const Inputs& x) { return slice(x[0], 0, 1, 6, 2); }, "dim 0, 1:6:2");
  table.add("slice", {in.uniform({3, 7})}, [](const Inputs& x) { return slice(x[0], 1, -5, -1, 3); }, "dim 1, -5:-1:3");
  table.add("slice", {CI::stored_transposed(in.uniform({4, 5}))},
            [](const Inputs& x) { return slice(x[0], 1, 0, 5, 2); }, "dim 1, 0:5:2");
  table.add("select", {in.uniform({3, 4})}, [](const Inputs& x) { return select(x[0], 0, 1); }, "dim 0, index 1");
  table.add("select", {CI::stored_transposed(in.uniform({3, 4}))}, [](const Inputs& x) { return select(x[0], 1, -1); },
            "dim 1, index -1");
  table.add("select", {in.uniform({2, 3, 4})}, [](const Inputs& x) { return x[0][1]; }, "operator[] 1");
  table.add("expand", {in.uniform({3, 1})}, [](const Inputs& x) { return expand(x[0], {3, 4}); }, "to [3,4]");
  table.add("expand", {in.uniform({3})}, [](const Inputs& x) { return expand(x[0], {2, 3}); }, "to [2,3]");
  table.add("expand", {in.uniform({})}, [](const Inputs& x) { return expand(x[0], {2, 3}); }, "to [2,3]");
  table.add("expand", {in.uniform({3, 1})}, [](const Inputs& x) { return expand(x[0], {2, -1, 4}); }, "to [2,-1,4]");
  table.add("contiguous", {CI::stored_transposed(in.uniform({2, 3}))},
            [](const Inputs& x) { return contiguous(x[0]); });
  table.add("contiguous", {in.uniform({2, 3})}, [](const Inputs& x) { return contiguous(x[0]); }, "already contiguous");
  table.add("clone", {in.uniform({2, 3})}, [](const Inputs& x) { return clone(x[0]); });
  table.add("clone", {CI::stored_transposed(in.uniform({2, 3}))}, [](const Inputs& x) { return clone(x[0]); });
  // float32 keeps about 7 digits, so a 1e-6 step would be lost in rounding; the round trip is
  // linear, so a large step is exact apart from that rounding.
  GradcheckOptions float32_steps;
  float32_steps.eps = 1e-2;
  const GradcheckFunction round_trip = [](const Inputs& x) { return to_dtype(to_dtype(x[0], kFloat32), kFloat64); };
  table.add("to", {in.uniform({2, 3})}, round_trip, "float64->float32->float64", float32_steps);
  table.add("to", {CI::stored_transposed(in.uniform({2, 3}))},
            [](const Inputs& x) { return mul(x[0].to(kFloat32), x[0].to(kFloat32)).to(kFloat64); },
            "(x32 * x32)->float64", float32_steps);
  return table.take();
}

// index_select and gather, and their adjoints index_add_into_zeros and scatter_add_into_zeros.
inline std::vector<GradcheckCase> indexing_cases(CaseInputs& in) {
  CaseTable table;
  using CI = CaseInputs;
  table.add("index_select", {in.uniform({4, 3}), CI::indices({2, 0, 2}, {3})},
            [](const Inputs& x) { return index_select(x[0], 0, x[1]); }, "dim 0, index [2,0,2]");
  table.add("index_select", {CI::stored_transposed(in.uniform({3, 4})), CI::indices({3, 1}, {2})},
            [](const Inputs& x) { return index_select(x[0], 1, x[1]); }, "dim 1, index [3,1]");
  table.add("index_select", {in.uniform({5}), CI::indices({4, 4, 1, 0}, {4})},
            [](const Inputs& x) { return x[0].index_select(0, x[1]); }, "dim 0, index [4,4,1,0]");
  table.add("index_select", {in.uniform({}), CI::indices({0}, {1})},
            [](const Inputs& x) { return index_select(x[0], 0, x[1]); }, "dim 0, index [0]");
  table.add("gather", {in.uniform({3, 4}), CI::indices({0, 3, 1, 1, 2, 0}, {3, 2})},
            [](const Inputs& x) { return gather(x[0], 1, x[1]); }, "dim 1, index [3,2]");
  table.add("gather", {in.uniform({3, 4}), CI::indices({2, 0, 1, 2, 0, 0, 1, 1}, {2, 4})},
            [](const Inputs& x) { return gather(x[0], 0, x[1]); }, "dim 0, index [2,4]");
  table.add("gather", {CI::stored_transposed(in.uniform({3, 4})), CI::indices({1, 0, 2, 2}, {1, 4})},
            [](const Inputs& x) { return x[0].gather(0, x[1]); }, "dim 0, index [1,4]");
  table.add("gather", {in.uniform({2, 2, 3}), CI::indices({2, 2, 0, 1, 1, 0, 0, 2}, {2, 2, 2})},
            [](const Inputs& x) { return gather(x[0], -1, x[1]); }, "dim -1, index [2,2,2]");
  table.add("index_add_into_zeros", {in.uniform({3, 3}), CI::indices({0, 2, 0}, {3})},
            [](const Inputs& x) { return index_add_into_zeros(x[0], {4, 3}, 0, x[1]); }, "into [4,3], dim 0");
  table.add("scatter_add_into_zeros", {in.uniform({3, 2}), CI::indices({0, 3, 1, 1, 2, 0}, {3, 2})},
            [](const Inputs& x) { return scatter_add_into_zeros(x[0], {3, 4}, 1, x[1]); }, "into [3,4], dim 1");
  return table.take();
}

// conv2d and its two gradient ops, max pooling and batch normalization (training mode);
// dropout is left out, its mask being random.
inline std::vector<GradcheckCase> layer_cases(CaseInputs& in) {
  CaseTable table;
  const auto conv = [](std::int64_t stride, std::int64_t padding, std::int64_t dilation) {
    Conv2dParams p;
    p.stride = {stride, stride};
    p.padding = {padding, padding};
    p.dilation = {dilation, dilation};
    return p;
  };
  const auto conv_case = [&](const Shape& x, const Shape& w, const Conv2dParams& p, bool bias) {
    const std::string detail = fmt::format("stride {} padding {} dilation {}", p.stride[0], p.padding[0], p.dilation[0]);
    if (bias)
      table.add("conv2d", {in.uniform(x), in.uniform(w), in.uniform({w[0]})},
                [p](const Inputs& v) { return conv2d(v[0], v[1], v[2], p); }, detail);
    else
      table.add("conv2d", {in.uniform(x), in.uniform(w)}, [p](const Inputs& v) { return conv2d(v[0], v[1], {}, p); },
                detail + ", no bias");
  };
  table.add("linear", {in.uniform({5, 3}), in.uniform({4, 3}), in.uniform({4})},
            [](const Inputs& v) { return linear(v[0], v[1], v[2]); });
  table.add("linear", {in.uniform({2, 3, 3}), in.uniform({4, 3})}, [](const Inputs& v) { return linear(v[0], v[1]); },
            "no bias, batched input");
  conv_case({2, 2, 5, 5}, {3, 2, 3, 3}, conv(1, 0, 1), true);
  conv_case({2, 2, 5, 5}, {3, 2, 3, 3}, conv(1, 1, 1), false);
  conv_case({1, 2, 7, 6}, {2, 2, 3, 2}, conv(2, 2, 1), true);
  conv_case({1, 1, 7, 7}, {2, 1, 3, 3}, conv(1, 1, 2), true);
  conv_case({2, 3, 4, 4}, {2, 3, 1, 1}, conv(1, 0, 1), false);
  conv_case({2, 4, 4}, {2, 2, 3, 3}, conv(1, 1, 1), true);  // unbatched [C, H, W]
  const Conv2dParams strided = conv(2, 1, 1);
  table.add("conv2d_input_grad", {in.uniform({2, 3, 3, 3}), in.uniform({3, 2, 3, 3})},
            [strided](const Inputs& v) { return conv2d_input_grad(v[0], v[1], {2, 2, 5, 6}, strided); },
            "input [2,2,5,6], stride 2 padding 1");
  table.add("conv2d_weight_grad", {in.uniform({2, 2, 5, 6}), in.uniform({2, 3, 3, 3})},
            [strided](const Inputs& v) { return conv2d_weight_grad(v[0], v[1], {3, 2, 3, 3}, strided); },
            "weight [3,2,3,3], stride 2 padding 1");

  const auto pool = [](std::int64_t kernel, std::int64_t stride, std::int64_t padding) {
    Pool2dParams p;
    p.kernel = {kernel, kernel};
    p.stride = {stride, stride};
    p.padding = {padding, padding};
    return p;
  };
  // Uniform draws are distinct, so no window has a tie for finite differences to trip on.
  for (const auto& [p, shape] : {std::pair{pool(2, 0, 0), Shape{2, 2, 4, 4}}, std::pair{pool(3, 2, 1), Shape{1, 2, 5, 5}},
                                 std::pair{pool(2, 1, 0), Shape{2, 3, 3}}})
    table.add("max_pool2d", {in.uniform(shape)}, [p](const Inputs& v) { return max_pool2d(v[0], p); },
              fmt::format("kernel {} stride {} padding {}", p.kernel[0], p.stride[0] == 0 ? p.kernel[0] : p.stride[0],
                          p.padding[0]));

  const GradcheckFunction training = [](const Inputs& v) { return batch_norm(v[0], {}, {}, v[1], v[2], true); };
  table.add("batch_norm", {in.uniform({4, 3}), in.positive({3}), in.uniform({3})}, training, "training");
  table.add("batch_norm", {in.uniform({2, 3, 4}), in.positive({3}), in.uniform({3})}, training, "training");
  table.add("batch_norm", {in.uniform({2, 2, 3, 3}), in.positive({2}), in.uniform({2})}, training, "training");
  table.add("batch_norm", {in.uniform({2, 2, 3, 3})},
            [](const Inputs& v) { return batch_norm(v[0], {}, {}, {}, {}, true); }, "training, no affine");
  return table.take();
}

// The losses, with every reduction; class targets are fixed int64 constants.
inline std::vector<GradcheckCase> loss_cases(CaseInputs& in) {
  CaseTable table;
  const std::pair<Reduction, const char*> reductions[] = {
      {Reduction::Mean, "mean"}, {Reduction::Sum, "sum"}, {Reduction::None, "none"}};
  for (const auto& [reduction, name] : reductions) {
    const Reduction r = reduction;
    table.add("cross_entropy", {in.uniform({4, 5}), CaseInputs::indices({4, 0, 2, 2}, {4})},
              [r](const Inputs& v) { return cross_entropy(v[0], v[1], r); }, name);
    table.add("nll_loss", {in.uniform({4, 5}), CaseInputs::indices({1, 3, 0, 4}, {4})},
              [r](const Inputs& v) { return nll_loss(v[0], v[1], r); }, name);
    table.add("mse_loss", {in.uniform({3, 4}), in.uniform({3, 4})},
              [r](const Inputs& v) { return mse_loss(v[0], v[1], r); }, name);
    table.add("binary_cross_entropy_with_logits", {in.uniform({3, 4}), in.uniform({3, 4}, 0, 1)},
              [r](const Inputs& v) { return binary_cross_entropy_with_logits(v[0], v[1], r); }, name);
  }
  table.add("cross_entropy", {in.uniform({2, 3, 2}), CaseInputs::indices({0, 2, 1, 1}, {2, 2})},
            [](const Inputs& v) { return cross_entropy(v[0], v[1]); }, "[N,C,d] scores, mean");
  return table.take();
}

// Every case, in a fixed order and from a fixed seed, so a filtered run checks the same inputs.
inline std::vector<GradcheckCase> all_gradcheck_cases() {
  CaseInputs inputs(20240611);
  std::vector<GradcheckCase> cases;
  for (auto family : {arithmetic_cases, unary_and_selection_cases, reduction_cases, linalg_cases, shape_cases,
                      indexing_cases, layer_cases, loss_cases})
    for (GradcheckCase& c : family(inputs)) cases.push_back(std::move(c));
  return cases;
}

}  // namespace tapegrad::examples
