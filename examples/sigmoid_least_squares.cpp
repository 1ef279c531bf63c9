// Sigmoid least squares (experiment C6): f(x) = mean((y - sigmoid(A x))^2), a non-convex
// problem, on a LIBSVM file (heart_scale by default; any LIBSVM file, e.g. a9a, with --file).
// First- and second-order methods are compared by the work they do: data accesses (rows of A
// read: n per full evaluation of f or its gradient, b per minibatch) and vector updates (new
// iterates computed, line-search trial points included).
//
//   GD              fixed step sizes (--gd-lrs)
//   SGD             minibatches (--batch-size), the same data budget as GD
//   Adagrad         full batch
//   prox-L1         proximal gradient for f + lambda |x|_1 (soft-thresholding), lambda in
//                   --lambdas; the number of exact zeros in x is reported
//   BFGS            dense inverse-Hessian update, Armijo backtracking
//   L-BFGS m=0      no memory: steepest descent with the same backtracking
//   L-BFGS m=5,10   tapegrad's optim::LBFGS with a strong-Wolfe line search
//
//   build/examples/sigmoid_least_squares [--file data/libsvm/heart_scale]
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

struct Problem {
  Tensor a;  // [n, d] float64
  Tensor y;  // [n] in {0, 1}
  std::int64_t rows() const { return a.size(0); }
  std::int64_t features() const { return a.size(1); }
};

Tensor objective(const Tensor& a, const Tensor& y, const Tensor& x) { return mean(pow(y - sigmoid(matmul(a, x)), 2)); }

// Work done so far by one method, and where it is recorded.
class Trace {
 public:
  Trace(experiment::MetricsLog& log, std::string method) : log_(log), method_(std::move(method)) {}
  void count(std::int64_t data, std::int64_t updates) { data_ += data, updates_ += updates; }
  void record(std::int64_t iteration, double f) {
    log_.add({method_, iteration, f, data_, updates_});
    final_ = f;
  }
  const std::string& method() const { return method_; }
  double final_objective() const { return final_; }
  std::int64_t data_accesses() const { return data_; }
  std::int64_t vector_updates() const { return updates_; }

 private:
  experiment::MetricsLog& log_;
  std::string method_;
  std::int64_t data_ = 0, updates_ = 0;
  double final_ = NAN;
};

// f(x) and its gradient at x (one full pass over the data).
std::pair<double, Tensor> value_and_gradient(const Problem& problem, const Tensor& x, Trace& trace) {
  Tensor leaf = x.detach().requires_grad_();
  const Tensor f = objective(problem.a, problem.y, leaf);
  trace.count(problem.rows(), 0);
  return {f.item(), grad({f}, {leaf})[0]};
}

double value(const Problem& problem, const Tensor& x, Trace& trace) {
  NoGradGuard no_grad;
  trace.count(problem.rows(), 1);  // a trial point
  return objective(problem.a, problem.y, x).item();
}

// Full-batch steps of a tapegrad optimizer; `optimizer` owns x.
void run_full_batch(const Problem& problem, Tensor& x, optim::Optimizer& optimizer, int iterations, Trace& trace) {
  for (int iteration = 0; iteration <= iterations; ++iteration) {
    optimizer.zero_grad();
    Tensor f = objective(problem.a, problem.y, x);
    trace.count(problem.rows(), 0);
    trace.record(iteration, f.item());
    if (iteration == iterations) break;
    f.backward();
    optimizer.step();
    trace.count(0, 1);
  }
}

// Minibatch SGD with the data budget of `epochs` full passes; recorded once per pass.
void run_sgd(const Problem& problem, Tensor& x, double lr, std::int64_t batch, int epochs, Generator& generator,
             Trace& trace) {
  optim::SGD sgd({x}, {.lr = lr});
  const std::int64_t steps_per_epoch = (problem.rows() + batch - 1) / batch;
  for (int epoch = 0; epoch <= epochs; ++epoch) {
    {
      NoGradGuard no_grad;
      trace.record(epoch, objective(problem.a, problem.y, x).item());  // for the plot; not counted as work
    }
    if (epoch == epochs) break;
    for (std::int64_t step = 0; step < steps_per_epoch; ++step) {
      const Tensor rows = randint(0, problem.rows(), {batch}, generator);
      sgd.zero_grad();
      objective(problem.a.index_select(0, rows), problem.y.index_select(0, rows), x).backward();
      sgd.step();
      trace.count(batch, 1);
    }
  }
}

