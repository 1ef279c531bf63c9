// L-BFGS: on a convex quadratic it reaches the minimizer to 1e-8 within 15 iterations, with and
// without the strong-Wolfe line search; on Rosenbrock its iterates and its evaluation and iteration
// counters (func_evals(), n_iter()) equal PyTorch 1.13's (tests/golden/optim_reference.py printed
// them); it needs a closure and one group.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include <tapegrad/optim/optim.h>

#include "test_util.h"

namespace tapegrad {
namespace {

using optim::LBFGS;
using optim::LBFGSOptions;
using optim::LineSearch;
using tapegrad::testing::expect_error;

constexpr int kDim = 10;

// A = M^T M / kDim + I (symmetric positive definite, condition number about 4) and b, fixed.
struct Quadratic {
  std::vector<double> a = std::vector<double>(kDim * kDim), b = std::vector<double>(kDim);

  Quadratic() {
    std::vector<double> m(kDim * kDim);
    for (int i = 0; i < kDim * kDim; ++i) m[i] = std::sin(1.7 * i + 0.3);
    for (int i = 0; i < kDim; ++i) {
      b[i] = std::cos(0.9 * i) * 2;
      for (int j = 0; j < kDim; ++j) {
        double sum = i == j ? 1.0 : 0.0;
        for (int k = 0; k < kDim; ++k) sum += m[k * kDim + i] * m[k * kDim + j] / kDim;
        a[i * kDim + j] = sum;
      }
    }
  }

  // f(x) = x^T A x / 2 - b^T x
  Tensor loss(const Tensor& x) const {
    const Tensor matrix = from_vector(a, Shape{kDim, kDim});
    return 0.5 * dot(x, matmul(matrix, x)) - dot(from_vector(b), x);
  }

