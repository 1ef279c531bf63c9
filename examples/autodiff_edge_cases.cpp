// Reverse mode differentiates the program that ran, not the function it was meant to compute
// (experiments D1-D5): branches, loops and comparisons decide the derivative. Prints each case
// with its expected value and exits 1 if any differs; plots f and f' for D2-D4.
//
//   build/examples/autodiff_edge_cases
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <experiment/metrics.h>
#include <experiment/plot.h>
#include <experiment/program.h>

using namespace tapegrad;

namespace {

using ScalarFunction = std::function<Tensor(const Tensor&)>;

// f(x0) and f'(x0) by reverse mode on a 0-dim float64 leaf.
std::pair<double, double> value_and_derivative(const ScalarFunction& f, double x0) {
  Tensor x = scalar_tensor(x0, kFloat64).requires_grad_();
  const Tensor y = f(x);
  if (!y.requires_grad()) return {y.item(), 0.0};  // no gradient path: the tape saw a constant
  return {y.item(), grad({y}, {x})[0].item()};
}

double derivative(const ScalarFunction& f, double x0) { return value_and_derivative(f, x0).second; }

// D1: exp(u) + sin(u) with u = e^x + e^2x, and its derivative by hand.
Tensor nested_composite(const Tensor& x) {
  const Tensor e = exp(x);
  const Tensor u = e + e.pow(2);
  return exp(u) + sin(u);
}
double nested_composite_derivative(double x) {
  const double e = std::exp(x), u = e + e * e;
  return (std::exp(u) + std::cos(u)) * (e + 2 * e * e);
}

// D2: a jump at 0 that autodiff cannot see, and branches singling out x == 0.
Tensor jump(const Tensor& x) { return x.item() <= 0 ? x.pow(3) : x.pow(3) + 200.0; }
Tensor jump_with_zero_branch(const Tensor& x) { return x.item() == 0 ? x * -1728.0 : jump(x); }
Tensor fourth_power(const Tensor& x) { return x.pow(4); }
Tensor fourth_power_with_zero_branch(const Tensor& x) { return x.item() == 0 ? x * 897.0 : x.pow(4); }

// D3: halving until small; the condition decides whether the threshold itself is halved.
Tensor halve_while_at_least(const Tensor& input) {
  Tensor x = input;
  while (std::abs(x.item()) >= 1e-6) x = x / 2.0;
  return x;
}
Tensor halve_while_above(const Tensor& input) {
  Tensor x = input;
  while (std::abs(x.item()) > 1e-6) x = x / 2.0;
  return x;
}

// D4: a step written with a comparison: a constant as far as the tape is concerned.
Tensor heaviside(const Tensor& x) { return gt(x, 0.0).to(x.dtype()); }

// D5: the largest difference between reverse mode and the closed-form gradient of
// (y - sigmoid(a.x))^2, -2 e^{a.x} (e^{a.x} (y - 1) + y) / (1 + e^{a.x})^3 * a, over seeded draws.
double sigmoid_least_squares_gradient_error(std::uint64_t seed, int draws) {
  Generator generator(seed);
  double worst = 0;
  for (int draw = 0; draw < draws; ++draw) {
    const Tensor a = randn({5}, generator, kFloat64);
    Tensor x = randn({5}, generator, kFloat64).requires_grad_();
    const double y = rand({}, generator, kFloat64).item();
    const Tensor dx = grad({(y - sigmoid(dot(a, x))).pow(2)}, {x})[0];
    const double e = std::exp(dot(a, x).item());
    const double scale = -2 * e * (e * (y - 1) + y) / std::pow(1 + e, 3);
    worst = std::max(worst, max(abs(dx - a * scale)).item());
  }
  return worst;
}

struct Case {
  std::string name, description;
  double expected, computed, tolerance;
  bool ok() const { return std::abs(computed - expected) <= tolerance; }
};

std::vector<Case> run_cases(std::uint64_t seed) {
  return {
      {"D1", "d/dx exp(u)+sin(u), u=e^x+e^2x at 0.5", nested_composite_derivative(0.5),
       derivative(nested_composite, 0.5), 1e-9},
      {"D2", "jump x^3 | x^3+200 at 0", 0, derivative(jump, 0), 0},
      {"D2", "same, branch x==0: -1728x", -1728, derivative(jump_with_zero_branch, 0), 0},
      {"D2", "x^4 at 0", 0, derivative(fourth_power, 0), 0},
      {"D2", "x^4, branch x==0: 897x", 897, derivative(fourth_power_with_zero_branch, 0), 0},
      {"D3", "halve while |x| >= 1e-6, at 1e-6", 0.5, derivative(halve_while_at_least, 1e-6), 0},
      {"D3", "halve while |x| > 1e-6, at 1e-6", 1, derivative(halve_while_above, 1e-6), 0},
      {"D4", "Heaviside (x > 0) at 0.5", 0, derivative(heaviside, 0.5), 0},
      {"D4", "Heaviside (x > 0) at -0.5", 0, derivative(heaviside, -0.5), 0},
      {"D5", "sigmoid least squares vs closed form (max error)", 0,
       sigmoid_least_squares_gradient_error(seed, 20), 1e-12},
  };
}

struct Curve {
  std::string name;
  ScalarFunction f;
  double from, to;
  std::vector<std::string> setup = {};  // gnuplot settings of its panel
};

// f and f' by reverse mode over a grid, one CSV for all curves and a panel per function.
void plot_curves(const experiment::Program& program) {
  const std::vector<Curve> curves{{"jump", jump, -10, 10},
                                  {"jump_zero_branch", jump_with_zero_branch, -10, 10},
                                  {"halve_at_least", halve_while_at_least, -2, 2},
                                  {"heaviside", heaviside, -10, 10, {"set yrange [-0.2:1.2]"}}};
  experiment::MetricsLog table(program.out_path("curves.csv"), {"function", "x", "f", "df"});
  experiment::Figure figure{.png = program.out_path("curves.png"), .csv = table.path(), .columns = 2};
  constexpr int kPoints = 401;  // includes x = 0, where the branches differ
  for (const Curve& curve : curves) {
    for (int i = 0; i < kPoints; ++i) {
      const double x = curve.from + (curve.to - curve.from) * i / (kPoints - 1);
      const auto [f, df] = value_and_derivative(curve.f, x);
      table.add({curve.name, x, f, df});
    }
    figure.panels.push_back(
        {.title = curve.name, .x_label = "x", .y_label = "", .setup = curve.setup,
         .series = {{.title = "f", .x = "x", .y = "f", .where_column = "function", .where_value = curve.name},
                    {.title = "f' (reverse mode)", .x = "x", .y = "df", .where_column = "function",
                     .where_value = curve.name}}});
  }
  table.save();
  experiment::render(figure);
}

}  // namespace

int main(int argc, char** argv) {
  experiment::Program program("autodiff_edge_cases",
                              "What reverse mode gives for branches, loops and comparisons (experiments D1-D5)", {},
                              /*flag_groups=*/0);
  return program.run(argc, argv, [](experiment::Program& p) {
    const std::vector<Case> cases = run_cases(p.flags().seed);
    fmt::print("{:<4} {:<50} {:>14} {:>14}  {}\n", "case", "what", "expected", "computed", "ok");
    int failed = 0;
    for (const Case& c : cases) {
      fmt::print("{:<4} {:<50} {:>14.10g} {:>14.10g}  {}\n", c.name, c.description, c.expected, c.computed,
                 c.ok() ? "OK" : "FAIL");
      failed += c.ok() ? 0 : 1;
    }
    plot_curves(p);
    fmt::print("\n{} cases, {} failed; curves in {}\n", cases.size(), failed, p.out_dir().string());
    if (failed > 0) throw Error(fmt::format("{} of {} cases differ from the expected derivative", failed, cases.size()));
  });
}
