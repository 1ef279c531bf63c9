// Optimizers on small functions (experiments C1-C3), with tapegrad's own optimizers on float64
// leaves:
//   C1  GD, momentum, RMSprop and Adam on f1 = x^2 + 0.1 y^2 and on f2, the same bowl rotated by
//       45 degrees: GD and momentum see no difference (rotation invariant), RMSprop and Adam do.
//   C2  Adam on the Beale function from two starts, paths drawn over log f.
//   C3  SGD on the mean of (y - x_i)^2 at two step sizes: the larger converges faster at first
//       but settles with the larger error.
//
//   build/examples/optimizer_paths
#include <cmath>
#include <functional>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <experiment/metrics.h>
#include <experiment/plot.h>
#include <experiment/program.h>

using namespace tapegrad;

namespace {

using Objective = std::function<Tensor(const Tensor& x, const Tensor& y)>;

// The optimizers of C1 by name, each over the parameters given.
std::unique_ptr<optim::Optimizer> make_optimizer(const std::string& method, std::vector<Tensor> params, double lr) {
  if (method == "GD") return std::make_unique<optim::SGD>(std::move(params), optim::SGDOptions{.lr = lr});
  if (method == "momentum")
    return std::make_unique<optim::SGD>(std::move(params), optim::SGDOptions{.lr = lr, .momentum = 0.9});
  if (method == "RMSprop") return std::make_unique<optim::RMSprop>(std::move(params), optim::RMSpropOptions{.lr = lr});
  return std::make_unique<optim::Adam>(std::move(params), optim::AdamOptions{.lr = lr});
}

// Minimizes f from (x0, y0); calls `record(step, x, y, f)` before each step and after the last.
// Stops early when |f change| < tolerance (tolerance 0: never).
void minimize(const Objective& f, double x0, double y0, const std::string& method, double lr, int steps,
              double tolerance, const std::function<void(int, double, double, double)>& record) {
  Tensor x = scalar_tensor(x0, kFloat64).requires_grad_(), y = scalar_tensor(y0, kFloat64).requires_grad_();
  auto optimizer = make_optimizer(method, {x, y}, lr);
  double previous = NAN;
  for (int step = 0;; ++step) {
    optimizer->zero_grad();
    Tensor value = f(x, y);
    const double current = value.item();
    record(step, x.item(), y.item(), current);
    if (step == steps || std::abs(current - previous) < tolerance) return;
    previous = current;
    value.backward();
    optimizer->step();
  }
}

// ---- C1 ----

void rotation_study(const experiment::Program& p, int iterations, double lr) {
  const std::vector<std::string> methods{"GD", "momentum", "RMSprop", "Adam"};
  const Objective f1 = [](const Tensor& x, const Tensor& y) { return x.pow(2) + 0.1 * y.pow(2); };
  const Objective f2 = [](const Tensor& x, const Tensor& y) {
    return (x - y).pow(2) / 2.0 + 0.1 * (x + y).pow(2) / 2.0;
  };
  // `curve` ("f1 GD") names one line, so a panel filters on one column.
  experiment::MetricsLog table(p.out_path("rotation.csv"), {"curve", "function", "method", "iteration", "objective"});
  fmt::print("C1: objective after {} iterations, lr {} (f2 is f1 rotated by 45 degrees)\n", iterations, lr);
  fmt::print("  {:<9} {:>12} {:>12} {:>20}\n", "method", "f1", "f2", "max |f1 - f2| / f1");
  for (const std::string& method : methods) {
    std::vector<double> curve1, curve2;
    minimize(f1, 1, 1, method, lr, iterations, 0, [&](int step, double, double, double f) {
      curve1.push_back(f);
      table.add({"f1 " + method, "f1", method, step, f});
    });
    minimize(f2, std::sqrt(2.0), 0, method, lr, iterations, 0, [&](int step, double, double, double f) {
      curve2.push_back(f);
      table.add({"f2 " + method, "f2", method, step, f});
    });
    double gap = 0;
    for (std::size_t i = 0; i < curve1.size(); ++i) gap = std::max(gap, std::abs(curve1[i] - curve2[i]) / curve1[i]);
    fmt::print("  {:<9} {:>12.6g} {:>12.6g} {:>20.3g}  {}\n", method, curve1.back(), curve2.back(), gap,
               gap < 1e-9 ? "same on both" : "differs");
  }
  table.save();
  experiment::Figure figure{.png = p.out_path("rotation.png"), .csv = table.path()};
  for (const std::string function : {"f1", "f2"}) {
    // RMSprop reaches 1e-200 on f1; the range keeps the other curves readable.
    experiment::Panel panel{.title = function, .x_label = "iteration", .y_label = "objective", .log_y = true,
                            .setup = {"set yrange [1e-12:2]"}};
    for (const std::string& method : methods)
      panel.series.push_back({.title = method, .x = "iteration", .y = "objective", .where_column = "curve",
                              .where_value = function + " " + method});
    figure.panels.push_back(panel);
  }
  experiment::render(figure);
}

// ---- C2 ----

Tensor beale(const Tensor& x, const Tensor& y) {
  return (1.5 - x + x * y).pow(2) + (2.25 - x + x * y.pow(2)).pow(2) + (2.625 - x + x * y.pow(3)).pow(2);
}

double beale_value(double x, double y) {
  return std::pow(1.5 - x + x * y, 2) + std::pow(2.25 - x + x * y * y, 2) + std::pow(2.625 - x + x * y * y * y, 2);
}

void beale_paths(const experiment::Program& p, int max_steps) {
  constexpr double kLr = 0.01, kTolerance = 1e-7;
  experiment::MetricsLog paths(p.out_path("beale_paths.csv"), {"start", "step", "x", "y", "f"});
  fmt::print("\nC2: Adam (lr {}) on the Beale function, at most {} steps, stop when |f change| < {}\n", kLr, max_steps,
             kTolerance);
  for (const auto& [x0, y0] : {std::pair{0.7, 1.4}, std::pair{-4.0, -2.0}}) {
    const std::string start = fmt::format("{} {}", x0, y0);
    double x = x0, y = y0, f = 0;
    int steps = 0;
    minimize(beale, x0, y0, "Adam", kLr, max_steps, kTolerance, [&](int step, double px, double py, double pf) {
      paths.add({start, step, px, py, pf});
      x = px, y = py, f = pf, steps = step;
    });
    fmt::print("  from {:<11} {:>5} steps  ->  ({:.4f}, {:.4f})  f = {:.4f}\n", fmt::format("({}, {})", x0, y0), steps,
               x, y, f);
  }
  paths.save();

  // log f on a grid, for the picture under the paths.
  experiment::MetricsLog grid(p.out_path("beale_grid.csv"), {"x", "y", "log_f"});
  constexpr int kGrid = 121;
  for (int i = 0; i < kGrid; ++i)
    for (int j = 0; j < kGrid; ++j) {
      const double gx = -4.5 + 9.0 * j / (kGrid - 1), gy = -4.5 + 9.0 * i / (kGrid - 1);
      grid.add({gx, gy, std::log10(beale_value(gx, gy) + 1e-12)});
    }
  grid.save();
  const std::string paths_csv = paths.path().string(), grid_csv = grid.path().string();
  experiment::render(
      {.png = p.out_path("beale.png"),
       .panels = {{.title = "Adam on the Beale function over log10 f", .x_label = "x", .y_label = "y",
                   .setup = {"set xrange [-4.5:4.5]", "set yrange [-4.5:4.5]", "set size ratio -1",
                             "set palette rgbformulae 33,13,10", "set cblabel 'log10 f'", "set key bottom right opaque"},
                   .plot = fmt::format(
                       "plot '{0}' using (column('x')):(column('y')):(column('log_f')) with image notitle, \\\n"
                       "  '{1}' using (strcol('start') eq '0.7 1.4' ? column('x') : NaN):(column('y')) "
                       "with lines lw 2 lc rgb 'magenta' title 'from (0.7, 1.4)', \\\n"
                       "  '{1}' using (strcol('start') eq '-4 -2' ? column('x') : NaN):(column('y')) "
                       "with lines lw 2 lc rgb 'black' title 'from (-4, -2)', \\\n"
                       "  '+' using (3):(0.5) every ::0::0 with points pt 3 ps 2 lc rgb 'red' title 'minimum (3, 0.5)'",
                       grid_csv, paths_csv)}}});
}

// ---- C3 ----

void sgd_step_sizes(const experiment::Program& p, int steps) {
  constexpr int kPoints = 100;
  Generator generator(p.flags().seed);
  const Tensor points = rand({kPoints}, generator, kFloat64);
  const double optimum = mean(points).item();  // the minimizer of (1/n) sum (y - x_i)^2
  experiment::MetricsLog errors(p.out_path("sgd_step_sizes.csv"), {"lr", "step", "y", "error"});
  fmt::print("\nC3: SGD on (1/n) sum (y - x_i)^2, n = {}, one sampled x_i per step; y* = mean(x) = {:.6f}\n", kPoints,
             optimum);
  for (const double lr : {0.01, 0.1}) {
    Tensor y = scalar_tensor(0.0, kFloat64).requires_grad_();
    optim::SGD sgd({y}, {.lr = lr});
    std::vector<double> error(steps + 1);
    for (int step = 0; step <= steps; ++step) {
      error[step] = std::abs(y.item() - optimum);
      errors.add({lr, step, y.item(), error[step]});
      if (step == steps) break;
      const auto i = static_cast<std::int64_t>(generator.next_u64() % kPoints);
      sgd.zero_grad();
      (y - points[i]).pow(2).backward();
      sgd.step();
    }
    const int tail = std::min(50, steps);
    const double early = error[std::min(20, steps)];
    const double terminal = std::accumulate(error.end() - tail, error.end(), 0.0) / tail;
    fmt::print("  lr {:<5} error after 20 steps {:.4f}, mean error over the last {} steps {:.4f}\n", lr, early, tail,
               terminal);
  }
  errors.save();
  experiment::render({.png = p.out_path("sgd_step_sizes.png"),
                      .csv = errors.path(),
                      .panels = {{.title = "SGD: |y - y*|", .x_label = "step", .y_label = "error", .log_y = true,
                                  .series = {{.title = "lr 0.01", .x = "step", .y = "error", .where_column = "lr",
                                              .where_value = "0.01"},
                                             {.title = "lr 0.1", .x = "step", .y = "error", .where_column = "lr",
                                              .where_value = "0.1"}}}}});
}

}  // namespace

int main(int argc, char** argv) {
  experiment::Program program("optimizer_paths", "GD, momentum, RMSprop and Adam on small functions "
                              "(experiments C1-C3)", {}, /*flag_groups=*/0);
  int rotation_iterations = 2000, beale_steps = 1000, sgd_steps = 200;
  double rotation_lr = 1e-3;
  program.app().add_option("--rotation-iterations", rotation_iterations, "C1: iterations per method")
      ->capture_default_str()->check(experiment::Positive);
  program.app().add_option("--rotation-lr", rotation_lr, "C1: learning rate of every method")
      ->capture_default_str()->check(experiment::Positive);
  program.app().add_option("--beale-steps", beale_steps, "C2: most Adam steps per start")
      ->capture_default_str()->check(experiment::Positive);
  program.app().add_option("--sgd-steps", sgd_steps, "C3: SGD steps per learning rate")
      ->capture_default_str()->check(experiment::Positive);
  return program.run(argc, argv, [&](experiment::Program& p) {
    rotation_study(p, rotation_iterations, rotation_lr);
    beale_paths(p, beale_steps);
    sgd_step_sizes(p, sgd_steps);
    fmt::print("\nmetrics and plots in {}\n", p.out_dir().string());
  });
}
