// Shared test vocabulary: float64 inputs for gradient checks (random, hand-placed, or deliberately
// strided), value comparisons, float32-against-float64 checks, and assertions that run
// gradcheck/gradgradcheck and print the per-input report on failure.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <tapegrad/tapegrad.h>

namespace tapegrad::testing {

// A float64 leaf requiring grad with values uniform in [low, high), reproducible from `seed`.
inline Tensor input(const Shape& shape, std::uint64_t seed, double low = -1.0, double high = 1.0) {
  Generator generator(seed);
  return uniform(shape, low, high, generator, kFloat64).requires_grad_();
}

// Like input(), but a non-contiguous leaf: the transpose of a contiguous [.., b, a] tensor, so
// its last two dims are swapped in memory.
inline Tensor transposed_input(const Shape& shape, std::uint64_t seed, double low = -1.0, double high = 1.0) {
  Shape swapped = shape;
  std::swap(swapped[shape.size() - 1], swapped[shape.size() - 2]);
  Generator generator(seed);
  Tensor base = uniform(swapped, low, high, generator, kFloat64);
  Tensor view = base.transpose(-1, -2);
  view.requires_grad_();
  return view;
}

// A float64 constant holding exactly these values (row-major in `shape`, 1-D if none): float64 so
// hand-computed expectations hold to the last digit.
inline Tensor f64(std::initializer_list<double> values, std::optional<Shape> shape = std::nullopt) {
  return tensor(values, shape, kFloat64);
}

// Like f64(), but a leaf requiring grad: inputs placed by hand, e.g. away from kinks.
inline Tensor leaf(std::initializer_list<double> values, std::optional<Shape> shape = std::nullopt) {
  return f64(values, shape).requires_grad_();
}

// t's shape as printed ("[2, 3]"), so a shape check or trace reads like the expected shape.
inline std::string shape_of(const Tensor& t) { return fmt::format("{}", t.shape()); }

// d sum(y) / d x, without touching x.grad.
inline Tensor gradient(const Tensor& y, const Tensor& x) { return grad({sum(y)}, {x})[0]; }

inline void expect_values(const Tensor& actual, const std::vector<double>& expected, double tolerance = 1e-6) {
  const std::vector<double> values = actual.to_vector<double>();
  ASSERT_EQ(values.size(), expected.size()) << "shape " << shape_of(actual);
  for (std::size_t i = 0; i < values.size(); ++i)
    EXPECT_NEAR(values[i], expected[i], tolerance) << "element " << i;
}

// actual agrees with expected elementwise to `tolerance`, relative to each expected value's size
// (absolute near 0); `what` names the comparison in failure messages.
inline void expect_close(const Tensor& actual, const Tensor& expected, double tolerance, const char* what) {
  const std::vector<double> a = actual.to_vector<double>(), e = expected.to_vector<double>();
  ASSERT_EQ(a.size(), e.size()) << what;
  for (std::size_t i = 0; i < a.size(); ++i)
    EXPECT_NEAR(a[i], e[i], tolerance * (1 + std::abs(e[i]))) << what << ", element " << i;
}

// The same shape and the same values, element for element (NaN-free tensors: NaN != NaN).
inline bool equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.to_vector<double>() == b.to_vector<double>();
}

// The same shape and the same bits, element for element, a NaN matching any NaN: what a fused
// kernel must give against the ops it replaces (-0 and +0 differ here).
inline bool identical(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  const std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!(std::isnan(x[i]) && std::isnan(y[i])) && std::bit_cast<std::uint64_t>(x[i]) != std::bit_cast<std::uint64_t>(y[i]))
      return false;
  return true;
}

// x's values rounded to float32 and stored as `dtype`, in x's layout: the non-contiguous inputs
// of these tests are transposed views (last two dims swapped, as transposed_input() makes), so
// the copy is made transposed too and the float32 run walks the same strides as the float64 one.
inline Tensor rounded_to_float32(const Tensor& x, DType dtype) {
  if (x.is_contiguous()) return x.detach().to(kFloat32).to(dtype);
  return x.detach().transpose(-1, -2).to(kFloat32).to(dtype).transpose(-1, -2);
}

// rounded_to_float32 of each input; a leaf requiring grad wherever the original does.
inline std::vector<Tensor> rounded_to_float32(const std::vector<Tensor>& inputs, DType dtype) {
  std::vector<Tensor> converted;
  for (const Tensor& x : inputs) {
    Tensor copy = rounded_to_float32(x, dtype);
    if (x.requires_grad()) copy.requires_grad_();
    converted.push_back(copy);
  }
  return converted;
}

// fn computed in float32 agrees with fn in float64, in value and in the gradient of a weighted
// sum of its outputs (for the inputs that require grad), to float32 precision. Both start from
// the same float32-representable values, so only the arithmetic differs, not the inputs.
inline void expect_float32_matches_float64(const GradcheckFunction& fn, const std::vector<Tensor>& original,
                                           double tolerance = 1e-5) {
  const std::vector<Tensor> inputs = rounded_to_float32(original, kFloat64);
  const std::vector<Tensor> singles = rounded_to_float32(original, kFloat32);
  const Tensor expected = fn(inputs), actual = fn(singles);
  ASSERT_EQ(actual.dtype(), kFloat32);
  ASSERT_EQ(shape_of(actual), shape_of(expected));
  expect_close(actual, expected, tolerance, "value");
  if (!expected.requires_grad()) return;
  Generator generator(99);
  const Tensor weights = uniform(expected.shape(), 0.5, 1.5, generator, kFloat64);
  std::vector<Tensor> doubles_with_grad, singles_with_grad;
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].requires_grad()) {
      doubles_with_grad.push_back(inputs[i]);
      singles_with_grad.push_back(singles[i]);
    }
  const auto grads64 = grad({expected}, doubles_with_grad, {weights});
  const auto grads32 = grad({actual}, singles_with_grad, {weights.to(kFloat32)});
  for (std::size_t i = 0; i < grads64.size(); ++i) expect_close(grads32[i], grads64[i], 10 * tolerance, "gradient");
}

inline void expect_gradcheck(const GradcheckFunction& fn, const std::vector<Tensor>& inputs,
                             GradcheckOptions options = {}) {
  const GradcheckReport report = gradcheck(fn, inputs, options);
  EXPECT_TRUE(report.ok()) << report.str();
}

inline void expect_gradgradcheck(const GradcheckFunction& fn, const std::vector<Tensor>& inputs,
                                 GradcheckOptions options = {}) {
  const GradcheckReport report = gradgradcheck(fn, inputs, options);
  EXPECT_TRUE(report.ok()) << report.str();
}

// Runs `body` and expects a tapegrad::Error whose message contains every fragment.
template <class Body>
void expect_error(Body&& body, const std::vector<std::string>& fragments) {
  try {
    body();
    ADD_FAILURE() << "expected a tapegrad::Error";
  } catch (const Error& error) {
    const std::string message = error.what();
    for (const auto& fragment : fragments)
      EXPECT_NE(message.find(fragment), std::string::npos) << "message: " << message << "\nmissing: " << fragment;
  }
}

}  // namespace tapegrad::testing