// Quasi-Newton with an explicit inverse Hessian H (memory < 0: BFGS) or steepest descent
// (memory 0), each step x + t d with t from Armijo backtracking.
void run_quasi_newton(const Problem& problem, Tensor x, bool bfgs, int iterations, Trace& trace) {
  const std::int64_t d = problem.features();
  Tensor h = eye(d, d, kFloat64);
  auto [f, g] = value_and_gradient(problem, x, trace);
  trace.record(0, f);
  for (int iteration = 1; iteration <= iterations; ++iteration) {
    const Tensor direction = bfgs ? -matmul(h, g) : -g;
    const double slope = dot(g, direction).item();
    double t = 1;
    Tensor next = x + direction * t;
    double f_next = value(problem, next, trace);
    while (f_next > f + 1e-4 * t * slope && t > 1e-10) {
      t *= 0.5;
      next = x + direction * t;
      f_next = value(problem, next, trace);
    }
    auto [f_new, g_new] = value_and_gradient(problem, next, trace);
    if (bfgs) {  // H <- (I - rho s y^T) H (I - rho y s^T) + rho s s^T, skipped when y.s <= 0
      const Tensor s = next - x, change = g_new - g;
      const double ys = dot(change, s).item();
      if (ys > 1e-12) {
        const double rho = 1 / ys;
        const Tensor left = eye(d, d, kFloat64) - rho * outer(s, change);
        h = matmul(matmul(left, h), left.t()) + rho * outer(s, s);
      }
    }
    x = next, f = f_new, g = g_new;
    trace.record(iteration, f);
  }
}

// tapegrad's L-BFGS, one iteration per step() so that every iteration is recorded.
void run_lbfgs(const Problem& problem, Tensor& x, std::int64_t memory, int iterations, Trace& trace) {
  optim::LBFGS lbfgs({x}, {.max_iter = 1, .history_size = memory, .line_search = optim::LineSearch::StrongWolfe});
  const optim::Closure closure = [&] {
    lbfgs.zero_grad();
    Tensor f = objective(problem.a, problem.y, x);
    f.backward();
    trace.count(problem.rows(), 1);
    return f;
  };
  {
    NoGradGuard no_grad;
    trace.record(0, objective(problem.a, problem.y, x).item());
  }
  for (int iteration = 1; iteration <= iterations; ++iteration) {
    lbfgs.step(closure);
    NoGradGuard no_grad;
    trace.record(iteration, objective(problem.a, problem.y, x).item());
  }
}

// This example keeps the data as a dense float64 matrix and BFGS a dense d x d inverse Hessian;
// wider data is refused before either is allocated.
constexpr double kMemoryBudgetBytes = 2.0 * (1 << 30);

Problem load_problem(const std::string& path, std::int64_t max_feature_index) {
  const datasets::LibsvmData data = datasets::read_libsvm(path, {.max_feature_index = max_feature_index});
  const auto rows = static_cast<double>(data.features.rows()), features = static_cast<double>(data.features.num_columns);
  const double bytes = 8 * (rows * features + features * features);
  TAPEGRAD_CHECK(bytes <= kMemoryBudgetBytes,
                 "{} has {} features (the widest example is on line {}): its dense {}x{} matrix and BFGS's {}x{} "
                 "inverse Hessian would take {:.1f} GB; this example handles up to {:.0f} GB, so use a file with "
                 "fewer features",
                 path, data.features.num_columns, data.widest_line, data.features.rows(), data.features.num_columns,
                 data.features.num_columns, data.features.num_columns, bytes / 1e9, kMemoryBudgetBytes / 1e9);
  return {data.dense().to(kFloat64), data.binary_labels().to(kFloat64)};
}

std::int64_t zeros_of(const Tensor& x) { return static_cast<std::int64_t>(sum(eq(x, 0.0).to(kFloat64)).item()); }

}  // namespace