  // A x* = b by Gaussian elimination with partial pivoting.
  std::vector<double> minimizer() const {
    std::vector<double> m = a, x = b;
    for (int col = 0; col < kDim; ++col) {
      int pivot = col;
      for (int row = col + 1; row < kDim; ++row)
        if (std::abs(m[row * kDim + col]) > std::abs(m[pivot * kDim + col])) pivot = row;
      for (int j = 0; j < kDim; ++j) std::swap(m[col * kDim + j], m[pivot * kDim + j]);
      std::swap(x[col], x[pivot]);
      for (int row = col + 1; row < kDim; ++row) {
        const double factor = m[row * kDim + col] / m[col * kDim + col];
        for (int j = col; j < kDim; ++j) m[row * kDim + j] -= factor * m[col * kDim + j];
        x[row] -= factor * x[col];
      }
    }
    for (int row = kDim - 1; row >= 0; --row) {
      for (int j = row + 1; j < kDim; ++j) x[row] -= m[row * kDim + j] * x[j];
      x[row] /= m[row * kDim + row];
    }
    return x;
  }
};

void expect_quadratic_solved_within_15_iterations(LineSearch line_search) {
  const Quadratic problem;
  Tensor x = zeros({kDim}, kFloat64).requires_grad_();
  LBFGS lbfgs({x}, {.max_iter = 15, .tolerance_grad = 1e-12, .tolerance_change = 1e-15, .line_search = line_search});
  lbfgs.step([&] {
    lbfgs.zero_grad();
    Tensor loss = problem.loss(x);
    loss.backward();
    return loss;
  });
  EXPECT_LE(lbfgs.state(x)->step, 15);
  const std::vector<double> expected = problem.minimizer(), actual = x.to_vector<double>();
  for (int i = 0; i < kDim; ++i) EXPECT_NEAR(actual[i], expected[i], 1e-8) << "coordinate " << i;
}

TEST(LBFGS, ReachesTheMinimumOfA10DimensionalQuadraticWithin15IterationsWithFixedSteps) {
  expect_quadratic_solved_within_15_iterations(LineSearch::None);
}

TEST(LBFGS, ReachesTheMinimumOfA10DimensionalQuadraticWithin15IterationsWithStrongWolfe) {
  expect_quadratic_solved_within_15_iterations(LineSearch::StrongWolfe);
}

Tensor rosenbrock(const Tensor& x) {
  const Tensor x0 = x[0], x1 = x[1];
  return (1 - x0) * (1 - x0) + 100 * (x1 - x0 * x0) * (x1 - x0 * x0);
}

// Steps of 20 iterations from (-1.5, 2) with history 5; x, and the evaluation and iteration
// counts (PyTorch's state['func_evals'] and state['n_iter']) after each.
void expect_rosenbrock_matches_pytorch(LBFGSOptions options, const std::vector<double>& points,
                                       const std::vector<std::int64_t>& evaluations,
                                       const std::vector<std::int64_t>& iterations) {
  Tensor x = tensor({-1.5, 2.0}, std::nullopt, kFloat64).requires_grad_();
  LBFGS lbfgs({x}, options);
  EXPECT_EQ(lbfgs.func_evals(), 0);
  EXPECT_EQ(lbfgs.n_iter(), 0);
  const auto closure = [&] {
    lbfgs.zero_grad();
    Tensor loss = rosenbrock(x);
    loss.backward();
    return loss;
  };
  for (std::size_t step = 0; step < evaluations.size(); ++step) {
    lbfgs.step(closure);
    const std::vector<double> now = x.to_vector<double>();
    EXPECT_NEAR(now[0], points[2 * step], 1e-9) << "step " << step;
    EXPECT_NEAR(now[1], points[2 * step + 1], 1e-9) << "step " << step;
    EXPECT_EQ(lbfgs.func_evals(), evaluations[step]) << "step " << step;
    EXPECT_EQ(lbfgs.n_iter(), iterations[step]) << "step " << step;
  }
}

// Three steps: with fixed steps on Rosenbrock, rounding differences (summation order in dot
// products) grow about tenfold every few iterations, and the iterates part after about 70.
TEST(LBFGS, FixedStepIteratesOnRosenbrockMatchPyTorch) {
  expect_rosenbrock_matches_pytorch({.lr = 0.1, .history_size = 5},
                                    {-1.2771805957859057, 1.6680292268139478, -0.4485203765870085, 0.19107250436307696,
                                     0.2489001209171689, 0.05257989484467454},
                                    {20, 40, 60}, {20, 40, 60});
}

TEST(LBFGS, StrongWolfeIteratesAndEvaluationCountsOnRosenbrockMatchPyTorch) {
  expect_rosenbrock_matches_pytorch(
      {.history_size = 5, .line_search = LineSearch::StrongWolfe},
      {0.004223861178827853, -0.035072097956142016, 0.9990142872062082, 0.997625664434381, 0.9999848335215568,
       0.9999695408626902, 0.9999848335215568, 0.9999695408626902, 0.9999848335215568, 0.9999695408626902},
      {26, 51, 54, 55, 56}, {20, 38, 41, 42, 43});
}

TEST(LBFGS, ResumesFromSavedStateWithTheSameIterates) {
  const auto run = [](Tensor& x, LBFGS& lbfgs) {
    lbfgs.step([&] {
      lbfgs.zero_grad();
      Tensor loss = rosenbrock(x);
      loss.backward();
      return loss;
    });
  };
  const LBFGSOptions options{.max_iter = 4, .history_size = 3, .line_search = LineSearch::StrongWolfe};
  Tensor x = tensor({-1.5, 2.0}, std::nullopt, kFloat64).requires_grad_();
  LBFGS lbfgs({x}, options);
  for (int step = 0; step < 3; ++step) run(x, lbfgs);
  Tensor y = x.detach().clone().requires_grad_();
  LBFGS resumed({y}, options);
  resumed.load_state_dict(lbfgs.state_dict());
  EXPECT_EQ(resumed.n_iter(), lbfgs.n_iter());
  EXPECT_EQ(resumed.func_evals(), lbfgs.func_evals());
  for (int step = 0; step < 3; ++step) {
    run(x, lbfgs);
    run(y, resumed);
    EXPECT_EQ(y.to_vector<double>(), x.to_vector<double>()) << "step " << step;
    EXPECT_EQ(resumed.n_iter(), lbfgs.n_iter()) << "step " << step;
  }
}

TEST(LBFGS, RefusesASavedStateItsStepsCouldNotUse) {
  Tensor x = tensor({-1.5, 2.0}, std::nullopt, kFloat64).requires_grad_();
  LBFGS lbfgs({x}, {.max_iter = 4, .history_size = 3});
  lbfgs.step([&] {
    lbfgs.zero_grad();
    Tensor loss = rosenbrock(x);
    loss.backward();
    return loss;
  });
  const TensorFile saved = lbfgs.state_dict();
  ASSERT_NO_THROW((void)saved.at("state.0.old_stps.0"));  // the step kept a curvature pair
  const auto with_buffer = [&](const std::string& buffer, const Tensor& value) {
    TensorFile file = saved;
    for (auto& [key, tensor] : file.tensors)
      if (key == "state.0." + buffer) tensor = value;
    return file;
  };
  // Drops the buffer and its name from the saved list of parameter 0's buffers.
  const auto without_buffer = [&](const std::string& buffer) {
    TensorFile file = saved;
    std::erase_if(file.tensors, [&](const auto& entry) { return entry.first == "state.0." + buffer; });
    std::string& listed = file.metadata["optimizer.state"];
    const std::string quoted = "\"" + buffer + "\"";
    if (const auto at = listed.find(quoted + ","); at != std::string::npos) {
      listed.erase(at, quoted.size() + 1);
    } else {
      listed.erase(listed.find("," + quoted), quoted.size() + 1);
    }
    return file;
  };
  LBFGS target({x});
  expect_error([&] { target.load_state_dict(with_buffer("d", zeros({3}, kFloat64))); },
               {"'d' of parameter 0 has shape [3]", "all 2 parameter elements, shape [2]"});
  expect_error([&] { target.load_state_dict(with_buffer("old_dirs.0", zeros({2, 1}, kFloat64))); },
               {"'old_dirs.0'", "[2, 1]"});
  expect_error([&] { target.load_state_dict(without_buffer("old_stps.0")); },
               {"curvature pair 0", "'old_stps.0' or 'ro.0'"});
  expect_error([&] { target.load_state_dict(without_buffer("prev_flat_grad")); },
               {"'d' or 'prev_flat_grad' buffer is missing"});
  EXPECT_EQ(target.n_iter(), 0);
}

TEST(LBFGS, StopsAtOnceWhenTheGradientIsBelowTolerance) {
  Tensor x = tensor({1.0, 1.0}, std::nullopt, kFloat64).requires_grad_();
  LBFGS lbfgs({x});
  int evaluations = 0;
  const Tensor loss = lbfgs.step([&] {
    ++evaluations;
    lbfgs.zero_grad();
    Tensor value = rosenbrock(x);
    value.backward();
    return value;
  });
  EXPECT_EQ(evaluations, 1);
  EXPECT_EQ(loss.item(), 0.0);
  EXPECT_EQ(x.to_vector<double>(), (std::vector<double>{1.0, 1.0}));
}

TEST(LBFGS, NeedsAClosureAndASingleGroupAndValidOptions) {
  Tensor x = zeros({2}, kFloat64).requires_grad_();
  LBFGS lbfgs({x});
  expect_error([&] { lbfgs.step(); }, {"LBFGS", "closure"});
  lbfgs.add_param_group({{zeros({1}, kFloat64).requires_grad_()}, std::nullopt});
  expect_error([&] { lbfgs.step([&] { return x.sum(); }); }, {"parameter groups"});
  expect_error([&] { LBFGS({x}, {.history_size = 0}); }, {"history_size"});
  expect_error([&] { LBFGS({x}, {.lr = -1}); }, {"learning rate", "-1"});
}

}  // namespace
}  // namespace tapegrad
