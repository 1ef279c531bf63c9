// Shared test vocabulary: float64 inputs for gradient checks (contiguous or deliberately
// strided), value comparisons, and assertions that run gradcheck/gradgradcheck and print the
// per-input report on failure.
#pragma once

#include <cmath>
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

inline void expect_values(const Tensor& actual, const std::vector<double>& expected, double tolerance = 1e-6) {
  const std::vector<double> values = actual.to_vector<double>();
  ASSERT_EQ(values.size(), expected.size()) << "shape " << fmt::format("{}", actual.shape());
  for (std::size_t i = 0; i < values.size(); ++i)
    EXPECT_NEAR(values[i], expected[i], tolerance) << "element " << i;
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