int main(int argc, char** argv) {
  experiment::Program program("sigmoid_least_squares", "First- and second-order methods on mean((y - sigmoid(Ax))^2) "
                              "over a LIBSVM file (experiment C6)", {.epochs = 200, .batch_size = 10},
                              experiment::kDataFlags | experiment::kTrainingFlags);
  std::string file;
  std::vector<double> gd_lrs{0.5, 2, 8}, lambdas{0.001, 0.01, 0.05, 0.1};
  double sgd_lr = 0.5, adagrad_lr = 0.1, prox_lr = 2;
  int second_order_iterations = 50;
  CLI::App& app = program.app();
  app.add_option("--file", file, "LIBSVM file (default: libsvm/heart_scale in the data folder)");
  std::int64_t max_feature_index = datasets::LibsvmOptions{}.max_feature_index;
  app.add_option("--max-feature-index", max_feature_index, "Largest feature index the LIBSVM file may use")
      ->capture_default_str()->check(experiment::Positive);
  app.add_option("--gd-lrs", gd_lrs, "GD step sizes")->delimiter(',')->capture_default_str();
  app.add_option("--sgd-lr", sgd_lr, "Minibatch SGD step size")->capture_default_str();
  app.add_option("--adagrad-lr", adagrad_lr, "Adagrad step size")->capture_default_str();
  app.add_option("--prox-lr", prox_lr, "Proximal gradient step size")->capture_default_str();
  app.add_option("--lambdas", lambdas, "L1 strengths of the proximal gradient")->delimiter(',')->capture_default_str();
  app.add_option("--second-order-iterations", second_order_iterations, "BFGS and L-BFGS iterations")
      ->capture_default_str()->check(experiment::Positive);

  return program.run(argc, argv, [&](experiment::Program& p) {
    const experiment::Flags& flags = p.flags();
    const std::string path = file.empty() ? datasets::require_data_file(p.data_dir(), "libsvm/heart_scale") : file;
    const Problem problem = load_problem(path, max_feature_index);
    fmt::print("{}: {} rows, {} features; {} full-batch iterations (first order), {} (second order)\n", path,
               problem.rows(), problem.features(), flags.epochs, second_order_iterations);

    experiment::MetricsLog log(p.out_path("metrics.csv"),
                               {"method", "iteration", "objective", "data_accesses", "vector_updates"});
    std::vector<std::pair<Trace, std::int64_t>> results;  // with the zeros of the final x
    const auto start = [&] { return zeros({problem.features()}, kFloat64).requires_grad_(); };
    const auto finish = [&](Trace trace, const Tensor& x) { results.emplace_back(std::move(trace), zeros_of(x.detach())); };

    for (const double lr : gd_lrs) {
      Tensor x = start();
      optim::SGD gd({x}, {.lr = lr});
      Trace trace(log, fmt::format("GD lr={}", lr));
      run_full_batch(problem, x, gd, flags.epochs, trace);
      finish(std::move(trace), x);
    }
    {
      Tensor x = start();
      Generator generator(flags.seed);
      Trace trace(log, fmt::format("SGD b={} lr={}", flags.batch_size, sgd_lr));
      run_sgd(problem, x, sgd_lr, flags.batch_size, flags.epochs, generator, trace);
      finish(std::move(trace), x);
    }
    {
      Tensor x = start();
      optim::Adagrad adagrad({x}, {.lr = adagrad_lr});
      Trace trace(log, fmt::format("Adagrad lr={}", adagrad_lr));
      run_full_batch(problem, x, adagrad, flags.epochs, trace);
      finish(std::move(trace), x);
    }
    for (const double lambda : lambdas) {
      Tensor x = start();
      optim::SGD prox({x}, {.lr = prox_lr, .l1 = lambda});
      Trace trace(log, fmt::format("prox-L1 lambda={}", lambda));
      run_full_batch(problem, x, prox, flags.epochs, trace);
      finish(std::move(trace), x);
    }
    for (const bool bfgs : {true, false}) {
      Trace trace(log, bfgs ? "BFGS" : "L-BFGS m=0");
      run_quasi_newton(problem, start().detach(), bfgs, second_order_iterations, trace);
      finish(std::move(trace), start());
    }
    for (const std::int64_t memory : {5, 10}) {
      Tensor x = start();
      Trace trace(log, fmt::format("L-BFGS m={}", memory));
      run_lbfgs(problem, x, memory, second_order_iterations, trace);
      finish(std::move(trace), x);
    }
    log.save();

    fmt::print("\n{:<22} {:>12} {:>14} {:>14} {:>6}\n", "method", "f (no penalty)", "data accesses", "vector updates",
               "zeros");
    for (const auto& [trace, zero_count] : results)
      fmt::print("{:<22} {:>12.6f} {:>14} {:>14} {:>6}\n", trace.method(), trace.final_objective(),
                 trace.data_accesses(), trace.vector_updates(), 
                 trace.method().starts_with("prox") ? fmt::format("{}", zero_count) : "-");

    experiment::Panel panel{.title = "objective against work", .x_label = "data accesses (rows of A read)",
                            .y_label = "mean (y - sigmoid(Ax))^2", .log_x = true, .log_y = true,
                            // Thirteen lines: colours repeat after eight, so the later ones are dashed.
                            .setup = {"set key outside right", "set for [i=9:16] linetype i dashtype 2"}};
    for (const auto& [trace, zero_count] : results)
      panel.series.push_back({.title = trace.method(), .x = "data_accesses", .y = "objective",
                              .where_column = "method", .where_value = trace.method()});
    experiment::render({.png = p.out_path("objective.png"), .csv = log.path(), .panels = {panel},
                        .panel_width = 900, .panel_height = 500});
    fmt::print("\nmetrics and plot in {}\n", p.out_dir().string());
  });
}
